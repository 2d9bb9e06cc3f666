"""train.py --tune: settings chosen by cross-validation on the training queries only."""

import json

import pytest
from conftest import ROOT, topical_rows, write_jsonl

import train
from data_loader import build_outcome_table, load_records, split_queries
from models import decode_metadata
from training import TrainSettings
from tuning import tune

EXAMPLE = ROOT / "examples" / "benchmark_output.jsonl"


def test_held_out_queries_never_influence_tuning(tmp_path, minilm_embedder):
    rows = topical_rows()
    table = build_outcome_table(load_records(write_jsonl(tmp_path / "a.jsonl", rows))[0])
    train_q, held_out = split_queries(table.queries, 0.3, 42)
    # The same data with every held-out outcome inverted: a tuner that peeks would choose otherwise.
    flipped = [dict(r, performance=1.0 - r["performance"]) if r["query"] in set(held_out) else r for r in rows]
    table_b = build_outcome_table(load_records(write_jsonl(tmp_path / "b.jsonl", flipped))[0])
    settings = TrainSettings(algorithms=("kmeans",), efficiency="latency")
    quiet = lambda *a: None  # noqa: E731
    chosen_a, report_a = tune(table, train_q, minilm_embedder.embed, settings, 3, 600, quiet)
    chosen_b, report_b = tune(table_b, train_q, minilm_embedder.embed, settings, 3, 600, quiet)
    assert chosen_a == chosen_b
    assert report_a.selectors["kmeans"].tried == report_b.selectors["kmeans"].tried
    assert report_a.n_queries == len(train_q)


def test_the_search_contains_always_best_single_so_tuning_does_not_lose_to_it(tmp_path, minilm_embedder):
    # Outcomes that no feature predicts: routing cannot pay, and tuning must not pretend it does.
    import hashlib

    rows = []
    for line in open(ROOT / "examples" / "queries.jsonl", encoding="utf-8"):
        q = json.loads(line)["query"]
        coin = int(hashlib.sha256(q.encode()).hexdigest(), 16)
        rows += [
            {"query": q, "model_name": "a", "performance": float(coin % 3 != 0)},
            {"query": q, "model_name": "b", "performance": float(coin % 2)},
        ]
    table = build_outcome_table(load_records(write_jsonl(tmp_path / "noise.jsonl", rows))[0])
    settings = TrainSettings(algorithms=("kmeans",))
    _, report = tune(table, table.queries, minilm_embedder.embed, settings, 4, 600, lambda *a: None)
    tuned = report.selectors["kmeans"]
    assert {"clusters": 1} in [p for p, _ in tuned.tried]
    assert tuned.estimate.objective[0] >= report.best_single.objective[0] - 1e-12


def test_train_tune_records_choice_and_cross_validated_estimates(tmp_path, minilm_embedder, capsys):
    data = write_jsonl(tmp_path / "topical.jsonl", topical_rows())
    out = tmp_path / "models"
    argv = ["--data-file", str(data), "--output-dir", str(out), "--embedding-model", "minilm", "--algorithm", "kmeans"]
    argv += ["--cache-dir", str(tmp_path / "c"), "--tune", "--tune-folds", "3", "--holdout", "0.2"]
    assert train.main(argv) == 0
    printed = capsys.readouterr().out
    assert "3-fold cross-validation" in printed and "Best single model" in printed and "--kmeans-clusters" in printed
    meta = decode_metadata(json.loads((out / "kmeans_model.json").read_text())["metadata"])
    tuning = meta["tuning"]
    chosen = tuning["selectors"]["kmeans"]["chosen"]["clusters"]
    assert meta["settings"]["kmeans_clusters"] == chosen  # the set is trained with what tuning chose
    assert json.loads(json.dumps(tuning))["folds"] == 3
    # On topical data, routing pays: cross-validation says so, and beats the best single model.
    assert tuning["selectors"]["kmeans"]["beats_best_single"] is True
    assert tuning["selectors"]["kmeans"]["cv"]["quality"][0] > tuning["best_single"]["quality"][0] + 0.2


@pytest.mark.parametrize("budget", [0.0])
def test_a_spent_budget_still_gives_the_default_settings(tmp_path, minilm_embedder, budget):
    table = build_outcome_table(load_records(write_jsonl(tmp_path / "t.jsonl", topical_rows()))[0])
    settings = TrainSettings(algorithms=("kmeans",))
    chosen, report = tune(table, table.queries, minilm_embedder.embed, settings, 3, budget, lambda *a: None)
    assert [p for p, _ in report.selectors["kmeans"].tried] == [{"clusters": settings.kmeans_clusters}]
    assert report.out_of_budget == ["kmeans"] and chosen.kmeans_clusters == settings.kmeans_clusters


def test_a_selector_that_cannot_beat_the_best_single_model_is_said_to_in_plain_words(tmp_path, minilm_embedder):
    from tuning import format_report

    # Model a is right everywhere, b nowhere: no routing can beat always choosing a.
    rows = [
        r for q in topical_rows()[::2] for r in ({**q, "model_name": "a", "performance": 1.0}, {**q, "model_name": "b", "performance": 0.0})
    ]
    table = build_outcome_table(load_records(write_jsonl(tmp_path / "flat.jsonl", rows))[0])
    _, report = tune(table, table.queries, minilm_embedder.embed, TrainSettings(algorithms=("kmeans",)), 3, 600, lambda *a: None)
    assert report.selectors["kmeans"].beats_best_single is False
    assert any("KMEANS does not beat the best single model" in line for line in format_report(report, "latency"))


def test_routing_by_category_alone_is_estimated_and_a_selector_that_does_not_beat_it_is_named(tmp_path, minilm_embedder):
    from tuning import format_report

    # Topical data: the category alone says which model is right, so a category -> model table is perfect.
    table = build_outcome_table(load_records(write_jsonl(tmp_path / "t.jsonl", topical_rows()))[0])
    _, report = tune(table, table.queries, minilm_embedder.embed, TrainSettings(algorithms=("kmeans",)), 3, 600, lambda *a: None)
    assert report.by_category.quality == (1.0, 0.0) and report.best_single.quality[0] < 0.7
    assert report.to_metadata()["by_category"]["quality"] == [1.0, 0.0]
    lines = format_report(report, "latency")
    assert any(line.startswith("Best per category (chosen per fold on train)") for line in lines)
    # KMeans is perfect too (its clusters follow the categories' one-hot), but no better: it is said.
    assert report.selectors["kmeans"].beats_best_single
    assert any("KMEANS does not beat routing by category alone on cross-validation (1.0000 vs 1.0000)" in line for line in lines)
