"""The router as a feature source: train.py / validate.py --embedding-model router, and the
skew report of validate.py --router-url, against the loopback fake router."""

import json

import numpy as np
import pytest
from conftest import ROOT, topical_rows, write_jsonl

import train
import validate
from data_loader import build_outcome_table, load_records
from models import decode_metadata

EXAMPLE = ROOT / "examples" / "benchmark_output.jsonl"


@pytest.fixture(scope="module")
def example_categories():
    table = build_outcome_table(load_records(EXAMPLE)[0])
    return dict(table.category_by_query)


def test_a_set_trained_on_the_routers_embeddings_records_it_and_validates_with_it(tmp_path, fake_router, minilm_embedder, capsys):
    router = fake_router()
    models = tmp_path / "models"
    argv = ["--data-file", str(EXAMPLE), "--output-dir", str(models), "--embedding-model", "router", "--router-url", router.url]
    assert train.main(argv + ["--cache-dir", str(tmp_path / "cache"), "--holdout", "0.2", "--algorithm", "kmeans", "--quiet"]) == 0
    artifact = json.loads((models / "kmeans_model.json").read_text())
    meta = decode_metadata(artifact["metadata"])
    assert meta["embedding_model"] == "router:qwen3" and meta["router_url"] == router.url
    assert meta["embedding_dim"] == 1024 and meta["feature_dim"] == 1038
    embedded = [b for p, b in router.requests if p == "/api/v1/embeddings"]
    assert embedded and all(b["model"] == "qwen3" and b["dimension"] == 1024 for b in embedded)
    # The training vectors are the router's: its minilm vectors, zero-padded past 384 values.
    sent = [t for b in embedded for t in b["texts"]]
    assert sent and len(sent) == len(set(sent))
    direct = minilm_embedder.embed(sent[:3])
    served = router.vectors(sent[:3], 1024)
    assert np.allclose(served[:, :384], direct, atol=1e-5) and np.allclose(served[:, 384:], 0)
    # A second run asks the router nothing new: the cache names the router and its model.
    before = len(router.requests)
    assert train.main(argv + ["--cache-dir", str(tmp_path / "cache"), "--holdout", "0.2", "--algorithm", "kmeans", "--quiet"]) == 0
    assert not [p for p, _ in router.requests[before:] if p == "/api/v1/embeddings"]
    # validate.py replays it on the router's vectors (URL from the metadata).
    code = validate.main(
        [
            "--data-file",
            str(EXAMPLE),
            "--models-dir",
            str(models),
            "--no-download",
            "--algorithm",
            "kmeans",
            "--cache-dir",
            str(tmp_path / "cache2"),
        ]
    )
    assert code == 0
    assert "KMEANS Selection" in capsys.readouterr().out
    assert len([p for p, _ in router.requests[before:] if p == "/api/v1/embeddings"]) >= 1


