"""evaluation.py on a table small enough to work out by hand; every expected value is written out.

Objective 0.5 * quality + 0.5 / (1 + latency / 1.0); models a and b on three queries:

    query  a: quality latency cost   score   b: quality latency cost   score
    q1        1       1       0.002  0.75       1       3       -      0.625
    q2        0       1       0.004  0.25       1       1       -      0.75
    q3        1       1       -      0.75       1       1       -      0.75   (a tie)
"""

import math

import numpy as np
import pytest

from data_loader import Objective, Outcome, OutcomeTable
from evaluation import EvalTable, _relative, evaluate_baselines, evaluate_choices, evaluate_random, oracle_choices, routing_benefits

OBJECTIVE = Objective(0.5, "latency", 1.0)


@pytest.fixture
def table():
    outcomes = {
        "q1": {"a": Outcome(1.0, 1.0, 0.002), "b": Outcome(1.0, 3.0, None)},
        "q2": {"a": Outcome(0.0, 1.0, 0.004), "b": Outcome(1.0, 1.0, None)},
        "q3": {"a": Outcome(1.0, 1.0, None), "b": Outcome(1.0, 1.0, None)},
    }
    return EvalTable.build(OutcomeTable(outcomes, dict.fromkeys(outcomes, "other"), ["a", "b"]), ["q1", "q2", "q3"], ["a", "b"], OBJECTIVE)


def test_the_table_holds_each_outcome_and_its_score(table):
    assert table.score.tolist() == [[0.75, 0.625], [0.25, 0.75], [0.75, 0.75]]
    assert table.quality.tolist() == [[1, 1], [0, 1], [1, 1]]
    assert table.latency.tolist() == [[1, 3], [1, 1], [1, 1]]
    assert table.cost[0, 0] == 0.002 and math.isnan(table.cost[0, 1]) and math.isnan(table.cost[2, 0])
    assert table.is_best.tolist() == [[True, False], [False, True], [True, True]]  # a tie counts both


def test_a_strategy_is_scored_on_the_outcomes_of_its_choices(table):
    r = evaluate_choices("S", "selector", ["a", "a", "b"], table)
    assert r.avg_quality == pytest.approx(2 / 3)
    assert r.avg_objective == pytest.approx((0.75 + 0.25 + 0.75) / 3)
    assert r.avg_latency == pytest.approx(1.0) and r.p95_latency == pytest.approx(1.0)
    assert r.avg_cost == pytest.approx(0.003)  # the unknown cost of b on q3 is left out, not counted as 0
    assert r.best_model_rate == pytest.approx(2 / 3)
    assert r.selection_counts == {"a": 2, "b": 1}
    none = evaluate_choices("S", "selector", ["b", "b", "b"], table)
    assert none.avg_cost is None and none.avg_latency == pytest.approx(5 / 3)
    assert none.p95_latency == pytest.approx(2.8)  # [1, 1, 3]: index 0.95 * 2 = 1.9 -> 1 + 0.9 * 2
    with pytest.raises(ValueError, match="no outcomes in the data: c"):
        evaluate_choices("S", "selector", ["a", "c", "a"], table)


def test_oracle_breaks_ties_by_the_training_ranking(table):
    assert oracle_choices(table, ["b", "a"]) == ["a", "b", "b"]
    assert oracle_choices(table) == ["a", "b", "a"]  # no ranking: the first column
    assert oracle_choices(table, ["zz", "b"]) == ["a", "b", "b"]  # models not in the table are ignored


def test_random_is_the_exact_expectation(table):
    r = evaluate_random(table)
    assert r.avg_quality == pytest.approx(5 / 6)
    assert r.avg_objective == pytest.approx(3.875 / 6)
    assert r.best_model_rate == pytest.approx(4 / 6)
    assert r.avg_latency == pytest.approx(8 / 6)
    assert r.p95_latency == pytest.approx(2.5)  # pooled [1, 1, 1, 1, 1, 3]: index 4.75 -> 1 + 0.75 * 2
    assert r.avg_cost == pytest.approx(0.003)
    assert r.selection_counts == {"a": 1.5, "b": 1.5}


def test_best_single_comes_from_the_training_ranking_or_is_marked_as_chosen_on_test(table):
    by_kind = {r.kind: r for r in evaluate_baselines(table, ["a", "b"])}
    assert by_kind["best_single"].name == "Best single (a, chosen on train)"
    assert by_kind["best_single"].avg_quality == pytest.approx(2 / 3)  # a, although b is better here
    assert [r.name for r in evaluate_baselines(table, ["a", "b"]) if r.kind == "always"] == ["Always a", "Always b"]
    assert by_kind["oracle"].avg_objective == pytest.approx(0.75)
    on_test = {r.kind: r for r in evaluate_baselines(table, None)}["best_single"]
    assert on_test.name == "Best single (b, chosen on test!)" and "optimistic" in on_test.note
    assert on_test.avg_objective == pytest.approx((0.625 + 0.75 + 0.75) / 3)


