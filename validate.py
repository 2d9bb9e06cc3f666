#!/usr/bin/env python3
"""Does routing pay? Replay the trained artifacts, with the runtime's exact Select semantics, on
held-out queries and compare them with Oracle, Random, Always-<model> and the best single model.

    python validate.py --data-file examples/benchmark_output.jsonl --models-dir models/ --no-download
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from cli import (
    add_router_arguments,
    add_router_config_argument,
    add_training_arguments,
    embedding_options_from_args,
    profile_from_args,
    settings_from_args,
)
from data_loader import (
    CATEGORIES,
    DATA_REPO,
    MODELS_REPO,
    VALIDATION_DATA_FILE,
    DataError,
    Objective,
    OutcomeTable,
    fit_objective,
    load_outcome_table,
)
from embeddings import is_router_model, random_unit_vectors, resolve_model
from errors import ToolkitError
from evaluation import StrategyResult, routing_benefits
from models import (
    ARTIFACT_FILES,
    ArtifactError,
    QueryRoutes,
    algorithms,
    build_features,
    feature_dim_of,
)
from plots import plot_results
from router_api import RouterUnavailable, router_token, use_token
from router_profile import check_deploy, recorded_embedding
from runtime_cost import DEFAULT_COST_SAMPLE, format_costs, measure_costs
from skew import format_report, sample_queries, skew_report
from training import router_decisions
from validation import (
    BOLD,
    RESET,
    EvalPlan,
    LoadedSelectors,
    choose_eval_queries,
    cross_validate,
    evaluate_once,
    format_benefits,
    format_fallbacks,
    format_table,
    load_selectors,
    replay_routes,
)


def selected_algorithms(args) -> list[str]:
    return list(algorithms()) if args.algorithm == "all" else [args.algorithm]


def resolve_set(args, log) -> tuple[Path, Path]:
    """(models dir, data file): downloaded from the Hub where missing, unless --no-download."""
    models_dir = Path(args.models_dir)
    wanted = selected_algorithms(args)
    missing = [k for k in wanted if not (models_dir / ARTIFACT_FILES[k]).exists()]
    if missing and not args.no_download:
        from hub import download_file

        log("Downloading from HuggingFace...")
        for kind in missing:
            download_file(args.models_repo, ARTIFACT_FILES[kind], models_dir, "model")
            log(f"  Downloaded {ARTIFACT_FILES[kind]}")
    data_file = Path(args.data_file) if args.data_file else models_dir / VALIDATION_DATA_FILE
    if not data_file.exists() and not args.data_file:
        if args.no_download:
            raise DataError(f"{data_file} not found: pass --data-file, or drop --no-download to fetch it from {args.data_repo}")
        from hub import download_file

        download_file(args.data_repo, VALIDATION_DATA_FILE, models_dir, "dataset")
        log(f"  Downloaded {VALIDATION_DATA_FILE}")
    if missing and args.no_download and len(missing) == len(wanted):
        raise DataError(
            f"{models_dir}: no trained set here ({', '.join(ARTIFACT_FILES[k] for k in missing)} missing): train one into it "
            f"(python train.py --output-dir {models_dir} ...), or drop --no-download to fetch one from {args.models_repo}"
        )
    return models_dir, data_file


def log_inputs(args, data_file: Path, models_dir: Path, log) -> None:
    log(f"Data file:   {data_file}\nModels dir:  {models_dir}\nAlgorithm:   {args.algorithm}\nTest split:  {100 * args.test_split:.0f}%\n")


def run_cross_validation(args, log) -> int:
    """--cross-validate K: the folds of --data-file, trained with the selector flags, printed (and --output-json)."""
    if not args.data_file:
        raise DataError("--cross-validate needs --data-file (the training data to fold)")
    log_inputs(args, Path(args.data_file), Path(args.models_dir), log)
    table, _ = load_outcome_table(Path(args.data_file), args.strict, log)
    embedding_name = args.embedding_model or args.qwen3_model
    profile = profile_from_args(args, log)
    options = embedding_options_from_args(args)
    embedder = options.make(embedding_name if profile is not None else embedding_name or "qwen3", args.router_dimension or 1024, profile)
    settings = settings_from_args(args)
    summary = cross_validate(table, embedder.embed, settings, args.cross_validate, args.seed, log, router_decisions(profile, table, log))
    print(f"\nCross-validation ({args.cross_validate} folds, {embedder.model_id})")
    print(f"{'Strategy':<44}{'Quality':>16}{'Objective':>16}{'Best Model %':>16}")
    for name, stats in sorted(summary.items(), key=lambda kv: -kv[1]["avg_quality"]["mean"]):
        q, o, b = stats["avg_quality"], stats["avg_objective"], stats["best_model_rate"]
        quality, objective = f"{q['mean']:.3f} ±{q['std']:.3f}", f"{o['mean']:.3f} ±{o['std']:.3f}"
        best = f"{100 * b['mean']:.1f}% ±{100 * b['std']:.1f}"
        print(f"{name:<44}{quality:>16}{objective:>16}{best:>16}")
    if args.output_json:
        Path(args.output_json).write_text(json.dumps({"cross_validation": summary}, indent=2))
    return 0


def report_skew(args, table, loaded: LoadedSelectors, queries: list[str], vectors: np.ndarray, failed: dict, router_model: str = "qwen3"):
    """The train/serve skew of a locally trained set against the router at --router-url (printed).
    `vectors`: the local embeddings of `queries`, already computed for the validation."""
    sample = sample_queries(queries, args.skew_sample, args.seed)
    row = {q: i for i, q in enumerate(queries)}
    print()
    try:
        skew = skew_report(table, loaded.artifacts, sample, vectors[[row[q] for q in sample]], args.router_url, router_model)
    except RouterUnavailable as exc:
        print(f"error: no skew report: {exc}", file=sys.stderr)
        failed["skew"] = str(exc)
        return None
    print(format_report(skew))
    return skew


@dataclass
class Validation:
    """What one validation run measured, for the report and --output-json."""

    models_dir: Path
    data_file: Path
    table: OutcomeTable
    plan: EvalPlan
    objective: Objective
    embedding_id: str
    results: list[StrategyResult] = field(default_factory=list)
    failed: dict = field(default_factory=dict)
    routes: QueryRoutes | None = None
    costs: dict = field(default_factory=dict)
    skew: object = None


def run(args: argparse.Namespace) -> int:
    """Resolve the set, load and check it, choose the queries, embed them, evaluate, report."""
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    use_token(router_token(args.router_token))
    print("=" * 70 + "\n  ML Model Selection Validation (runtime replay)\n" + "=" * 70)
    if args.cross_validate:
        return run_cross_validation(args, log)
    models_dir, data_file = resolve_set(args, log)
    log_inputs(args, data_file, models_dir, log)
    table, report = load_outcome_table(data_file, args.strict, log)
    profile = profile_from_args(args, log)
    loaded = load_checked_selectors(args, models_dir, profile, log)
    if loaded is None:
        return 1
    objective, ranking = evaluation_objective(loaded.metadata, table, log)
    plan = choose_eval_queries(table, loaded.metadata, report.sha256, args.test_split, args.seed, args.include_seen)
    for note in plan.notes:
        print(note)
    if not plan.queries:
        print("error: no query left to evaluate (see the notes above)", file=sys.stderr)
        return 1
    print(f"Loaded {len(plan.queries)} test queries with {len(table.models)} models\nModels: {', '.join(table.models)}")
    vectors, embedder = embed_queries(args, table, plan.queries, loaded, profile, models_dir, log)
    embedding_id = embedder.model_id if embedder is not None else "random"
    validation = Validation(models_dir, data_file, table, plan, objective, embedding_id)
    features = evaluate(validation, args, loaded, vectors, ranking, profile, log)
    report_validation(validation, args, loaded, features)
    if args.router_url and embedder is not None and not is_router_model(embedder.model_id) and loaded.artifacts:
        router_model = profile.embedding.model_type if profile is not None else "qwen3"  # the model the router runs
        validation.skew = report_skew(args, table, loaded, plan.queries, vectors, validation.failed, router_model)
    write_outputs(validation, args, log)
    return 1 if validation.failed else 0


def load_checked_selectors(args, models_dir: Path, profile, log) -> LoadedSelectors | None:
    """The set's files, parsed as the runtime would and checked against the router profile (the
    deploy check), the category order and the embedding model asked for. None: nothing usable
    (the reasons printed)."""
    loaded = load_selectors(models_dir, selected_algorithms(args))
    for warning in loaded.warnings:
        log(f"warning: {warning}")
    meta = loaded.metadata
    if not loaded.artifacts:
        for kind, why in loaded.failed.items():
            print(f"FAILED {kind}: {why}", file=sys.stderr)
        return None
    if profile is not None:
        deploy = check_deploy(profile, loaded.artifacts, meta)
        for line in deploy.lines():
            print(line, file=sys.stderr if line.startswith("DEPLOY ERROR") else sys.stdout)
        if not deploy.ok:
            print(f"error: {models_dir} is not a set {profile.source} can use as trained (see above)", file=sys.stderr)
            return None
        log(f"Deploy check against {profile.source}: passed")
    if meta.get("categories") and meta["categories"] != list(CATEGORIES):
        raise ArtifactError(f"the artifacts use a different category order {meta['categories']}: their one-hot would not match")
    embedding_name = args.embedding_model or args.qwen3_model
    trained_model = meta.get("embedding_model")
    if embedding_name and trained_model and not args.no_embeddings and profile is None:
        asked = resolve_model(embedding_name).model_id
        if asked != trained_model:
            raise ArtifactError(f"the artifacts were trained with {trained_model!r}, not {asked!r}: their vectors would not match")
    if not trained_model and not embedding_name and not args.no_embeddings and profile is None:
        raise ArtifactError("the artifacts carry no metadata naming their embedding model: pass --embedding-model (or --qwen3-model PATH)")
    return loaded


def evaluation_objective(meta: dict, table: OutcomeTable, log) -> tuple[Objective, list[str] | None]:
    """(the objective the set was trained with, its model ranking), from the metadata."""
    if meta.get("objective"):
        objective = Objective.from_dict(meta["objective"])
    else:
        objective = fit_objective(table)
        log("warning: no objective in the metadata: ref fitted on the evaluated data itself")
    return objective, [m for m, _ in meta.get("model_ranking", [])] or None


def embed_queries(args, table: OutcomeTable, queries: list[str], loaded: LoadedSelectors, profile, models_dir: Path, log):
    """(vectors, embedder or None for --no-embeddings). With --router-config: the vectors that
    router computes; else a set trained for a profile: the embedding it recorded; else the model
    named in the metadata (or --embedding-model)."""
    meta = loaded.metadata
    dimension = int(meta.get("embedding_dim") or 0)
    if args.no_embeddings:
        if not dimension:
            dimension = (feature_dim_of(*next(iter(loaded.artifacts.items()))) or 1038) - len(CATEGORIES)
        print(f"{BOLD}--no-embeddings: RANDOM unit vectors (plumbing check only; selector numbers are meaningless){RESET}")
        return random_unit_vectors(queries, dimension, args.seed), None
    options = embedding_options_from_args(args)
    embedding_name = args.embedding_model or args.qwen3_model
    trained_model = meta.get("embedding_model")
    if profile is None and recorded_embedding(meta) is not None and not is_router_model(trained_model or ""):
        # A set trained for a router profile: the embedding it recorded (--router-config to check it against a router).
        trained_for = SimpleNamespace(source=f"{models_dir} (the profile it was trained for)", embedding=recorded_embedding(meta))
        embedder = options.make(embedding_name, profile=trained_for)
        vectors = embedder.embed(queries)
    else:
        # With a router profile: the vectors that router will compute, whatever the set recorded.
        model = embedding_name if profile is not None else embedding_name or trained_model
        embedder = options.make(model, args.router_dimension or dimension or 1024, profile, default_router_url=meta.get("router_url"))
        vectors = embedder.embed(table.texts(queries))  # `prompt` when recorded: the text the router embeds
    log(f"Embedded {len(queries)} queries with {embedder.model_id} ({embedder.cache_hits} cached)")
    return vectors, embedder


def evaluate(validation: Validation, args, loaded: LoadedSelectors, vectors, ranking, profile, log) -> np.ndarray:
    """The baselines and every selector replayed on the plan's queries (with the router's
    candidate rule where decisions are known); returns the features replayed."""
    table, queries, meta = validation.table, validation.plan.queries, loaded.metadata
    features = build_features(vectors, [table.category_by_query[q] for q in queries])
    by_category = meta.get("category_models")
    if by_category is not None and not (isinstance(by_category, dict) and all(isinstance(v, str) for v in by_category.values())):
        log("warning: the metadata's category_models is not an object of category -> model name: no 'Best per category' row")
        by_category = None
    validation.routes = replay_routes(profile, table, meta, queries, log)
    validation.results, validation.failed = evaluate_once(
        table, loaded, queries, features, validation.objective, ranking, by_category, validation.routes
    )
    return features


def report_validation(validation: Validation, args, loaded: LoadedSelectors, features: np.ndarray) -> None:
    """The table, failures, the router's fallbacks, ties, benefits, objective and per-request costs (printed)."""
    results, failed = validation.results, validation.failed
    print("\nEvaluating strategies...\n")
    print(format_table(results, len(validation.plan.queries), len(validation.table.models)))
    for kind, why in failed.items():
        print(f"{BOLD}FAILED {kind.upper()} Selection: {why}{RESET}")
    if validation.routes is not None:
        for line in format_fallbacks(results, validation.routes):
            print(line)
    ties = {r.name: r.ties for r in results if r.kind == "selector" and r.ties}
    for name, n in ties.items():
        print(f"note: {name}: {n} queries had an exact tie (the runtime's choice is arbitrary there)")
    print()
    print(format_benefits(results))
    print(f"\nObjective: {validation.objective.describe()}")
    usable = {kind: a for kind, a in loaded.artifacts.items() if kind not in failed}  # replayed without error
    sizes = {kind: (validation.models_dir / ARTIFACT_FILES[kind]).stat().st_size for kind in usable}
    validation.costs = measure_costs(usable, features, args.cost_sample, sizes)
    print("\n" + "\n".join(format_costs(validation.costs)))


