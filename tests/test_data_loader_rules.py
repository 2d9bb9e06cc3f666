"""data_loader's rules pinned by values written out by hand: line parsing and its messages, the
load report, the objective's reference value, duplicates, ranking ties and the split."""

import hashlib
import json
import os
import stat

import pytest
from conftest import write_jsonl

from data_loader import (
    DataError,
    LoadReport,
    Objective,
    Outcome,
    OutcomeTable,
    _parse_line,
    bad_lines_message,
    best_model,
    build_outcome_table,
    category_models,
    fit_objective,
    fold_of,
    load_records,
    model_ranking,
    parse_query_line,
    query_set_digest,
    split_queries,
    write_file_atomically,
)


def line(**fields):
    return json.dumps({"query": "q", "model_name": "m", **fields})


def test_a_full_line_is_read_field_by_field():
    raw = line(performance=1, response_time=2, cost=0.5, category="Math", error="", prompt_tokens=3.0, completion_tokens=4, note="x")
    r = _parse_line(raw, 7)
    assert (r.query, r.model_name, r.performance, r.response_time, r.cost) == ("q", "m", 1.0, 2.0, 0.5)
    assert (r.category, r.line_number, r.error, r.prompt_tokens, r.completion_tokens) == ("Math", 7, None, 3, 4)
    assert r.extra == {"note": "x"} and r.scored
    assert type(r.prompt_tokens) is int and type(r.performance) is float
    failed = _parse_line(line(error=500), 1)
    assert failed.error == "500" and not failed.scored
    assert not _parse_line(line(), 1).scored  # no performance: unscored
    assert _parse_line(line(performance=0), 1).performance == 0.0 and _parse_line(line(cost=0), 1).cost == 0.0


@pytest.mark.parametrize(
    "raw, message",
    [
        ("{bad", "invalid JSON ("),
        ('{"query": "q", "model_name": "m", "performance": NaN}', "NaN is not JSON"),
        ("[1, 2]", "line is not a JSON object"),
        ('{"model_name": "m"}', "field 'query' is missing or not a non-empty string"),
        ('{"query": "  ", "model_name": "m"}', "field 'query' is missing or not a non-empty string"),
        ('{"query": 3, "model_name": "m"}', "field 'query' is missing or not a non-empty string"),
        ('{"query": "q"}', "field 'model_name' is missing or not a non-empty string"),
        ('{"query": "q", "model_name": " "}', "field 'model_name' is missing or not a non-empty string"),
        ('{"query": "q", "model_name": 5}', "field 'model_name' is missing or not a non-empty string"),
        (line(performance=1.5), "field 'performance' must be a number in [0, 1], got 1.5"),
        (line(performance=-0.1), "field 'performance' must be a number in [0, 1], got -0.1"),
        (line(performance="1"), "field 'performance' must be a number in [0, 1], got '1'"),
        (line(performance=True), "field 'performance' must be a number in [0, 1], got True"),
        (line(response_time=-1), "field 'response_time' must be a non-negative number, got -1"),
        (line(response_time="1"), "field 'response_time' must be a non-negative number, got '1'"),
        (line(cost=-0.5), "field 'cost' must be a non-negative number, got -0.5"),
        (line(prompt_tokens=-1), "field 'prompt_tokens' must be a non-negative number, got -1"),
        (line(completion_tokens="3"), "field 'completion_tokens' must be a non-negative number, got '3'"),
        ('{"query": "q", "model_name": "m", "cost": 1e999}', "field 'cost' must be a non-negative number, got inf"),
    ],
)
def test_bad_lines_say_which_field_and_why(raw, message):
    with pytest.raises(DataError) as caught:
        _parse_line(raw, 1)
    assert message in str(caught.value)


def test_parse_query_line_and_the_bad_lines_message():
    assert parse_query_line('{"query": "hi", "x": 1}', 3) == ({"query": "hi", "x": 1}, None)
    obj, problem = parse_query_line("{oops", 4)
    assert obj is None and problem.startswith("line 4: invalid JSON (")
    for raw in ('{"query": ""}', '{"q": 1}', '["query"]', '{"query": 7}'):
        assert parse_query_line(raw, 5) == (None, "line 5: field 'query' is missing or not a non-empty string")
    assert bad_lines_message("f.jsonl", ["line 1: a", "line 2: b"], "nothing sent") == (
        "f.jsonl: 2 bad line(s), nothing sent:\n  line 1: a\n  line 2: b"
    )
    many = bad_lines_message("f", [f"line {i}: x" for i in range(1, 26)], "stop")
    assert many.startswith("f: 25 bad line(s), stop:\n  line 1: x\n") and many.endswith("line 20: x\n  ... and 5 more")
    assert "line 21" not in many
    exactly_20 = bad_lines_message("f", [f"line {i}: x" for i in range(1, 21)], "stop")
    assert "more" not in exactly_20 and exactly_20.endswith("line 20: x")


