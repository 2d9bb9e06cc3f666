#!/usr/bin/env python3
"""Embedding figures: cold throughput against calling SentenceTransformer.encode directly on the
same queries (goal >= 0.9), and the warm-cache speed-up (goal >= 50x).

    python benchmarks/bench_embeddings.py [--n 2000] [--model minilm]
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embeddings import Embedder  # noqa: E402

SOURCES = [ROOT.parent / "shared/data/jsonl/llmrouter-9models.train.jsonl", ROOT / "examples/queries.jsonl"]


def load_queries(n: int) -> list[str]:
    queries: dict[str, None] = {}
    for source in SOURCES:
        if source.exists():
            with open(source, encoding="utf-8") as handle:
                for line in handle:
                    queries.setdefault(json.loads(line)["query"], None)
                    if len(queries) >= n:
                        return list(queries)
    return list(queries)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--model", default="minilm")
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args()
    texts = load_queries(args.n)
    print(f"{len(texts)} queries, model {args.model}, batch size {args.batch_size}")
    with tempfile.TemporaryDirectory() as cache_dir:
        embedder = Embedder(args.model, batch_size=args.batch_size, cache_dir=cache_dir, quiet=True)
        model = embedder.model  # loaded once, outside every timing
        model.encode(texts[:64], batch_size=args.batch_size)  # warm-up: first-call allocations

        started = time.perf_counter()
        model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True, show_progress_bar=False)
        direct = time.perf_counter() - started

        started = time.perf_counter()
        embedder.embed(texts)
        cold = time.perf_counter() - started

        started = time.perf_counter()
        warm_embedder = Embedder(args.model, batch_size=args.batch_size, cache_dir=cache_dir, quiet=True)
        warm_embedder.embed(texts)  # a new process's view: the cache is read from disk
        warm = time.perf_counter() - started
        assert warm_embedder.cache_misses == 0 and warm_embedder._model is None

    print(f"direct SentenceTransformer.encode: {direct:8.2f} s  ({len(texts) / direct:7.1f} queries/s)")
    print(f"Embedder.embed, cold cache:        {cold:8.2f} s  ({len(texts) / cold:7.1f} queries/s)")
    print(f"Embedder.embed, warm cache:        {warm:8.3f} s  ({len(texts) / warm:7.0f} queries/s, model never loaded)")
    print(f"cold throughput ratio (goal >= 0.9): {direct / cold:.3f}")
    print(f"warm-cache speed-up  (goal >= 50x):  {cold / warm:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
