"""tradeoff.py and frontier.py: the quality/cost sweep, its summary figures and the goal chooser."""

import json

import pytest
from conftest import ROOT, topical_rows, write_jsonl

import tradeoff
import validate
from frontier import Point, aiq, choose, cost_to_match, quality_at_cost, upper_hull

A, B, C = Point(1.0, 0.5, "a"), Point(2.0, 0.7, "b"), Point(3.0, 0.72, "c")
UNDER, DEAR = Point(2.5, 0.6, "under"), Point(4.0, 0.65, "dear")


def test_aiq_agrees_with_a_hand_computed_example():
    points = [A, B, C, UNDER, DEAR]
    assert upper_hull(points) == [A, B, C]  # UNDER and DEAR are beaten by B and C
    # Range [0.5, 5]: 0 on [0.5, 1) (nothing runs that cheap), trapezoids (0.5+0.7)/2 on [1, 2] and
    # (0.7+0.72)/2 on [2, 3], then flat 0.72 on [3, 5]: (0 + 0.6 + 0.71 + 1.44) / 4.5.
    assert aiq(points, 0.5, 5.0) == pytest.approx(2.75 / 4.5)
    # A point under the chord of its neighbours is not on the hull: mixing them does better.
    dip = [Point(1.0, 0.5), Point(2.0, 0.55), Point(3.0, 0.9)]
    assert upper_hull(dip) == [dip[0], dip[2]]
    assert aiq(dip, 1.0, 3.0) == pytest.approx(0.7)
    assert aiq([Point(2.0, 0.8)], 2.0, 2.0) == pytest.approx(0.8)


def test_cost_to_match_and_quality_at_cost_read_measured_points():
    points = [A, B, C, UNDER, DEAR]
    assert cost_to_match(points, 0.7) == B
    assert cost_to_match(points, 0.71) == C
    assert cost_to_match(points, 0.9) is None
    assert quality_at_cost(points, 2.6) == B  # UNDER is cheaper than 2.6 but worse
    assert quality_at_cost(points, 0.9) is None


def test_choose_by_goal_and_say_how_close_when_nothing_meets_it():
    points = [A, B, C, UNDER, DEAR]
    assert choose(points, min_quality=0.6).point == B  # cheapest reaching 0.6 (UNDER costs more)
    assert choose(points, max_cost=2.9).point == B  # best quality within 2.9
    assert choose(points, min_quality=0.55, max_cost=3.5).point == C
    floor = choose(points, min_quality=0.8, max_cost=2.5)
    assert floor.point is None and floor.closest == B and "0.7000, short of 0.8000" in floor.shortfall
    ceiling = choose(points, max_cost=0.5)
    assert ceiling.point is None and ceiling.closest == A and "costs 1" in ceiling.shortfall
    with pytest.raises(ValueError):
        choose(points)


def priced_rows():
    """`strong` is right everywhere at 10x the price of `cheap`, which is right off-STEM only:
    routing keeps strong's quality for a fraction of its cost."""
    rows = []
    for r in topical_rows():
        if r["model_name"] == "mathy":
            rows.append({**r, "model_name": "strong", "performance": 1.0, "cost": 0.001})
        else:
            rows.append({**r, "model_name": "cheap", "cost": 0.0001})
    return rows


def sweep_args(tmp_path, data, *extra):
    return ["--data-file", str(data), "--embedding-model", "minilm", "--cache-dir", str(tmp_path / "c"), "--efficiency", "cost", *extra]