def test_the_load_report_prints_every_count():
    report = LoadReport(path="d.jsonl", lines=9, failed_calls=2, unscored=1, superseded_errors=1, categories_missing=3)
    report.problems = [(1, "bad one"), (2, "bad two"), (3, "bad three")]
    report.duplicates = [(5, "replaces line 4 for model 'm'"), (6, "replaces line 5 for model 'm'")]
    report.categories_canonicalised.update({"Computer_Science": 2})
    report.categories_to_other.update({"engineering": 4})
    report.failures_counted.update({"slow": 1})
    report.failures_excluded.update({"keyless": 1})
    report.all_failed_queries = 1
    assert report.summary_lines(max_listed=2) == [
        "d.jsonl: 9 lines",
        "  skipped 3 bad lines:",
        "    line 1: bad one",
        "    line 2: bad two",
        "    ... and 1 more",
        "  2 failed-call lines (error set); of the pairs still failed, 1 count as quality 0 against their model (its timeouts, 5xx), "
        "1 are no outcome (our side: connection refused, 401/403, 429, other 4xx)",
        "    keyless: 0 counted as quality 0, 1 left out",
        "    slow: 1 counted as quality 0, 0 left out",
        "  1 queries where every model failed: no label (no model can serve them)",
        "  1 unscored lines (performance null): never used as labels",
        "  1 failed calls superseded by a later success (resumed run)",
        "  2 duplicate (query, model) lines, the last one wins:",
        "    line 5: replaces line 4 for model 'm'",
        "    line 6: replaces line 5 for model 'm'",
        "  category 'Computer_Science' canonicalised to 'computer science' on 2 lines",
        "  category 'engineering' is not a runtime category: 4 lines use the 'other' slot",
        "  3 lines without category: 'unknown' slot",
    ]
    assert LoadReport(path="e").summary_lines() == ["e: 0 lines"]
    eleven = LoadReport(path="f", problems=[(i, "x") for i in range(1, 12)]).summary_lines()
    assert eleven[-2:] == ["    line 10: x", "    ... and 1 more"]  # ten listed by default


def test_loading_hashes_the_bytes_and_reports_where_it_stops(tmp_path):
    rows = [line(performance=1), "", "{bad", line(performance=0.5, model_name="n")]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    records, report = load_records(path)
    assert [r.line_number for r in records] == [1, 4] and report.lines == 4
    assert report.problems == [(3, report.problems[0][1])] and report.problems[0][1].startswith("invalid JSON")
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(DataError, match=r"d.jsonl, line 3: invalid JSON"):
        load_records(path, strict=True)
    only_bad = write_jsonl(tmp_path / "bad.jsonl", ["{bad", line()])
    with pytest.raises(DataError, match=r"bad.jsonl: no usable scored record \(.*skipped 1 bad lines"):
        load_records(only_bad)
    (tmp_path / "latin1.jsonl").write_bytes(line(performance=1).encode() + b"\n\xff\n")
    with pytest.raises(DataError, match=r"latin1.jsonl, line 2: not UTF-8"):
        load_records(tmp_path / "latin1.jsonl")
    with pytest.raises(DataError, match="missing.jsonl: cannot read"):
        load_records(tmp_path / "missing.jsonl")


