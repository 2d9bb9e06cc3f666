import json

import pytest
from conftest import write_jsonl

from data_loader import (
    CATEGORIES,
    DataError,
    Objective,
    Outcome,
    build_outcome_table,
    category_one_hot,
    fit_objective,
    label_queries,
    load_records,
    split_queries,
)


def row(query, model, perf, **extra):
    return {"query": query, "model_name": model, "performance": perf, **extra}


def load_table(path):
    records, report = load_records(path)
    return build_outcome_table(records, report), report


@pytest.mark.parametrize(
    "bad, reason",
    [
        ("{not json", "invalid JSON"),
        (json.dumps({"model_name": "a", "performance": 1}), "'query'"),
        (json.dumps({"query": "q", "performance": 1}), "'model_name'"),
        (json.dumps(row("q", "a", 1.7)), "'performance'"),
        (json.dumps(row("q", "a", "high")), "'performance'"),
        ('{"query": "q", "model_name": "a", "performance": NaN}', "NaN"),
        (json.dumps(row("q", "a", 0.5, response_time=-1)), "'response_time'"),
        (json.dumps(row("q", "a", 0.5, response_time="fast")), "'response_time'"),
        (json.dumps(row("q", "a", 0.5, cost=-0.1)), "'cost'"),
    ],
)
def test_bad_lines_are_skipped_and_named_or_fail_in_strict_mode(tmp_path, bad, reason):
    path = write_jsonl(tmp_path / "d.jsonl", [row("good", "a", 1.0), bad, row("good", "b", 0.0)])
    records, report = load_records(path)
    assert [r.model_name for r in records] == ["a", "b"]
    assert len(report.problems) == 1 and report.problems[0][0] == 2 and reason in report.problems[0][1]
    assert "line 2" in "\n".join(report.summary_lines())
    with pytest.raises(DataError, match=r"d\.jsonl, line 2: .*" + reason.replace("'", ".")):
        load_records(path, strict=True)


def test_a_file_without_usable_records_is_an_error(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", ["{oops", row("q", "a", None, error="HTTP 500")])
    with pytest.raises(DataError, match="no usable scored record"):
        load_records(path)


def test_failed_calls_and_unscored_lines_never_become_labels(tmp_path):
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [
            row("q1", "weak", 0.0),
            # A failed call carries performance null; even a bogus quality must not count.
            row("q1", "strong", None, error="timeout"),
            row("q1", "other", None),
            row("q2", "weak", 0.0),
            row("q2", "strong", 1.0),
        ],
    )
    table, report = load_table(path)
    assert set(table.outcomes_by_query["q1"]) == {"weak"}
    assert report.failed_calls == 1 and report.unscored == 1
    labels = label_queries(table, fit_objective(table))
    assert labels.queries == ["q2"] and labels.best == ["strong"]
    assert labels.skipped_single_model == 1


def test_duplicates_last_success_wins_and_superseded_errors_are_not_problems(tmp_path):
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [
            row("q", "a", None, error="HTTP 429"),
            row("q", "a", 0.5),  # resumed run: the retry succeeded
            row("q", "b", 0.2),
            row("q", "b", 0.9),  # a real duplicate: reported, the last wins
        ],
    )
    table, report = load_table(path)
    assert table.outcomes_by_query["q"]["a"].quality == 0.5
    assert table.outcomes_by_query["q"]["b"].quality == 0.9
    assert report.superseded_errors == 1
    assert len(report.duplicates) == 1 and report.duplicates[0][0] == 4


def test_category_strings_take_the_slot_the_runtime_gives_them(tmp_path):
    # The one-hot is exact, as in the runtime: unknown names fall into `other`, `unknown` has its own slot.
    assert len(CATEGORIES) == 14 and CATEGORIES[-2:] == ("other", "unknown")
    assert category_one_hot("math")[0] == 1.0
    assert category_one_hot("Math")[CATEGORIES.index("other")] == 1.0
    assert category_one_hot("unknown")[13] == 1.0 and sum(category_one_hot("unknown")) == 1.0
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [
            row("q1", "a", 1, category="Computer_Science"),
            row("q2", "a", 1, category="engineering"),
            row("q3", "a", 1),
            row("q4", "a", 1, category="computer science"),
            row("q5", "a", 1, category="", decision="code_decision"),  # the router's own "": a decision without a domain rule
        ],
    )
    table, report = load_table(path)
    assert table.category_by_query == {"q1": "other", "q2": "other", "q3": "other", "q4": "computer science", "q5": "other"}
    assert report.categories_to_other == {"Computer_Science": 1, "engineering": 1}
    assert report.categories_missing == 1
    assert table.decision_by_query == {"q5": "code_decision"}
    printed = "\n".join(report.summary_lines())
    assert "'Computer_Science' on 1 lines is not one of the router's 14 slots: the 'other' slot (the lookup is exact" in printed
    assert f"--input {path} --output {tmp_path / 'd.categorised.jsonl'}" in printed


