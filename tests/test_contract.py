"""The runtime contract, pinned with values written out by hand from ../shared/docs/router-artifacts.md,
never computed by our own code: the category slots, one feature vector, and one KNN, KMeans and
SVM decision each (with a gamma other than 1, the KNN quality floor, and ties)."""

import math

import numpy as np
import pytest

from data_loader import CATEGORIES, runtime_category
from models import build_features, select, svm_decision_values


def test_category_slots_are_the_runtimes_in_its_order():
    assert CATEGORIES == (
        "math",
        "physics",
        "chemistry",
        "biology",
        "computer science",
        "history",
        "economics",
        "business",
        "law",
        "health",
        "psychology",
        "philosophy",
        "other",
        "unknown",
    )


def test_one_feature_vector_by_hand():
    # embedding first, then the 14 slots; physics is slot 1, an unknown name goes to `other` (slot 12).
    got = build_features(np.array([[0.6, 0.8], [0.6, 0.8], [0.0, 1.0]]), ["physics", "engineering", "unknown"])
    assert got.tolist() == [
        [0.6, 0.8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0.6, 0.8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0],
        [0.0, 1.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    ]
    # Data categories take the slot the runtime's exact, case-sensitive lookup gives; none is guessed,
    # and a missing one is `other`, as the router serves a request without a category.
    assert runtime_category("Computer_Science") == ("other", "other")
    assert runtime_category("Math") == ("other", "other")
    assert runtime_category("math:algebra") == ("other", "other")
    assert runtime_category(None) == ("other", "missing") and runtime_category("") == ("other", "missing")
    assert runtime_category("unknown") == ("unknown", "exact")


def knn(rows, labels, qualities, latencies, k=3):
    return {
        "algorithm": "knn",
        "trained": True,
        "k": k,
        "embeddings": rows,
        "labels": labels,
        "qualities": qualities,
        "latencies": latencies,
    }


def test_knn_vote_by_hand_with_the_quality_floor():
    # Query [0.4, 0]: the 3 nearest are r0 (0.4), r1 (0.6), r2 (2.04); r3 is far.
    # minL = 1e9, maxL = 3e9, range = 2e9. Weights 0.9 * max(q, 0.01) + 0.1 * (1 - (lat - minL) / range):
    #   r0 (A): 0.9 * 1.0  + 0.1 * (1 - 0.9e9 / 2e9) = 0.955
    #   r1 (B): 0.9 * 0.01 + 0.1 * (1 - 2e9 / 2e9)   = 0.009   (quality 0 floored to 0.01)
    #   r2 (B): 0.9 * 1.0  + 0.1 * (1 - 1e9 / 2e9)   = 0.950
    # B = 0.959 > A = 0.955: B. Without the floor B would have 0.950 and lose.
    a = knn(
        [[0, 0], [1, 0], [0, 2], [5, 5]],
        ["A", "B", "B", "A"],
        [1.0, 0.0, 1.0, 1.0],
        [1_900_000_000, 3_000_000_000, 2_000_000_000, 1_000_000_000],
    )
    assert select("knn", a, np.array([[0.4, 0.0]])).choices == ["B"]


def test_knn_counts_a_tie_at_the_kth_neighbour_and_a_tied_vote():
    # k = 1, query [0.5, 0]: rows at [0, 0] and [1, 0] are both at distance 0.5: the runtime's pick is arbitrary.
    a = knn([[0, 0], [1, 0]], ["A", "B"], [1.0, 1.0], [1, 1], k=1)
    assert select("knn", a, np.array([[0.5, 0.0]])).ties == 1
    assert select("knn", a, np.array([[0.2, 0.0]])).ties == 0
    # k = 2, both rows vote with equal weight (0.9 + 0.1): a tied vote.
    a2 = knn([[0, 0], [3, 0]], ["A", "B"], [1.0, 1.0], [1, 1], k=2)
    assert select("knn", a2, np.array([[1.0, 0.0]])).ties == 1


def test_kmeans_nearest_centroid_by_hand():
    a = {
        "algorithm": "kmeans",
        "trained": True,
        "num_clusters": 3,
        "centroids": [[0, 0], [10, 0], [0, 10]],
        "cluster_models": ["A", "B", "C"],
    }
    # [6, 1]: squared distances 37, 17, 117 -> B. [1, 6]: 37, 117, 17 -> C. Not normalised: [0.1, 0.1] -> A.
    assert select("kmeans", a, np.array([[6.0, 1.0], [1.0, 6.0], [0.1, 0.1]])).choices == ["B", "C", "A"]


def svm(classifiers, top_gamma=1.0):
    return {
        "algorithm": "svm",
        "trained": True,
        "model_names": ["A", "B"],
        "kernel_type": "Rbf",
        "gamma": top_gamma,
        "rbf_classifiers": classifiers,
    }


def test_svm_rbf_decision_by_hand_with_each_classifiers_own_gamma():
    # x = [3, 4] -> xh = [0.6, 0.8]. Each classifier uses its own gamma (0.5), not the top-level 1.0.
    #   A: 1.0 * exp(-0.5 * 0) - 0.2 = 0.8
    #   B: 2.0 * exp(-0.5 * 0.8) - 0.5 * exp(-0.5 * 0.4) - 0.1 = 1.3406401 - 0.4093654 - 0.1 = 0.8312747
    # B wins; with gamma 1 it would be 2 e^-0.8 - 0.5 e^-0.4 - 0.1 = 0.4635 and A would.
    a = svm(
        [
            {"model_name": "A", "alpha": [1.0], "support_vectors": [[0.6, 0.8]], "rho": 0.2, "gamma": 0.5},
            {"model_name": "B", "alpha": [2.0, -0.5], "support_vectors": [[1.0, 0.0], [0.0, 1.0]], "rho": 0.1, "gamma": 0.5},
        ]
    )
    values, names = svm_decision_values(a, np.array([[3.0, 4.0]]))
    assert names == ["A", "B"]
    assert values[0].tolist() == pytest.approx([0.8, 2 * math.exp(-0.4) - 0.5 * math.exp(-0.2) - 0.1], abs=1e-12)
    assert values[0][1] == pytest.approx(0.8312747, abs=1e-7)
    assert select("svm", a, np.array([[3.0, 4.0]])).choices == ["B"]


def test_svm_first_strictly_greatest_wins_and_no_classifier_means_the_first_model():
    same = {"alpha": [1.0], "support_vectors": [[1.0, 0.0]], "rho": 0.0, "gamma": 2.0}
    a = svm([{"model_name": "B", **same}, {"model_name": "A", **same}])
    chosen = select("svm", a, np.array([[1.0, 1.0]]))
    assert chosen.choices == ["B"] and chosen.ties == 1  # equal values: the first in file order
    empty = {"algorithm": "svm", "trained": True, "model_names": ["A", "B"], "kernel_type": "Rbf", "gamma": 1.0}
    assert select("svm", empty, np.array([[1.0, 1.0]])).choices == ["A"]