def test_duplicates_failures_and_category_votes(tmp_path):
    rows = [
        {"query": "q1", "model_name": "a", "error": "timeout", "category": "math"},  # line 1: failed
        {"query": "q1", "model_name": "a", "performance": 1, "category": "math"},  # 2: resumed success
        {"query": "q1", "model_name": "b", "performance": 0, "category": "law"},  # 3
        {"query": "q1", "model_name": "b", "performance": 1, "category": "law"},  # 4: replaces 3
        {"query": "q2", "model_name": "a", "category": "law"},  # 5: unscored
        {"query": "q2", "model_name": "b", "performance": 0.5, "category": "math"},  # 6
    ]
    records, report = load_records(write_jsonl(tmp_path / "d.jsonl", rows))
    table = build_outcome_table(records, report)
    assert (report.failed_calls, report.unscored, report.superseded_errors) == (1, 1, 1)
    assert report.duplicates == [(4, "replaces line 3 for model 'b'")]
    assert table.outcomes_by_query["q1"]["b"].quality == 1.0 and set(table.outcomes_by_query["q2"]) == {"b"}
    # q1: math twice, law twice -> a tie, broken by name ("law" < "math"); q2: law once, math once -> "law".
    assert table.category_by_query == {"q1": "law", "q2": "law"} and table.category_conflicts == 2
    assert table.models == ["a", "b"]
    sub = table.subset(["q2", "zz"])
    assert sub.queries == ["q2"] and sub.models == ["a", "b"] and sub.category_by_query == {"q2": "law"}


def test_the_objective_reference_is_the_training_median(tmp_path):
    def table(values, basis_field="latency"):
        outcomes = {
            f"q{i}": {"m": Outcome(1.0, v if basis_field == "latency" else None, v if basis_field == "cost" else None)}
            for i, v in enumerate(values)
        }
        return OutcomeTable(outcomes, dict.fromkeys(outcomes, "other"), ["m"])

    assert fit_objective(table([3.0, 1.0, 2.0])).ref == 2.0  # odd count: the middle one
    assert fit_objective(table([4.0, 1.0, 2.0, 3.0])).ref == 2.5  # even: the mean of the middle two
    assert fit_objective(table([0.0, 0.0, 0.0, 5.0, 7.0])).ref == 5.0  # zero median: the smallest positive
    assert fit_objective(table([0.0, 0.0])).ref == 1.0
    with_gap = fit_objective(table([1.0, None, 3.0]))
    assert (with_gap.ref, with_gap.missing_efficiency, with_gap.basis) == (2.0, 1, "latency")
    cost = fit_objective(table([0.2, 0.4], "cost"), 0.7, "cost")
    assert (cost.ref, cost.basis, cost.quality_weight) == (pytest.approx(0.3), "cost", 0.7)
    assert fit_objective(table([0.2], "cost"), 0.7, "latency").basis == "none"  # no latency recorded
    for weight in (-0.1, 1.1):
        with pytest.raises(ValueError, match="quality weight must be in"):
            fit_objective(table([1.0]), weight)
    with pytest.raises(ValueError, match="efficiency basis must be one of"):
        fit_objective(table([1.0]), 0.9, "tokens")


def test_the_objective_formula_and_how_it_is_described():
    o = Objective(0.8, "latency", 2.0)
    assert o.score(Outcome(1.0, 2.0, None)) == pytest.approx(0.8 + 0.2 * 0.5)
    assert o.score(Outcome(0.5, 6.0, None)) == pytest.approx(0.4 + 0.2 * 0.25)
    assert o.score(Outcome(1.0, None, None)) == pytest.approx(0.9)  # missing latency counts as ref
    c = Objective(0.5, "cost", 0.01)
    assert c.score(Outcome(0.0, 99.0, 0.03)) == pytest.approx(0.5 * 0.25)  # cost, not latency
    assert Objective(0.5, "none").score(Outcome(0.25, 1.0, 1.0)) == 0.25
    assert o.describe() == "score = 0.8 * quality + 0.2 * 1 / (1 + latency / 2s)"
    assert c.describe() == "score = 0.5 * quality + 0.5 * 1 / (1 + cost / 0.01 USD)"
    assert Objective(0.9, "none").describe() == "score = quality (the data records neither latency nor cost)"
    assert Objective.from_dict(o.to_dict()) == o and o.to_dict() == {"quality_weight": 0.8, "basis": "latency", "ref": 2.0}


