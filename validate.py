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

from cli import add_router_arguments, add_training_arguments, embedding_options_from_args, settings_from_args
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
    query_hash,
    query_set_digest,
    split_queries,
)
from embeddings import is_router_model, random_unit_vectors, resolve_model
from errors import ToolkitError
from evaluation import EvalTable, StrategyResult, decision_baselines, evaluate_baselines, evaluate_choices, routing_benefits
from models import (
    ARTIFACT_FILES,
    ArtifactError,
    QueryRoutes,
    algorithms,
    build_features,
    decode_metadata,
    feature_dim_of,
    load_artifact,
    query_routes,
    select,
    serve,
)
from plots import plot_results
from router_api import RouterUnavailable, router_token, use_token
from router_profile import DecisionProfile, add_router_config_argument, check_deploy, profile_from_args, recorded_embedding
from runtime_cost import DEFAULT_COST_SAMPLE, format_costs, measure_costs
from skew import format_report, sample_queries, skew_report
from train_job import router_decisions
from training import fold_splits, replay_held_out

BOLD, RESET = "\033[1m", "\033[0m"


@dataclass
class LoadedSelectors:
    artifacts: dict[str, dict]
    failed: dict[str, str]  # algorithm -> why it could not be used
    metadata: dict  # decoded, from the first artifact that has it ({} when none has)
    warnings: list[str] = field(default_factory=list)


def load_selectors(models_dir: Path, algorithms: list[str]) -> LoadedSelectors:
    artifacts, failed, warnings = {}, {}, []
    for kind in algorithms:
        try:
            artifacts[kind] = load_artifact(models_dir / ARTIFACT_FILES[kind], kind)
        except ArtifactError as exc:
            failed[kind] = str(exc)
    metas = {k: decode_metadata(a["metadata"]) for k, a in artifacts.items() if "metadata" in a}
    metadata = next(iter(metas.values()), {})
    for kind, meta in metas.items():
        for key in ("embedding_model", "feature_dim", "categories", "objective"):
            if meta.get(key) != metadata.get(key):
                failed[kind] = (
                    f"{ARTIFACT_FILES[kind]}: metadata {key} {meta.get(key)!r} disagrees with the other files ({metadata.get(key)!r})"
                )
                artifacts.pop(kind, None)
                break
    for kind, meta in metas.items():
        actual = feature_dim_of(kind, artifacts[kind]) if kind in artifacts else None
        if actual is not None and meta.get("feature_dim") not in (None, actual):
            failed[kind] = f"{ARTIFACT_FILES[kind]}: metadata says {meta['feature_dim']} features, the vectors have {actual}"
            artifacts.pop(kind)
    missing_meta = [k for k in artifacts if k not in metas]
    if missing_meta:
        warnings.append(
            "no metadata in "
            + ", ".join(ARTIFACT_FILES[k] for k in missing_meta)
            + " (trained elsewhere): embedding model, category order and objective cannot be checked"
        )
    return LoadedSelectors(artifacts, failed, metadata, warnings)


@dataclass
class EvalPlan:
    queries: list[str]
    notes: list[str]
    overlap: int


def choose_eval_queries(table, metadata: dict, data_sha: str, test_split: float, seed: int, include_seen: bool) -> EvalPlan:
    """Which queries are evaluated, and why.

    - The training file itself with a recorded hold-out: exactly those held-out queries.
    - Any other file: every query not seen in training. Seen queries are detected (by hash,
      from the metadata) and reported loudly; they are only evaluated with --include-seen.
    Then --test-split samples a fraction (by query hash and --seed), and only queries with
    outcomes for every model are kept.
    """
    notes, queries = [], table.queries
    holdout = metadata.get("holdout") or {}
    overlap = 0
    if metadata.get("data_sha256") == data_sha and holdout.get("count"):
        _, held_out = split_queries(table.queries, float(holdout["fraction"]), int(holdout["seed"]))
        if query_set_digest(held_out) != holdout.get("digest"):
            raise DataError("the recorded held-out split could not be reproduced from this file")
        queries = held_out
        notes.append(
            f"evaluating the {len(held_out)} queries held out at training time (fraction {holdout['fraction']}, seed {holdout['seed']})"
        )
    elif metadata.get("train_query_hashes"):
        seen = set(metadata["train_query_hashes"])
        unseen = [q for q in queries if query_hash(q)[:12] not in seen]
        overlap = len(queries) - len(unseen)
        if overlap:
            what = "INCLUDED (--include-seen): these numbers are optimistic" if include_seen else "EXCLUDED"
            notes.append(f"{BOLD}WARNING: {overlap} of {len(queries)} queries were seen in training: {what}{RESET}")
            if not include_seen:
                queries = unseen
    else:
        notes.append("artifacts carry no record of their training queries: overlap cannot be checked")
    if test_split < 1.0:
        _, queries = split_queries(queries, test_split, seed) if test_split > 0 else (queries, [])
        notes.append(f"--test-split {test_split}: {len(queries)} queries sampled with seed {seed}")
    models = table.models
    complete = [q for q in queries if len(table.outcomes_by_query[q]) == len(models)]
    if len(complete) < len(queries):
        notes.append(f"{len(queries) - len(complete)} queries skipped: no outcome for every model ({len(models)} models)")
    return EvalPlan(complete, notes, overlap)