def test_routing_benefit_in_relative_terms(table):
    results = evaluate_baselines(table, ["b", "a"]) + [evaluate_choices("S", "selector", ["a", "b", "b"], table)]
    (benefit,) = routing_benefits(results)
    best_single = (0.625 + 0.75 + 0.75) / 3
    assert benefit.selector == "S"
    assert benefit.quality_vs_random == pytest.approx((1 - 5 / 6) / (5 / 6))
    assert benefit.objective_vs_random == pytest.approx((0.75 - 3.875 / 6) / (3.875 / 6))
    assert benefit.quality_vs_best_single == pytest.approx(0.0)
    assert benefit.objective_vs_best_single == pytest.approx((0.75 - best_single) / best_single)
    assert benefit.oracle_gap_closed == pytest.approx(1.0)  # the selector is Oracle here
    assert benefit.best_rate_vs_random == pytest.approx(1 / (4 / 6))
    # No gap between Oracle and the best single model: nothing to close, and it says None, not 0 or inf.
    flat = evaluate_baselines(table, ["b", "a"])
    for r in flat:
        if r.kind == "oracle":
            r.avg_objective = best_single
    (none,) = routing_benefits(flat + [evaluate_choices("S", "selector", ["b", "b", "b"], table)])
    assert none.oracle_gap_closed is None


def test_relative_change_of_zero():
    assert _relative(0.5, 0.0) == float("inf") and _relative(0.0, 0.0) == 0.0 and _relative(-1.0, 0.0) == 0.0
    assert _relative(3.0, -2.0) == pytest.approx(2.5)  # against |b|


def test_names_notes_and_defaults_are_as_printed(table):
    r = evaluate_choices("S", "selector", ["a", "a", "b"], table)
    assert (r.ties, r.note) == (0, "")
    assert r.to_dict()["name"] == "S" and r.to_dict()["selection_counts"] == {"a": 2, "b": 1}
    assert evaluate_choices("S", "selector", ["a", "a", "b"], table, ties=3, note="n").ties == 3
    with pytest.raises(ValueError) as caught:
        evaluate_choices("S", "selector", ["d", "c", "a"], table)
    assert str(caught.value) == "S chose models with no outcomes in the data: c, d"
    random = evaluate_random(table)
    assert (random.name, random.kind, random.note) == ("Random Selection", "random", "exact expectation over a uniform choice")
    results = evaluate_baselines(table, ["b", "a"])
    oracle = next(r for r in results if r.kind == "oracle")
    assert oracle.name == "Oracle (best)" and oracle.selection_counts == {"a": 1, "b": 2}  # q3's tie goes to b
    on_test = next(r for r in evaluate_baselines(table, None) if r.kind == "best_single")
    assert on_test.note == "chosen on the evaluated queries: optimistic"


def test_no_latency_at_all_gives_none_not_a_number():
    outcomes = {"q": {"a": Outcome(1.0, None, None), "b": Outcome(0.0, None, None)}}
    t = EvalTable.build(OutcomeTable(outcomes, {"q": "other"}, ["a", "b"]), ["q"], ["a", "b"], Objective(1.0, "none"))
    r = evaluate_choices("S", "selector", ["a"], t)
    assert (r.avg_latency, r.p95_latency, r.avg_cost) == (None, None, None)
    assert np.isnan(t.latency).all() and np.isnan(t.cost).all()


def test_best_per_category_routes_by_the_training_choice_and_says_what_it_could_not_place(table):
    table.categories = ["math", "other", "other"]
    by_cat = {r.kind: r for r in evaluate_baselines(table, ["a", "b"], {"math": "a", "other": "b"})}["by_category"]
    assert by_cat.name == "Best per category (chosen on train)" and by_cat.note == ""
    assert by_cat.selection_counts == {"a": 1, "b": 2}
    assert by_cat.avg_objective == pytest.approx((0.75 + 0.75 + 0.75) / 3)
    # "other" never seen in training: its queries go to the best single model (a, from the ranking).
    partial = {r.kind: r for r in evaluate_baselines(table, ["a", "b"], {"math": "b"})}["by_category"]
    assert partial.selection_counts == {"a": 2, "b": 1} and partial.note.startswith("2 queries of categories without")
    assert partial.avg_objective == pytest.approx((0.625 + 0.25 + 0.75) / 3)
    # A model the evaluated data does not have is not chosen: its category goes to the best single model too.
    gone = {r.kind: r for r in evaluate_baselines(table, ["b", "a"], {"math": "zz", "other": "a"})}["by_category"]
    assert gone.selection_counts == {"a": 2, "b": 1} and gone.note.startswith("1 query of a category without")
    assert "by_category" not in {r.kind for r in evaluate_baselines(table, ["a", "b"])}


def test_the_categories_of_the_evaluated_queries_come_from_the_table():
    outcomes = {q: {"a": Outcome(1.0, None, None)} for q in ("x", "y")}
    built = EvalTable.build(OutcomeTable(outcomes, {"x": "law", "y": "math"}, ["a"]), ["y", "x"], ["a"], OBJECTIVE)
    assert built.categories == ["math", "law"]


def test_the_benefit_against_routing_by_category(table):
    table.categories = ["math", "other", "other"]
    results = evaluate_baselines(table, ["a", "b"], {"math": "b", "other": "a"})  # objective (0.625 + 0.25 + 0.75) / 3
    results.append(evaluate_choices("S", "selector", ["a", "b", "a"], table))  # objective 2.25 / 3
    [benefit] = routing_benefits(results)
    assert benefit.objective_vs_by_category == pytest.approx((2.25 - 1.625) / 1.625)
    results = evaluate_baselines(table, ["a", "b"]) + [evaluate_choices("S", "selector", ["a", "b", "a"], table)]
    assert routing_benefits(results)[0].objective_vs_by_category is None
