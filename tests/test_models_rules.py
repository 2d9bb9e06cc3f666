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
    # Graded outcomes: a neighbour set that differs by one query changes a mean.
    outcomes = {f"q{i}": {m: Outcome(float(rng.random()) * p, None, None) for m, p in zip("abc", (1.0, 0.9, 0.8))} for i in range(n)}
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
        (
            "knn",
            {**KNN, "metadata": {"n": 3}},
            "metadata['n'] is a int: the Go loader reads metadata as string to string, so every value must be a JSON string",
        ),
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
        ("svm", {**SVM, "linear_classifiers": {}}, "linear_classifiers must be a list"),
        ("knn", {**KNN, "embeddings": "x" * 50}, "field 'embeddings' has the wrong type (str: " + "x" * 40 + ")"),
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
        ("knn", {**KNN, "k": 0}),  # parses; the vote then fails ("No votes found")
        ("kmeans", {**KMEANS, "centroids": [], "cluster_models": [], "num_clusters": 0, "feature_dim": 2}),
        ("kmeans", {**KMEANS, "feature_dim": 2}),
        ("svm", {**SVM, "feature_dim": 2}),
        ("svm", {**SVM, "rbf_classifiers": [{**RBF, "alpha": [], "support_vectors": []}], "feature_dim": 9}),
        ("svm", {k: v for k, v in SVM.items() if k != "rbf_classifiers"}),
    ],
)
def test_the_schema_accepts_what_the_runtime_loads(kind, artifact):
    from models import check_artifact

    check_artifact(kind, artifact)


def test_float_matrix_refuses_what_is_not_a_list():
    from models import _float_matrix

    with pytest.raises(ArtifactError) as caught:
        _float_matrix("x", "w")
    assert str(caught.value) == "w must be a list of lists"
    assert _float_matrix([], "w").shape == (0, 0)


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


# --- more rules by hand: KMeans, SVM, prototypes, helpers -----------------------------------------


@pytest.mark.parametrize(
    "changes, x, expected",
    [
        (
            {"embeddings": [[0.0], [1.0], [2.0]], "labels": ["a", "b", "b"], "qualities": [1.0, 0.4, 0.4], "latencies": [300, 100, 100]},
            [1.0],
            "b",
        ),
        (
            {"embeddings": [[0.0], [1.0], [2.0]], "labels": ["a", "b", "b"], "qualities": [1.0, 0.4, 0.4], "latencies": [101, 100, 100]},
            [1.0],
            "b",
        ),
        ({"embeddings": [[0.0], [1.0], [2.0]], "labels": ["a", "b", "a"], "qualities": [0.2, 1.0], "latencies": []}, [1.0], "b"),
        (
            {"embeddings": [[0.0], [1.0], [2.0]], "labels": ["a", "b", "b"], "qualities": [1.0, 0.5, 0.53], "latencies": [100, 300]},
            [1.0],
            "a",
        ),
        ({"embeddings": [[0.0], [1.0], [2.0]], "labels": ["a", "b", "b"], "qualities": [1.0, 0.43, 0.43], "latencies": []}, [1.0], "a"),
    ],
)
def test_knn_close_votes_by_hand(changes, x, expected):
    # a: 0.9 + 0.1 * 0 = 0.9 against b: 2 * (0.36 + 0.1) = 0.92 (latency range 200, or 1 ns floored);
    # a 0.18 + 0.1 + 0.45 + 0.1 (a missing quality is 0.5) = 0.83 against b 1.0;
    # a 1.0 against b 0.45 + 0 + 0.477 + 0.05 (a missing latency is the midpoint 200) = 0.977;
    # a 1.0 against b 2 * (0.387 + 0.1) = 0.974.
    assert select_knn({**VOTE, "k": 3, **changes}, np.array([x])).choices == [expected]