def test_router_down_during_training_is_an_error_naming_it(tmp_path, capsys):
    argv = [
        "--data-file",
        str(EXAMPLE),
        "--output-dir",
        str(tmp_path / "m"),
        "--embedding-model",
        "router",
        "--router-url",
        "http://127.0.0.1:9",
    ]
    assert train.main(argv + ["--cache-dir", str(tmp_path / "c"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "http://127.0.0.1:9" in err and not (tmp_path / "m").exists()


def topical_data(path):
    return write_jsonl(path, topical_rows())


def _train_local(tmp_path, data=EXAMPLE):
    models = tmp_path / "local"
    argv = ["--data-file", str(data), "--output-dir", str(models), "--embedding-model", "minilm", "--holdout", "0.3"]
    assert train.main(argv + ["--cache-dir", str(tmp_path / "cache"), "--quiet"]) == 0
    return models


def skew_of(tmp_path, data, models, router) -> dict:
    """validate.py --router-url on a locally trained set: the skew part of its JSON report."""
    report = tmp_path / "report.json"
    argv = ["--data-file", str(data), "--models-dir", str(models), "--no-download", "--router-url", router.url]
    assert validate.main(argv + ["--cache-dir", str(tmp_path / "cache"), "--output-json", str(report)]) == 0
    return json.loads(report.read_text())["skew"]


def test_skew_report_finds_the_share_of_categories_the_router_disagrees_on(tmp_path, fake_router, example_categories, capsys):
    router = fake_router(categories=example_categories, disagree=0.3)
    models = _train_local(tmp_path)
    capsys.readouterr()
    skew = skew_of(tmp_path, EXAMPLE, models, router)
    sampled = [t for p, b in router.requests if p == "/api/v1/embeddings" for t in b["texts"]]
    expected = sum(router.disagrees(q) for q in sampled)
    assert 0 < expected < len(sampled)
    assert skew["n_queries"] == len(sampled) and skew["category_differs"] == expected
    assert skew["cosine"]["min"] > 0.9999  # the same model both ways: the embeddings agree
    for kind, s in skew["selectors"].items():
        assert s["changed_by_embedding"] == 0.0
        assert s["changed_by_both"] == s["changed_by_category"]
    assert "differ from the router's classifier" in capsys.readouterr().out


def test_skew_report_sees_embedding_disagreement(tmp_path, fake_router, example_categories):
    router = fake_router(categories=example_categories, embed_noise=1.0)
    data = topical_data(tmp_path / "topical.jsonl")
    models = _train_local(tmp_path, data)
    skew = skew_of(tmp_path, data, models, router)
    assert skew["category_differs"] == 0
    assert 0.3 < skew["cosine"]["mean"] < 0.95
    assert max(s["changed_by_embedding"] for s in skew["selectors"].values()) > 0


def test_a_router_that_is_down_costs_the_skew_report_not_the_validation(tmp_path, capsys):
    models = _train_local(tmp_path)
    capsys.readouterr()
    argv = ["--data-file", str(EXAMPLE), "--models-dir", str(models), "--no-download", "--router-url", "http://127.0.0.1:9"]
    assert validate.main(argv + ["--cache-dir", str(tmp_path / "cache")]) == 1
    captured = capsys.readouterr()
    assert "Validation Results" in captured.out and "no skew report" in captured.err and "make run-router" in captured.err


def test_the_router_embeds_the_recorded_prompt_with_the_bearer_token_from_the_environment(tmp_path, fake_router, monkeypatch, capsys):
    router = fake_router(token="tok-9f3e")
    rows = []
    for i in range(12):
        prompt = f"Which gas, number {i}?\n\nA. argon\nB. iron"
        for model, perf in (("a", float(i % 2)), ("b", float(i % 3 == 0))):
            rows.append({"query": f"Which gas, number {i}?", "prompt": prompt, "model_name": model, "performance": perf})
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    argv = ["--data-file", str(data), "--output-dir", str(tmp_path / "m"), "--embedding-model", "router", "--router-url", router.url]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--algorithm", "kmeans", "--kmeans-clusters", "2", "--quiet"]
    monkeypatch.delenv("VSR_API_TOKEN", raising=False)
    assert train.main(argv) == 1
    err = capsys.readouterr().err
    assert "401" in err and "VSR_API_TOKEN" in err and "tok-9f3e" not in err
    monkeypatch.setenv("VSR_API_TOKEN", "tok-9f3e")
    assert train.main(argv) == 0
    embedded = [t for p, b in router.requests if p == "/api/v1/embeddings" for t in b["texts"]]
    assert embedded and set(embedded) == {r["prompt"] for r in rows}  # the user message as sent, never the bare query
    assert "tok-9f3e" not in (tmp_path / "m" / "kmeans_model.json").read_text()


def test_the_router_client_reads_the_token_from_the_environment_by_default(fake_router, monkeypatch):
    from router_api import RouterUnavailable, embed_with_router, use_token

    router = fake_router(token="env-tok")
    use_token(None)
    monkeypatch.delenv("VSR_API_TOKEN", raising=False)
    with pytest.raises(RouterUnavailable, match="no bearer token was given"):
        embed_with_router(router.url, ["a text"], "qwen3", 8)
    monkeypatch.setenv("VSR_API_TOKEN", "env-tok")
    vectors, _ = embed_with_router(router.url, ["a text"], "qwen3", 8)
    assert vectors.shape == (1, 8)
