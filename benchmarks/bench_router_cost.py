#!/usr/bin/env python3
"""What each selector costs the router per request, against the number of training queries
(1k to 50k rows), with the files' sizes: the curve in the README.

Vectors: the real minilm features of the llmrouter queries (train and test, 6,108 queries,
384 + 14 = 398 values), and the same vectors at Qwen3's width (1024 + 14 = 1,038 values) through a
fixed random orthonormal map of the 384 embedding values into 1,024 (it keeps every distance, so
the Ball Tree sees the same geometry). Beyond 6,108 rows the queries are resampled with a small
jitter (Gaussian, 2% of a unit vector's length, then normalised again). The artifacts are built
directly, since their cost does not depend on what the rows say:
  KNN       one row per training query (what train.py writes with --knn-max-rows 0), and the
            same set under the default row budget;
  KMeans    --kmeans-clusters 8 centroids (its cost does not grow with the queries);
  SVM       the bound of its defaults: --svm-prototypes 256 support vectors for each of 9 models.
Times are those of runtime_cost's replicas (scikit-learn's BallTree for Linfa's), the median of
a few held-out queries each timed alone: estimates, to be read as ratios within one run.

    python benchmarks/bench_router_cost.py [--rows 1000,2000,5000,10000,20000,50000] [--plot docs/router-cost.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from data_loader import CATEGORIES, build_outcome_table, load_records  # noqa: E402
from embeddings import Embedder  # noqa: E402
from models import build_features, dump_artifact, quantize  # noqa: E402
from runtime_cost import WARN_VALUES, machine_load, selector_cost, time_select  # noqa: E402
from training import TrainSettings  # noqa: E402

DATA = ROOT.parent / "shared/data/jsonl"
ROWS = (1000, 2000, 5000, 10000, 20000, 50000)
MODELS = [f"model-{i}" for i in range(9)]
JITTER = 0.02


def widen(features: np.ndarray, width: int, seed: int = 0) -> np.ndarray:
    """The embedding part mapped into `width` values by a fixed orthonormal map (distances kept)."""
    embedding, one_hot = features[:, : -len(CATEGORIES)], features[:, -len(CATEGORIES) :]
    if width == embedding.shape[1]:
        return features
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(width, embedding.shape[1])))
    return np.hstack([embedding @ q.T, one_hot])


def resample(features: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """`n` rows: the real ones first, then resampled ones with a small jitter, normalised again."""
    if n <= len(features):
        return features[:n]
    rng = np.random.default_rng(seed)
    extra = features[rng.integers(0, len(features), n - len(features))].copy()
    width = features.shape[1] - len(CATEGORIES)
    noisy = extra[:, :width] + rng.normal(scale=JITTER / np.sqrt(width), size=(len(extra), width))
    extra[:, :width] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    return np.vstack([features, extra])


def knn_artifact(rows: np.ndarray, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "algorithm": "knn",
        "trained": True,
        "k": TrainSettings().knn_k,
        "embeddings": quantize(rows).tolist(),
        "labels": [MODELS[i] for i in rng.integers(0, len(MODELS), len(rows))],
        "qualities": np.round(rng.uniform(0.01, 1, len(rows)), 7).tolist(),
        "latencies": rng.integers(10**8, 10**10, len(rows)).tolist(),
    }


def kmeans_artifact(rows: np.ndarray) -> dict:
    centres = quantize(rows[: TrainSettings().kmeans_clusters])
    return {
        "algorithm": "kmeans",
        "trained": True,
        "num_clusters": len(centres),
        "centroids": centres.tolist(),
        "cluster_models": MODELS[: len(centres)],
    }


def svm_artifact(rows: np.ndarray, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    classifiers = []
    for model in MODELS:
        sv = rows[rng.choice(len(rows), size=TrainSettings().svm_prototypes, replace=len(rows) < TrainSettings().svm_prototypes)]
        sv = quantize(sv / np.linalg.norm(sv, axis=1, keepdims=True))
        alpha = np.round(rng.normal(scale=0.1, size=len(sv)), 7)
        classifiers.append({"model_name": model, "alpha": alpha.tolist(), "support_vectors": sv.tolist(), "rho": 0.1, "gamma": 1.0})
    return {"algorithm": "svm", "trained": True, "model_names": MODELS, "kernel_type": "Rbf", "gamma": 1.0, "rbf_classifiers": classifiers}


def file_bytes(artifact: dict) -> int:
    """The written size, dumped 1,000 rows at a time (50k rows of 1,038 values is about 0.6 GB of text)."""
    if artifact["algorithm"] != "knn" or len(artifact["embeddings"]) <= 1000:
        return len(dump_artifact(artifact).encode())
    keys = ("embeddings", "labels", "qualities", "latencies")
    total = len(dump_artifact({**artifact, **{key: [] for key in keys}}).encode())
    for key in keys:
        parts = [dump_artifact(artifact[key][start : start + 1000]) for start in range(0, len(artifact[key]), 1000)]
        total += sum(len(part.encode()) - 2 for part in parts) + len(parts) - 1  # inside the brackets, commas between parts
    return total


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", default=",".join(map(str, ROWS)))
    p.add_argument("--widths", default="398,1038", help="feature widths: minilm's, and Qwen3's")
    p.add_argument("--budget", type=int, default=TrainSettings().knn_max_rows or 1000, help="the row budget shown (default: train.py's)")
    p.add_argument("--queries", type=int, default=5, help="held-out queries timed per point (median)")
    p.add_argument("--embedding-model", default="minilm")
    p.add_argument("--cache-dir", default=str(ROOT / ".cache"))
    p.add_argument("--plot", help="write the curve to this PNG")
    args = p.parse_args(argv)
    counts = [int(n) for n in args.rows.split(",")]
    train = build_outcome_table(*load_records(DATA / "llmrouter-9models.train.jsonl"))
    test = build_outcome_table(*load_records(DATA / "llmrouter-9models.test.jsonl"))
    embedder = Embedder(args.embedding_model, cache_dir=Path(args.cache_dir) / "embeddings", quiet=True)
    seen = set(train.queries)
    held_out = [q for q in test.queries if q not in seen][: args.queries]
    pool = train.queries + [q for q in test.queries if q not in seen and q not in held_out]
    base = build_features(embedder.embed(pool), [train.category_by_query.get(q) or test.category_by_query[q] for q in pool])
    probes = build_features(embedder.embed(held_out), [test.category_by_query[q] for q in held_out])
    print(f"Per-request cost in the router against training rows; {len(pool)} real queries, resampled beyond; {machine_load()}")
    curves: dict[tuple[str, int], list[tuple[int, float]]] = {}
    for width in (int(w) for w in args.widths.split(",")):
        features, queries = widen(base, width - len(CATEGORIES)), widen(probes, width - len(CATEGORIES))
        fixed = {"kmeans": kmeans_artifact(features), "svm": svm_artifact(features)}
        budgeted = knn_artifact(features[: args.budget])
        reference = {}
        for kind, artifact in {**fixed, f"knn {args.budget} rows": budgeted}.items():
            cost = selector_cost(kind.split()[0], artifact, file_bytes(artifact))
            reference[kind] = (time_select(kind.split()[0], artifact, queries), cost)
        print(f"\nwidth {width} values ({'Qwen3 1024' if width > 1000 else 'minilm 384'} + {len(CATEGORIES)} category slots)")
        for kind, (seconds, cost) in reference.items():
            size = f"{cost.vectors:>7} vectors{cost.file_bytes / 1e6:>9.2f} MB"
            print(f"  {kind:<16}{size}{1e3 * seconds:>10.3f} ms/request  (any number of training rows)")
        print(f"  {'KNN rows':>9}{'values':>12}{'file MB':>10}{'ms/request':>12}{'x budgeted':>12}{'x KMeans':>10}{'x SVM':>8}")
        for n in counts:
            artifact = knn_artifact(resample(features, n))
            seconds = time_select("knn", artifact, queries)
            cost = selector_cost("knn", artifact, file_bytes(artifact))
            flag = "  > train.py's warning size" if cost.values > WARN_VALUES else ""
            ratios = [seconds / reference[k][0] for k in (f"knn {args.budget} rows", "kmeans", "svm")]
            print(
                f"  {n:>9,}{cost.values / 1e6:>11.1f}M{cost.file_bytes / 1e6:>10.1f}{1e3 * seconds:>12.2f}"
                f"{ratios[0]:>11.0f}x{ratios[1]:>9.0f}x{ratios[2]:>7.1f}x{flag}",
                flush=True,
            )
            curves.setdefault(("KNN, all rows", width), []).append((n, seconds))
            del artifact
        for kind, (seconds, _) in reference.items():
            label = "KNN, --knn-max-rows %d" % args.budget if kind.startswith("knn") else kind.upper()
            curves[(label, width)] = [(n, seconds) for n in counts]
    print(f"\n{machine_load()}")
    if args.plot:
        plot(curves, Path(args.plot))
        print(f"Wrote {args.plot}")
    return 0


def plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    colors = {"KNN, all rows": "tab:red", "KMEANS": "tab:orange", "SVM": "tab:purple"}
    for (label, width), points in curves.items():
        style = "-" if width > 1000 else "--"
        color = colors.get(label, "tab:green")
        ax.plot([n for n, _ in points], [1e3 * s for _, s in points], style, marker="o", color=color, label=f"{label} ({width} values)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training queries (rows a KNN set holds without a budget)")
    ax.set_ylabel("estimated ms per routed request (replica of Select)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    ax.set_title("What each selector costs the router on every request", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