def test_kmeans_nearest_centroid_by_hand():
    from models import select_kmeans

    two = {"centroids": [[0.0], [10.0]], "cluster_models": ["a", "b"]}
    picked = select_kmeans(two, np.array([[4.0], [6.0], [5.0], [-3.0]]))
    assert picked.choices == ["a", "b", "a", "a"] and picked.ties == 1  # 5 is as near to both: the first
    one = select_kmeans({"centroids": [[2.0]], "cluster_models": ["c"]}, np.array([[0.0], [9.0]]))
    assert (one.choices, one.ties) == (["c", "c"], 0)
    with pytest.raises(ArtifactError) as caught:
        select_kmeans({"centroids": [], "cluster_models": []}, np.array([[0.0]]))
    assert str(caught.value) == "kmeans: no centroids: the runtime treats the file as untrained"


def grouped_set(groups, per_group=6, models=("a", "b")):
    """`groups`: (point, {model: quality}) per group; every point repeated `per_group` times."""
    features, outcomes = [], {}
    for g, (point, qualities) in enumerate(groups):
        for r in range(per_group):
            q = f"g{g}-{r}"
            features.append(point)
            outcomes[q] = {m: Outcome(v, None, None) for m, v in qualities.items()}
    table = OutcomeTable(outcomes, dict.fromkeys(outcomes, "other"), list(models))
    ranking = [(m, 1.0 - i / 10) for i, m in enumerate(models)]
    return TrainingSet.build(table, list(outcomes), np.array(features, dtype=np.float64), Objective(1.0, "none"), ranking)


def test_kmeans_training_by_hand():
    from models import train_kmeans

    ts = grouped_set([([0.0, 0.0], {"a": 1.0, "b": 0.0}), ([10.0, 0.0], {"a": 0.0, "b": 1.0})])
    trained = train_kmeans(ts, clusters=2)
    a = trained.artifact
    assert (a["algorithm"], a["trained"], a["num_clusters"], a["feature_dim"]) == ("kmeans", True, 2, 2)
    by_centroid = {round(c[0]): m for c, m in zip(a["centroids"], a["cluster_models"])}
    assert by_centroid == {0: "a", 10: "b"} and trained.notes == []
    capped = train_kmeans(ts, clusters=5)
    assert capped.artifact["num_clusters"] == 2
    assert capped.notes == ["kmeans: 5 clusters requested but only 2 distinct training queries: fitted 2"]
    assert train_kmeans(ts, clusters=1).artifact["cluster_models"] == ["a"]  # a and b tie at 0.5: rank
    with pytest.raises(TrainingError) as caught:
        train_kmeans(ts, clusters=0)
    assert str(caught.value) == "--kmeans-clusters must be at least 1, got 0"
    many = grouped_set([([float(i), 0.0], {"a": 1.0, "b": 0.0}) for i in range(10)], per_group=1)
    assert train_kmeans(many).artifact["num_clusters"] == 8  # the default
    assert train_knn(many).artifact["k"] == 5  # the default


def test_svm_training_rules_by_hand():
    from models import train_svm

    ts = grouped_set([([1.0, 0.0], {"a": 1.0, "b": 0.0}), ([0.0, 1.0], {"a": 0.0, "b": 1.0})], per_group=1)
    trained = train_svm(ts)
    assert trained.artifact["trained"] is True and trained.artifact["gamma"] == 1.0 and trained.notes == []
    svr = trained.estimator["a"]
    assert (svr.C, svr.epsilon, svr.gamma) == (0.1, 0.05, 1.0)  # the defaults
    same = grouped_set([([1.0, 0.0], {"a": 1.0, "b": 0.0}), ([0.0, 1.0], {"a": 1.0, "b": 0.5})], per_group=1)
    assert train_svm(same).notes == ["svm: every training query has the same best model ('a'); the selector will mostly pick it"]
    with pytest.raises(TrainingError) as caught:
        train_svm(ts, kernel="poly")
    assert str(caught.value) == "--svm-kernel must be rbf or linear, got 'poly'"
    sparse = grouped_set([([1.0, 0.0], {"a": 1.0, "b": 0.0}), ([0.0, 1.0], {"a": 0.0})], per_group=1)
    with pytest.raises(TrainingError) as caught:
        train_svm(sparse)
    assert str(caught.value) == "svm: model 'b' has outcomes for fewer than two training queries"


def test_svm_with_one_model_says_so():
    from models import train_svm

    single = grouped_set([([1.0, 0.0], {"a": 1.0})], per_group=3, models=("a",))
    with pytest.raises(TrainingError) as caught:
        train_svm(single)
    assert str(caught.value) == "svm: the data has only one model ('a'): there is nothing to choose between"


