"""What a set costs the router per request: the KNN row budget (--knn-max-rows), the cost lines of
validate.py and tradeoff.py, and train.py's size warning."""

import json

import numpy as np
import pytest
from conftest import topical_rows, write_jsonl

import runtime_cost
import train
import training
from data_loader import CATEGORIES, Objective, Outcome, OutcomeTable, category_one_hot
from models import TrainingSet, _share_rows, check_artifact, dump_artifact, knn_prototypes, knn_request, select_knn, train_knn
from runtime_cost import measure_costs, selector_cost
from tuning import candidate_grid


def clustered_set(n_per_blob: int = 30, seed: int = 0, noise: float = 0.05, interleave: bool = False) -> TrainingSet:
    """Four blobs of queries over two categories; in blobs 0 and 2 model `left` is right, in 1 and 3
    `right` is (latency 1 s and 2 s, or with `interleave` a latency that differs per query, and the
    queries listed blob after blob within each index, the categories mixed). Features: a 4-value
    embedding ++ the 14-slot one-hot."""
    rng = np.random.default_rng(seed)
    order = (
        [(blob, i) for i in range(n_per_blob) for blob in range(4)] if interleave else [(b, i) for b in range(4) for i in range(n_per_blob)]
    )
    outcomes, categories, rows = {}, {}, []
    for blob, i in order:
        q = f"b{blob}-{i}"
        good = "left" if blob % 2 == 0 else "right"
        extra = 0.01 * i if interleave else 0.0
        outcomes[q] = {m: Outcome(float(m == good), (1.0 if m == "left" else 2.0) + extra, None) for m in ("left", "right")}
        categories[q] = "math" if blob < 2 else "law"
        v = np.eye(4)[blob] + rng.normal(scale=noise, size=4)
        rows.append(np.concatenate([v / np.linalg.norm(v), category_one_hot(categories[q])]))
    table = OutcomeTable(outcomes, categories, ["left", "right"])
    return TrainingSet.build(table, list(outcomes), np.array(rows), Objective(1.0, "latency", 1.0), [("left", 0.5), ("right", 0.5)])


@pytest.mark.parametrize("budget", [1, 2, 3, 7, 13, 64, 119])
def test_the_budget_is_never_exceeded(budget):
    ts = clustered_set()
    artifact = train_knn(ts, k=3, smoothing=5, max_rows=budget).artifact
    assert len(artifact["embeddings"]) <= budget
    assert len(artifact["labels"]) == len(artifact["qualities"]) == len(artifact["latencies"]) == len(artifact["embeddings"])
    check_artifact("knn", artifact)  # the runtime's parse: latencies integers, lists aligned


def test_rows_are_shared_by_category_in_proportion_at_least_one_each():
    assert _share_rows([10, 5, 1], 4) == [2, 1, 1]  # 2.5, 1.25, 0.25 -> floors, the smallest kept
    assert _share_rows([10, 5, 1], 8) == [5, 2, 1]
    assert _share_rows([90, 5, 5], 10) == [8, 1, 1]  # 9, 0.5, 0.5: the floors of one overshoot, taken from the largest
    assert _share_rows([3, 3], 5) == [3, 2]  # largest remainder, ties to the first


def test_prototypes_keep_each_category_one_hot_exact_and_lie_where_queries_lie():
    ts = clustered_set(noise=0.5)  # spread blobs: the plain mean of unit vectors would be visibly shorter
    points = knn_prototypes(ts, 8, seed=1)
    assert points.shape == (8, 4 + len(CATEGORIES))
    one_hots = {tuple(p[-len(CATEGORIES) :]) for p in points}
    assert one_hots == {tuple(category_one_hot("math")), tuple(category_one_hot("law"))}
    assert np.allclose(np.linalg.norm(points[:, :4], axis=1), 1.0, atol=0.01)  # unit-length queries, unit-length prototypes


