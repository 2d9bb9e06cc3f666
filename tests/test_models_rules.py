"""models.py rules pinned by values worked out by hand: KNN rows (labels, nudged qualities,
nanosecond latencies), neighbourhood smoothing, and the KNN vote with its weights, floor and ties."""

import numpy as np
import pytest

from data_loader import Objective, Outcome, OutcomeTable
from models import ArtifactError, TrainingError, TrainingSet, _neighbourhood_labels, select_knn, train_knn

# Three models ranked a, b, c; the objective is quality alone (weight 1) with latency recorded.
#   query  a: quality latency   b: quality latency   c: quality latency   best
#   q1        1       1.0          0       2.0          0       1.0         a
#   q2        0       1.5          1       0.5          0       1.0         b
#   q3        0       1.0          0       -            0       2.0         a (a tie: the better-ranked)
#   q4        0.015   -            0       3.0          0       1.0         a
#   q5        0.02    2.0          0       1.0          0       1.0         a
ROWS = {
    "q1": ((1.0, 1.0), (0.0, 2.0), (0.0, 1.0)),
    "q2": ((0.0, 1.5), (1.0, 0.5), (0.0, 1.0)),
    "q3": ((0.0, 1.0), (0.0, None), (0.0, 2.0)),
    "q4": ((0.015, None), (0.0, 3.0), (0.0, 1.0)),
    "q5": ((0.02, 2.0), (0.0, 1.0), (0.0, 1.0)),
}
FEATURES = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 0.0], [5.1, 0.0], [10.0, 0.0]])


def hand_set(features=FEATURES) -> TrainingSet:
    outcomes = {q: {m: Outcome(qual, lat, None) for m, (qual, lat) in zip("abc", row)} for q, row in ROWS.items()}
    table = OutcomeTable(outcomes, dict.fromkeys(outcomes, "other"), ["a", "b", "c"])
    return TrainingSet.build(table, list(ROWS), features, Objective(1.0, "latency", 1.0), [("a", 0.4), ("b", 0.2), ("c", 0.0)])


def test_knn_rows_by_hand():
    ts = hand_set()
    assert ts.best == ["a", "b", "a", "a", "a"]
    a = train_knn(ts, k=2, smoothing=1).artifact
    assert (a["algorithm"], a["trained"], a["k"], a["labels"]) == ("knn", True, 2, ["a", "b", "a", "a", "a"])
    assert a["embeddings"] == FEATURES.tolist()
    # quality - 1e-6 + 1e-7 * (3 - rank) / 3 from 0.02 up; below it, floored at 0.01, plus the nudge.
    assert a["qualities"] == [0.9999991, 0.999999067, 0.0100001, 0.0150001, 0.0199991]
    # The label's latency in integer nanoseconds; q4's is unknown: the midpoint of 0.5 s and 2.0 s.
    assert a["latencies"] == [1_000_000_000, 500_000_000, 1_000_000_000, 1_250_000_000, 2_000_000_000]
    assert all(type(v) is int for v in a["latencies"])
    assert train_knn(ts, k=1, smoothing=1).artifact["k"] == 1
    with pytest.raises(TrainingError, match="--knn-k must be at least 1, got 0"):
        train_knn(ts, k=0)
    assert train_knn(ts, k=6, smoothing=1).notes == ["knn: k=6 is larger than the 5 training rows; the runtime uses all rows"]
    assert train_knn(ts, k=5, smoothing=1).notes == []


def test_knn_rows_without_any_latency_carry_none():
    outcomes = {f"q{i}": {"a": Outcome(1.0, None, None), "b": Outcome(0.0, None, None)} for i in range(2)}
    table = OutcomeTable(outcomes, dict.fromkeys(outcomes, "other"), ["a", "b"])
    ts = TrainingSet.build(table, list(outcomes), np.eye(2), Objective(1.0, "none"), [("a", 1.0), ("b", 0.0)])
    assert "latencies" not in train_knn(ts, k=1, smoothing=1).artifact