def test_svm_prototypes_carry_their_members_mean_by_hand():
    from models import _prototypes

    # Three groups of identical points, four queries each; b has no outcome in the third group.
    ts = grouped_set([([1.0, 0.0], {"a": 1.0, "b": 0.0}), ([0.0, 1.0], {"a": 0.25, "b": 0.75}), ([-1.0, 0.0], {"a": 0.5})], per_group=4)
    ts.scores[1, 0] = 0.0  # one member of the first group scored 0 on a: that group's mean is 0.75
    points, targets, weights = _prototypes(ts, ts.features, 3, 42)
    by_point = {tuple(np.round(p, 6)): (t.tolist(), w.tolist()) for p, t, w in zip(points, targets, weights)}
    assert by_point[(1.0, 0.0)] == ([0.75, 0.0], [4.0, 4.0])
    assert by_point[(0.0, 1.0)] == ([0.25, 0.75], [4.0, 4.0])
    third_targets, third_weights = by_point[(-1.0, 0.0)]
    assert third_targets[0] == 0.5 and np.isnan(third_targets[1]) and third_weights == [4.0, 0.0]
    same_points, same_targets, ones = _prototypes(ts, ts.features, 12, 42)  # n == max: the queries themselves
    assert same_points is ts.features and np.array_equal(same_targets, ts.scores, equal_nan=True) and ones.tolist() == [[1.0, 1.0]] * 12


def test_svm_selection_rules_by_hand():
    from models import select_svm, svm_decision_values

    nan = float("nan")
    linear = {
        "model_names": ["z", "a", "b"],
        "linear_classifiers": [
            {"model_name": "a", "weights": [1.0, 0.0], "rho": 0.0},
            {"model_name": "b", "weights": [0.0, 1.0], "rho": 0.0},
        ],
    }
    x = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [3.0, 4.0]])
    picked = select_svm(linear, x)
    # normalised: (1, 0) -> a; (0, 1) -> b; (0.707, 0.707) -> a tie, the first; (0.6, 0.8) -> b
    assert (picked.choices, picked.ties) == (["a", "b", "a", "b"], 1)
    tie_first = select_svm(linear, np.array([[1.0, 1.0], [1.0, 0.0]]))
    assert tie_first.ties == 1  # counted on the first row, not only the last
    undecided = {**linear, "linear_classifiers": [{"model_name": "a", "weights": [1.0, 0.0], "rho": nan}, linear["linear_classifiers"][1]]}
    assert select_svm(undecided, np.array([[1.0, 0.0]])).choices == ["b"]  # NaN is never the greatest
    all_nan = {**linear, "linear_classifiers": [{"model_name": "a", "weights": [1.0, 0.0], "rho": nan}]}
    both = select_svm(all_nan, np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert (both.choices, both.ties) == (["z", "z"], 0)  # model_names[0], for every row
    empty = select_svm({"model_names": ["z"]}, np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert (empty.choices, empty.ties) == (["z", "z"], 0)
    assert svm_decision_values({"model_names": ["z"]}, np.ones((3, 2)))[0].shape == (3, 0)


def test_training_set_and_row_means_by_hand():
    from models import l2_normalise_rows, mean_over_rows

    nan = float("nan")
    assert mean_over_rows(np.array([[1.0, nan], [0.0, nan]])).tolist() == [0.5, -np.inf]
    assert mean_over_rows(np.array([[0.4, nan]])).tolist() == [0.4, -np.inf]
    assert mean_over_rows(np.array([[0.4, 1.0], [nan, 0.0], [0.1, nan]])).tolist() == pytest.approx([0.25, 0.5])
    normalised = l2_normalise_rows(np.array([[1e-10, 0.0], [0.5, 0.0], [0.0, 0.0], [3.0, 4.0]]))
    assert normalised.tolist() == [[1e-10, 0.0], [1.0, 0.0], [0.0, 0.0], [0.6, 0.8]]
    outcomes = {"q1": {"a": Outcome(1.0, 2.0, None)}, "q2": {"a": Outcome(0.0, None, None), "b": Outcome(1.0, 1.0, None)}}
    table = OutcomeTable(outcomes, dict.fromkeys(outcomes, "other"), ["a", "b"])
    objective = Objective(1.0, "latency", 1.0)
    ts = TrainingSet.build(table, ["q1", "q2"], [[1, 0], [0, 1]], objective, [("a", 1.0), ("b", 0.5)])
    assert ts.queries == ["q1", "q2"] and ts.objective == objective and ts.features.dtype == np.float64
    assert ts.latency.dtype == np.float64 and ts.latency[0, 0] == 2.0 and np.isnan(ts.latency[0, 1]) and np.isnan(ts.latency[1, 0])
    assert (
        ts.best == ["a", "b"] and ts.best_by_mean(np.array([0])) == "a" and ts.best_by_mean(np.array([0, 1])) == "b"
    )  # b: 1.0 where it has outcomes


def test_written_files_are_world_readable_not_executable_and_nested_folders_are_made(tmp_path):
    import os
    import stat

    from models import write_artifacts

    out = tmp_path / "a" / "b"
    written = write_artifacts(out, {"knn": KNN})
    assert written == [out / "knn_model.json"]
    assert stat.S_IMODE(os.stat(out / "knn_model.json").st_mode) == 0o644
    assert sorted(p.name for p in out.iterdir()) == ["knn_model.json"]


def test_svm_prototype_weights_reach_the_regressors():
    from sklearn.svm import SVR

    from models import _prototypes, svm_decision_values, train_svm

    # Three groups; b has outcomes for 4, 4 and 1 of their members: its regressor must weigh them so.
    ts = grouped_set(
        [([1.0, 0.0], {"a": 1.0, "b": 0.0}), ([0.0, 1.0], {"a": 0.0, "b": 1.0}), ([-1.0, 0.0], {"a": 0.5, "b": 0.2})], per_group=4
    )
    ts.scores[9:12, 1] = np.nan
    points, targets, weights = _prototypes(ts, ts.features, 3, 42)
    assert sorted(weights[:, 1].tolist()) == [1.0, 4.0, 4.0]
    lone = [i for i in range(3) if weights[i, 1] == 1.0][0]
    assert targets[lone, 1] == pytest.approx(0.2)  # the one member's own value, not halved, not dropped
    trained = train_svm(ts, max_prototypes=3)
    reference = SVR(kernel="rbf", gamma=1.0, C=0.1, epsilon=0.05).fit(
        points, np.ascontiguousarray(targets[:, 1]), sample_weight=np.ascontiguousarray(weights[:, 1])
    )
    x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.6, 0.8]])
    values, names = svm_decision_values(trained.artifact, x)
    assert values[:, names.index("b")] == pytest.approx(reference.predict(x), abs=1e-6)