def test_the_goal_is_met_on_the_training_side_and_the_written_set_reproduces_its_held_out_figures(tmp_path, minilm_embedder, capsys):
    data = write_jsonl(tmp_path / "priced.jsonl", priced_rows())
    out, report = tmp_path / "models", tmp_path / "sweep.json"
    argv = sweep_args(tmp_path, data, "--weights", "1,0.9,0.7", "--holdout", "0.3", "--target-quality", "0.95", "--target-cost", "0.7")
    assert tradeoff.main(argv + ["--output-dir", str(out), "--output-json", str(report), "--plot", str(tmp_path / "p.png")]) == 0
    printed = capsys.readouterr().out
    result = json.loads(report.read_text())
    target, best = result["target"], result["best_single"]
    assert best["model"] == "strong" and best["quality"] == 1.0 and best["cost"] == pytest.approx(0.001)
    # The goal is met on 5-fold cross-validation of the training side; the held-out queries then
    # measure the chosen point, the figures validate.py will find.
    assert target["met"] is True and target["quality"] >= 0.95 and target["cost"] <= 0.0007
    assert target["chosen_on"] == "5-fold cross-validation on the 108 training queries"
    held_out = target["held_out"]
    assert held_out["n_queries"] == result["n_test_queries"] == 46
    assert "python train.py" in printed and f"--quality-weight {target['weight']:g}" in target["command"]
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The chooser sent the STEM share to `strong` and the rest to `cheap`: the cost is between.
    assert 0.0001 < target["cost"] < 0.001 and 0.0001 < held_out["cost"] < 0.001
    # So does the category table (the categories say which queries are STEM) once cost counts; at
    # weight 1 quality alone decides, and the tie on non-STEM queries goes to the better-ranked `strong`.
    by_category = {w["weight"]: next(r for r in w["strategies"] if r["kind"] == "by_category") for w in result["weights"]}
    assert by_category[1.0]["selection_counts"]["cheap"] == 0 and by_category[1.0]["avg_cost"] == pytest.approx(0.001)
    assert by_category[0.7]["avg_quality"] == 1.0 and by_category[0.7]["avg_cost"] == pytest.approx(held_out["cost"])
    assert "By category" in result["summary"] and "CATEGORY" in printed
    # validate.py replays the written set on the same held-out queries: the figures the goal was met with.
    kind = target["selector"]
    assert [p.name for p in out.glob("*_model.json")] == [f"{kind}_model.json"]
    vjson = tmp_path / "validate.json"
    argv = ["--data-file", str(data), "--models-dir", str(out), "--no-download", "--algorithm", kind]
    assert validate.main(argv + ["--cache-dir", str(tmp_path / "c" / "embeddings"), "--output-json", str(vjson)]) == 0
    replay = next(r for r in json.loads(vjson.read_text())["strategies"] if r["kind"] == "selector")
    assert replay["avg_quality"] == pytest.approx(held_out["quality"])
    assert replay["avg_cost"] == pytest.approx(held_out["cost"])


def test_an_unreachable_goal_says_how_close_the_best_came_and_writes_nothing(tmp_path, minilm_embedder, capsys):
    data = write_jsonl(tmp_path / "priced.jsonl", priced_rows())
    out = tmp_path / "models"
    argv = sweep_args(tmp_path, data, "--weights", "1,0.5", "--target-quality", "0.9", "--target-cost", "0.05", "--output-dir", str(out))
    assert tradeoff.main(argv) == 3
    printed = capsys.readouterr().out
    assert "Goal not met on 5-fold cross-validation on the 123 training queries" in printed and "Closest:" in printed
    assert not out.exists()


def test_held_out_queries_never_train_the_sweep(tmp_path, minilm_embedder):
    # Every gardening query is won by `a`, except the held-out ones, won by `b`. KNN with k=1 and
    # no smoothing routes a held-out query to its nearest training query's winner: `a` (quality 0),
    # unless the held-out query itself was trained on (then `b`, quality 1).
    from data_loader import split_queries

    texts = [f"How do I grow tomatoes in garden bed number {i}?" for i in range(40)]
    _, held_out = split_queries(texts, 0.25, 42)
    rows = [
        {"query": t, "model_name": m, "performance": float(m == ("b" if t in held_out else "a")), "cost": 0.001}
        for t in texts
        for m in ("a", "b")
    ]
    data = write_jsonl(tmp_path / "garden.jsonl", rows)
    report = tmp_path / "s.json"
    argv = sweep_args(tmp_path, data, "--holdout", "0.25", "--weights", "1", "--algorithm", "knn", "--knn-k", "1")
    assert tradeoff.main(argv + ["--knn-smoothing", "1", "--output-json", str(report)]) == 0
    result = json.loads(report.read_text())
    knn = result["weights"][0]["strategies"][0]
    assert knn["name"] == "KNN" and knn["avg_quality"] == 0.0
    # Routing by category is chosen on the training side too: there `a` wins the (missing, "unknown") category.
    by_category = result["weights"][0]["strategies"][1]
    assert by_category["name"] == "CATEGORY" and by_category["selection_counts"] == {"a": 10, "b": 0}
    assert result["n_test_queries"] == 10 and result["n_train_queries"] == 30


def test_a_test_file_is_evaluated_without_its_queries_seen_in_training(tmp_path, minilm_embedder, capsys):
    rows = priced_rows()
    data = write_jsonl(tmp_path / "train.jsonl", rows[:200])
    test_file = write_jsonl(tmp_path / "test.jsonl", rows[180:])  # 10 queries in both files
    report = tmp_path / "s.json"
    assert tradeoff.main(sweep_args(tmp_path, data, "--test-file", str(test_file), "--weights", "1", "--output-json", str(report))) == 0
    assert "10 test queries are also in the training file: not evaluated" in capsys.readouterr().out
    assert json.loads(report.read_text())["n_test_queries"] == (308 - 200) // 2


def test_data_without_cost_gets_a_clear_message(tmp_path, minilm_embedder, capsys):
    data = write_jsonl(tmp_path / "plain.jsonl", topical_rows())
    assert tradeoff.main(sweep_args(tmp_path, data, "--weights", "1")) == 1
    err = capsys.readouterr().err
    assert "missing cost" in err and "no held-out query can be evaluated" in err


