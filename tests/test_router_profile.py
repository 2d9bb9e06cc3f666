"""router_profile.py: v0.3 router configs, written here, read as the router reads them.

Every expected value is written by hand from the router's source (see router_profile.py's
docstring): the canonical defaults, the PR #2886 precedence, the batched-Qwen3 gate."""

import hashlib
import json

import pytest

from router_profile import RouterConfigError, check_deploy, load_router_profile

DECISIONS = """
routing:
  decisions:
    - name: math_decision
      rules:
        operator: OR
        conditions:
          - type: keyword
            name: calc
          - type: domain
            name: math
          - operator: AND
            conditions:
              - type: domain
                name: physics
                label: hard
    - name: code_decision
      rules: {type: domain, name: computer science}
      modelRefs:
        - model: qwen2.5-7b
        - model: llama-3-8b
          lora_name: code-lora
      algorithm: {type: kmeans}
    - name: stem_decision
      rules: {type: domain, name: physics}
      modelRefs: [{model: big}, {model: small}, {model: qwen2.5-7b}]
      algorithm: {type: knn}
    - name: solo_decision
      rules: {type: keyword, name: hello}
      modelRefs: [{model: small}]
      algorithm: {type: svm}
    - name: static_decision
      rules: {type: domain, name: law}
      modelRefs: [{model: big}, {model: small}]
      algorithm: {type: static}
"""


