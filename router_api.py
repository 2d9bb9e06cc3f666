"""Client for the running semantic router's HTTP API: health, intent classification, embeddings.

At serving time the router builds a query's features itself: its own embedding, then the
one-hot of the category its decision engine found. Asking the router for both at training time
removes the train/serve skew. The API, as the router defines it (vllm-project/semantic-router,
pkg/services/classification_signal_types.go and classification_signal_response.go):

    GET  /health                  200 when up
    POST /api/v1/classify/intent  {"text", "model"?} -> {"classification": {"category", "confidence", ...},
                                  "routing_decision", "recommended_model", "matched_signals"?,
                                  "decision_result"?: {"decision_name", "confidence", "matched_rules"}}
    POST /api/v1/embeddings       {"texts", "model", "dimension"} -> {"embeddings": [{"embedding": [...], "model_used"}, ...]}

Which category the router serves (`serving_category`): when a decision matched, the text after
`domain:` of the first `domain:` rule in `decision_result.matched_rules` (the router's own
extractDecisionCategory), or "" when it matched on no domain rule; `classification.category`
is then the decision's NAME, not a category. With no decision matched, the classifier's domain
in `classification.category`. `/api/v1/classify/batch` is another classifier (raw labels, no
threshold, no name translation) and is not used.

A router whose management API requires a bearer token gets it from `token`, else from
$VSR_API_TOKEN; it goes in the Authorization header only, never in a message or a file.
Requests use benchmark.py's retry policy (`llm_benchmark.post_json`): connection errors,
timeouts, dropped connections, malformed answers, 429 and 5xx are retried with backoff.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from dataclasses import dataclass, field

import numpy as np

from errors import ToolkitError
from llm_benchmark import POOL_SHARD, PostResult, Redactor, RetryPolicy, post_json

DEFAULT_ROUTER_URL = "http://localhost:8080"
TOKEN_ENV = "VSR_API_TOKEN"
START_HINT = (
    "start the semantic router first (in the semantic-router repository: `make run-router`; its classification "
    "API listens on port 8080), or pass its address with --vsr-url / --router-url"
)
DOMAIN_RULE_PREFIX = "domain:"  # the router's prefix for a decision rule on a domain signal
PLACEHOLDER_DECISION = "placeholder_response"  # routing_decision of a router with no classifier
AUTH_STATUSES = (401, 403)


class RouterUnavailable(ToolkitError, RuntimeError):
    pass


def router_token(flag_value: str | None = None) -> str | None:
    """The bearer token for the router's API: the flag's value, else $VSR_API_TOKEN, else None."""
    return flag_value or os.environ.get(TOKEN_ENV) or None


_default_token: str | None = None


def use_token(token: str | None) -> None:
    """Make `token` the bearer token of every RouterAPI this process opens without one of its own
    (train.py and validate.py reach the router through several modules)."""
    global _default_token
    _default_token = token or None


@dataclass(frozen=True)
class Classification:
    """One intent answer. `category` is the category the router serves for the query, exactly as
    it named it ("" when the matched decision has no domain rule: the runtime's `other` slot)."""

    category: str
    confidence: float | None
    decision: str | None = None  # the matched decision's name; None when no decision matched
    placeholder: bool = False  # the router has no classifier and answered its placeholder


def serving_category(data: dict) -> Classification:
    """The category the router serves for one `/api/v1/classify/intent` answer (see the module
    docstring). Raises ValueError, naming the field, on an answer of another shape: a router's
    answer is hostile input."""
    if not isinstance(data, dict) or not isinstance(data.get("classification"), dict):
        raise ValueError("no 'classification' object")
    classification = data["classification"]
    raw_category = classification.get("category")
    if not isinstance(raw_category, str):
        raise ValueError(f"classification.category is {type(raw_category).__name__}, not a string")
    confidence = classification.get("confidence")
    ok = isinstance(confidence, (int, float)) and not isinstance(confidence, bool) and math.isfinite(confidence)
    confidence = float(confidence) if ok else None
    placeholder = data.get("routing_decision") == PLACEHOLDER_DECISION
    result = data.get("decision_result")
    if result is None:
        return Classification(raw_category, confidence, None, placeholder)
    if not isinstance(result, dict) or not isinstance(result.get("decision_name"), str) or not result["decision_name"]:
        raise ValueError("decision_result has no decision_name string")
    rules = result.get("matched_rules")
    if rules is None:  # Go marshals a decision with no rule tree as null
        rules = []
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        raise ValueError("decision_result.matched_rules is not a list of strings")
    category = next((r[len(DOMAIN_RULE_PREFIX) :] for r in rules if r.startswith(DOMAIN_RULE_PREFIX)), "")
    return Classification(category, confidence, result["decision_name"], placeholder)


class RouterAPI:
    """An async client; use as `async with RouterAPI(url) as api:`. `token`: the bearer token
    (default: the one `use_token` set, else $VSR_API_TOKEN); `model`: the request `model` field
    sent with every intent request (a router with recipes picks its classifier by it)."""

    def __init__(
        self,
        url: str = DEFAULT_ROUTER_URL,
        concurrency: int = 8,
        policy: RetryPolicy | None = None,
        token: str | None = None,
        model: str | None = None,
    ):
        self.url = url.rstrip("/")
        self.concurrency = concurrency
        self.policy = policy or RetryPolicy(timeout=60.0, retries=3, backoff=0.5, max_backoff=10.0)
        self.model = model or None
        token = token or _default_token or router_token()
        self._headers = {"Content-Type": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._redact = Redactor([token] if token else [])
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
            posted = await post_json(self._clients[shard], self.url + path, payload, self._headers, self.policy, parse, self._redact)
        finally:
            self._in_flight[shard] -= 1
        if posted.status in AUTH_STATUSES:
            given = "the bearer token given was refused" if "Authorization" in self._headers else "no bearer token was given"
            posted.error = f"HTTP {posted.status} from {path}: {given} (pass --router-token, or set ${TOKEN_ENV})"
        return posted

    async def health_problem(self) -> str | None:
        """None when GET /health answers 200, else what went wrong, in a few words."""
        import httpx

        try:
            response = await self._client.get(self.url + "/health", timeout=min(self.policy.timeout, 10.0))
        except httpx.HTTPError as exc:
            return self._redact(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        return None if response.status_code == 200 else f"GET /health answered HTTP {response.status_code}"

    async def classify_one(self, text: str) -> PostResult:
        """value: the Classification the router serves for `text` (`serving_category`)."""
        body = {"text": text}
        if self.model:
            body["model"] = self.model
        return await self._post("/api/v1/classify/intent", body, serving_category)

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


async def classify_queries(
    url: str,
    texts: list[str],
    concurrency: int = 8,
    policy: RetryPolicy | None = None,
    on_result=None,
    on_done=None,
    model: str | None = None,
    token: str | None = None,
) -> ClassifyOutcome:
    """Classify unique `texts` with `/api/v1/classify/intent`, `concurrency` requests in flight.
    `on_result(text, Classification)` is called as each result arrives, `on_done()` once per text,
    classified or not. RouterUnavailable when the router refuses the first request's credentials
    (nothing else would get through)."""
    outcome = ClassifyOutcome({})
    on_done = on_done or (lambda: None)
    async with RouterAPI(url, concurrency, policy, token, model) as api:
        pending = list(reversed(texts))

        async def one(text: str) -> PostResult:
            posted = await api.classify_one(text)
            if posted.error is None:
                outcome.results[text] = posted.value
                if on_result is not None:
                    on_result(text, posted.value)
            else:
                outcome.errors[text] = posted.error
            on_done()
            return posted

        async def worker() -> None:
            while pending:
                await one(pending.pop())

        if pending:
            first = await one(pending.pop())  # alone: a refused token stops here, not after every text
            if first.status in AUTH_STATUSES:
                raise RouterUnavailable(f"the semantic router at {url} refused the request: {first.error}")
            await asyncio.gather(*(worker() for _ in range(min(concurrency, len(pending)))))
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