def test_the_bundled_routerarena_file_is_the_source_converted():
    source = ROOT.parent / "shared" / "data" / "routerarena-2models"
    bundled = ROOT / "examples" / "routerarena-2models.jsonl"
    lines = [json.loads(line) for line in bundled.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 1618
    # AIME_112, as the source records it: claude-3-haiku scored 0 with 349 + 120 tokens costing
    # $0.00023725 (0.25 and 1.25 USD per million tokens).
    first = lines[0]
    assert (first["model_name"], first["performance"], first["prompt_tokens"], first["completion_tokens"]) == (
        "claude-3-haiku-20240307",
        0.0,
        349,
        120,
    )
    assert first["cost"] == pytest.approx(0.00023725) and first["source_id"] == "AIME_112"
    assert sum("error" in line for line in lines) == 1  # the one METEOR score below 0, not clipped
    if not source.exists():
        pytest.skip("../shared/data is not present: the conversion itself is not re-run")
    import subprocess
    import sys

    converted = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "convert_routerarena.py"), str(source)], capture_output=True, check=True
    ).stdout
    assert converted == bundled.read_bytes()


def test_tune_at_each_weight_chooses_settings_from_the_training_side(tmp_path, minilm_embedder, capsys):
    data = write_jsonl(tmp_path / "priced.jsonl", priced_rows())
    report = tmp_path / "s.json"
    argv = sweep_args(tmp_path, data, "--weights", "1,0.5", "--algorithm", "kmeans", "--tune", "--tune-folds", "2")
    assert tradeoff.main(argv + ["--tune-budget", "30", "--output-json", str(report)]) == 0
    assert "[weight 1] tuning (2-fold, budget 30 s)" in capsys.readouterr().out
    weights = json.loads(report.read_text())["weights"]
    # On topical data one cluster (always the best single model) never wins cross-validation.
    assert all(w["settings"]["kmeans_clusters"] > 1 for w in weights)


def test_k_fold_holds_every_query_out_once_and_never_trains_on_it(tmp_path, minilm_embedder, capsys):
    # Fold 0's queries are the only `math` ones and only `b` answers them; `a` answers every other
    # query. Trained without fold 0, neither the category table (math unseen: the best single model,
    # `a`) nor a k=1 KNN (nearest training query: an `a` one) can send a fold-0 query to `b`; trained
    # with it, both would.
    from data_loader import fold_of

    texts = [f"How do I grow tomatoes in garden bed number {i}?" for i in range(40)]
    fold = fold_of(texts, 4, 42)
    n0 = sum(f == 0 for f in fold.values())
    assert 0 < n0 < 40
    rows = [
        {"query": t, "model_name": m, "performance": float(m == ("b" if fold[t] == 0 else "a")), "cost": 0.001,
         "category": "math" if fold[t] == 0 else "other"}
        for t in texts
        for m in ("a", "b")
    ]  # fmt: skip
    data = write_jsonl(tmp_path / "garden.jsonl", rows)
    report, out = tmp_path / "s.json", tmp_path / "models"
    argv = sweep_args(tmp_path, data, "--folds", "4", "--weights", "1", "--algorithm", "knn", "--knn-k", "1", "--knn-smoothing", "1")
    assert tradeoff.main(argv + ["--output-json", str(report), "--target-quality", "0.5", "--output-dir", str(out)]) == 0
    result = json.loads(report.read_text())
    assert result["n_test_queries"] == 40 and result["folds"] == 4 and result["holdout"] is None
    strategies = {r["name"]: r for r in result["weights"][0]["strategies"]}
    assert strategies["KNN"]["selection_counts"] == {"a": 40, "b": 0}
    assert strategies["CATEGORY"]["selection_counts"] == {"a": 40, "b": 0}
    assert strategies["KNN"]["avg_quality"] == pytest.approx((40 - n0) / 40)
    assert strategies["Oracle"]["avg_quality"] == 1.0
    printed = capsys.readouterr().out
    assert "Held-out queries: 40, each held out once in 4 folds" in printed
    # The set is then trained on every query: the figures were K-fold estimates.
    assert "--holdout 0 " in result["target"]["command"]
    meta = json.loads((out / "knn_model.json").read_text())["metadata"]
    assert json.loads(meta["n_train_queries"]) == 40


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--folds", "1"], "--folds must be at least 2"),
        (["--folds", "3", "--tune"], "neither"),
        (["--folds", "3", "--holdout", "0.3"], "--holdout splits --data-file itself"),
        (["--test-file", "t.jsonl", "--holdout", "0.3"], "--holdout splits --data-file itself"),
    ],
)
def test_k_fold_refuses_what_it_cannot_do(tmp_path, capsys, extra, message):
    data = write_jsonl(tmp_path / "priced.jsonl", priced_rows())
    assert tradeoff.main(sweep_args(tmp_path, data, *extra)) == 1
    assert message in capsys.readouterr().err
