#!/usr/bin/env python3
"""Selector figures on ../shared/data/jsonl/llmrouter-9models.{train,test}.jsonl: test quality of each
selector next to the best single model (chosen on train), Random and Oracle; training time with a
warm embedding cache; artifact sizes; replay throughput in float64.

    python benchmarks/bench_selectors.py [--embedding-model minilm] [--cache-dir .cache]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from data_loader import build_outcome_table, load_records  # noqa: E402
from embeddings import Embedder  # noqa: E402
from evaluation import EvalTable, evaluate_baselines, evaluate_choices  # noqa: E402
from models import ALGORITHMS, build_features, select, write_artifacts  # noqa: E402
from training import TrainSettings, train_from_table  # noqa: E402

DATA = ROOT.parent / "shared/data/jsonl"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--embedding-model", default="minilm")
    p.add_argument("--cache-dir", default=str(ROOT / ".cache"))
    args = p.parse_args()
    train_table = build_outcome_table(*load_records(DATA / "llmrouter-9models.train.jsonl"))
    test_table = build_outcome_table(*load_records(DATA / "llmrouter-9models.test.jsonl"))
    embedder = Embedder(args.embedding_model, cache_dir=Path(args.cache_dir) / "embeddings", quiet=True)
    embedder.embed(train_table.queries + test_table.queries)  # warm the cache: timings below exclude embedding

    timings = {}
    started = time.perf_counter()
    trained = train_from_table(train_table, train_table.queries, embedder.embed, TrainSettings())
    total = time.perf_counter() - started
    for kind in ALGORITHMS:  # per selector, on the same features
        started = time.perf_counter()
        train_from_table(train_table, train_table.queries, embedder.embed, TrainSettings(algorithms=(kind,)))
        timings[kind] = time.perf_counter() - started
    print(f"training all three (warm cache): {total:.1f} s  [" + ", ".join(f"{k} alone {v:.1f} s" for k, v in timings.items()) + "]")

    with tempfile.TemporaryDirectory() as out:
        for path in write_artifacts(out, trained.artifacts):
            print(f"  {path.name:<18} {path.stat().st_size / 1e6:6.2f} MB")

    seen = set(train_table.queries)
    for label, queries in (
        ("all 500 test queries", test_table.queries),
        ("test queries not in the train file", [q for q in test_table.queries if q not in seen]),
    ):
        table = EvalTable.build(test_table, queries, test_table.models, trained.objective)
        features = build_features(embedder.embed(queries), [test_table.category_by_query[q] for q in queries])
        results = evaluate_baselines(table, [m for m, _ in trained.ranking])
        for kind in ALGORITHMS:
            selection = select(kind, trained.artifacts[kind], features)
            results.append(evaluate_choices(f"{kind.upper()} Selection", "selector", selection.choices, table, selection.ties))
        print(f"\nMean quality on {label} ({len(queries)}):")
        for r in sorted(results, key=lambda r: -r.avg_quality):
            if r.kind != "always":
                print(f"  {r.name:<58} {r.avg_quality:.3f}" + (f"  ({r.ties} exact ties)" if r.ties else ""))

    features = build_features(embedder.embed(test_table.queries), [test_table.category_by_query[q] for q in test_table.queries])
    batch = np.tile(features, (4, 1))  # 2,000 queries
    print(f"\nReplay throughput, float64, batch of {len(batch)}:")
    for kind in ALGORITHMS:
        select(kind, trained.artifacts[kind], batch[:10])
        started = time.perf_counter()
        select(kind, trained.artifacts[kind], batch)
        elapsed = time.perf_counter() - started
        print(f"  {kind:<7} {len(batch) / elapsed:10.0f} queries/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