def test_neighbourhood_smoothing_by_hand():
    # Two nearest (itself included): q1/q2 share {q1, q2}: a and b both average 0.5, a ranks first.
    # q3/q4 share {q3, q4}: a averages 0.0075. q5's nearest other is q4 (4.9 away; q3 is 5.0): 0.0175.
    labels, quality = _neighbourhood_labels(hand_set(), 2)
    assert labels == ["a", "a", "a", "a", "a"]
    assert quality.tolist() == pytest.approx([0.5, 0.5, 0.0075, 0.0075, 0.0175])
    assert train_knn(hand_set(), k=2, smoothing=2).artifact["qualities"] == [0.4999991, 0.4999991, 0.0100001, 0.0100001, 0.0175001]
    own, own_quality = _neighbourhood_labels(hand_set(), 1)
    assert own == ["a", "b", "a", "a", "a"] and own_quality.tolist() == [1.0, 1.0, 0.0, 0.015, 0.02]
    assert _neighbourhood_labels(hand_set(), 0)[0] == own  # sizes below 1 are the query's own
    everyone, _ = _neighbourhood_labels(hand_set(), 99)  # capped at the training size: the overall best
    assert everyone == ["a"] * 5


def test_neighbourhood_smoothing_over_many_blocks_equals_brute_force():
    rng = np.random.default_rng(3)
    n, size = 1100, 7  # more than two blocks of 512
    x = rng.standard_normal((n, 4))
    outcomes = {f"q{i}": {m: Outcome(float(rng.random() < p), None, None) for m, p in zip("abc", (0.5, 0.4, 0.3))} for i in range(n)}
    table = OutcomeTable(outcomes, dict.fromkeys(outcomes, "other"), ["a", "b", "c"])
    ts = TrainingSet.build(table, list(outcomes), x, Objective(1.0, "none"), [("a", 0.5), ("b", 0.4), ("c", 0.3)])
    labels, quality = _neighbourhood_labels(ts, size)
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    near = np.argsort(d2, axis=1)[:, :size]
    means = ts.scores[near].mean(axis=1)  # no missing outcomes here
    best = means.argmax(axis=1)
    assert labels == [ts.models[j] for j in best]
    assert quality.tolist() == pytest.approx(ts.quality[near].mean(axis=1)[np.arange(n), best].tolist())


# The vote: weight = 0.9 * max(quality, 0.01) + 0.1 * (1 - (latency - min) / max(max - min, 1)).
# Rows on a line at 0, 1, 2, 10 with labels a b b a, qualities 0.5 0.3 0.3 1.0 and latencies
# 100 100 300 300 ns: weights 0.55, 0.37, 0.27, 0.9.
VOTE = {"k": 3, "embeddings": [[0.0], [1.0], [2.0], [10.0]], "labels": ["a", "b", "b", "a"], "qualities": [0.5, 0.3, 0.3, 1.0]}
VOTE["latencies"] = [100, 100, 300, 300]


@pytest.mark.parametrize(
    "changes, x, expected, ties",
    [
        ({}, [0.4], "b", 0),  # rows 0, 1, 2: a 0.55 against b 0.37 + 0.27 = 0.64
        ({"k": 2}, [0.4], "a", 0),  # rows 0, 1: a 0.55 against b 0.37
        ({"k": 2}, [1.0], "a", 1),  # row 1, then rows 0 and 2 tie at distance 1: the lower index, row 0
        ({"k": 1}, [9.0], "a", 0),
        ({"k": 10}, [0.0], "a", 0),  # k beyond the rows: all four vote, a 1.45 against b 0.64
        ({"latencies": [300, 100, 100, 300]}, [0.4], "b", 0),  # a 0.45 against b 0.37 + 0.37 = 0.74
        ({"qualities": [0.0, 0.0, 0.005, 1.0], "k": 2}, [0.4], "a", 1),  # floored: 0.009 + 0.1 each; a tie, nearest first
        ({"qualities": [0.5]}, [0.4], "b", 0),  # rows without a quality count 0.5: b 0.55 + 0.45 = 1.0
        ({"qualities": [], "latencies": []}, [1.6], "b", 0),  # no qualities, no latencies: 0.55 each, two b
        ({"latencies": [100]}, [0.4], "b", 0),  # the missing ones take the midpoint 100: all 0.1
    ],
)
def test_knn_vote_by_hand(changes, x, expected, ties):
    artifact = {**VOTE, **changes}
    selection = select_knn(artifact, np.array([x]))
    assert (selection.choices, selection.ties) == ([expected], ties)


