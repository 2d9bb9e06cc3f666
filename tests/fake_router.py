"""A loopback stand-in for the semantic router's classification and embedding API, with faults.

Real HTTP/1.1 on 127.0.0.1 (stdlib ThreadingHTTPServer), speaking the shapes router_api.py
documents. The classifier is a keyword rule, or a table of query -> category; `disagree` makes
it return another category for a known, hash-chosen share of queries. Embeddings are the
bundled all-MiniLM-L6-v2 vectors (384 values, a stand-in for the router's Qwen3), zero-padded
to the requested dimension (cosines are unchanged), optionally with noise.

`faults[path]` lists behaviours for successive requests to that path ("500", "429", "400",
"timeout", "drop", "malformed", "short" = one result too few); after the list, normal answers.

    python tests/fake_router.py --port 8080 [--categories data.jsonl --disagree 0.2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
    ):
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
        self._model = None
        self._server = None
        self._thread = None

    # --- behaviour ----------------------------------------------------------------------------

    def category_of(self, text: str) -> str:
        truth = self.categories.get(text) or keyword_category(text)
        if self.disagree and _share(text) < self.disagree:
            others = [c for c in OTHER_CATEGORIES if c != truth]
            return others[int(_share("x" + text) * len(others)) % len(others)]
        return truth

    def disagrees(self, text: str) -> bool:
        return bool(self.disagree) and _share(text) < self.disagree

    def vectors(self, texts: list[str], dimension: int) -> np.ndarray:
        if self._model is None:
            from embeddings import Embedder

            self._model = Embedder("minilm", quiet=True)
        base = self._model.encode_uncached(texts).astype(np.float64)
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

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, port: int = 0) -> "FakeRouter":
        router = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, payload: dict | bytes):
                body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/health":
                    self._send(200, {"status": "healthy"})
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with router._lock:
                    router.requests.append((self.path, body))
                if self.path == "/api/v1/classify/batch" and not router.batch_enabled:
                    return self._send(404, {"error": "not found"})
                if self.path not in ("/api/v1/classify/intent", "/api/v1/classify/batch", "/api/v1/embeddings"):
                    return self._send(404, {"error": "not found"})
                fault = router.next_fault(self.path)
                if router.latency:
                    time.sleep(router.latency)
                if fault == "timeout":
                    time.sleep(router.hang_seconds)
                    self.close_connection = True
                    return None
                if fault == "drop":
                    self.close_connection = True
                    return None
                if fault in ("500", "429", "400"):
                    return self._send(int(fault), {"error": f"scripted {fault}"})
                if fault == "malformed":
                    return self._send(200, b'{"results": [ not json')
                short = fault == "short"
                if self.path == "/api/v1/classify/intent":
                    text = body.get("text")
                    if not isinstance(text, str) or not text.strip():
                        return self._send(400, {"error": "text is required"})
                    return self._send(200, {"classification": router.classification(text), "probabilities": {}})
                texts = body.get("texts") or []
                if not texts or any(not isinstance(t, str) or not t.strip() for t in texts):
                    return self._send(400, {"error": "texts must be non-empty strings"})
                if short:
                    texts = texts[:-1]
                if self.path == "/api/v1/classify/batch":
                    results = [router.classification(t) for t in texts]
                    return self._send(200, {"results": results, "total_count": len(results), "processing_time_ms": 1, "statistics": {}})
                dimension = int(body.get("dimension") or 1024)
                if dimension > router.max_dimension:
                    return self._send(400, {"error": f"dimension {dimension} not supported"})
                matrix = router.vectors(texts, dimension)
                items = [
                    {"text": t, "embedding": v.tolist(), "dimension": dimension, "model_used": "qwen3", "processing_time_ms": 1}
                    for t, v in zip(texts, matrix)
                ]
                return self._send(200, {"embeddings": items, "total_count": len(items), "processing_time_ms": 1})

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def classification(self, text: str) -> dict:
        confidence = 0.5 + 0.5 * _share("confidence|" + text)
        return {"category": self.category_of(text), "confidence": round(confidence, 4), "processing_time_ms": 1}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


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
    args = p.parse_args()
    categories = {}
    if args.categories:
        for line in open(args.categories, encoding="utf-8"):
            if line.strip():
                obj = json.loads(line)
                categories.setdefault(obj["query"], obj.get("category") or "other")
    router = FakeRouter(categories, args.disagree, batch_enabled=not args.no_batch, embed_noise=args.embed_noise, latency=args.latency)
    router.start(args.port)
    print(f"fake router on {router.url}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