def write_outputs(validation: Validation, args, log) -> None:
    """--output-json (every number) and --plot."""
    v, results = validation, validation.results
    if args.output_json:
        payload = {
            "data_file": str(v.data_file),
            "models_dir": str(v.models_dir),
            "embedding_model": v.embedding_id,
            "objective": v.objective.to_dict(),
            "n_queries": len(v.plan.queries),
            "models": v.table.models,
            "coverage_notes": [n.replace(BOLD, "").replace(RESET, "") for n in v.plan.notes],
            "overlap": v.plan.overlap,
            "strategies": [r.to_dict() for r in results],
            "failed": v.failed,
            "benefits": [vars(b) for b in routing_benefits(results)],
            "seed": args.seed,
            "random_embeddings": bool(args.no_embeddings),
            "skew": v.skew.to_dict() if v.skew else None,
            "decision_queries": dict(Counter(v.routes.decision_by_query.values())) if v.routes else None,
            "router_cost": {kind: cost.to_dict() for kind, cost in v.costs.items()},
        }
        Path(args.output_json).write_text(json.dumps(payload, indent=2))
        log(f"Wrote {args.output_json}")
    if args.plot:
        plot_results(results, Path(args.plot), f"{v.data_file.name}: {len(v.plan.queries)} queries\nembeddings: {v.embedding_id}")
        log(f"Wrote {args.plot}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-file", help=f"benchmark JSONL (default: download {VALIDATION_DATA_FILE} into --models-dir)")
    p.add_argument("--models-dir", default=".cache/ml-models")
    p.add_argument("--test-split", type=float, default=1.0, help="fraction of the evaluable queries to use (default 1.0)")
    p.add_argument("--models-repo", default=MODELS_REPO)
    p.add_argument("--data-repo", default=DATA_REPO)
    p.add_argument("--embedding-model", help="default: the model named in the artifacts' metadata")
    p.add_argument("--qwen3-model", help="path to a local Qwen3-Embedding folder (the seed's spelling)")
    p.add_argument("--cache-dir", help="cache root as in train.py: embeddings in <dir>/embeddings (default: .cache)")
    p.add_argument("--device", choices=("cpu", "cuda", "mps"), default="cpu")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--no-download", action="store_true")
    p.add_argument("--no-embeddings", action="store_true", help="random unit vectors: a plumbing check")
    p.add_argument("--include-seen", action="store_true", help="also evaluate queries seen in training (reported)")
    p.add_argument("--output-json")
    p.add_argument("--plot", help="write a quality-vs-latency (or cost) picture to this PNG")
    p.add_argument("--cross-validate", type=int, metavar="K", help="K query-level folds trained with train.py's code")
    p.add_argument(
        "--cost-sample",
        type=int,
        default=DEFAULT_COST_SAMPLE,
        help=f"test queries on which each selector's per-request cost in the router is timed (default {DEFAULT_COST_SAMPLE}; 0: not timed)",
    )
    add_router_arguments(p)  # --router-url: embeddings of a router-trained set, or the skew report of a local one
    add_router_config_argument(p)  # --router-config: the deploy check, the router's own embedding and its candidates
    p.add_argument("--skew-sample", type=int, default=200, help="test queries compared with the router's features (default 200)")
    add_training_arguments(p)  # --algorithm, --seed, and the training flags --cross-validate uses
    p.add_argument("--strict", action="store_true")
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except ToolkitError as exc:  # data, artifacts, embedding model, router config, Hub: one line, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