def test_knn_vote_weights_by_latency_range():
    # Latency counts: same quality, a is fast (100) and b slow (1100): 0.55 + 0.1 against 0.55 + 0.
    artifact = {"k": 2, "embeddings": [[0.0], [1.0]], "labels": ["b", "a"], "qualities": [0.5, 0.5], "latencies": [1100, 100]}
    assert select_knn(artifact, np.array([[0.5]])).choices == ["a"]
    # A latency range under 1 ns counts as 1 ns: 101 against 100 is the whole range.
    close = {**artifact, "latencies": [101, 100]}
    assert select_knn(close, np.array([[0.5]])).choices == ["a"]
    with pytest.raises(ArtifactError, match="No votes found"):
        select_knn({**artifact, "k": 0}, np.array([[0.5]]))
    with pytest.raises(ArtifactError, match="No votes found"):
        select_knn({**artifact, "embeddings": [], "labels": []}, np.array([[0.5]]))


def test_knn_vote_over_many_queries_and_candidates():
    # More than 256 queries (two blocks) and more rows than k + 8 candidates: every query's choice
    # is its nearest row's label when k = 1.
    rows = np.arange(40, dtype=np.float64)[:, None]
    labels = ["a" if i % 2 else "b" for i in range(40)]
    artifact = {"k": 1, "embeddings": rows.tolist(), "labels": labels}
    queries = (np.arange(300) % 40 + 0.1)[:, None]
    chosen = select_knn(artifact, queries).choices
    assert chosen == [labels[i % 40] for i in range(300)]


# --- the schema: what the runtime cannot load is refused, with the exact reason -------------------

KNN = {"algorithm": "knn", "trained": True, "k": 1, "embeddings": [[0.0, 1.0]], "labels": ["a"]}
KMEANS = {"algorithm": "kmeans", "trained": True, "num_clusters": 1, "centroids": [[0.0, 1.0]], "cluster_models": ["a"]}
RBF = {"model_name": "a", "alpha": [1.0], "support_vectors": [[0.0, 1.0]], "rho": 0.0, "gamma": 1.0}
SVM = {"algorithm": "svm", "trained": True, "model_names": ["a"], "kernel_type": "Rbf", "gamma": 1.0, "rbf_classifiers": [RBF]}


