"""validate.py's honesty rules, each pinned by numbers worked out by hand on data made so that
breaking the rule changes them: which queries are evaluated, where `ref` comes from, and how the
best single model is chosen."""

import json

import pytest
from conftest import write_jsonl

import train
import validate


def rows(queries, a, b):
    """Lines for `queries`: model A and B outcomes as (quality, latency)."""
    out = []
    for q in queries:
        out.append({"query": q, "model_name": "A", "performance": a[0], "response_time": a[1], "category": "other"})
        out.append({"query": q, "model_name": "B", "performance": b[0], "response_time": b[1], "category": "other"})
    return out


@pytest.fixture(scope="module")
def honest_case(tmp_path_factory, minilm_embedder):
    work = tmp_path_factory.mktemp("honesty")
    seen = [f"training question number {i} about rivers" for i in range(40)]
    new = [f"fresh test question number {i} about mountains" for i in range(30)]
    # Train: A right everywhere, B nowhere; latencies 1 s and 3 s -> training median (ref) 2.0 s; best single A.
    train_file = write_jsonl(work / "train.jsonl", rows(seen, (1.0, 1.0), (0.0, 3.0)))
    # Test: B right on the new queries, A on the 10 seen ones; latencies 10 s and 30 s -> a test median of 20 s.
    test_file = write_jsonl(work / "test.jsonl", rows(new, (0.0, 10.0), (1.0, 30.0)) + rows(seen[:10], (1.0, 10.0), (0.0, 30.0)))
    models = work / "models"
    argv = ["--data-file", str(train_file), "--output-dir", str(models), "--embedding-model", "minilm", "--quiet"]
    assert train.main(argv + ["--cache-dir", str(work / "cache"), "--algorithm", "kmeans"]) == 0
    return work, models, test_file


def report(case, *extra):
    work, models, test_file = case
    out = work / f"report{len(extra)}.json"
    argv = ["--data-file", str(test_file), "--models-dir", str(models), "--no-download", "--algorithm", "kmeans"]
    validate.main(argv + ["--cache-dir", str(work / "cache" / "embeddings"), "--output-json", str(out), "--quiet", *extra])
    payload = json.loads(out.read_text())
    return payload, {r["name"]: r for r in payload["strategies"]}


def test_seen_queries_are_excluded_by_count_and_identity(honest_case):
    payload, by_name = report(honest_case)
    assert payload["n_queries"] == 30 and payload["overlap"] == 10
    # Only the 30 new queries: B is right on every one of them, A on none.
    assert by_name["Always B"]["avg_quality"] == 1.0 and by_name["Always A"]["avg_quality"] == 0.0
    payload, by_name = report(honest_case, "--include-seen")
    assert payload["n_queries"] == 40 and by_name["Always B"]["avg_quality"] == 0.75  # 30 of 40


def test_ref_comes_from_training_not_from_the_test_data(honest_case):
    payload, by_name = report(honest_case)
    assert payload["objective"]["ref"] == 2.0  # the training median; the test median is 20
    # Always A on the new queries: 0.9 * 0 + 0.1 / (1 + 10 / 2) = 0.1 / 6.
    assert by_name["Always A"]["avg_objective"] == pytest.approx(0.1 / 6, abs=1e-12)
    # Always B: 0.9 * 1 + 0.1 / (1 + 30 / 2) = 0.9 + 0.1 / 16.
    assert by_name["Always B"]["avg_objective"] == pytest.approx(0.9 + 0.1 / 16, abs=1e-12)


def test_best_single_is_the_training_winner_even_where_the_test_disagrees(honest_case):
    _, by_name = report(honest_case)
    [single] = [r for r in by_name.values() if r["kind"] == "best_single"]
    assert single["name"] == "Best single (A, chosen on train)"
    assert single["avg_quality"] == 0.0  # A, although B scores 1.0 on these queries


@pytest.fixture(scope="module")
def category_case(tmp_path_factory, minilm_embedder):
    """Train: A right on 30 math queries, B on 20 history ones (A is the best single model, 30 of 50).
    Test, all new: 10 math (A right), 10 history (B right), 5 law (A right; law never seen in training)."""
    work = tmp_path_factory.mktemp("by_category")

    def lines(texts, category, a, b):
        return [
            {"query": q, "model_name": m, "performance": p, "response_time": 1.0, "category": category}
            for q in texts
            for m, p in (("A", a), ("B", b))
        ]

    train_rows = lines([f"solve equation {i}" for i in range(30)], "math", 1.0, 0.0)
    train_rows += lines([f"which empire fell in year {i}" for i in range(20)], "history", 0.0, 1.0)
    test_rows = lines([f"integrate function {i}" for i in range(10)], "math", 1.0, 0.0)
    test_rows += lines([f"when did the dynasty {i} begin" for i in range(10)], "history", 0.0, 1.0)
    test_rows += lines([f"is contract clause {i} enforceable" for i in range(5)], "law", 1.0, 0.0)
    models = work / "models"
    argv = ["--data-file", str(write_jsonl(work / "train.jsonl", train_rows)), "--output-dir", str(models), "--embedding-model", "minilm"]
    assert train.main(argv + ["--quiet", "--cache-dir", str(work / "cache"), "--algorithm", "kmeans", "--holdout", "0"]) == 0
    return work, models, write_jsonl(work / "test.jsonl", test_rows)


def test_best_per_category_is_chosen_on_train_and_compared_with_every_selector(category_case, capsys):
    work, models, _ = category_case
    meta = json.loads((models / "kmeans_model.json").read_text())["metadata"]
    assert json.loads(meta["category_models"]) == {"history": "B", "math": "A"}
    _, by_name = report(category_case)
    capsys.readouterr()
    by_category = by_name["Best per category (chosen on train)"]
    # Math -> A and history -> B are right on all 20; law (unseen) goes to the best single model A, right too.
    assert by_category["avg_quality"] == 1.0 and by_category["selection_counts"] == {"A": 15, "B": 10}
    assert by_category["note"].startswith("5 queries of categories without a model")
    assert by_name["Best single (A, chosen on train)"]["avg_quality"] == 15 / 25
    argv = ["--data-file", str(work / "test.jsonl"), "--models-dir", str(models), "--no-download", "--algorithm", "kmeans"]
    validate.main(argv + ["--cache-dir", str(work / "cache" / "embeddings")])
    printed = capsys.readouterr().out
    assert "Best per category (chosen on train)" in printed and "KMEANS Selection vs routing by category alone: objective" in printed


def test_a_category_table_of_the_wrong_shape_is_warned_about_not_used(category_case, tmp_path, capsys):
    work, models, test_file = category_case
    bad = tmp_path / "models"
    artifact = json.loads((models / "kmeans_model.json").read_text())
    artifact["metadata"]["category_models"] = json.dumps(["math", "A"])
    bad.mkdir()
    (bad / "kmeans_model.json").write_text(json.dumps(artifact))
    out = tmp_path / "r.json"
    argv = ["--data-file", str(test_file), "--models-dir", str(bad), "--no-download", "--algorithm", "kmeans", "--output-json", str(out)]
    assert validate.main(argv + ["--cache-dir", str(work / "cache" / "embeddings")]) == 0
    assert "category_models is not an object of category -> model name" in capsys.readouterr().out
    assert "by_category" not in {r["kind"] for r in json.loads(out.read_text())["strategies"]}