def evaluate_selectors(
    loaded: LoadedSelectors, features: np.ndarray, eval_table: EvalTable, routes: QueryRoutes | None = None
) -> tuple[list[StrategyResult], dict]:
    """Each selector's replayed choices, then (with `routes`) the router's rule on them: a label
    outside the query's decision candidates goes to the first one, a one-candidate decision skips
    the selector (models.serve); the result counts both."""
    results, failed = [], dict(loaded.failed)
    candidates = [routes.candidates(q) for q in eval_table.queries] if routes else [None] * len(eval_table.queries)
    names = [routes.decision_by_query.get(q) for q in eval_table.queries] if routes else None
    for kind, artifact in loaded.artifacts.items():
        try:
            expected = feature_dim_of(kind, artifact)
            if expected is not None and expected != features.shape[1]:
                raise ArtifactError(
                    f"{ARTIFACT_FILES[kind]} expects {expected}-value features, the embedding model gives "
                    f"{features.shape[1]} ({features.shape[1] - len(CATEGORIES)} + {len(CATEGORIES)} category slots)"
                )
            selection = select(kind, artifact, features)
            uses = [routes.uses(q, kind) for q in eval_table.queries] if routes else None
            served = serve(selection.choices, candidates, names, uses)
            result = evaluate_choices(f"{kind.upper()} Selection", "selector", served.models, eval_table, selection.ties)
            result.fallbacks, result.fallbacks_by_decision, result.skipped = served.fallbacks, served.fallbacks_by_decision, served.skipped
            result.elsewhere = served.elsewhere
            results.append(result)
        except (ArtifactError, ValueError, KeyError, IndexError) as exc:
            failed[kind] = f"{type(exc).__name__}: {exc}"
    return results, failed


def replay_routes(profile, table, meta: dict, queries: list[str], log) -> QueryRoutes | None:
    """The decisions the replay applies the router's candidate rule with: the profile's (--router-config),
    else those the set was trained for (metadata `decision_candidates`), else none (every label served)."""
    decisions = router_decisions(profile, table, log)
    source = profile.source if decisions else None
    if decisions is None and meta.get("decision_candidates"):
        decisions = tuple(DecisionProfile(n, a, tuple(c), tuple(d)) for n, a, c, d in meta["decision_candidates"])
        source = "the artifacts' metadata (the config they were trained for)"
    if not decisions:
        return None
    routes = query_routes(queries, decisions, table.decision_by_query, table.category_by_query)
    log(f"Replaying the router's candidate rule with the decisions of {source}")
    for line in routes.describe():
        log(f"  {line}")
    return routes


def format_fallbacks(results: list[StrategyResult], routes: QueryRoutes) -> list[str]:
    """Per selector: labels the router overrides (outside the decision's candidates -> its first
    modelRef), per decision, and the queries of one-candidate decisions that never reach it."""
    per_decision: dict[str, int] = {}
    for name in routes.decision_by_query.values():
        per_decision[name] = per_decision.get(name, 0) + 1
    lines = ["Router rule on the selectors' labels (outside the decision's modelRefs -> its first modelRef):"]
    for r in results:
        if r.kind != "selector":
            continue
        kind = r.name.split()[0].lower()
        uses = [d.name for d in routes.decisions.values() if d.algorithm == kind]
        by = ", ".join(f"{d} {n}/{per_decision.get(d, 0)}" for d, n in sorted(r.fallbacks_by_decision.items())) or "none"
        served = f"decisions with algorithm {kind}: {', '.join(uses)}" if uses else f"no decision uses {kind}: replayed as if all did"
        lines.append(
            f"  {r.name}: {r.fallbacks} fallbacks (by decision: {by}); {r.skipped} queries of one-candidate decisions skip it; "
            f"{r.elsewhere} queries of other algorithms' decisions at their first modelRef; {served}"
        )
    return lines


