"""The quick start's example data is the stated draw of the shared LLMRouter data, and what it needs."""

import contextlib
import io
import json
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "examples"))
import make_llmrouter_subset  # noqa: E402


def draw(*argv) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert make_llmrouter_subset.main([str(a) for a in argv]) == 0
    return out.getvalue()


def test_the_example_files_are_the_stated_rule_applied_to_the_shared_data(shared_data):
    train, test = shared_data / "llmrouter-9models.train.jsonl", shared_data / "llmrouter-9models.test.jsonl"
    assert draw(train, "--per-task", 30) == (ROOT / "examples/llmrouter-9models.train.jsonl").read_text()
    assert draw(test, "--per-task", 15, "--exclude", train) == (ROOT / "examples/llmrouter-9models.test.jsonl").read_text()


def test_the_example_has_nine_models_on_every_query_and_no_test_query_seen_in_training():
    def load(name):
        rows = [json.loads(line) for line in (ROOT / "examples" / name).read_text().splitlines()]
        by_query = {}
        for row in rows:
            by_query.setdefault(row["query"], set()).add(row["model_name"])
        return rows, by_query

    train_rows, train = load("llmrouter-9models.train.jsonl")
    test_rows, test = load("llmrouter-9models.test.jsonl")
    assert (len(train), len(test)) == (420, 120)
    assert all(len(models) == 9 for models in [*train.values(), *test.values()])
    assert not set(train) & set(test)
    assert len({r["task_name"] for r in train_rows}) == 14 and len({r["task_name"] for r in test_rows}) == 8
    assert (ROOT / "examples/LICENSE-llmrouter").read_text().startswith("MIT License")


def test_the_rule_takes_the_smallest_hashes_per_task_whatever_the_scores():
    rows = [{"query": q, "task_name": t, "performance": p} for q, t, p in [("a", "x", 1), ("b", "x", 0), ("c", "y", 1), ("d", "y", 0)]]
    # sha256: "a" ca97..., "b" 3e23..., "c" 2e7d..., "d" 18ac...: per task the smaller hash wins.
    assert make_llmrouter_subset.chosen_queries(rows, 1) == {"b", "d"}
    assert make_llmrouter_subset.chosen_queries(rows, 1, excluded={"b"}) == {"a", "d"}
