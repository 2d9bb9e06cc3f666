"""Parity of the runtime replays with independent references, and the artifact schema."""

import json
import math

import numpy as np
import pytest

from data_loader import CATEGORIES, Outcome, OutcomeTable, fit_objective, label_queries
from models import (
    ArtifactError,
    TrainingError,
    TrainingSet,
    build_features,
    check_artifact,
    l2_normalise_rows,
    load_artifact,
    select_kmeans,
    select_knn,
    select_svm,
    svm_decision_values,
    train_kmeans,
    train_knn,
    train_svm,
    write_artifacts,
)
from training import TrainSettings, train_from_table

MODELS = ["m-alpha", "m-beta", "m-gamma"]


def synthetic_table(n=150, dim=16, seed=0):
    """Three regions of a random embedding space, each won by a different model."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((3, dim))
    queries, vectors, outcomes, categories = [], [], {}, {}
    for i in range(n):
        region = i % 3
        v = centres[region] + 0.6 * rng.standard_normal(dim)
        vectors.append(v / np.linalg.norm(v))
        q = f"query {i}"
        queries.append(q)
        outcomes[q] = {
            m: Outcome(quality=float(rng.random() < (0.85 if j == region else 0.3)), latency=float(0.5 + j + rng.random()), cost=None)
            for j, m in enumerate(MODELS)
        }
        categories[q] = CATEGORIES[i % 5]
    table = OutcomeTable(outcomes, categories, sorted(MODELS))
    return table, dict(zip(queries, np.array(vectors, dtype=np.float32)))


def training_set(table, vectors, queries=None):
    queries = queries or table.queries
    objective = fit_objective(table.subset(queries))
    labels = label_queries(table.subset(queries), objective)
    features = build_features(np.array([vectors[q] for q in labels.queries]), [table.category_by_query[q] for q in labels.queries])
    return TrainingSet.build(table, labels.queries, features, objective, labels.ranking)


@pytest.fixture(scope="module")
def data():
    table, vectors = synthetic_table()
    train_q, test_q = table.queries[:120], table.queries[120:]
    ts = training_set(table, vectors, train_q)
    test_x = build_features(np.array([vectors[q] for q in test_q]), [table.category_by_query[q] for q in test_q])
    return ts, test_x


# --- SVM --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", ["rbf", "linear"])
@pytest.mark.parametrize("max_prototypes", [500, 40])  # the queries themselves, and micro-cluster centres
def test_svm_replay_decision_values_equal_sklearn(data, kernel, max_prototypes):
    ts, test_x = data
    trained = train_svm(ts, kernel=kernel, gamma=1.0, max_prototypes=max_prototypes)
    artifact = json.loads(json.dumps(trained.artifact))  # through JSON text, as the runtime reads it
    check_artifact("svm", artifact)
    values, names = svm_decision_values(artifact, test_x)
    xh = l2_normalise_rows(test_x)
    for j, name in enumerate(names):
        reference = trained.estimator[name].predict(xh)  # SVR.predict is its decision function
        np.testing.assert_allclose(values[:, j], reference, rtol=0, atol=1e-9)
    expected = [names[int(np.argmax(row))] for row in np.column_stack([trained.estimator[n].predict(xh) for n in names])]
    assert select_svm(artifact, test_x).choices == expected
    key = "linear_classifiers" if kernel == "linear" else "rbf_classifiers"
    assert artifact["kernel_type"] == ("Linear" if kernel == "linear" else "Rbf")
    assert list(artifact) and key in artifact and ({"linear_classifiers", "rbf_classifiers"} - {key}).isdisjoint(artifact)


def test_svm_learns_the_regions(data):
    ts, test_x = data
    trained = train_svm(ts, gamma=1.0)
    choices = select_svm(trained.artifact, test_x).choices
    # Test rows are in region order i % 3 (i from 120): model j wins region j.
    expected = [MODELS[i % 3] for i in range(120, 150)]
    assert np.mean([c == e for c, e in zip(choices, expected)]) > 0.8


def test_svm_replay_rules_no_classifiers_nan_and_first_greatest():
    base = {"algorithm": "svm", "trained": True, "model_names": ["first", "second"], "kernel_type": "Rbf", "gamma": 1.0}
    x = np.array([[1.0, 0.0]])
    assert select_svm(base, x).choices == ["first"]
    tied = dict(
        base,
        linear_classifiers=[
            {"model_name": "second", "weights": [1.0, 0.0], "rho": 0.0},
            {"model_name": "first", "weights": [1.0, 0.0], "rho": 0.0},
        ],
    )
    selection = select_svm(tied, x)
    assert selection.choices == ["second"] and selection.ties == 1  # first strictly greatest, in file order


def test_a_model_right_on_every_query_gets_a_classifier_the_runtime_can_read():
    # Its SVR targets are constant: sklearn keeps no support vector. The file must still carry a
    # well-formed classifier (one vector, alpha 0: the value is -rho), never an empty matrix.
    table, vectors = synthetic_table(n=60)
    for per_model in table.outcomes_by_query.values():
        per_model["m-alpha"] = Outcome(quality=1.0, latency=1.0, cost=None)
    trained = train_svm(training_set(table, vectors), kernel="rbf", gamma=1.0)
    alpha_clf = next(c for c in trained.artifact["rbf_classifiers"] if c["model_name"] == "m-alpha")
    assert alpha_clf["alpha"] == [0.0] and len(alpha_clf["support_vectors"]) == 1
    assert len(alpha_clf["support_vectors"][0]) == trained.artifact["feature_dim"]
    # And a file from elsewhere with no vectors at all replays as -rho.
    empty = {"model_names": ["x"], "rbf_classifiers": [{"model_name": "x", "alpha": [], "support_vectors": [], "rho": 0.25, "gamma": 1.0}]}
    values, _ = svm_decision_values(empty, np.ones((2, 3)))
    assert values.tolist() == [[-0.25], [-0.25]]


def test_svm_with_one_model_is_a_clear_error(data):
    ts, _ = data
    one = TrainingSet(
        ts.queries,
        ts.features,
        ["m-alpha"] * len(ts.queries),
        ["m-alpha"],
        ts.scores[:, :1],
        ts.quality[:, :1],
        ts.latency[:, :1],
        ts.objective,
    )
    with pytest.raises(TrainingError, match="only one model"):
        train_svm(one)


# --- KMeans -----------------------------------------------------------------------------------


def test_kmeans_replay_equals_fitted_predict(data):
    ts, test_x = data
    trained = train_kmeans(ts, clusters=6, seed=3)
    artifact = json.loads(json.dumps(trained.artifact))
    check_artifact("kmeans", artifact)
    expected = [artifact["cluster_models"][c] for c in trained.estimator.predict(test_x)]
    assert select_kmeans(artifact, test_x).choices == expected
    assert artifact["num_clusters"] == 6 == len(artifact["centroids"]) == len(artifact["cluster_models"])


def test_kmeans_with_fewer_queries_than_clusters_fits_what_it_can(data):
    ts, _ = data
    few = TrainingSet(ts.queries[:5], ts.features[:5], ts.best[:5], ts.models, ts.scores[:5], ts.quality[:5], ts.latency[:5], ts.objective)
    trained = train_kmeans(few, clusters=8)
    assert trained.artifact["num_clusters"] == 5 == len(trained.artifact["cluster_models"])
    assert any("only 5 distinct" in n for n in trained.notes)


# --- KNN --------------------------------------------------------------------------------------


def reference_knn(artifact, x):
    """The documented vote, written plainly: no numpy, no shared code with the replay."""
    rows, labels, k = artifact["embeddings"], artifact["labels"], artifact["k"]
    qualities, latencies = artifact.get("qualities", []), artifact.get("latencies", [])
    lo, hi = (min(latencies), max(latencies)) if latencies else (1, 1)
    span = max(hi - lo, 1)
    distances = sorted((math.sqrt(sum((a - b) ** 2 for a, b in zip(row, x))), i) for i, row in enumerate(rows))
    votes, order = {}, []
    for _, i in distances[: min(k, len(rows))]:
        q = qualities[i] if i < len(qualities) else 0.5
        lat = latencies[i] if i < len(latencies) else (lo + hi) / 2
        if labels[i] not in votes:
            votes[labels[i]] = 0.0
            order.append(labels[i])
        votes[labels[i]] += 0.9 * max(q, 0.01) + 0.1 * (1 - (lat - lo) / span)
    best = max(votes.values())
    return next(label for label in order if votes[label] == best)


def knn_artifact(**fields):
    base = {
        "algorithm": "knn",
        "trained": True,
        "k": 3,
        "embeddings": [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [3.0, 3.0], [2.5, 0.1]],
        "labels": ["a", "b", "b", "c", "a"],
    }
    base.update(fields)
    check_artifact("knn", base)
    return base


QUERY_POINTS = np.array([[0.2, 0.1], [0.9, 0.3], [2.8, 2.9], [1.5, 0.2], [0.1, 0.9], [-1.0, -1.0]])


@pytest.mark.parametrize(
    "fields",
    [
        {"qualities": [0.9, 0.2, 0.3, 0.8, 0.7], "latencies": [100, 900, 50, 1000, 400]},
        {"qualities": [0.0, 0.005, 0.0, 1.0, 0.0]},  # the 0.01 quality floor
        {"qualities": [1.0, 0.4]},  # missing qualities count 0.5
        {"qualities": [0.2, 0.9, 0.9, 0.1, 0.3], "latencies": [10, 20]},  # missing latencies: the midpoint
        {"latencies": []},  # an empty latency list
        {"k": 50, "qualities": [1.0, 0.1, 0.1, 0.9, 0.2]},  # k larger than the rows
    ],
)
def test_knn_replay_equals_the_documented_vote(fields):
    artifact = knn_artifact(**fields)
    selection = select_knn(artifact, QUERY_POINTS)
    assert selection.choices == [reference_knn(artifact, x) for x in QUERY_POINTS]


def test_knn_exact_ties_are_counted():
    artifact = {
        "algorithm": "knn",
        "trained": True,
        "k": 2,
        "embeddings": [[1.0, 0.0], [-1.0, 0.0], [0.0, 5.0]],
        "labels": ["a", "b", "c"],
        "qualities": [1.0, 1.0, 0.5],
    }
    selection = select_knn(artifact, np.array([[0.0, 0.0], [0.5, 4.0]]))
    assert selection.ties == 1  # the first point is equidistant from "a" and "b" with equal weights
    assert selection.choices[1] in ("a", "b", "c")


def test_knn_rows_are_one_per_query_with_integer_latencies(data):
    ts, _ = data
    artifact = train_knn(ts, k=5, smoothing=1).artifact
    assert len(artifact["embeddings"]) == len(ts.queries) == len(artifact["labels"])
    assert all(isinstance(v, int) for v in artifact["latencies"])
    assert artifact["labels"] == ts.best
    smoothed = train_knn(ts, k=5, smoothing=15).artifact
    assert smoothed["labels"] != ts.best  # neighbourhood labels differ from the per-query ones somewhere


def test_knn_selects_the_region_winner(data):
    ts, test_x = data
    choices = select_knn(train_knn(ts, k=5, smoothing=10).artifact, test_x).choices
    expected = [MODELS[i % 3] for i in range(120, 150)]
    assert np.mean([c == e for c, e in zip(choices, expected)]) > 0.8


# --- Schema -----------------------------------------------------------------------------------


def valid_set(data):
    ts, _ = data
    table, vectors = synthetic_table()
    trained = train_from_table(
        table, table.queries[:120], lambda texts: np.array([vectors[t] for t in texts]), TrainSettings(), {"embedding_model": "test/model"}
    )
    return trained.artifacts


def test_metadata_values_are_all_strings(data):
    for artifact in valid_set(data).values():
        meta = artifact["metadata"]
        assert meta and all(isinstance(v, str) for v in meta.values())
        assert json.loads(meta["feature_dim"]) == 16 + 14
        assert json.loads(meta["categories"]) == list(CATEGORIES)
        assert "ref" in json.loads(meta["objective"])


@pytest.mark.parametrize(
    "kind, mutate, message",
    [
        ("knn", lambda a: a["latencies"].__setitem__(0, 1.5), "latencies"),
        ("svm", lambda a: a.__setitem__("kernel_type", "rbf"), "kernel_type"),
        ("knn", lambda a: a["metadata"].__setitem__("n_models", 3), "metadata"),
        ("kmeans", lambda a: a["metadata"].__setitem__("settings", {"k": 1}), "metadata"),
        ("knn", lambda a: a["embeddings"][1].pop(), "ragged"),
        ("svm", lambda a: a["rbf_classifiers"][0]["support_vectors"][0].append(0.5), "ragged"),
        ("kmeans", lambda a: a["cluster_models"].pop(), "cluster_models"),
        ("kmeans", lambda a: a.__setitem__("feature_dim", 99), "feature_dim"),
        ("svm", lambda a: a.__setitem__("feature_dim", 99), "feature_dim"),
        ("knn", lambda a: a.__setitem__("k", -1), "'k'"),
        ("knn", lambda a: a.__setitem__("training", []), "training"),
        ("svm", lambda a: a["rbf_classifiers"][0]["alpha"].pop(), "alphas"),
    ],
)
def test_schema_rejects_what_the_runtime_cannot_load(data, kind, mutate, message):
    artifact = json.loads(json.dumps(valid_set(data)[kind]))
    check_artifact(kind, artifact)
    mutate(artifact)
    with pytest.raises(ArtifactError, match=message):
        check_artifact(kind, artifact)


def test_nan_in_a_file_is_rejected(tmp_path, data):
    text = json.dumps(valid_set(data)["kmeans"]).replace("[[", "[[NaN, ", 1)
    (tmp_path / "kmeans_model.json").write_text(text)
    with pytest.raises(ArtifactError, match="NaN"):
        load_artifact(tmp_path / "kmeans_model.json", "kmeans")


def test_write_is_all_or_nothing(tmp_path, data):
    artifacts = valid_set(data)
    write_artifacts(tmp_path, artifacts)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    broken = json.loads(json.dumps(artifacts))
    broken["knn"]["run"] = "new"  # a new set ...
    broken["svm"]["kernel_type"] = "rbf"  # ... whose last file is invalid
    with pytest.raises(ArtifactError):
        write_artifacts(tmp_path, broken)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # old set intact, no temp files
    for kind in artifacts:
        load_artifact(tmp_path / f"{kind}_model.json", kind)
        assert (tmp_path / f"{kind}_model.json").stat().st_mode & 0o044 == 0o044  # readable by the router's user