def format_table(results: list[StrategyResult], n_queries: int, n_models: int) -> str:
    """The seed's table (Strategy, Avg Quality, Avg Latency, Best Model %), sorted by quality,
    plus the objective, and p95 latency and cost columns when the data has them."""
    order = sorted(results, key=lambda r: (r.kind != "oracle", -r.avg_quality, r.name))
    width = max(28, max(len(r.name) for r in results) + 2)
    has_latency = any(r.avg_latency is not None for r in results)
    has_cost = any(r.avg_cost is not None for r in results)
    header = f"{'Strategy':<{width}}{'Avg Quality':>12}{'Avg Latency':>13}{'Best Model %':>15}{'Avg Objective':>16}"
    header += f"{'P95 Latency':>13}" if has_latency else ""
    header += f"{'Avg Cost':>12}" if has_cost else ""
    rule = len(header)
    lines = [f"Validation Results ({n_queries} test queries, {n_models} models)", "=" * rule, header, "-" * rule]
    for r in order:
        latency = f"{r.avg_latency:.2f}s" if r.avg_latency is not None else "n/a"
        line = f"{r.name:<{width}}{r.avg_quality:>12.3f}{latency:>13}{100 * r.best_model_rate:>14.1f}%{r.avg_objective:>16.3f}"
        if has_latency:
            line += f"{r.p95_latency:>12.2f}s" if r.p95_latency is not None else f"{'n/a':>13}"
        if has_cost:
            line += f"{r.avg_cost:>12.6f}" if r.avg_cost is not None else f"{'n/a':>12}"
        lines.append(line)
    lines.append("=" * rule)
    return "\n".join(lines)


def format_benefits(results: list[StrategyResult]) -> str:
    lines = ["ML Routing Benefit:"]
    default = next((r for r in results if r.kind == "decision_default"), None)
    for b in routing_benefits(results):
        gap = f"{100 * b.oracle_gap_closed:.1f}%" if b.oracle_gap_closed is not None else "n/a (no gap)"
        lines += [
            f"  - {b.selector} improves quality by {100 * b.quality_vs_random:+.1f}% over random "
            f"(objective {100 * b.objective_vs_random:+.1f}%)",
            f"  - {b.selector} vs best single model: quality {100 * b.quality_vs_best_single:+.1f}%, "
            f"objective {100 * b.objective_vs_best_single:+.1f}%; closes {gap} of the gap to Oracle",
            f"  - {b.selector} selects a best model {b.best_rate_vs_random:.1f}x as often as random",
        ]
        if b.objective_vs_by_category is not None:
            lines.append(f"  - {b.selector} vs routing by category alone: objective {100 * b.objective_vs_by_category:+.1f}%")
        if default is not None:
            mine = next(r for r in results if r.name == b.selector)
            gain = (mine.avg_objective - default.avg_objective) / abs(default.avg_objective) if default.avg_objective else 0.0
            lines.append(
                f"  - {b.selector} vs each decision's first modelRef (the router without a selector): objective {100 * gain:+.1f}%"
            )
    return "\n".join(lines)


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


def evaluate_once(
    table,
    loaded: LoadedSelectors,
    queries: list[str],
    features: np.ndarray,
    objective: Objective,
    ranking: list[str] | None,
    category_models: dict[str, str] | None,
    routes: QueryRoutes | None = None,
) -> tuple[list[StrategyResult], dict]:
    eval_table = EvalTable.build(table, queries, table.models, objective)
    results = evaluate_baselines(eval_table, ranking, category_models)
    if routes is not None:
        results += decision_baselines(eval_table, [routes.candidates(q) for q in queries], ranking)
    selector_results, failed = evaluate_selectors(loaded, features, eval_table, routes)
    return results + selector_results, failed


def cross_validate(args, table: OutcomeTable, embed, log, decisions=None) -> dict:
    """K query-level folds: train on K-1 and replay on the held-out fold (training.replay_held_out;
    with `decisions`, trained and replayed for the router's decision candidates). Returns, per
    strategy, the mean and spread of quality, objective and best-model rate over the folds."""
    per_strategy: dict[str, list[dict]] = {}
    settings = settings_from_args(args)
    complete = {q for q in table.queries if len(table.outcomes_by_query[q]) == len(table.models)}
    for fold, (train_q, held_out) in enumerate(fold_splits(table.queries, args.cross_validate, args.seed)):
        test_q = [q for q in held_out if q in complete]
        replay = replay_held_out(table, train_q, test_q, embed, settings, decisions)
        trained = replay.trained
        routes = query_routes(test_q, decisions, table.decision_by_query, table.category_by_query) if decisions else None
        ranking = [m for m, _ in trained.ranking]
        loaded = LoadedSelectors(trained.artifacts, {}, {})
        results, failed = evaluate_once(table, loaded, test_q, replay.features, trained.objective, ranking, trained.category_models, routes)
        for kind, why in failed.items():
            log(f"fold {fold}: {kind} failed: {why}")
        for r in results:
            name = "Best single (chosen on train)" if r.kind == "best_single" else r.name
            per_strategy.setdefault(name, []).append(
                {"avg_quality": r.avg_quality, "avg_objective": r.avg_objective, "best_model_rate": r.best_model_rate}
            )
        log(f"  fold {fold + 1}/{args.cross_validate}: {len(train_q)} train, {len(test_q)} evaluated")
    return {
        name: {key: {"mean": float(np.mean([r[key] for r in rows])), "std": float(np.std([r[key] for r in rows]))} for key in rows[0]}
        for name, rows in per_strategy.items()
    }


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
    summary = cross_validate(args, table, embedder.embed, log, router_decisions(profile, table, log))
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
