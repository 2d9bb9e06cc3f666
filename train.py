#!/usr/bin/env python3
"""Train the KNN, KMeans and SVM selectors from benchmark JSONL and write runtime-exact JSON.

python train.py --data-file examples/benchmark_output.jsonl --output-dir models/ --embedding-model minilm
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from data_loader import (
    CATEGORIES,
    DATA_REPO,
    DEFAULT_QUALITY_WEIGHT,
    TRAINING_DATA_FILE,
    DataError,
    Objective,
    OutcomeTable,
    build_outcome_table,
    category_models,
    fit_objective,
    label_queries,
    load_records,
    query_hash,
    query_set_digest,
    split_queries,
)
from embeddings import EMBEDDING_MODEL_ENV, EmbeddingModelError, NativeEmbedder, RouterEmbedder, default_embedding_model, make_embedder
from models import (
    ALGORITHMS,
    SELECTORS,
    TOOL_VERSION,
    ArtifactError,
    TrainingError,
    TrainingSet,
    build_features,
    encode_metadata,
    write_artifacts,
)
from router_profile import RouterConfigError, add_router_config_argument, profile_from_args
from runtime_cost import oversized, selector_cost
from tuning import DEFAULT_BUDGET_SECONDS, DEFAULT_FOLDS, tune
from tuning import format_report as format_tuning


@dataclass
class TrainSettings:
    algorithms: tuple[str, ...] = ALGORITHMS
    knn_k: int = 5
    knn_smoothing: int = 30  # 5-fold CV on training data, see README
    knn_max_rows: int = 500  # 5-fold CV on two public sets, see README; 0: no budget
    kmeans_clusters: int = 8
    svm_kernel: str = "rbf"
    svm_gamma: float = 1.0
    svm_c: float = 0.1  # 5-fold CV on training data, see README
    svm_prototypes: int = 256
    quality_weight: float = DEFAULT_QUALITY_WEIGHT
    efficiency: str = "latency"
    seed: int = 42

    def selector_kwargs(self, kind: str) -> dict:
        return {
            "knn": {"k": self.knn_k, "smoothing": self.knn_smoothing, "max_rows": self.knn_max_rows, "seed": self.seed},
            "kmeans": {"clusters": self.kmeans_clusters, "seed": self.seed},
            "svm": {
                "kernel": self.svm_kernel,
                "gamma": self.svm_gamma,
                "C": self.svm_c,
                "max_prototypes": self.svm_prototypes,
                "seed": self.seed,
            },
        }[kind]


DEFAULTS = TrainSettings()
MIN_USEFUL_QUERIES = 50  # below this, say that the set is a smoke test, not a router


@dataclass
class TrainedSet:
    artifacts: dict[str, dict]
    objective: Objective
    ranking: list[tuple[str, float]]
    notes: list[str] = field(default_factory=list)
    category_models: dict[str, str] = field(default_factory=dict)  # each category's best model on the training queries


def train_from_table(
    table: OutcomeTable, train_queries: list[str], embed, settings: TrainSettings, metadata: dict | None = None
) -> TrainedSet:
    """Train the selectors on `train_queries` of `table`. `embed(texts) -> float32 matrix`.

    The objective's `ref` comes from these training queries only, and travels in the metadata.
    """
    train_table = table.subset(train_queries)
    objective = fit_objective(train_table, settings.quality_weight, settings.efficiency)
    labels = label_queries(train_table, objective)
    if len(train_table.models) < 2:
        raise TrainingError(f"the training data has {len(train_table.models)} model(s) with scored outcomes; routing needs at least two")
    if not labels.queries:
        raise TrainingError("no training query has outcomes for two or more models: nothing to learn about choosing")
    notes = []
    if len(labels.queries) < MIN_USEFUL_QUERIES:
        notes.append(
            f"only {len(labels.queries)} training queries: the files are valid, but too few queries to learn "
            "routing reliably; benchmark hundreds"
        )
    if labels.skipped_single_model:
        notes.append(f"{labels.skipped_single_model} queries have outcomes for fewer than two models: counted, not used")
    categories = [train_table.category_by_query[q] for q in labels.queries]
    features = build_features(embed(labels.queries), categories)
    ts = TrainingSet.build(train_table, labels.queries, features, objective, labels.ranking)
    by_category = category_models(train_table, objective, labels.ranking)
    meta = dict(metadata or {})
    meta.update(
        {
            "feature_dim": features.shape[1],
            "embedding_dim": features.shape[1] - len(CATEGORIES),
            "categories": list(CATEGORIES),
            "objective": objective.to_dict(),
            "model_ranking": [[m, round(s, 6)] for m, s in labels.ranking],
            "models": [m for m, _ in labels.ranking],
            "category_models": by_category,  # validate.py's "Best per category" baseline
            "n_train_queries": len(labels.queries),
            "n_models": len(labels.ranking),
            "train_query_hashes": sorted(query_hash(q)[:12] for q in labels.queries),
            "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(settings).items()},
            "tool_version": TOOL_VERSION,
            "run_id": uuid.uuid4().hex[:12],
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
    )
    artifacts = {}
    for kind in settings.algorithms:
        train_fn = SELECTORS[kind][0]
        trained = train_fn(ts, **settings.selector_kwargs(kind))
        trained.artifact["metadata"] = encode_metadata({"algorithm": kind, **meta})
        artifacts[kind] = trained.artifact
        notes.extend(trained.notes)
    return TrainedSet(artifacts, objective, labels.ranking, notes, by_category)


def fetch_default_training_data(cache_dir: Path) -> Path:
    """--data-file absent: the default benchmark dataset from the Hub data repo."""
    from hub import HubError, download_file

    try:
        return download_file(DATA_REPO, TRAINING_DATA_FILE, cache_dir, repo_type="dataset")
    except HubError as exc:
        raise DataError(
            f"--data-file was not given and the default training data could not be downloaded from "
            f"{DATA_REPO}: {exc}. Pass --data-file with your own benchmark JSONL (for example "
            f"examples/benchmark_output.jsonl)."
        ) from None


def run(args: argparse.Namespace) -> int:
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    cache_dir = Path(args.cache_dir) if args.cache_dir else Path(".cache")
    data_file = Path(args.data_file) if args.data_file else fetch_default_training_data(cache_dir)
    records, report = load_records(data_file, strict=args.strict)
    table = build_outcome_table(records, report)
    for line in report.summary_lines():
        log(line)
    if table.category_conflicts:
        log(f"  {table.category_conflicts} queries carry different categories on different lines: the most frequent is used")
    train_queries, held_out = split_queries(table.queries, args.holdout, args.seed)
    log(f"Queries: {len(table.queries)} ({len(train_queries)} train, {len(held_out)} held out), models: {len(table.models)}")

    profile = profile_from_args(args, log)
    embedder = embedder_from_args(args, cache_dir / "embeddings", profile, log)
    settings = settings_from_args(args)
    metadata = {
        **embedding_metadata(embedder, profile),
        "data_file": data_file.name,
        "data_sha256": report.sha256,
        "holdout": {"fraction": args.holdout, "seed": args.seed, "count": len(held_out), "digest": query_set_digest(held_out)},
    }
    if args.tune:
        log(f"Tuning each selector's settings by {args.tune_folds}-fold cross-validation (budget {args.tune_budget:.0f} s) ...")
        settings, tuning = tune(table, train_queries, embedder.embed, settings, train_from_table, args.tune_folds, args.tune_budget, log)
        metadata["tuning"] = tuning.to_metadata()
        for line in format_tuning(tuning, settings.efficiency):
            log(line)
        log("Reproduce without tuning: python train.py ... " + " ".join(tuned_flags(settings)))
    trained = train_from_table(table, train_queries, embedder.embed, settings, metadata)
    log(f"Embedding model: {embedder.model_id} (cache: {embedder.cache_hits} hits, {embedder.cache_misses} new)")
    log(f"Objective: {trained.objective.describe()}")
    if trained.objective.missing_efficiency and trained.objective.basis != "none":
        log(f"  {trained.objective.missing_efficiency} outcomes lack {trained.objective.basis}: counted at ref (neutral)")
    log("Models by mean objective on the training queries: " + ", ".join(f"{m} {s:.3f}" for m, s in trained.ranking))
    for note in trained.notes:
        log(f"note: {note}")
    written = write_artifacts(args.output_dir, trained.artifacts)
    for path in written:
        log(f"Wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    for warning in oversized({kind: selector_cost(kind, a, 0) for kind, a in trained.artifacts.items()}):
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def embedder_from_args(args: argparse.Namespace, cache_dir: Path | None, profile=None, log=print):
    """The embedder the flags ask for. With a router profile: exactly what that router's ML
    selectors compute (refused, with the reason and what to use instead, when it cannot be
    reproduced or the chosen model gives another width). Without one: --embedding-model, and one
    line saying that the features are assumed, not read from a router."""
    if profile is None:
        embedder = make_embedder(
            args.embedding_model or default_embedding_model(),
            args.device,
            args.batch_size,
            cache_dir,
            args.quiet,
            args.router_url,
            args.router_dimension or 1024,
        )
        log(
            f"Features assumed, not read from a router: {embedder.model_id} ({embedder.dtype}) + {len(CATEGORIES)} category slots. "
            "Pass --router-config PATH (the router's config.yaml) to train for what your router computes."
        )
        return embedder
    problem = profile.embedding_problem()
    if problem:
        log(f"WARNING: {problem}: the set will be trained, but this router will not use it until its config is fixed")
    embedder = make_embedder(args.embedding_model, args.device, args.batch_size, cache_dir, args.quiet, args.router_url, profile=profile)
    want = profile.embedding.dimension
    if want is not None and embedder.dimension != want:
        raise EmbeddingModelError(
            f"{embedder.model_id} gives {embedder.dimension} values; {profile.source} feeds its ML selectors {want} "
            f"({profile.embedding.describe()}): use the router's own weights, or --embedding-model router"
        )
    return embedder


def embedding_metadata(embedder, profile=None) -> dict:
    """What a set records about its vectors (validate.py, prepare_models.py and the deploy check read it)."""
    meta = {"embedding_model": embedder.model_id, "embedding_dtype": embedder.dtype}
    if isinstance(embedder, NativeEmbedder):
        meta["embedding_pooling"] = embedder.POOLING[embedder.model_type]
        meta["embedding_layer"] = "all" if embedder.layer is None else embedder.layer
    if isinstance(embedder, RouterEmbedder):
        meta["router_url"] = embedder.router_url
    if profile is not None:
        meta.update(profile.to_metadata())
    return meta


def add_training_arguments(p: argparse.ArgumentParser) -> None:
    """Selector and objective flags, shared by train.py and validate.py --cross-validate."""
    add_selector_arguments(p)
    p.add_argument("--quality-weight", type=float, default=DEFAULT_QUALITY_WEIGHT)
    add_efficiency_argument(p)


def add_efficiency_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--efficiency",
        choices=("latency", "cost"),
        default="latency",
        help="what the efficiency term of the objective measures (default: latency)",
    )


def add_selector_arguments(p: argparse.ArgumentParser) -> None:
    """Which selectors, their settings and the seed (tradeoff.py sweeps the objective itself)."""
    p.add_argument("--algorithm", choices=("all",) + ALGORITHMS, default="all")
    p.add_argument("--knn-k", type=int, default=5)
    p.add_argument(
        "--knn-smoothing",
        type=int,
        default=DEFAULTS.knn_smoothing,
        help="label each KNN row with the best model of its N nearest training queries (1 = its own)",
    )
    p.add_argument(
        "--knn-max-rows",
        type=int,
        default=DEFAULTS.knn_max_rows,
        help="write at most N KNN rows (prototypes of the training queries): the router builds a Ball Tree over "
        f"every row on every request (0 = no budget; default {DEFAULTS.knn_max_rows})",
    )
    p.add_argument("--kmeans-clusters", type=int, default=8)
    p.add_argument("--svm-kernel", choices=("rbf", "linear"), default="rbf")
    p.add_argument("--svm-gamma", type=float, default=DEFAULTS.svm_gamma)
    p.add_argument("--svm-c", type=float, default=DEFAULTS.svm_c, help="SVR regularisation C")
    p.add_argument(
        "--svm-prototypes",
        type=int,
        default=DEFAULTS.svm_prototypes,
        help="at most this many training points per SVM regressor (micro-cluster centres beyond it)",
    )
    p.add_argument("--seed", type=int, default=42)


def tuned_flags(settings: TrainSettings) -> list[str]:
    """The train.py flags that give these selector settings."""
    flags = [
        f"--knn-k {settings.knn_k}",
        f"--knn-smoothing {settings.knn_smoothing}",
        f"--knn-max-rows {settings.knn_max_rows}",
        f"--kmeans-clusters {settings.kmeans_clusters}",
        f"--svm-c {settings.svm_c:g}",
        f"--svm-gamma {settings.svm_gamma:g}",
    ]
    if settings.svm_kernel != DEFAULTS.svm_kernel:
        flags.append(f"--svm-kernel {settings.svm_kernel}")
    if settings.svm_prototypes != DEFAULTS.svm_prototypes:
        flags.append(f"--svm-prototypes {settings.svm_prototypes}")
    return flags


def add_router_arguments(p: argparse.ArgumentParser) -> None:
    """Where `--embedding-model router` gets its vectors (train.py and validate.py)."""
    p.add_argument("--router-url", help="the semantic router's API, for --embedding-model router (default http://localhost:8080)")
    p.add_argument("--router-dimension", type=int, help="embedding size asked of the router (default 1024, or the set's own)")


def add_embedding_arguments(p: argparse.ArgumentParser) -> None:
    """Which embedding model, where its vectors are cached, and how it runs (train.py, tradeoff.py)."""
    p.add_argument(
        "--embedding-model",
        help="qwen3 (default, or $%s), gte, mpnet, e5, bge, minilm (bundled, offline), a hub id, a local path, "
        "or router (the running router's own embeddings, see --router-url). With --router-config: the router's own "
        "model (default), a folder holding its weights, or router" % EMBEDDING_MODEL_ENV,
    )
    add_router_config_argument(p)
    add_router_arguments(p)
    p.add_argument("--cache-dir", help="downloads and the embedding cache (default: .cache)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", choices=("cpu", "cuda", "mps"), default="cpu")


def settings_from_args(args: argparse.Namespace) -> TrainSettings:
    """The settings the flags give; `--quality-weight` is optional (tradeoff.py sweeps it)."""
    return TrainSettings(
        algorithms=ALGORITHMS if args.algorithm == "all" else (args.algorithm,),
        knn_k=args.knn_k,
        knn_smoothing=args.knn_smoothing,
        knn_max_rows=args.knn_max_rows,
        kmeans_clusters=args.kmeans_clusters,
        svm_kernel=args.svm_kernel,
        svm_gamma=args.svm_gamma,
        svm_c=args.svm_c,
        svm_prototypes=args.svm_prototypes,
        quality_weight=getattr(args, "quality_weight", DEFAULT_QUALITY_WEIGHT),
        efficiency=args.efficiency,
        seed=args.seed,
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-file", help="benchmark JSONL (default: download %s from the Hub)" % TRAINING_DATA_FILE)
    p.add_argument("--output-dir", default="models/", help="where the three JSON files go (default: models/)")
    add_embedding_arguments(p)
    add_training_arguments(p)
    p.add_argument("--holdout", type=float, default=0.0, help="fraction of queries held out for validate.py (default 0)")
    p.add_argument("--tune", action="store_true", help="choose each selector's settings by cross-validation on the training queries")
    p.add_argument("--tune-folds", type=int, default=DEFAULT_FOLDS, help=f"folds for --tune (default {DEFAULT_FOLDS})")
    p.add_argument(
        "--tune-budget",
        type=float,
        default=DEFAULT_BUDGET_SECONDS,
        help=f"seconds --tune may spend, shared by the selectors (default {DEFAULT_BUDGET_SECONDS:.0f})",
    )
    p.add_argument("--strict", action="store_true", help="fail on the first bad input line instead of skipping it")
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (DataError, EmbeddingModelError, TrainingError, ArtifactError, RouterConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
