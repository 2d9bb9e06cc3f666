"""Client for the running semantic router's HTTP API: health, intent classification, embeddings.

At serving time the router builds a query's features itself: its own embedding, then the
one-hot of the category its own classifier assigns. Asking the router for both at training
time removes the train/serve skew. The API, as the router defines it:

    GET  /health                  200 when up
    POST /api/v1/classify/intent  {"text"} -> {"classification": {"category", "confidence", ...}}
    POST /api/v1/classify/batch   {"texts", "task_type": "intent"} -> {"results": [{"category", "confidence"}, ...]}
    POST /api/v1/embeddings       {"texts", "model", "dimension"} -> {"embeddings": [{"embedding": [...], "model_used"}, ...]}

Requests use benchmark.py's retry policy (`llm_benchmark.post_json`): connection errors,
timeouts, dropped connections, malformed answers, 429 and 5xx are retried with backoff.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from llm_benchmark import POOL_SHARD, PostResult, RetryPolicy, post_json

DEFAULT_ROUTER_URL = "http://localhost:8080"
START_HINT = (
    "start the semantic router first (in the semantic-router repository: `make run-router`; its classification "
    "API listens on port 8080), or pass its address with --vsr-url / --router-url"
)
# A batch endpoint that answers one of these does not exist on this router: use single requests.
NO_BATCH_STATUSES = (404, 405, 501)


class RouterUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Classification:
    category: str  # as the router named it (canonicalised by the caller)
    confidence: float | None


def _classification(item) -> Classification:
    category = item["category"]
    if not isinstance(category, str) or not category.strip():
        raise ValueError("no category")
    confidence = item.get("confidence")
    ok = isinstance(confidence, (int, float)) and not isinstance(confidence, bool) and math.isfinite(confidence)
    return Classification(category, float(confidence) if ok else None)


class RouterAPI:
    """An async client; use as `async with RouterAPI(url) as api:`."""

    def __init__(self, url: str = DEFAULT_ROUTER_URL, concurrency: int = 8, policy: RetryPolicy | None = None):
        self.url = url.rstrip("/")
        self.concurrency = concurrency
        self.policy = policy or RetryPolicy(timeout=60.0, retries=3, backoff=0.5, max_backoff=10.0)
        self._client = None

    async def __aenter__(self) -> "RouterAPI":
        import httpx

        # Shards of POOL_SHARD connections, as benchmark.py does: httpcore matches requests to
        # connections in time quadratic in the pool size.
        n_shards = -(-self.concurrency // POOL_SHARD)
        per_shard = -(-self.concurrency // n_shards)
        limits = httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard)
        self._clients = [httpx.AsyncClient(limits=limits, timeout=self.policy.timeout) for _ in range(n_shards)]
        self._client = self._clients[0]
        self._in_flight = [0] * n_shards
        return self

    async def __aexit__(self, *exc) -> None:
        for client in self._clients:
            await client.aclose()

    async def _post(self, path: str, body: dict, parse) -> PostResult:
        payload = json.dumps(body).encode()
        shard = min(range(len(self._clients)), key=self._in_flight.__getitem__)  # the least busy: none queues behind a full one
        self._in_flight[shard] += 1
        try:
            headers = {"Content-Type": "application/json"}
            return await post_json(self._clients[shard], self.url + path, payload, headers, self.policy, parse)
        finally:
            self._in_flight[shard] -= 1

    async def health_problem(self) -> str | None:
        """None when GET /health answers 200, else what went wrong, in a few words."""
        import httpx

        try:
            response = await self._client.get(self.url + "/health", timeout=min(self.policy.timeout, 10.0))
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return None if response.status_code == 200 else f"GET /health answered HTTP {response.status_code}"

    async def classify_batch(self, texts: list[str]) -> PostResult:
        def parse(data) -> list[Classification]:
            results = data["results"]
            if not isinstance(results, list) or len(results) != len(texts):
                raise ValueError(f"{len(results) if isinstance(results, list) else 'no'} results for {len(texts)} texts")
            return [_classification(item) for item in results]

        return await self._post("/api/v1/classify/batch", {"texts": texts, "task_type": "intent"}, parse)

    async def classify_one(self, text: str) -> PostResult:
        return await self._post("/api/v1/classify/intent", {"text": text}, lambda data: _classification(data["classification"]))

    async def embed(self, texts: list[str], model: str, dimension: int) -> PostResult:
        """value: (float32 matrix, the model the router says it used)."""

        def parse(data):
            items = data["embeddings"]
            if not isinstance(items, list) or len(items) != len(texts):
                raise ValueError(f"{len(items) if isinstance(items, list) else 'no'} embeddings for {len(texts)} texts")
            matrix = np.asarray([item["embedding"] for item in items], dtype=np.float64)
            if matrix.shape != (len(texts), dimension) or not np.isfinite(matrix).all():
                raise ValueError(f"embeddings of shape {matrix.shape}, expected ({len(texts)}, {dimension}), finite")
            used = {str(item.get("model_used") or model) for item in items}
            return matrix.astype(np.float32), ",".join(sorted(used))

        return await self._post("/api/v1/embeddings", {"texts": texts, "model": model, "dimension": dimension}, parse)


@dataclass
class ClassifyOutcome:
    results: dict[str, Classification]
    errors: dict[str, str] = field(default_factory=dict)
    mode: str = "batch"


async def classify_queries(
    url: str, texts: list[str], batch_size: int = 32, concurrency: int = 8, policy: RetryPolicy | None = None, on_result=None, on_done=None
) -> ClassifyOutcome:
    """Classify unique `texts`: the batch endpoint when the router has it (a failed batch is
    retried text by text), else single requests. `on_result(text, Classification)` is called as
    each result arrives, `on_done()` once per text, classified or not."""
    outcome = ClassifyOutcome({})
    on_done = on_done or (lambda: None)

    def record(text: str, result: Classification) -> None:
        outcome.results[text] = result
        if on_result is not None:
            on_result(text, result)
        on_done()

    async with RouterAPI(url, concurrency, policy) as api:
        # A fixed pool of workers over one queue of jobs ("batch", texts) or ("single", text): a
        # failed batch puts its texts back as single jobs, which any idle worker takes.
        jobs: deque = deque()

        async def run(job) -> None:
            kind, item = job
            if kind == "single":
                posted = await api.classify_one(item)
                if posted.error is None:
                    record(item, posted.value)
                else:
                    outcome.errors[item] = posted.error
                    on_done()
                return
            posted = await api.classify_batch(item)
            if posted.error is None:
                for text, result in zip(item, posted.value):
                    record(text, result)
            else:  # a failed batch goes text by text; so does everything on a router without the endpoint
                if posted.status in NO_BATCH_STATUSES:
                    outcome.mode = "single"
                jobs.extend(("single", t) for t in item)

        async def worker() -> None:
            while jobs:
                await run(jobs.popleft())

        chunks = [texts[i : i + batch_size] for i in range(0, len(texts), batch_size)]
        if chunks:
            # The first batch, alone, tells whether this router has the batch endpoint at all.
            await run(("batch", chunks[0]))
            if outcome.mode == "batch":
                jobs.extend(("batch", c) for c in chunks[1:])
            else:
                jobs.extend(("single", t) for c in chunks[1:] for t in c)
            while jobs:  # a worker may add single jobs after the others have finished
                await asyncio.gather(*(worker() for _ in range(min(concurrency, len(jobs)))))
    return outcome


def require_router(url: str) -> None:
    """One line when the router is down, with the command to start it."""

    async def probe():
        async with RouterAPI(url, concurrency=1) as api:
            return await api.health_problem()

    problem = asyncio.run(probe())
    if problem:
        raise RouterUnavailable(f"the semantic router at {url} is not reachable ({problem}): {START_HINT}")


def embed_with_router(url: str, texts: list[str], model: str, dimension: int, batch_size: int = 32, concurrency: int = 4):
    """(float32 matrix, model_used) for `texts`, in order; RouterUnavailable when any batch fails."""

    async def run():
        async with RouterAPI(url, concurrency) as api:
            gate = asyncio.Semaphore(concurrency)

            async def one(chunk):
                async with gate:
                    return await api.embed(chunk, model, dimension)

            chunks = [texts[i : i + batch_size] for i in range(0, len(texts), batch_size)]
            return await asyncio.gather(*(one(c) for c in chunks))

    results = asyncio.run(run())
    failed = [r for r in results if r.error is not None]
    if failed:
        raise RouterUnavailable(f"the semantic router at {url} could not embed {len(failed)} batch(es): {failed[0].error}")
    matrices = [r.value[0] for r in results]
    used = sorted({name for r in results for name in r.value[1].split(",")})
    return (np.concatenate(matrices) if matrices else np.zeros((0, dimension), np.float32)), ",".join(used)
