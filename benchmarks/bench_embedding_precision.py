#!/usr/bin/env python3
"""What the router's own Qwen3 path costs per vector: float32 against bfloat16, and the cut.

    python benchmarks/bench_embedding_precision.py [--n 256] [--hidden 256] [--layers 4] [--repeats 3]

The router runs Qwen3-Embedding in float32 (Candle loads the safetensors as F32) and, when its
config asks for fewer values, cuts the vector and normalises it again. sentence-transformers 6
with transformers 5 would load the same weights in bfloat16. A randomly initialised Qwen3 of
Qwen3-Embedding's shape, scaled down (no download), embeds real queries from the shared
llmrouter data through NativeEmbedder; the figures are ratios, which carry over to the real
model better than absolute times on a shared 2-core machine. Prints, per vector:
1. float32 full width (the reference), float32 cut to a quarter of the width, bfloat16 full;
2. the ratios cut / full and float32 / bfloat16;
3. how far bfloat16 vectors are from the float32 ones the router computes (mean and worst cosine).
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from tiny_models import save_tiny_qwen3  # noqa: E402

from embeddings import NativeEmbedder  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "jsonl" / "llmrouter-9models.test.jsonl"


def load_texts(n: int) -> list[str]:
    texts: dict[str, None] = {}
    if SHARED.exists():
        for line in open(SHARED, encoding="utf-8"):
            texts.setdefault(json.loads(line)["query"], None)
            if len(texts) >= n:
                break
    while len(texts) < n:  # without the shared data: questions of varied length
        texts.setdefault(f"question {len(texts)}: " + "why is the sky blue " * (len(texts) % 9), None)
    return list(texts)


def time_variants(embedders: dict[str, NativeEmbedder], texts: list[str], repeats: int):
    """Median seconds per vector of each embedder, runs interleaved (a busy neighbour slows all
    variants alike), and each one's vectors."""
    for embedder in embedders.values():
        embedder.model  # load outside the timing
    times = {name: [] for name in embedders}
    vectors = {}
    for _ in range(repeats):
        for name, embedder in embedders.items():
            started = time.perf_counter()
            vectors[name] = embedder.encode_uncached(texts)
            times[name].append((time.perf_counter() - started) / len(texts))
    return {name: statistics.median(t) for name, t in times.items()}, vectors


def cut_seconds_per_vector(pooled: np.ndarray, dimension: int, repeats: int = 50) -> float:
    """The cut alone: the first `dimension` values of each pooled vector, L2-normalised again."""
    import torch

    matrix = torch.from_numpy(pooled)
    started = time.perf_counter()
    for _ in range(repeats):
        torch.nn.functional.normalize(matrix[:, :dimension], dim=-1)
    return (time.perf_counter() - started) / repeats / len(pooled)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=256, help="queries embedded per run (default 256)")
    p.add_argument("--hidden", type=int, default=256, help="model width (Qwen3-Embedding-0.6B: 1024)")
    p.add_argument("--layers", type=int, default=4, help="transformer layers (Qwen3-Embedding-0.6B: 28)")
    p.add_argument("--repeats", type=int, default=3, help="runs per variant, the median is shown")
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args(argv)
    import torch

    torch.manual_seed(0)
    texts = load_texts(args.n)
    cut = args.hidden // 4
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_tiny_qwen3(Path(tmp) / "qwen3", hidden=args.hidden, layers=args.layers)

        def embedder(**kwargs):
            return NativeEmbedder(str(folder), "qwen3", batch_size=args.batch_size, quiet=True, **kwargs)

        seconds, vectors = time_variants(
            {"full": embedder(), "cut": embedder(dimension=cut), "bf16": embedder(dtype="bfloat16")}, texts, args.repeats
        )
    full, cut_time, bf16 = seconds["full"], seconds["cut"], seconds["bf16"]
    full_vectors, cut_vectors, bf16_vectors = vectors["full"], vectors["cut"], vectors["bf16"]
    cut_alone = cut_seconds_per_vector(full_vectors, cut)
    cosines = np.sum(full_vectors * bf16_vectors, axis=1)
    expected_cut = full_vectors[:, :cut] / np.linalg.norm(full_vectors[:, :cut], axis=1, keepdims=True)
    print(f"Qwen3 of width {args.hidden}, {args.layers} layers, random weights; {len(texts)} queries; threads {torch.get_num_threads()}")
    print(f"  float32, {args.hidden} values (the router's path):  {1e3 * full:8.3f} ms/vector")
    print(f"  float32, cut to {cut} and re-normalised:       {1e3 * cut_time:8.3f} ms/vector")
    print(f"  bfloat16, {args.hidden} values:                     {1e3 * bf16:8.3f} ms/vector")
    print(f"  cut / full: {cut_time / full:.3f}x (within timing noise)")
    print(f"  the cut alone: {1e6 * cut_alone:.2f} us/vector, {cut_alone / full:.1e} of the float32 forward pass")
    print(f"  float32 / bfloat16: {full / bf16:.2f}x")
    print(f"  cut vectors = the full ones cut and re-normalised: max difference {np.abs(cut_vectors - expected_cut).max():.1e}")
    print(f"  bfloat16 against float32: mean cosine {cosines.mean():.5f}, worst {cosines.min():.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