def write(tmp_path, text, name="config.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_config_that_never_mentions_embeddings_gets_mmbert_768_whole_model(tmp_path):
    profile = load_router_profile(write(tmp_path, DECISIONS))
    spec = profile.embedding
    assert (spec.backend, spec.model_type, spec.dimension, spec.layer, spec.dtype) == ("candle", "mmbert", 768, None, "float32")
    assert spec.model_path == "models/mmbert-embed-32k-2d-matryoshka"
    assert spec.hub_id == "llm-semantic-router/mmbert-embed-32k-2d-matryoshka"
    assert not spec.cut and profile.feature_dim == 782
    assert profile.embedding_ready  # mmBERT needs no batched Qwen3
    assert "782 = 768 + 14" in profile.summary()


def test_decisions_candidates_lora_names_domains_and_the_one_candidate_decision(tmp_path):
    profile = load_router_profile(write(tmp_path, DECISIONS))
    math = profile.decision("math_decision")
    assert (math.algorithm, math.candidates, math.domains) == ("", (), ("math", "physics:hard"))
    code = profile.decision("code_decision")
    assert code.candidates == ("qwen2.5-7b", "code-lora") and code.domains == ("computer science",)
    assert [d.name for d in profile.ml_decisions()] == ["code_decision", "stem_decision", "solo_decision"]
    solo = profile.decision("solo_decision")
    assert solo.candidates == ("small",) and not solo.uses_selector and profile.decision("stem_decision").uses_selector
    assert profile.candidate_labels("knn") == {"big", "small", "qwen2.5-7b"}
    assert profile.ml_algorithms() == ("knn", "kmeans", "svm")
    assert profile.decision("missing") is None
    assert "solo_decision svm [small] (one candidate: selector skipped)" in profile.summary()


QWEN3_NO_DIMENSION = """
global:
  model_catalog:
    embeddings:
      semantic:
        qwen3_model_path: models/mom-embedding-pro
        embedding_config:
          model_type: qwen3
  router:
    model_selection:
      ml:
        models_path: /data/ml-models
        knn:
          pretrained_path: /data/ml-models/knn_model.json
"""


def test_qwen3_without_target_dimension_is_cut_to_the_defaults_768_and_batched_qwen3_starts(tmp_path):
    profile = load_router_profile(write(tmp_path, QWEN3_NO_DIMENSION))
    spec = profile.embedding
    assert (spec.model_type, spec.dimension, spec.native_dimension, spec.cut) == ("qwen3", 768, 1024, True)
    assert spec.hub_id == "Qwen/Qwen3-Embedding-0.6B" and spec.dtype == "float32"
    assert profile.batched_qwen3 and profile.embedding_ready
    assert profile.artifact_paths == {"knn": "/data/ml-models/knn_model.json", "kmeans": "", "svm": ""}
    assert "cut from 1024, re-normalised" in profile.summary()


def test_qwen3_with_a_target_dimension_and_without_models_path(tmp_path):
    text = QWEN3_NO_DIMENSION.replace("model_type: qwen3", "model_type: qwen3\n          target_dimension: 1024")
    text = text.replace("        models_path: /data/ml-models\n", "")
    profile = load_router_profile(write(tmp_path, text))
    assert profile.embedding.dimension == 1024 and not profile.embedding.cut and profile.feature_dim == 1038
    # No ml.models_path: the batched model does not start, every Qwen3 embedding fails.
    assert not profile.batched_qwen3 and "ml.models_path" in profile.batched_qwen3_reason
    assert "batched Qwen3 will not start" in profile.embedding_problem()


def test_the_response_cache_embedding_with_qwen3_also_starts_batched_qwen3_even_by_its_old_name(tmp_path):
    text = QWEN3_NO_DIMENSION.replace("        models_path: /data/ml-models\n", "")
    text += "  stores:\n    semantic_cache:\n      embedding_model: qwen3\n"
    assert load_router_profile(write(tmp_path, text)).batched_qwen3


PR_2886 = """
global:
  model_catalog:
    embeddings:
      semantic:
        qwen3_model_path: models/mom-embedding-pro
  router:
    model_selection:
      enabled: true
      ml:
        models_path: /data/ml
        model_type: qwen3
"""


def test_pr_2886_ml_model_type_decides_with_1024_when_embedding_dim_is_unset(tmp_path):
    profile = load_router_profile(write(tmp_path, PR_2886))
    assert (profile.embedding.model_type, profile.embedding.dimension) == ("qwen3", 1024)  # not the default mmBERT
    assert "PR #2886" in profile.embedding.decided_by
    with_dim = load_router_profile(write(tmp_path, PR_2886 + "        embedding_dim: 256\n", "b.yaml"))
    assert with_dim.embedding.dimension == 256 and with_dim.embedding.cut
    mmbert = PR_2886.replace("model_type: qwen3", "model_type: mmbert\n        embedding_dim: 384")
    cut = load_router_profile(write(tmp_path, mmbert, "c.yaml")).embedding
    assert (cut.model_type, cut.dimension, cut.native_dimension) == ("mmbert", 384, 768)


def test_ml_embedding_dim_alone_changes_nothing(tmp_path):
    text = PR_2886.replace("        model_type: qwen3\n", "        embedding_dim: 1024\n")
    profile = load_router_profile(write(tmp_path, text))
    assert (profile.embedding.model_type, profile.embedding.dimension) == ("mmbert", 768)
    assert any("changes nothing" in note for note in profile.notes)


def test_mmbert_asked_for_more_than_768_values_is_a_router_that_fails_every_request(tmp_path):
    text = PR_2886.replace("model_type: qwen3", "model_type: mmbert\n        embedding_dim: 1024")
    assert "every embedding fails" in load_router_profile(write(tmp_path, text)).embedding_problem()


REMOTE = """
global:
  model_catalog:
    embeddings:
      semantic:
        embedding_config: {backend: openai_compatible, model_type: remote, target_dimension: 1024}
        endpoint: {base_url: "http://embedder:8000/v1", model: BAAI/bge-m3, api_key_env: EMB_KEY}
  router:
    model_selection:
      ml: {model_type: qwen3, embedding_dim: 512}
"""


def test_a_remote_backend_is_used_as_returned_and_ml_model_type_does_not_apply_to_it(tmp_path):
    spec = load_router_profile(write(tmp_path, REMOTE)).embedding
    assert (spec.backend, spec.dimension, spec.dtype) == ("openai_compatible", 1024, "as returned")
    assert spec.endpoint.url == "http://embedder:8000/v1/embeddings" and spec.endpoint.api_key_env == "EMB_KEY"
    with_dims = REMOTE.replace("api_key_env: EMB_KEY", "api_key_env: EMB_KEY, dimensions: 256")
    assert load_router_profile(write(tmp_path, with_dims, "b.yaml")).embedding.dimension == 256


def test_bad_input_names_the_file_the_field_and_the_line(tmp_path):
    with pytest.raises(RouterConfigError, match=r"flat\.yaml: not a v0\.3 router config"):
        load_router_profile(write(tmp_path, "decisions: []\n", "flat.yaml"))
    bad = "routing:\n  decisions:\n    - name: x\n      modelRefs: {model: a}\n"
    with pytest.raises(RouterConfigError, match=r"bad\.yaml, line 4: routing\.decisions\[0\]\.modelRefs: must be a list"):
        load_router_profile(write(tmp_path, bad, "bad.yaml"))
    dim = "global:\n  router:\n    model_selection:\n      ml:\n        embedding_dim: lots\n"
    with pytest.raises(RouterConfigError, match=r"line 5: global\.router\.model_selection\.ml\.embedding_dim: must be an integer"):
        load_router_profile(write(tmp_path, dim, "dim.yaml"))
    with pytest.raises(RouterConfigError, match=r"broken\.yaml, line 2: not valid YAML"):
        load_router_profile(write(tmp_path, "routing: [\n", "broken.yaml"))
    with pytest.raises(RouterConfigError, match="cannot read"):
        load_router_profile(tmp_path / "absent.yaml")


def test_fields_the_selectors_do_not_read_are_never_checked(tmp_path):
    extra = DECISIONS + "listeners: 7\nproviders: {whatever: [1, 2]}\nglobal:\n  services: nonsense\n"
    assert len(load_router_profile(write(tmp_path, extra)).decisions) == 5


def test_the_digest_is_of_the_file_bytes_and_the_metadata_is_strings(tmp_path):
    path = write(tmp_path, QWEN3_NO_DIMENSION)
    profile = load_router_profile(path)
    assert profile.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    meta = profile.to_metadata()
    assert all(isinstance(v, str) for v in meta.values())
    assert json.loads(meta["router_embedding"])["dimension"] == 768


def knn_set(width, labels, meta=None):
    rows = [[0.0] * width for _ in labels]
    return {"knn": {"algorithm": "knn", "trained": True, "k": 1, "embeddings": rows, "labels": list(labels)}}, meta or {}


def test_the_deploy_check_names_both_sides_and_the_svm_crash(tmp_path):
    profile = load_router_profile(write(tmp_path, DECISIONS))  # mmBERT 768
    artifacts, meta = knn_set(398, ["big", "small"], {"embedding_model": "llm-semantic-router/mmbert-embed-32k-2d-matryoshka"})
    artifacts["svm"] = {
        "algorithm": "svm",
        "model_names": ["small"],
        "linear_classifiers": [{"model_name": "small", "weights": [0.0] * 398, "rho": 0.0}],
    }
    report = check_deploy(profile, artifacts, {**meta, "embedding_dtype": "float32"})
    assert any("the set's 398 values against the router's 768 + 14 = 782" in e for e in report.errors)
    assert any(e.startswith("svm_model.json") and "ABORTS THE ROUTER PROCESS" in e for e in report.errors)


def test_the_deploy_check_refuses_labels_outside_the_candidates_and_another_model_or_dtype(tmp_path):
    profile = load_router_profile(write(tmp_path, DECISIONS))
    good_meta = {"embedding_model": "llm-semantic-router/mmbert-embed-32k-2d-matryoshka", "embedding_dtype": "float32"}
    assert check_deploy(profile, *knn_set(782, ["big", "qwen2.5-7b"], good_meta)).ok
    report = check_deploy(profile, *knn_set(782, ["big", "gpt-x"], good_meta))
    assert not report.ok and "['gpt-x'] are no candidate of the knn decisions" in report.errors[0]
    other = check_deploy(profile, *knn_set(782, ["big"], {**good_meta, "embedding_model": "Qwen/Qwen3-Embedding-0.6B"}))
    assert any("trained with 'Qwen/Qwen3-Embedding-0.6B'" in e for e in other.errors)
    bf16 = check_deploy(profile, *knn_set(782, ["big"], {**good_meta, "embedding_dtype": "bfloat16"}))
    assert bf16.errors == ["embedding dtype: the set was trained with bfloat16, the router computes float32"]
    unknown = check_deploy(profile, *knn_set(782, ["big"], {"embedding_model": good_meta["embedding_model"]}))
    assert unknown.ok and any("records no embedding dtype" in w for w in unknown.warnings)


def test_the_deploy_check_refuses_a_router_whose_batched_qwen3_does_not_start(tmp_path):
    text = QWEN3_NO_DIMENSION.replace("        models_path: /data/ml-models\n", "")
    profile = load_router_profile(write(tmp_path, text + DECISIONS))
    meta = {"embedding_model": "Qwen/Qwen3-Embedding-0.6B", "embedding_dtype": "float32"}
    report = check_deploy(profile, *knn_set(782, ["big"], meta))
    assert any("batched Qwen3 will not start" in e for e in report.errors)


# The rules below, each read in the router's source (router_profile.py's docstring names the files).


def test_model_type_remote_without_a_backend_takes_the_openai_compatible_backend(tmp_path):
    # EmbeddingBackend() in pkg/config/embedding_config.go: no backend named and model_type remote
    # (compared trimmed, case-insensitively) -> openai_compatible; a backend named wins over it.
    text = REMOTE.replace("backend: openai_compatible, model_type: remote", "model_type: remote")
    spec = load_router_profile(write(tmp_path, text)).embedding
    assert (spec.backend, spec.model_type, spec.dimension, spec.model_path) == ("openai_compatible", "remote", 1024, "BAAI/bge-m3")
    assert spec.endpoint.url == "http://embedder:8000/v1/embeddings" and spec.problem is None
    shouted = REMOTE.replace("backend: openai_compatible, model_type: remote", 'model_type: " Remote "')
    assert load_router_profile(write(tmp_path, shouted, "b.yaml")).embedding.backend == "openai_compatible"
    candle = REMOTE.replace("backend: openai_compatible, model_type: remote", "backend: candle, model_type: remote")
    on_candle = load_router_profile(write(tmp_path, candle, "c.yaml")).embedding
    assert on_candle.backend == "candle" and on_candle.model_type == "qwen3"  # ml.model_type qwen3 decides on a local backend


def test_qwen3_asked_for_more_than_1024_values_keeps_its_1024_and_says_so(tmp_path):
    # truncate_embedding_to_dimension (candle-binding/src/ffi/embedding.rs): a dimension above the
    # model's keeps the full vector, with a warning.
    profile = load_router_profile(write(tmp_path, PR_2886 + "        embedding_dim: 2048\n"))
    spec = profile.embedding
    assert (spec.model_type, spec.dimension, spec.native_dimension, spec.cut) == ("qwen3", 1024, 1024, False)
    assert profile.feature_dim == 1038 and profile.embedding_ready
    assert "Qwen3 asked for 2048 values gives 1024 (the router warns, keeps the full vector)" in profile.notes
    wide = QWEN3_NO_DIMENSION.replace("model_type: qwen3", "model_type: qwen3\n          target_dimension: 1536")
    assert load_router_profile(write(tmp_path, wide, "b.yaml")).embedding.dimension == 1024
    exact = load_router_profile(write(tmp_path, PR_2886 + "        embedding_dim: 1024\n", "c.yaml"))
    assert not any(note.startswith("Qwen3 asked for") for note in exact.notes)


def test_the_note_on_ml_embedding_dim_without_ml_model_type_is_printed_only_then(tmp_path):
    alone = PR_2886.replace("        model_type: qwen3\n", "        embedding_dim: 512\n")
    profile = load_router_profile(write(tmp_path, alone))
    assert profile.embedding.dimension == 768  # the canonical mmBERT, untouched
    assert "  note: ml.embedding_dim 512 without ml.model_type changes nothing (PR #2886)" in profile.summary().splitlines()
    with_type = load_router_profile(write(tmp_path, PR_2886 + "        embedding_dim: 512\n", "b.yaml"))
    unset = load_router_profile(write(tmp_path, DECISIONS, "c.yaml"))
    for quiet in (with_type, unset):
        assert not any("without ml.model_type" in note for note in quiet.notes)


def test_the_summary_says_which_embedding_fields_come_from_the_config_and_which_from_the_defaults(tmp_path):
    def decided_by(text, name):
        profile = load_router_profile(write(tmp_path, text, name))
        assert f"[{profile.embedding.decided_by}]" in profile.summary()
        return profile.embedding.decided_by

    assert decided_by(DECISIONS, "a.yaml") == "embedding_config.model_type mmbert (default), target_dimension 768 (default)"
    assert decided_by(QWEN3_NO_DIMENSION, "b.yaml") == "embedding_config.model_type qwen3 (config), target_dimension 768 (default)"
    only_dim = "global:\n  model_catalog:\n    embeddings:\n      semantic:\n        embedding_config: {target_dimension: 512}\n"
    assert decided_by(only_dim, "c.yaml") == "embedding_config.model_type mmbert (default), target_dimension 512 (config)"
    emptied = only_dim.replace("{target_dimension: 512}", '{model_type: "", target_dimension: 512}')  # "" replaces mmbert: qwen3
    assert decided_by(emptied, "d.yaml") == "embedding_config.model_type empty -> qwen3 (config), target_dimension 512 (config)"


OPENVINO = """
global:
  model_catalog:
    embeddings:
      semantic:
        qwen3_model_path: models/mom-embedding-pro
        embedding_config: {backend: openvino, model_type: qwen3, target_dimension: 256}
"""


def test_openvino_gives_the_models_own_width_whatever_was_asked(tmp_path):
    # The router's OpenVINO path passes no dimension (openvinoEmbeddingFunc, pkg/extproc;
    # getOpenVINOEmbedding: "targetDim is unused — OpenVINO returns full model dimension").
    profile = load_router_profile(write(tmp_path, OPENVINO))
    spec = profile.embedding
    assert (spec.backend, spec.model_type, spec.dimension, spec.cut) == ("openvino", "qwen3", 1024, False)
    assert profile.feature_dim == 1038
    assert "OpenVINO does not cut embeddings: 1024 values, not the 256 asked for" in profile.notes
    mmbert = OPENVINO.replace("backend: openvino, model_type: qwen3, target_dimension: 256", 'backend: " OpenVINO "')
    mmbert += "  router:\n    model_selection:\n      ml: {model_type: mmbert, embedding_dim: 384}\n"
    ml = load_router_profile(write(tmp_path, mmbert, "b.yaml")).embedding
    assert (ml.backend, ml.model_type, ml.dimension) == ("openvino", "mmbert", 768)
    native = OPENVINO.replace("model_type: qwen3, target_dimension: 256", "model_type: mmbert")  # the defaults' 768
    plain = load_router_profile(write(tmp_path, native, "c.yaml"))
    assert plain.embedding.dimension == 768 and not any("OpenVINO" in note for note in plain.notes)
    gemma = OPENVINO.replace("model_type: qwen3", "model_type: gemma")
    assert load_router_profile(write(tmp_path, gemma, "d.yaml")).embedding.dimension is None  # its width is not in the config