def test_prototypes_replay_under_the_runtime_rule():
    ts = clustered_set()
    artifact = train_knn(ts, k=3, smoothing=5, max_rows=8).artifact
    check_artifact("knn", artifact)
    # Every prototype carries its neighbourhood's winner, quality 1 (nudged) and the winner's latency.
    by_blob = {int(np.argmax(p[:4])): label for p, label in zip(np.array(artifact["embeddings"]), artifact["labels"])}
    assert by_blob == {0: "left", 1: "right", 2: "left", 3: "right"}
    assert all(0.999 < q <= 1.0 for q in artifact["qualities"])
    assert sorted(set(artifact["latencies"])) == [10**9, 2 * 10**9]
    # New queries near each blob, with their category, get the blob's model from the runtime's Select.
    probes = np.array([np.concatenate([np.eye(4)[b] * 0.98, category_one_hot("math" if b < 2 else "law")]) for b in range(4)])
    assert select_knn(artifact, probes).choices == ["left", "right", "left", "right"]


def test_a_budget_at_or_above_the_rows_changes_nothing_byte_for_byte():
    ts = clustered_set(interleave=True)
    unbudgeted = dump_artifact(train_knn(ts, k=3, smoothing=5).artifact)
    assert dump_artifact(train_knn(ts, k=3, smoothing=5, max_rows=len(ts.best)).artifact) == unbudgeted
    assert dump_artifact(train_knn(ts, k=3, smoothing=5, max_rows=10_000).artifact) == unbudgeted
    assert dump_artifact(train_knn(ts, k=3, smoothing=5, max_rows=len(ts.best) - 1).artifact) != unbudgeted


def test_train_py_budget_below_the_queries_leaves_the_file_as_without_one(tmp_path, minilm_embedder):
    data = write_jsonl(tmp_path / "t.jsonl", topical_rows())  # 154 queries
    cache = str(minilm_embedder.cache.dir.parent)
    files = {}
    for budget in ("0", "154", "500", "40"):
        out = tmp_path / f"m{budget}"
        argv = ["--data-file", str(data), "--output-dir", str(out), "--embedding-model", "minilm", "--cache-dir", cache]
        assert train.main(argv + ["--algorithm", "knn", "--knn-max-rows", budget, "--quiet"]) == 0
        artifact = json.loads((out / "knn_model.json").read_text())
        meta = json.loads(artifact.pop("metadata")["settings"])
        assert meta["knn_max_rows"] == int(budget)
        files[budget] = dump_artifact(artifact)
    assert files["154"] == files["0"] and files["500"] == files["0"]
    assert len(json.loads(files["40"])["embeddings"]) <= 40


def test_train_py_refuses_a_negative_budget(tmp_path, capsys):
    data = write_jsonl(tmp_path / "t.jsonl", topical_rows())
    argv = ["--data-file", str(data), "--output-dir", str(tmp_path / "m"), "--embedding-model", "minilm", "--algorithm", "knn"]
    assert train.main(argv + ["--cache-dir", str(tmp_path / "c"), "--knn-max-rows", "-1"]) == 1
    assert "--knn-max-rows must be 0 (no budget) or a positive number" in capsys.readouterr().err


def test_train_py_warns_above_the_stated_size_and_names_the_flag(tmp_path, minilm_embedder, capsys, monkeypatch):
    data = write_jsonl(tmp_path / "t.jsonl", topical_rows())
    argv = ["--data-file", str(data), "--embedding-model", "minilm", "--cache-dir", str(minilm_embedder.cache.dir.parent), "--quiet"]
    assert train.main(argv + ["--output-dir", str(tmp_path / "a")]) == 0
    assert "warning" not in capsys.readouterr().err  # 154 rows x 398 values: far below the size
    # The size stated in rows x dimensions: 154 x 398 = 61,292 values is above a 61,291-value limit.
    monkeypatch.setattr(runtime_cost, "WARN_VALUES", 154 * 398 - 1)
    assert train.main(argv + ["--output-dir", str(tmp_path / "b"), "--knn-max-rows", "0"]) == 0
    err = capsys.readouterr().err
    assert "warning: knn stores 154 rows x 398 dims = 61,292 values" in err and "--knn-max-rows bounds it" in err
    assert "svm" not in err and "kmeans" not in err  # bounded by the flags the user set: reported by validate.py, not warned