def test_files_hold_seven_significant_digits():
    from models import quantize

    assert quantize(np.array([[0.123456789, 123456789.0], [-1e-9 / 3, 2.0]])).tolist() == [[0.1234568, 123456800.0], [-3.333333e-10, 2.0]]


def test_quantize_is_exactly_the_seven_digit_text_parsed_back():
    from models import quantize

    rng = np.random.default_rng(0)
    values = np.concatenate(
        [
            rng.standard_normal(200_000),
            rng.standard_normal(50_000) * 10.0 ** rng.integers(-30, 30, 50_000),
            rng.standard_normal(50_000).astype(np.float32).astype(np.float64),  # what embeddings are
            rng.integers(-(10**9), 10**9, 20_000).astype(np.float64),
            (rng.integers(10**6, 10**7, 20_000) + 0.5) / 10.0 ** rng.integers(0, 12, 20_000),  # decimal halves: ties
            [0.0, -0.0, 1.0, 10.0, 1e7, 9999999.5, 0.99999995, 1e-300, 5e-324, 1e300, -1.2345675, 1.2345675, 123456.75, 0.15, 2.5e-7],
            [np.inf, -np.inf, np.nan],
        ]
    )
    expected = np.char.mod("%.7g", values).astype(np.float64)  # the contract: the file's text, parsed
    got = quantize(values)
    same = (got == expected) & (np.signbit(got) == np.signbit(expected)) | (np.isnan(got) & np.isnan(expected))
    assert same.all(), values[~same][:5]
