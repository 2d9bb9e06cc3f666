"""download_model.py, upload_model.py and prepare_models.py, run as real processes against a
loopback server speaking the Hub's HTTP API (huggingface_hub follows $HF_ENDPOINT)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, write_jsonl
from fake_hub import FakeHub
from test_models import synthetic_table

from data_loader import DATA_REPO, MODELS_REPO
from models import write_artifacts
from training import TrainSettings, train_from_table

TOKEN = "hf_writer_token_123456"


@pytest.fixture
def hub():
    server = FakeHub().start()
    yield server
    server.stop()


def make_set(directory, embedding_model="sentence-transformers/all-MiniLM-L6-v2", dim=384):
    table, _ = synthetic_table(n=60, dim=dim)
    rng = np.random.default_rng(0)
    vectors = {q: (v / np.linalg.norm(v)).astype(np.float32) for q, v in ((q, rng.standard_normal(dim)) for q in table.queries)}
    trained = train_from_table(
        table,
        table.queries,
        lambda texts: np.array([vectors[t] for t in texts]),
        TrainSettings(knn_smoothing=5),
        {"embedding_model": embedding_model},
    )
    write_artifacts(directory, trained.artifacts)
    return {p.name: p.read_bytes() for p in directory.iterdir()}


@pytest.fixture(scope="module")
def artifact_bytes(tmp_path_factory):
    return make_set(tmp_path_factory.mktemp("set"))


def script(hub, tmp_path, name, *args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update({"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_DISABLE_TELEMETRY": "1"})
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, str(ROOT / name), *map(str, args)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )


def test_download_checks_every_file(hub, tmp_path, artifact_bytes):
    hub.add_repo(MODELS_REPO, artifact_bytes)
    done = script(hub, tmp_path, "download_model.py", "--output-dir", "out")
    assert done.returncode == 0, done.stderr
    for name, content in artifact_bytes.items():
        assert (tmp_path / "out" / name).read_bytes() == content
    assert "pass the artifact check" in done.stdout


def test_a_broken_file_is_named_and_nothing_is_replaced(hub, tmp_path, artifact_bytes):
    broken = dict(artifact_bytes)
    svm = json.loads(broken["svm_model.json"])
    svm["kernel_type"] = "rbf"
    broken["svm_model.json"] = json.dumps(svm).encode()
    hub.add_repo(MODELS_REPO, broken)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "knn_model.json").write_text("previous")
    done = script(hub, tmp_path, "download_model.py", "--output-dir", "out")
    assert done.returncode == 1 and "svm_model.json" in done.stderr and "kernel_type" in done.stderr
    assert (tmp_path / "out" / "knn_model.json").read_text() == "previous"
    del broken["kmeans_model.json"]
    hub.add_repo(MODELS_REPO, broken)
    done = script(hub, tmp_path, "download_model.py", "--output-dir", "out")
    assert done.returncode == 1 and "kmeans_model.json" in done.stderr and "no such file" in done.stderr


def test_single_file_and_data_files_from_the_dataset_repo(hub, tmp_path, artifact_bytes):
    hub.add_repo(MODELS_REPO, artifact_bytes)
    data = b'{"query": "q", "model_name": "a", "performance": 1.0}\n'
    hub.add_repo(DATA_REPO, {"benchmark_training_data.jsonl": data, "validation_benchmark_with_gt.jsonl": data}, repo_type="dataset")
    done = script(hub, tmp_path, "download_model.py", "--output-dir", "one", "--file", "knn_model.json")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "one" / "knn_model.json").read_bytes() == artifact_bytes["knn_model.json"]
    # The seed's Option 3 recipe, as written: a data file name goes to the data repo.
    done = script(hub, tmp_path, "download_model.py", "--output-dir", "data/", "--file", "benchmark_training_data.jsonl")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "benchmark_training_data.jsonl").read_bytes() == data
    done = script(hub, tmp_path, "download_model.py", "--output-dir", "both", "--training-data")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "both").iterdir()) == ["benchmark_training_data.jsonl", "validation_benchmark_with_gt.jsonl"]
    assert any(path.startswith("/datasets/") for _, path, _ in hub.requests)


def test_missing_repo_unauthorised_and_offline_say_which_and_what_next(hub, tmp_path):
    done = script(hub, tmp_path, "download_model.py", "--repo-id", "nobody/nothing")
    assert done.returncode == 1 and "not found" in done.stderr and "python train.py" in done.stderr
    done = script(hub, tmp_path, "download_model.py", "--token", "hf_wrong_token_999999")
    assert done.returncode == 1 and "unauthorised" in done.stderr
    assert "hf_wrong_token_999999" not in done.stdout + done.stderr  # a token is never echoed
    done = script(hub, tmp_path, "download_model.py", env_extra={"HF_HUB_OFFLINE": "1"})
    assert done.returncode == 1 and "cannot reach the Hub" in done.stderr and "python train.py" in done.stderr


def test_upload_then_download_round_trip_with_model_card(hub, tmp_path, artifact_bytes):
    model_dir = tmp_path / "models"
    model_dir.mkdir()
    for name, content in artifact_bytes.items():
        (model_dir / name).write_bytes(content)
    report = {"strategies": [{"name": "KNN Selection", "avg_quality": 0.61, "avg_objective": 0.6, "best_model_rate": 0.8}]}
    (model_dir / "validation_report.json").write_text(json.dumps(report))
    done = script(hub, tmp_path, "upload_model.py", "--model-dir", model_dir, "--repo-id", "tester/routers", env_extra={"HF_TOKEN": TOKEN})
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stdout + done.stderr
    card = hub.repos[("model", "tester/routers")].files["README.md"].decode()
    assert "all-MiniLM-L6-v2" in card and "KNN Selection" in card and "0.610" in card
    done = script(hub, tmp_path, "download_model.py", "--repo-id", "tester/routers", "--output-dir", "back")
    assert done.returncode == 0, done.stderr
    for name, content in artifact_bytes.items():
        assert (tmp_path / "back" / name).read_bytes() == content


def test_private_upload_needs_a_token_to_read(hub, tmp_path, artifact_bytes):
    model_dir = tmp_path / "models"
    model_dir.mkdir()
    for name, content in artifact_bytes.items():
        (model_dir / name).write_bytes(content)
    done = script(hub, tmp_path, "upload_model.py", "--model-dir", model_dir, "--repo-id", "tester/secret", "--private", "--token", TOKEN)
    assert done.returncode == 0, done.stderr
    assert hub.repos[("model", "tester/secret")].private
    assert "No validation report" in hub.repos[("model", "tester/secret")].files["README.md"].decode()
    anonymous = script(hub, tmp_path, "download_model.py", "--repo-id", "tester/secret", "--output-dir", "a")
    assert anonymous.returncode == 1 and "private" in anonymous.stderr
    authorised = script(
        hub, tmp_path, "download_model.py", "--repo-id", "tester/secret", "--output-dir", "b", env_extra={"HF_TOKEN": TOKEN}
    )
    assert authorised.returncode == 0, authorised.stderr


def test_private_upload_to_an_existing_public_repo_makes_it_private_before_sending_a_file(hub, tmp_path, artifact_bytes):
    hub.add_repo("tester/was-public", {"old.txt": b"old"})
    model_dir = tmp_path / "models"
    model_dir.mkdir()
    for name, content in artifact_bytes.items():
        (model_dir / name).write_bytes(content)
    done = script(
        hub, tmp_path, "upload_model.py", "--model-dir", model_dir, "--repo-id", "tester/was-public", "--private", "--token", TOKEN
    )
    assert done.returncode == 0, done.stderr
    repo = hub.repos[("model", "tester/was-public")]
    assert repo.private and "knn_model.json" in repo.files
    assert "(private: it was public, and was made private before the upload)" in done.stdout
    # The visibility changed before any file was sent.
    order = [(method, path) for method, path, _ in hub.requests if method in ("PUT", "POST")]
    settings = order.index(("PUT", "/api/models/tester/was-public/settings"))
    assert settings < next(i for i, (_, path) in enumerate(order) if "/preupload/" in path or "/commit/" in path)
    anonymous = script(hub, tmp_path, "download_model.py", "--repo-id", "tester/was-public", "--output-dir", "a")
    assert anonymous.returncode == 1 and not (tmp_path / "a" / "knn_model.json").exists()


def test_private_upload_to_a_public_repo_that_cannot_be_made_private_is_refused_with_nothing_sent(hub, tmp_path, artifact_bytes):
    hub.add_repo("someone-else/public-set", {"old.txt": b"old"})  # tester may write, not change its settings
    model_dir = tmp_path / "models"
    model_dir.mkdir()
    for name, content in artifact_bytes.items():
        (model_dir / name).write_bytes(content)
    argv = ["--model-dir", model_dir, "--repo-id", "someone-else/public-set", "--private", "--token", TOKEN]
    done = script(hub, tmp_path, "upload_model.py", *argv)
    assert done.returncode == 1
    assert "exists and is public, and it could not be made private" in done.stderr and "nothing was uploaded" in done.stderr
    assert "(private)" not in done.stdout and "Uploaded" not in done.stdout
    assert hub.repos[("model", "someone-else/public-set")].files == {"old.txt": b"old"}
    # The same repo without --private: uploaded, and said to be public, as it is.
    done = script(hub, tmp_path, "upload_model.py", *argv[:-3], "--token", TOKEN)
    assert done.returncode == 0 and "someone-else/public-set (public)" in done.stdout


def test_upload_without_private_says_a_private_repo_stays_private(hub, tmp_path):
    hub.add_repo("tester/data", {}, repo_type="dataset", private=True)
    data = write_jsonl(tmp_path / "d.jsonl", [{"query": "q", "model_name": "m", "performance": 1.0}])
    done = script(hub, tmp_path, "upload_model.py", "--training-data", "--data-file", data, "--data-repo", "tester/data", "--token", TOKEN)
    assert done.returncode == 0, done.stderr
    assert hub.repos[("dataset", "tester/data")].private and "tester/data (private)" in done.stdout


def test_upload_refuses_broken_or_inconsistent_sets_and_anonymous_writes(hub, tmp_path, artifact_bytes):
    model_dir = tmp_path / "models"
    model_dir.mkdir()
    for name, content in artifact_bytes.items():
        (model_dir / name).write_bytes(content)
    other = make_set(tmp_path / "other", embedding_model="BAAI/bge-base-en-v1.5", dim=768)
    (model_dir / "svm_model.json").write_bytes(other["svm_model.json"])
    done = script(hub, tmp_path, "upload_model.py", "--model-dir", model_dir, "--repo-id", "tester/mixed", "--token", TOKEN)
    assert done.returncode == 1 and "disagree" in done.stderr
    assert ("model", "tester/mixed") not in hub.repos
    (model_dir / "svm_model.json").write_text("{}")
    done = script(hub, tmp_path, "upload_model.py", "--model-dir", model_dir, "--repo-id", "tester/mixed", "--token", TOKEN)
    assert done.returncode == 1 and "svm_model.json" in done.stderr
    (model_dir / "svm_model.json").write_bytes(artifact_bytes["svm_model.json"])
    done = script(hub, tmp_path, "upload_model.py", "--model-dir", model_dir, "--repo-id", "tester/anon")
    assert done.returncode == 1 and ("unauthorised" in done.stderr or "401" in done.stderr)


def test_training_data_upload(hub, tmp_path):
    data = write_jsonl(
        tmp_path / "bench.jsonl",
        [{"query": "q", "model_name": "a", "performance": 1.0}, {"query": "q", "model_name": "b", "performance": 0.0}],
    )
    done = script(hub, tmp_path, "upload_model.py", "--training-data", "--data-file", data, "--data-repo", "tester/data", "--token", TOKEN)
    assert done.returncode == 0, done.stderr
    assert hub.repos[("dataset", "tester/data")].files["benchmark_training_data.jsonl"] == data.read_bytes()
    bad = write_jsonl(tmp_path / "bad.jsonl", ["{nope"])
    done = script(hub, tmp_path, "upload_model.py", "--training-data", "--data-file", bad, "--data-repo", "tester/data2", "--token", TOKEN)
    assert done.returncode == 1 and "no usable" in done.stderr


# --- prepare_models.py: the fallback chain ---------------------------------------------------------


def test_prepare_uses_a_valid_local_set(hub, tmp_path, artifact_bytes):
    local = tmp_path / "ml-models"
    local.mkdir()
    for name, content in artifact_bytes.items():
        (local / name).write_bytes(content)
    done = script(hub, tmp_path, "prepare_models.py", "--models-dir", local, "--embedding-model", "minilm")
    assert done.returncode == 0, done.stderr
    assert "path taken: local" in done.stdout and not hub.requests


def test_prepare_downloads_when_the_local_set_is_for_another_model(hub, tmp_path, artifact_bytes):
    local = tmp_path / "ml-models"
    make_set(local, embedding_model="BAAI/bge-base-en-v1.5", dim=768)
    hub.add_repo(MODELS_REPO, artifact_bytes)
    done = script(hub, tmp_path, "prepare_models.py", "--models-dir", local, "--embedding-model", "minilm")
    assert done.returncode == 0, done.stderr
    assert "trained with 'BAAI/bge-base-en-v1.5'" in done.stdout and "path taken: download" in done.stdout
    assert (local / "knn_model.json").read_bytes() == artifact_bytes["knn_model.json"]


def test_prepare_refuses_a_download_for_another_model_and_trains(hub, tmp_path):
    hub.add_repo(MODELS_REPO, make_set(tmp_path / "bge", embedding_model="BAAI/bge-base-en-v1.5", dim=768))
    local = tmp_path / "ml-models"
    done = script(
        hub,
        tmp_path,
        "prepare_models.py",
        "--models-dir",
        local,
        "--embedding-model",
        "minilm",
        "--data-file",
        ROOT / "examples/benchmark_output.jsonl",
        "--cache-dir",
        tmp_path / "cache",
    )
    assert done.returncode == 0, done.stderr
    assert "download not usable" in done.stdout and "path taken: trained" in done.stdout
    meta = json.loads((local / "svm_model.json").read_text())["metadata"]
    assert meta["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2" and meta["embedding_dim"] == "384"


def test_prepare_trains_with_the_default_embedding_model_when_none_is_named(hub, tmp_path):
    """The README's end-to-end recipe names no --embedding-model: the fallback trains with the default."""
    local = tmp_path / "ml-models"
    done = script(
        hub,
        tmp_path,
        "prepare_models.py",
        "--models-dir",
        local,
        "--data-file",
        ROOT / "examples/benchmark_output.jsonl",
        "--cache-dir",
        tmp_path / "cache",
        env_extra={"ROUTER_EMBEDDING_MODEL": "minilm"},
    )
    assert done.returncode == 0, done.stderr
    assert "training locally from" in done.stdout and "with minilm" in done.stdout and "path taken: trained" in done.stdout
    meta = json.loads((local / "knn_model.json").read_text())["metadata"]
    assert meta["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"


def test_prepare_fails_only_when_all_three_fail(hub, tmp_path):
    done = script(hub, tmp_path, "prepare_models.py", "--models-dir", tmp_path / "none", "--embedding-model", "minilm")
    assert done.returncode == 1
    assert "local:" in done.stderr and "download:" in done.stderr and "train:" in done.stderr


def test_prepare_accepts_a_set_without_metadata_on_its_dimension_with_a_warning(hub, tmp_path, artifact_bytes):
    local = tmp_path / "ml-models"
    local.mkdir()
    for name, content in artifact_bytes.items():
        artifact = json.loads(content)
        artifact.pop("metadata")
        (local / name).write_text(json.dumps(artifact))
    done = script(hub, tmp_path, "prepare_models.py", "--models-dir", local, "--embedding-model", "minilm")
    assert done.returncode == 0 and "no metadata" in done.stdout and "path taken: local" in done.stdout
    done = script(hub, tmp_path, "prepare_models.py", "--models-dir", local, "--embedding-model", "qwen3")
    assert done.returncode == 1 and "feature dimension" in done.stderr + done.stdout


def test_train_without_data_file_fetches_the_default_dataset(hub, tmp_path):
    hub.add_repo(DATA_REPO, {"benchmark_training_data.jsonl": (ROOT / "examples/benchmark_output.jsonl").read_bytes()}, repo_type="dataset")
    done = script(hub, tmp_path, "train.py", "--output-dir", "models", "--embedding-model", "minilm", "--quiet")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["kmeans_model.json", "knn_model.json", "svm_model.json"]
    offline = script(
        hub,
        tmp_path,
        "train.py",
        "--output-dir",
        "m2",
        "--embedding-model",
        "minilm",
        "--cache-dir",
        tmp_path / "empty-cache",
        env_extra={"HF_HUB_OFFLINE": "1"},
    )
    assert offline.returncode == 1 and "--data-file was not given" in offline.stderr and "cannot reach the Hub" in offline.stderr


def test_validate_downloads_models_and_data_when_missing(hub, tmp_path):
    from test_validate import routed_dataset

    import train

    train_data = routed_dataset(tmp_path / "train.jsonl", n_per_template=10)
    assert (
        train.main(
            [
                "--data-file",
                str(train_data),
                "--output-dir",
                str(tmp_path / "published"),
                "--embedding-model",
                "minilm",
                "--cache-dir",
                str(tmp_path / "cache"),
                "--knn-smoothing",
                "5",
                "--quiet",
            ]
        )
        == 0
    )
    hub.add_repo(MODELS_REPO, {p.name: p.read_bytes() for p in (tmp_path / "published").iterdir()})
    test_data = routed_dataset(tmp_path / "test.jsonl", n_per_template=10, start=50)
    hub.add_repo(DATA_REPO, {"validation_benchmark_with_gt.jsonl": test_data.read_bytes()}, repo_type="dataset")
    done = script(hub, tmp_path, "validate.py", "--cache-dir", tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    assert "Downloaded knn_model.json" in done.stdout and "Downloaded validation_benchmark_with_gt.jsonl" in done.stdout
    assert "Validation Results (70 test queries, 3 models)" in done.stdout
    assert (tmp_path / ".cache/ml-models/validation_benchmark_with_gt.jsonl").read_bytes() == test_data.read_bytes()
    offline = script(hub, tmp_path, "validate.py", "--models-dir", tmp_path / "empty", "--no-download")
    assert offline.returncode == 1 and "not found: pass --data-file, or drop --no-download" in offline.stderr


# --- --router-config: the deploy check before a set is used or uploaded ------------------------

ROUTER_384 = """
routing:
  decisions:
    - name: all_models
      rules: {type: domain, name: math}
      modelRefs: [{model: m-alpha}, {model: m-beta}, {model: m-gamma}]
      algorithm: {type: knn}
global:
  router:
    model_selection:
      ml:
        model_type: mmbert
        embedding_dim: 384
        knn: {pretrained_path: /data/knn_model.json}
"""
MMBERT = "llm-semantic-router/mmbert-embed-32k-2d-matryoshka"


def test_upload_with_a_router_config_refuses_a_set_that_router_cannot_use(hub, tmp_path, artifact_bytes):
    model_dir = tmp_path / "models"
    model_dir.mkdir()
    for name, content in artifact_bytes.items():  # all-MiniLM, 384 + 14
        (model_dir / name).write_bytes(content)
    defaults = tmp_path / "router.yaml"
    defaults.write_text(ROUTER_384.split("global:")[0])  # no embedding settings: mmBERT, 768
    argv = ["--model-dir", model_dir, "--repo-id", "tester/routers", "--token", TOKEN, "--router-config", defaults]
    done = script(hub, tmp_path, "upload_model.py", *argv)
    assert done.returncode == 1 and "the set's 398 values against the router's 768 + 14 = 782" in done.stderr
    assert "ABORTS THE ROUTER PROCESS" in done.stderr and ("model", "tester/routers") not in hub.repos


def test_prepare_with_a_router_config_skips_a_local_set_for_another_model_and_downloads_one_for_it(hub, tmp_path):
    local = tmp_path / "ml-models"
    make_set(local, dim=384)  # all-MiniLM at 384: the right size, the wrong model
    hub.add_repo(MODELS_REPO, make_set(tmp_path / "right", embedding_model=MMBERT, dim=384))
    config = tmp_path / "router.yaml"
    config.write_text(ROUTER_384)
    done = script(hub, tmp_path, "prepare_models.py", "--models-dir", local, "--router-config", config)
    assert done.returncode == 0, done.stderr
    assert "embedding model: the set was trained with 'sentence-transformers/all-MiniLM-L6-v2'" in done.stdout
    assert "path taken: download" in done.stdout and "records no embedding dtype" in done.stdout