def test_selector_cost_counts_the_work_by_hand():
    knn = {"algorithm": "knn", "trained": True, "k": 2, "embeddings": [[0.0, 1.0, 2.0]] * 4, "labels": ["a"] * 4}
    cost = selector_cost("knn", knn)
    assert (cost.vectors, cost.dimensions, cost.values) == (4, 3, 12)
    assert cost.file_bytes == len(dump_artifact(knn))
    assert selector_cost("knn", knn, file_bytes=123).file_bytes == 123
    svm = {
        "algorithm": "svm",
        "model_names": ["a", "b"],
        "rbf_classifiers": [
            {"model_name": "a", "alpha": [1.0, 1.0, 1.0], "support_vectors": [[0.0, 1.0]] * 3, "rho": 0.0, "gamma": 1.0},
            {"model_name": "b", "alpha": [1.0, 1.0], "support_vectors": [[1.0, 0.0]] * 2, "rho": 0.0, "gamma": 1.0},
        ],
    }
    assert (selector_cost("svm", svm).vectors, selector_cost("svm", svm).dimensions) == (5, 2)
    linear = {"linear_classifiers": [{"model_name": "a", "weights": [0.0] * 7, "rho": 0.0}] * 3}
    assert (selector_cost("svm", linear).vectors, selector_cost("svm", linear).dimensions) == (3, 7)
    kmeans = {"centroids": [[0.0] * 5] * 8, "cluster_models": ["a"] * 8}
    assert selector_cost("kmeans", kmeans).values == 40


def test_the_knn_replica_queries_a_tree_over_every_row():
    rng = np.random.default_rng(3)
    rows, x = rng.normal(size=(500, 12)), rng.normal(size=12)
    expected = np.argsort(np.sum((rows - x) ** 2, axis=1))[:5]
    assert list(knn_request(rows, 5, x)) == list(expected)  # the true nearest, nearest first
    assert list(knn_request(rows[:3], 5, x)) == list(np.argsort(np.sum((rows[:3] - x) ** 2, axis=1)))  # kk = min(k, rows)


def test_measure_costs_times_a_sample_and_reports_it():
    ts = clustered_set()
    artifacts = {"knn": train_knn(ts, k=3, smoothing=5).artifact}
    costs = measure_costs(artifacts, ts.features, sample=4)
    assert costs["knn"].sample == 4 and costs["knn"].seconds_per_request > 0
    assert measure_costs(artifacts, ts.features, sample=1)["knn"].sample == 1
    assert measure_costs(artifacts, ts.features, sample=0)["knn"].seconds_per_request is None
    lines = runtime_cost.format_costs(costs, "a set")
    assert lines[0].startswith("Cost per request in the router (a set)")
    assert "KNN    Ball Tree built over 120 rows x 18 dims = 0.00M values, then queried" in lines[1]
    assert "scikit-learn's BallTree for Linfa's" in lines[2] and "load average" in lines[2]


def test_the_tuner_may_choose_a_row_budget():
    settings = training.TrainSettings(knn_max_rows=1000)
    grid = candidate_grid("knn", settings, 5000)
    assert grid[0] == {"k": settings.knn_k, "smoothing": settings.knn_smoothing, "max_rows": 1000}
    budgets = {c["max_rows"] for c in grid}
    assert budgets == {1000, 0, 250}
    assert "--knn-max-rows 1000" in training.selector_flags(settings)


def test_prototypes_never_mix_categories_even_where_the_embeddings_would():
    # Two opposite topics, each asked in both categories: a budget of two, clustered together, would
    # split by topic (distance 2 beats the one-hot's sqrt 2) and give each prototype half of each
    # one-hot, a category the router never produces. Per category, each keeps its own.
    outcomes, categories, rows = {}, {}, []
    for i in range(40):
        q, sign, category = f"q{i}", 1.0 if i % 2 else -1.0, "math" if i % 4 < 2 else "law"
        outcomes[q] = {"a": Outcome(float(sign > 0), 1.0, None), "b": Outcome(float(sign < 0), 1.0, None)}
        categories[q] = category
        rows.append(np.concatenate([[sign, 0.01 * i, 0.0], category_one_hot(category)]))
    table = OutcomeTable(outcomes, categories, ["a", "b"])
    ts = TrainingSet.build(table, list(outcomes), np.array(rows), Objective(1.0, "latency", 1.0), [("a", 0.5), ("b", 0.5)])
    points = knn_prototypes(ts, 2)
    assert sorted(tuple(p[3:]) for p in points) == sorted([tuple(category_one_hot("math")), tuple(category_one_hot("law"))])
