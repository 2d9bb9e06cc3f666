"""A loopback stand-in for the semantic router's classification and embedding API, with faults.

Real HTTP/1.1 (keep-alive, Content-Length) on 127.0.0.1, asyncio, speaking the shapes router_api.py
documents. The domain classifier is a keyword rule, or a table of query -> category; `disagree`
makes it return another category for a known, hash-chosen share of queries.

`/api/v1/classify/intent` answers as the router's ClassifyIntent does (pkg/services/
classification.go, classification_signal_response.go, decision/engine.go of vllm-project/
semantic-router): with `decisions` configured, the first decision whose domain rule names the
text's domain (or, failing that, whose keyword rule matches) wins; `classification.category` is
then the DECISION's name, `routing_decision` the decision's name, `recommended_model` its first
modelRef (lora_name when set), and `decision_result.matched_rules` the rules that matched, as
`<type>:<name>[:<label>]` ("domain:math", "keyword:code_words"). With no decision matched there is
no `decision_result` and `classification.category` is the classifier's domain. `placeholder`
gives the answer of a router without a classifier (`general`, 0.5, "placeholder_response").
`token`, when set, is required as `Authorization: Bearer <token>` on everything but /health. Embeddings are the
bundled all-MiniLM-L6-v2 vectors (384 values, a stand-in for the router's Qwen3), zero-padded
to the requested dimension (cosines are unchanged), optionally with noise.

`faults[path]` lists behaviours for successive requests to that path ("500", "429", "400",
"timeout", "drop", "malformed", "short" = one result too few); after the list, normal answers.

    python tests/fake_router.py --port 8080 [--categories data.jsonl --disagree 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import threading
from collections import defaultdict

import numpy as np

CATEGORY_KEYWORDS = [
    ("math", r"\b(solve|integral|derivative|equation|sum|product|how many|calculate|\d+\s*[-+*/x]\s*\d+)\b"),
    ("computer science", r"\b(python|function|code|algorithm|program|sql|javascript|compile)\b"),
    ("physics", r"\b(force|velocity|energy|quantum|gravity|mass)\b"),
    ("biology", r"\b(cell|dna|photosynthesis|species|protein|gene)\b"),
    ("chemistry", r"\b(molecule|reaction|acid|atom|chemical)\b"),
    ("history", r"\b(war|empire|century|revolution|king|history)\b"),
    ("law", r"\b(court|law|legal|contract|statute)\b"),
    ("health", r"\b(disease|symptom|health|medicine|patient)\b"),
]
OTHER_CATEGORIES = ["math", "physics", "chemistry", "biology", "computer science", "history", "law", "health", "other"]


def keyword_category(text: str) -> str:
    lowered = text.lower()
    for category, pattern in CATEGORY_KEYWORDS:
        if re.search(pattern, lowered):
            return category
    return "other"


def _share(text: str) -> float:
    return int(hashlib.sha256(("disagree|" + text).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


class FakeRouter:
    def __init__(
        self,
        categories: dict[str, str] | None = None,
        disagree: float = 0.0,
        faults: dict[str, list[str]] | None = None,
        batch_enabled: bool = True,
        embed_noise: float = 0.0,
        hang_seconds: float = 30.0,
        max_dimension: int = 4096,
        latency: float = 0.0,
        decisions: list[dict] | None = None,
        placeholder: bool = False,
        token: str | None = None,
        embedder=None,
    ):
        # decisions: [{"name", "domains": ["math", "math:algebra", ...], "keywords": {rule: regex}, "model_refs": [...]}]
        self.decisions = decisions or []
        self.placeholder = placeholder
        self.token = token
        self.categories = categories or {}
        self.disagree = disagree
        self.faults = faults or {}
        self.batch_enabled = batch_enabled
        self.embed_noise = embed_noise
        self.hang_seconds = hang_seconds
        self.max_dimension = max_dimension
        self.latency = latency  # seconds before each answer (per request, batch or single)
        self.requests: list[tuple[str, dict]] = []
        self.counts: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._model = embedder  # anything with .embed(texts) (an embeddings.Embedder with a cache); default: bundled minilm
        self._server = None
        self._thread = None
        self._loop = None
        self.port: int | None = None

    # --- behaviour ----------------------------------------------------------------------------

    def category_of(self, text: str) -> str:
        truth = self.categories.get(text) or keyword_category(text)
        if self.disagrees(text):
            others = [c for c in OTHER_CATEGORIES if c != truth]
            return others[int(_share("x" + text) * len(others)) % len(others)]
        return truth

    def disagrees(self, text: str) -> bool:
        return bool(self.disagree) and _share(text) < self.disagree

    def vectors(self, texts: list[str], dimension: int) -> np.ndarray:
        if self._model is None:
            from embeddings import Embedder

            self._model = Embedder("minilm", quiet=True)
        base = np.asarray(self._model.embed(texts), dtype=np.float64)
        if self.embed_noise:
            for i, text in enumerate(texts):
                rng = np.random.default_rng(int(hashlib.sha256(text.encode()).hexdigest()[:8], 16))
                base[i] += self.embed_noise * rng.standard_normal(base.shape[1]) / np.sqrt(base.shape[1])
            base /= np.linalg.norm(base, axis=1, keepdims=True)
        out = np.zeros((len(texts), dimension))
        width = min(dimension, base.shape[1])
        out[:, :width] = base[:, :width]
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def next_fault(self, path: str) -> str:
        with self._lock:
            n = self.counts[path]
            self.counts[path] += 1
        plan = self.faults.get(path, [])
        return plan[n] if n < len(plan) else "ok"

    # --- HTTP ----------------------------------------------------------------------------------

    def route(self, method: str, path: str, raw_body: bytes, headers: dict | None = None) -> tuple[str, int, dict | bytes]:
        """(action, status, payload): action is "send", "slow" (send after the latency), "hang" or "drop"."""
        if method == "GET":
            return ("send", 200, {"status": "healthy"}) if path == "/health" else ("send", 404, {"error": "not found"})
        body = json.loads(raw_body or b"{}")
        with self._lock:
            self.requests.append((path, body))
        if self.token is not None and (headers or {}).get("authorization") != f"Bearer {self.token}":
            return "send", 401, {"error": {"code": "UNAUTHORIZED", "message": "unauthorized"}}
        if path == "/api/v1/classify/batch" and not self.batch_enabled:
            return "send", 404, {"error": "not found"}
        if path not in ("/api/v1/classify/intent", "/api/v1/classify/batch", "/api/v1/embeddings"):
            return "send", 404, {"error": "not found"}
        fault = self.next_fault(path)
        if fault in ("timeout", "drop"):
            return ("hang" if fault == "timeout" else "drop"), 0, b""
        if fault in ("500", "429", "400"):
            return "slow", int(fault), {"error": f"scripted {fault}"}
        if fault == "malformed":
            return "slow", 200, b'{"results": [ not json'
        if path == "/api/v1/classify/intent":
            text = body.get("text")
            if not isinstance(text, str) or not text.strip():
                return "slow", 400, {"error": "text is required"}
            return "slow", 200, self.intent(text)
        texts = body.get("texts") or []
        if not texts or any(not isinstance(t, str) or not t.strip() for t in texts):
            return "slow", 400, {"error": "texts must be non-empty strings"}
        if fault == "short":
            texts = texts[:-1]
        if path == "/api/v1/classify/batch":
            results = [self.classification(t) for t in texts]
            return "slow", 200, {"results": results, "total_count": len(results), "processing_time_ms": 1, "statistics": {}}
        dimension = int(body.get("dimension") or 1024)
        if dimension > self.max_dimension:
            return "slow", 400, {"error": f"dimension {dimension} not supported"}
        matrix = self.vectors(texts, dimension)
        items = [
            {"text": t, "embedding": v.tolist(), "dimension": dimension, "model_used": "qwen3", "processing_time_ms": 1}
            for t, v in zip(texts, matrix)
        ]
        return "slow", 200, {"embeddings": items, "total_count": len(items), "processing_time_ms": 1}

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reasons = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}
        reasons[500] = "Internal Server Error"
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                action, status, payload = self.route(method, path, body, headers)
                if action == "hang":
                    await asyncio.sleep(self.hang_seconds)
                    break
                if action == "drop":
                    break
                if action == "slow" and self.latency:
                    await asyncio.sleep(self.latency)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                head = f"HTTP/1.1 {status} {reasons[status]}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
                writer.write(head.encode() + data)  # one write: no delayed-ACK stall
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, port: int = 0) -> "FakeRouter":
        """Serve from a background thread (its own event loop); returns once the port is bound."""
        ready = threading.Event()

        async def serve():
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", port, backlog=1024)
            self.port = self._server.sockets[0].getsockname()[1]

        def run():
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(serve())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake router did not start")
        return self

    def classification(self, text: str) -> dict:
        confidence = 0.5 + 0.5 * _share("confidence|" + text)
        return {"category": self.category_of(text), "confidence": round(confidence, 4), "processing_time_ms": 1}

    def intent(self, text: str) -> dict:
        """The body of the router's IntentResponse for `text` (see the module docstring)."""
        if self.placeholder:
            return {
                "classification": {"category": "general", "confidence": 0.5, "processing_time_ms": 0},
                "recommended_model": "general-model",
                "routing_decision": "placeholder_response",
            }
        domain = self.classification(text)
        signals = {"domains": [domain["category"]]}
        matched = self.decide(text, domain["category"], domain["confidence"])
        if matched is None:
            routing = "high_confidence_specialized" if domain["confidence"] >= 0.7 else "low_confidence_general"
            return {"classification": domain, "routing_decision": routing, "matched_signals": signals}
        decision, confidence, rules = matched
        refs = decision.get("model_refs") or [{"model": "default-model"}]
        return {
            "classification": {"category": decision["name"], "confidence": confidence, "processing_time_ms": 1},
            "recommended_model": refs[0].get("lora_name") or refs[0]["model"],
            "routing_decision": decision["name"],
            "matched_signals": signals,
            "decision_result": {"decision_name": decision["name"], "confidence": confidence, "matched_rules": rules},
        }

    def decide(self, text: str, domain: str, confidence: float) -> tuple[dict, float, list[str] | None] | None:
        """(decision, confidence, matched_rules) of the first decision that matches, else None.
        A decision with no rules at all matches everything with matched_rules null, as Go marshals it."""
        for decision in self.decisions:
            domains, keywords = decision.get("domains", []), decision.get("keywords", {})
            if not domains and not keywords:
                return decision, 0.0, None
            for rule in domains:
                if rule.split(":", 1)[0] == domain:
                    return decision, confidence, [f"domain:{rule}"]
            for name, pattern in keywords.items():
                if re.search(pattern, text, re.IGNORECASE):
                    return decision, 1.0, [f"keyword:{name}"]
        return None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown():
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop = None


def main() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--categories", help="JSONL whose query -> category the classifier returns (else keyword rules)")
    p.add_argument("--disagree", type=float, default=0.0, help="share of queries given another category")
    p.add_argument("--no-batch", action="store_true", help="answer 404 on the batch endpoint")
    p.add_argument("--embed-noise", type=float, default=0.0)
    p.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    p.add_argument("--decisions", help="JSON file: the decisions list FakeRouter takes (see the module docstring)")
    p.add_argument("--placeholder", action="store_true", help="answer as a router without a classifier")
    args = p.parse_args()
    categories = {}
    if args.categories:
        for line in open(args.categories, encoding="utf-8"):
            if line.strip():
                obj = json.loads(line)
                categories.setdefault(obj["query"], obj.get("category") or "other")
    decisions = json.loads(Path(args.decisions).read_text()) if args.decisions else None
    router = FakeRouter(
        categories,
        args.disagree,
        batch_enabled=not args.no_batch,
        embed_noise=args.embed_noise,
        latency=args.latency,
        decisions=decisions,
        placeholder=args.placeholder,
    )
    router.start(args.port)
    print(f"fake router on {router.url}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