def test_ranking_and_best_model_ties():
    quality = Objective(1.0, "none")
    outcomes = {
        "q1": {"b": Outcome(1.0, None, None), "a": Outcome(1.0, None, None), "c": Outcome(0.0, None, None)},
        "q2": {"b": Outcome(0.0, None, None), "a": Outcome(0.0, None, None)},
    }
    table = OutcomeTable(outcomes, dict.fromkeys(outcomes, "other"), ["a", "b", "c", "d"])
    assert model_ranking(table, quality) == [("a", 0.5), ("b", 0.5), ("c", 0.0), ("d", float("-inf"))]
    rank = {"b": 0, "a": 1}
    assert best_model(outcomes["q1"], quality, rank) == "b"  # a tie goes to the better-ranked
    assert best_model(outcomes["q1"], quality, {}) == "a"  # unranked: by name
    near = {"x": Outcome(0.5, None, None), "y": Outcome(0.5 + 1e-12, None, None)}
    assert best_model(near, quality, {"x": 0, "y": 1}) == "x"  # within the tie tolerance


def test_each_category_gets_its_best_mean_model_ties_by_ranking():
    quality = Objective(1.0, "none")
    outcomes = {
        "m1": {"a": Outcome(1.0, None, None), "b": Outcome(0.0, None, None)},
        "m2": {"a": Outcome(0.5, None, None), "b": Outcome(1.0, None, None)},  # math: a 0.75, b 0.5
        "h1": {"a": Outcome(0.0, None, None), "b": Outcome(1.0, None, None)},  # history: a 0, b 1
        "o1": {"a": Outcome(1.0, None, None), "b": Outcome(1.0, None, None)},  # other: a tie
        "o2": {"b": Outcome(0.2, None, None)},  # other: b 0.6 over two outcomes, a 1.0 over one
        "l1": {"a": Outcome(0.3, None, None), "b": Outcome(0.3 + 1e-12, None, None)},  # law: within the tolerance
    }
    cats = {"m1": "math", "m2": "math", "h1": "history", "o1": "other", "o2": "other", "l1": "law"}
    table = OutcomeTable(outcomes, cats, ["a", "b"])
    ranking = [("b", 0.6), ("a", 0.5)]
    assert category_models(table, quality, ranking) == {"history": "b", "law": "b", "math": "a", "other": "a"}
    assert category_models(table, quality, [("a", 1.0), ("b", 0.0)])["law"] == "a"  # the tie follows the ranking
    assert category_models(table, quality, [("b", 0.6)])["law"] == "b"  # a ranked model before an unranked one
    assert category_models(table, quality, [])["law"] == "a"  # no ranking: by name


def test_the_split_and_the_folds_are_fixed_by_hashes():
    queries = [f"query {i}" for i in range(10)]
    keep, out = split_queries(queries + ["query 3"], 0.25, 7)
    by_hash = sorted(queries, key=lambda q: hashlib.sha256(f"7\x00{q}".encode()).hexdigest())
    assert sorted(out) == sorted(by_hash[:2]) and len(keep) == 8  # round(2.5) = 2, duplicates once
    assert keep == [q for q in queries if q not in out]  # input order kept
    assert split_queries(queries, 0.0, 1) == (queries, [])
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="held-out fraction must be in"):
            split_queries(queries, bad, 1)
    assert fold_of(["a", "b"], 3, 5) == {q: int(hashlib.sha256(f"5\x00{q}".encode()).hexdigest(), 16) % 3 for q in ("a", "b")}
    digest = hashlib.sha256()
    for h in sorted(hashlib.sha256(f"0\x00{q}".encode()).hexdigest() for q in ("x", "y")):
        digest.update(h.encode())
    assert query_set_digest(["y", "x", "y"]) == digest.hexdigest()[:16]