@pytest.mark.parametrize(
    "kind, artifact, message",
    [
        ("knn", [], "the file is not a JSON object"),
        ("knn", {**KNN, "k": -1}, "field 'k' has the wrong type (int: -1)"),
        ("knn", {**KNN, "k": True}, "field 'k' has the wrong type for the Go loader (bool)"),
        ("knn", {k: v for k, v in KNN.items() if k != "labels"}, "missing required field 'labels'"),
        ("knn", {**KNN, "trained": 1}, "field 'trained' has the wrong type for the Go loader (int)"),
        ("knn", {**KNN, "embeddings": "x"}, "field 'embeddings' has the wrong type (str: x)"),
        ("knn", {**KNN, "embeddings": [[0.0], "x"]}, "embeddings[1] must be a list of finite numbers"),
        ("knn", {**KNN, "embeddings": [[0.0], [1.0, 2.0]], "labels": ["a", "b"]}, "embeddings is ragged: row 1 has 2 values, row 0 has 1"),
        ("knn", {**KNN, "labels": [1]}, "labels must be a list of strings"),
        ("knn", {**KNN, "labels": ["a", "b"]}, "labels has 2 entries for 1 embeddings"),
        ("knn", {**KNN, "qualities": [0.5, 0.5]}, "qualities has more entries than embeddings"),
        ("knn", {**KNN, "qualities": ["x"]}, "qualities must be a list of finite numbers"),
        ("knn", {**KNN, "latencies": [1.5]}, "latencies must be a list of non-negative JSON integers (nanoseconds)"),
        ("knn", {**KNN, "latencies": [-1]}, "latencies must be a list of non-negative JSON integers"),
        ("knn", {**KNN, "latencies": [True]}, "latencies must be a list of non-negative JSON integers"),
        ("knn", {**KNN, "latencies": 5}, "latencies must be a list of non-negative JSON integers"),
        ("knn", {**KNN, "latencies": [1, 2]}, "latencies has more entries than embeddings"),
        ("knn", {**KNN, "training": []}, "field 'training' must be left out: the Go loader types it differently"),
        ("knn", {**KNN, "cluster_stats": {}}, "field 'cluster_stats' must be left out"),
        ("knn", {**KNN, "metadata": []}, "metadata must be an object of string to string"),
        ("knn", {**KNN, "metadata": {"n": 3}}, "metadata['n'] is a int: the Go loader reads metadata as string to string"),
        ("knn", {**KNN, "algorithm": "svm"}, "algorithm is 'svm', expected 'knn'"),
        ("knn", {**KNN, "gamma": float("inf")}, "field 'gamma' has the wrong type for the Go loader (float)"),
        ("kmeans", {**KMEANS, "cluster_models": []}, "cluster_models has 0 entries for 1 centroids: the runtime fails on the missing ones"),
        ("kmeans", {**KMEANS, "cluster_models": [3]}, "cluster_models must be a list of strings"),
        ("kmeans", {**KMEANS, "num_clusters": 2}, "num_clusters is 2 but there are 1 centroids"),
        ("kmeans", {**KMEANS, "centroids": [[0.0, "x"]]}, "centroids[0] must be a list of finite numbers"),
        ("kmeans", {**KMEANS, "feature_dim": 5}, "feature_dim is 5 but the vectors have 2 values"),
        ("svm", {**SVM, "kernel_type": "rbf"}, 'kernel_type must be exactly "Rbf" or "Linear", got \'rbf\''),
        ("svm", {**SVM, "model_names": [1]}, "model_names must be a list of strings"),
        ("svm", {**SVM, "gamma": "1"}, "field 'gamma' has the wrong type for the Go loader (str)"),
        ("svm", {**SVM, "rbf_classifiers": [{**RBF, "alpha": [1.0, 2.0]}]}, "rbf_classifiers[0]: 2 alphas for 1 support vectors"),
        (
            "svm",
            {**SVM, "rbf_classifiers": [{**RBF, "gamma": None}]},
            "rbf_classifiers[0]: field 'gamma' has the wrong type (NoneType: None)",
        ),
        ("svm", {**SVM, "rbf_classifiers": [{**RBF, "alpha": ["x"]}]}, "rbf_classifiers[0].alpha must be a list of finite numbers"),
        (
            "svm",
            {**SVM, "rbf_classifiers": [{**RBF, "support_vectors": [[0.0], [1.0, 2.0]], "alpha": [1.0, 1.0]}]},
            "rbf_classifiers[0].support_vectors is ragged",
        ),
        (
            "svm",
            {**SVM, "rbf_classifiers": [RBF, {**RBF, "support_vectors": [[1.0]]}]},
            "svm classifiers disagree on the feature dimension: [1, 2] (the runtime crashes)",
        ),
        (
            "svm",
            {**SVM, "linear_classifiers": [{"model_name": "a", "weights": [1.0], "rho": 0.0}]},
            "svm classifiers disagree on the feature dimension: [1, 2]",
        ),
        (
            "svm",
            {**SVM, "linear_classifiers": [{"model_name": "a", "weights": "w", "rho": 0.0}]},
            "linear_classifiers[0]: field 'weights' has the wrong type",
        ),
        (
            "svm",
            {**SVM, "linear_classifiers": [{"model_name": "a", "weights": ["w"], "rho": 0.0}]},
            "linear_classifiers[0].weights must be a list of finite numbers",
        ),
        ("svm", {**SVM, "linear_classifiers": ["x"]}, "linear_classifiers[0]: expected a JSON object"),
        ("svm", {**SVM, "rbf_classifiers": {"a": 1}}, "rbf_classifiers must be a list"),
        ("svm", {**SVM, "feature_dim": 7}, "feature_dim is 7 but the vectors have 2 values"),
    ],
)
def test_the_schema_refuses_with_the_exact_reason(kind, artifact, message):
    from models import check_artifact

    with pytest.raises(ArtifactError) as caught:
        check_artifact(kind, artifact)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    "kind, artifact",
    [
        ("knn", {**KNN, "qualities": [0.5], "latencies": [0], "feature_dim": 2, "metadata": {"a": "1"}}),
        ("knn", {**KNN, "embeddings": [], "labels": []}),
        ("kmeans", {**KMEANS, "feature_dim": 2}),
        ("svm", {**SVM, "feature_dim": 2}),
        ("svm", {**SVM, "rbf_classifiers": [{**RBF, "alpha": [], "support_vectors": []}], "feature_dim": 9}),
        ("svm", {k: v for k, v in SVM.items() if k != "rbf_classifiers"}),
    ],
)
def test_the_schema_accepts_what_the_runtime_loads(kind, artifact):
    from models import check_artifact

    check_artifact(kind, artifact)