def test_ties_go_to_the_model_that_is_better_overall_not_the_alphabetical_first(tmp_path):
    rows = []
    for i in range(5):  # "zeta" is better overall ...
        rows += [row(f"easy{i}", "alpha", 1.0), row(f"easy{i}", "zeta", 1.0)]
        rows += [row(f"hard{i}", "alpha", 0.0), row(f"hard{i}", "zeta", 1.0)]
    table, _ = load_table(write_jsonl(tmp_path / "d.jsonl", rows))
    labels = label_queries(table, fit_objective(table))
    # ... so it also wins every query where both score 1.0.
    assert set(labels.best) == {"zeta"}
    assert labels.ranking[0][0] == "zeta"


def test_quality_weight_changes_which_model_wins(tmp_path):
    rows = []
    for i in range(4):
        rows.append(row(f"q{i}", "slow-accurate", 0.9, response_time=10.0))
        rows.append(row(f"q{i}", "fast-sloppy", 0.7, response_time=0.5))
    table, _ = load_table(write_jsonl(tmp_path / "d.jsonl", rows))
    assert set(label_queries(table, fit_objective(table, 0.9)).best) == {"slow-accurate"}
    assert set(label_queries(table, fit_objective(table, 0.5)).best) == {"fast-sloppy"}


def test_objective_ref_is_the_training_median_and_cost_basis_works(tmp_path):
    rows = [
        row("q1", "a", 1, response_time=1.0, cost=0.01),
        row("q1", "b", 1, response_time=3.0, cost=0.03),
        row("q2", "a", 1, response_time=2.0, cost=0.02),
    ]
    table, _ = load_table(write_jsonl(tmp_path / "d.jsonl", rows))
    latency = fit_objective(table, 0.9, "latency")
    assert latency.basis == "latency" and latency.ref == 2.0
    assert latency.score(Outcome(1.0, 2.0, None)) == pytest.approx(0.9 + 0.1 * 0.5)
    cost = fit_objective(table, 0.9, "cost")
    assert cost.basis == "cost" and cost.ref == 0.02
    assert Objective.from_dict(cost.to_dict()) == Objective(0.9, "cost", 0.02)


def test_objective_is_quality_alone_without_latency_or_cost(tmp_path):
    table, _ = load_table(write_jsonl(tmp_path / "d.jsonl", [row("q", "a", 0.3), row("q", "b", 0.6)]))
    objective = fit_objective(table)
    assert objective.basis == "none"
    assert objective.score(Outcome(0.3, None, None)) == 0.3
    assert "quality" in objective.describe()


def test_split_is_by_query_deterministic_and_never_leaks():
    queries = [f"query number {i}" for i in range(1000)]
    train, held = split_queries(queries + queries[:50], 0.2, seed=7)
    assert len(held) == 200 and len(train) == 800
    assert not set(train) & set(held)
    # Same held-out set whatever the file order; another seed gives another set.
    assert set(split_queries(list(reversed(queries)), 0.2, seed=7)[1]) == set(held)
    assert set(split_queries(queries, 0.2, seed=8)[1]) != set(held)


def test_split_keeps_all_model_rows_of_a_query_on_one_side(tmp_path):
    rows = [row(f"q{i}", m, 1.0) for i in range(200) for m in ("a", "b", "c")]
    table, _ = load_table(write_jsonl(tmp_path / "d.jsonl", rows))
    train, held = split_queries(table.queries, 0.25, seed=1)
    assert len(table.subset(held).queries) == 50
    assert all(len(table.subset(train).outcomes_by_query[q]) == 3 for q in train)


def test_the_file_hash_is_of_its_exact_bytes_and_non_utf8_is_named(tmp_path):
    import hashlib

    path = write_jsonl(tmp_path / "d.jsonl", [row("q", "a", 1.0), row("q", "b", 0.0)])
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    _, report = load_records(path)
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    path.write_bytes(path.read_bytes() + b'{"query": "\xff"}\n')
    with pytest.raises(DataError, match="line 3: not UTF-8"):
        load_records(path)