def test_atomic_write_replaces_whole_and_cleans_up(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    write_file_atomically(path, b"new contents")
    assert path.read_bytes() == b"new contents"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    with pytest.raises(TypeError):
        write_file_atomically(path, "not bytes")  # fails mid-write
    assert path.read_bytes() == b"new contents" and sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_more_counting_rules_by_hand(tmp_path):
    from data_loader import TIE_TOLERANCE, label_queries

    assert _parse_line(line(prompt_tokens=0, completion_tokens=0), 1).prompt_tokens == 0
    for raw, message in (
        ("[1]", "line is not a JSON object"),
        ('{"query": ""}', "field 'query' is missing or not a non-empty string"),
        ('{"query": "q"}', "field 'model_name' is missing or not a non-empty string"),
    ):
        with pytest.raises(DataError) as caught:
            _parse_line(raw, 1)
        assert str(caught.value) == message
    at_limit = LoadReport(path="p", problems=[(1, "x"), (2, "y")])
    assert at_limit.summary_lines(max_listed=2) == ["p: 0 lines", "  skipped 2 bad lines:", "    line 1: x", "    line 2: y"]
    assert bad_lines_message("f", [f"line {i}: x" for i in range(1, 22)], "stop").endswith("line 20: x\n  ... and 1 more")
    rows = [
        {"query": "q1", "model_name": "a", "error": "e"},
        {"query": "q1", "model_name": "a", "performance": 1, "category": "math"},
        {"query": "q1", "model_name": "a", "performance": 1, "category": "math"},  # a duplicate, not a resumed error
        {"query": "q1", "model_name": "b", "error": "e", "category": "Law"},
        {"query": "q1", "model_name": "b", "performance": 0, "category": "math"},
        {"query": "q2", "model_name": "a", "error": "e"},
        {"query": "q2", "model_name": "b"},
        {"query": "q3", "model_name": "a", "performance": 1, "category": "physics"},
        {"query": "q3", "model_name": "b", "performance": 1, "category": "physics"},
        {"query": "q4", "model_name": "a", "category": "Law"},
        {"query": "q4", "model_name": "b", "category": "engineering"},
        {"query": "q4", "model_name": "c", "category": "engineering"},
    ]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    records, report = load_records(path)
    assert report.path == str(path) and report.categories_canonicalised == {"Law": 2} and report.categories_missing == 3
    assert report.categories_to_other == {"engineering": 2}
    table = build_outcome_table(records, report)
    assert (report.failed_calls, report.unscored, report.superseded_errors) == (3, 4, 2)
    assert table.category_by_query["q1"] == "math"  # math three times, law once
    assert table.category_conflicts == 1  # only q1 has two categories
    weighted = fit_objective(table, 0.0)
    assert weighted.quality_weight == 0.0 and fit_objective(table, 1.0).quality_weight == 1.0
    assert (weighted.basis, weighted.ref) == ("none", 1.0)
    labels = label_queries(table, Objective(1.0, "none"))
    assert labels.skipped_single_model == 0 and labels.queries == ["q1", "q3"]
    singles = OutcomeTable(
        {"x": {"a": Outcome(1, None, None)}, "y": {"b": Outcome(1, None, None)}}, {"x": "other", "y": "other"}, ["a", "b"]
    )
    assert label_queries(singles, Objective(1.0, "none")).skipped_single_model == 2
    quality = Objective(1.0, "none")
    tied = {"x": Outcome(1.0, None, None), "y": Outcome(1.0 - TIE_TOLERANCE / 2, None, None)}
    assert best_model(tied, quality, {"y": 0}) == "y"  # ranked beats unranked inside the tolerance
    swapped = OutcomeTable({"q": {"b": Outcome(1, None, None), "a": Outcome(1, None, None)}}, {"q": "other"}, ["b", "a"])
    assert [m for m, _ in model_ranking(swapped, quality)] == ["a", "b"]  # equal means: by name


def test_reference_value_rules_by_hand(tmp_path):
    def latencies(values):
        outcomes = {f"q{i}": {"m": Outcome(1.0, v, None)} for i, v in enumerate(values)}
        return OutcomeTable(outcomes, dict.fromkeys(outcomes, "other"), ["m"])

    assert fit_objective(latencies([5.0, 1.0, 4.0, 2.0, 3.0])).ref == 3.0
    assert fit_objective(latencies([0.0, 0.0, 0.0, 0.5, 0.7])).ref == 0.5  # zero median: the smallest positive


def test_a_file_with_nothing_usable_says_what_it_found(tmp_path):
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n\n")
    with pytest.raises(DataError) as caught:
        load_records(blank)
    assert str(caught.value) == f"{blank}: no usable scored record (empty file)"
    failed = write_jsonl(tmp_path / "failed.jsonl", [line(error="x"), line(model_name="n")])
    with pytest.raises(DataError) as caught:
        load_records(failed)
    assert str(caught.value) == f"{failed}: no usable scored record (  2 lines without category: 'unknown' slot)"
    bad = write_jsonl(tmp_path / "bad.jsonl", ["{1", "{2", "{3", "{4", line()])
    with pytest.raises(DataError) as caught:
        load_records(bad)
    message = str(caught.value)
    assert message.startswith(f"{bad}: no usable scored record (  skipped 4 bad lines:;     line 1: invalid JSON")
    assert message.endswith(";     ... and 1 more;   1 lines without category: 'unknown' slot)")