def test_feature_dimension_metadata_and_files(tmp_path):
    import json

    from models import decode_metadata, dump_artifact, encode_metadata, feature_dim_of, load_artifact

    assert feature_dim_of("knn", KNN) == 2 and feature_dim_of("knn", {**KNN, "embeddings": []}) is None
    assert feature_dim_of("kmeans", KMEANS) == 2 and feature_dim_of("kmeans", {**KMEANS, "centroids": []}) is None
    assert feature_dim_of("svm", SVM) == 2
    assert feature_dim_of("svm", {**SVM, "linear_classifiers": [{"weights": [1.0, 2.0, 3.0]}]}) == 3
    assert feature_dim_of("svm", {**SVM, "rbf_classifiers": [{**RBF, "support_vectors": []}]}) is None
    assert feature_dim_of("svm", {"model_names": []}) is None
    assert encode_metadata({"s": "x", "n": 3, "l": [1, 2], "d": {"a": 1.5}}) == {"s": "x", "n": "3", "l": "[1,2]", "d": '{"a":1.5}'}
    assert decode_metadata({"s": "x", "n": "3", "l": "[1,2]", "bad": "{"}) == {"s": "x", "n": 3, "l": [1, 2], "bad": "{"}
    assert decode_metadata(None) == {}
    assert dump_artifact({"a": [1.5, 2]}) == '{"a":[1.5,2]}'
    with pytest.raises(ValueError):
        dump_artifact({"a": float("nan")})
    path = tmp_path / "knn_model.json"
    path.write_text(json.dumps(KNN))
    assert load_artifact(path, "knn") == KNN
    path.write_text('{"k": NaN}')
    with pytest.raises(ArtifactError, match=r"knn_model.json: not valid JSON \(NaN is not valid JSON"):
        load_artifact(path, "knn")
    path.write_text(json.dumps({**KNN, "labels": []}))
    with pytest.raises(ArtifactError, match=r"knn_model.json: labels has 0 entries for 1 embeddings"):
        load_artifact(path, "knn")
    with pytest.raises(ArtifactError, match=r"nope.json: missing"):
        load_artifact(tmp_path / "nope.json", "knn")
