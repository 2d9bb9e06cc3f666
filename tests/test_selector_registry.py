"""A fourth selector touches one place: its models.Selector entry. Registered here (with its own
train, check and replay), it gets its flags, is trained by train.py, tuned by --tune, replayed by
validate.py and swept by tradeoff.py, like the other three."""

import json

import numpy as np
import pytest
from conftest import topical_rows, write_jsonl

import tradeoff
import train
import validate
from models import (
    ARTIFACT_FILES,
    ArtifactError,
    Selection,
    Selector,
    Setting,
    TrainedSelector,
    algorithms,
    register_selector,
    unregister_selector,
)
from training import TrainSettings, selector_flags


def train_centroid(ts, shrink: float = 0.0, seed: int = 42, **_) -> TrainedSelector:
    """Per model, the mean feature of the training queries it is best on (scikit-learn's
    NearestCentroid), pulled towards the mean of all of them by `shrink`."""
    models = [m for m in ts.models if m in ts.best]
    overall = ts.features.mean(axis=0)
    means = [(1 - shrink) * ts.features[[b == m for b in ts.best]].mean(axis=0) + shrink * overall for m in models]
    return TrainedSelector({"algorithm": "centroid", "trained": True, "means": [m.tolist() for m in means], "mean_models": models})


def check_centroid(a: dict) -> None:
    if not isinstance(a.get("means"), list) or len(a["means"]) != len(a.get("mean_models") or []):
        raise ArtifactError("centroid: means and mean_models must be lists of the same length")


def select_centroid(a: dict, features: np.ndarray) -> Selection:
    means = np.asarray(a["means"], dtype=np.float64)
    nearest = np.argmin(((features[:, None, :] - means[None, :, :]) ** 2).sum(axis=2), axis=1)
    return Selection([a["mean_models"][i] for i in nearest])


CENTROID = Selector(
    "centroid",
    train_centroid,
    check_centroid,
    select_centroid,
    "centroid_model.json",
    lambda a: len(a["means"][0]) if a["means"] else None,
    lambda a: set(a["mean_models"]),
    (Setting("shrink", 0.0, "pull each model's mean towards the mean of all"),),
    lambda current, n_train: [{"shrink": 0.0}, {"shrink": 0.5}],
    tuned=("shrink",),
)


@pytest.fixture
def centroid_registered():
    register_selector(CENTROID)  # the one place
    yield
    unregister_selector("centroid")


def test_a_registered_selector_gets_its_flags_settings_and_file(centroid_registered):
    assert algorithms() == ("knn", "kmeans", "svm", "centroid") and ARTIFACT_FILES["centroid"] == "centroid_model.json"
    args = train.build_parser().parse_args(["--algorithm", "centroid", "--centroid-shrink", "0.25"])
    assert args.centroid_shrink == 0.25
    settings = TrainSettings(centroid_shrink=0.25)
    assert settings.centroid_shrink == 0.25 and settings.selector_kwargs("centroid") == {"shrink": 0.25, "seed": 42}
    assert "--centroid-shrink 0.25" in selector_flags(settings)


def test_without_registration_the_suite_knows_three_selectors():
    assert algorithms() == ("knn", "kmeans", "svm")
    with pytest.raises(SystemExit):
        train.build_parser().parse_args(["--centroid-shrink", "0.25"])


def test_a_registered_selector_is_trained_tuned_replayed_and_swept(centroid_registered, tmp_path, minilm_embedder, capsys):
    data = write_jsonl(tmp_path / "topical.jsonl", topical_rows())
    common = ["--data-file", str(data), "--embedding-model", "minilm", "--cache-dir", str(tmp_path / "c"), "--quiet"]
    models = tmp_path / "models"
    # Trained with the other three, by default.
    assert train.main([*common, "--output-dir", str(models), "--holdout", "0.3", "--knn-smoothing", "1"]) == 0
    assert sorted(p.name for p in models.glob("*.json")) == ["centroid_model.json", "kmeans_model.json", "knn_model.json", "svm_model.json"]
    meta = json.loads(json.loads((models / "centroid_model.json").read_text())["metadata"]["settings"])
    assert meta["centroid_shrink"] == 0.0 and meta["algorithms"] == ["knn", "kmeans", "svm", "centroid"]

    # Replayed by validate.py on the held-out queries, in the same table as the others.
    report = tmp_path / "validate.json"
    assert validate.main(["--data-file", str(data), "--models-dir", str(models), "--no-download", "--output-json", str(report)]) == 0
    printed = capsys.readouterr().out
    names = [s["name"] for s in json.loads(report.read_text())["strategies"] if s["kind"] == "selector"]
    assert names == ["KNN Selection", "KMEANS Selection", "SVM Selection", "CENTROID Selection"]
    centroid = next(s for s in json.loads(report.read_text())["strategies"] if s["name"] == "CENTROID Selection")
    assert centroid["avg_quality"] > 0.9  # topical data: the nearest mean is the right model almost always
    assert any(line.split()[:2] == ["CENTROID", "its"] and "cost per request is not modelled" in line for line in printed.splitlines())

    # Tuned by --tune over its own grid.
    tuned = tmp_path / "tuned"
    argv = [*common, "--output-dir", str(tuned), "--algorithm", "centroid", "--tune", "--tune-folds", "3"]
    assert train.main(argv) == 0
    tuning = json.loads(json.loads((tuned / "centroid_model.json").read_text())["metadata"]["tuning"])
    assert [params for params, _ in tuning["selectors"]["centroid"]["tried"]] == [{"shrink": 0.0}, {"shrink": 0.5}]

    # Swept by tradeoff.py, and its chosen set written by the job whose command it prints.
    priced = write_jsonl(tmp_path / "priced.jsonl", [{**r, "cost": 0.003 if r["model_name"] == "mathy" else 0.001} for r in topical_rows()])
    sweep_json, out = tmp_path / "sweep.json", tmp_path / "chosen"
    argv = ["--data-file", str(priced), "--embedding-model", "minilm", "--cache-dir", str(tmp_path / "c"), "--efficiency", "cost"]
    argv += ["--folds", "3", "--algorithm", "centroid", "--weights", "1,0.5", "--target-quality", "0.9", "--search-tolerance", "0"]
    assert tradeoff.main([*argv, "--output-json", str(sweep_json), "--output-dir", str(out)]) == 0
    result = json.loads(sweep_json.read_text())
    assert {s["name"] for w in result["weights"] for s in w["strategies"]} >= {"CENTROID", "Oracle"}
    assert result["target"]["selector"] == "centroid" and "--algorithm centroid" in result["target"]["command"]
    assert "--centroid-shrink 0" in result["target"]["command"] and (out / "centroid_model.json").exists()


def test_the_deploy_check_says_the_router_never_loads_a_fourth_kind(centroid_registered):
    from conftest import ROOT

    from router_profile import check_deploy, load_router_profile

    profile = load_router_profile(ROOT / "examples" / "router-config.yaml")
    artifact = {"algorithm": "centroid", "trained": True, "means": [[0.0] * profile.feature_dim], "mean_models": ["m"]}
    report = check_deploy(profile, {"centroid": artifact}, {})
    assert report.ok  # a file the router never reads cannot break it
    assert any("centroid_model.json: the router selects with knn, kmeans, svm only: it never loads this file" in w for w in report.warnings)
