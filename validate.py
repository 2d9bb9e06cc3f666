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

from data_loader import (
    CATEGORIES,
    DATA_REPO,
    MODELS_REPO,
    VALIDATION_DATA_FILE,
    DataError,
    Objective,
    build_outcome_table,
    fit_objective,
    fold_of,
    load_records,
    query_hash,
    query_set_digest,
    split_queries,
)
from embeddings import (
    EmbeddingModelError,
    embedder_for_profile,
    embedding_cache_dir,
    is_router_model,
    make_embedder,
    random_unit_vectors,
    resolve_model,
)
from evaluation import EvalTable, StrategyResult, decision_baselines, evaluate_baselines, evaluate_choices, routing_benefits
from models import (
    ALGORITHMS,
    ARTIFACT_FILES,
    ArtifactError,
    QueryRoutes,
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
from router_profile import RouterConfigError, add_router_config_argument, check_deploy, profile_from_args, recorded_embedding
from runtime_cost import DEFAULT_COST_SAMPLE, format_costs, measure_costs
from skew import format_report, sample_queries, skew_report
from train import (
    add_router_arguments,
    add_training_arguments,
    router_decisions,
    settings_from_args,
    train_from_table,
)

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
        from router_profile import DecisionProfile

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


def _fetch(args, log) -> tuple[Path, Path]:
    models_dir = Path(args.models_dir)
    algorithms = list(ALGORITHMS) if args.algorithm == "all" else [args.algorithm]
    missing = [k for k in algorithms if not (models_dir / ARTIFACT_FILES[k]).exists()]
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
    if missing and args.no_download and len(missing) == len(algorithms):
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


def cross_validate(args, table, embedder_fn, log, decisions=None) -> dict:
    """K query-level folds: train with train.py's code on K-1, evaluate on the held-out fold
    (with `decisions`, trained and replayed for the router's decision candidates)."""

    k = args.cross_validate
    folds = fold_of(table.queries, k, args.seed)
    per_strategy: dict[str, list[dict]] = {}
    settings = settings_from_args(args)
    for fold in range(k):
        train_q = [q for q in table.queries if folds[q] != fold]
        test_q = [q for q in table.queries if folds[q] == fold and len(table.outcomes_by_query[q]) == len(table.models)]
        trained = train_from_table(table, train_q, embedder_fn, settings, decisions=decisions)
        loaded = LoadedSelectors(trained.artifacts, {}, {})
        routes = query_routes(test_q, decisions, table.decision_by_query, table.category_by_query) if decisions else None
        features = build_features(embedder_fn(table.texts(test_q)), [table.category_by_query[q] for q in test_q])
        ranking = [m for m, _ in trained.ranking]
        results, failed = evaluate_once(table, loaded, test_q, features, trained.objective, ranking, trained.category_models, routes)
        for kind, why in failed.items():
            log(f"fold {fold}: {kind} failed: {why}")
        for r in results:
            name = "Best single (chosen on train)" if r.kind == "best_single" else r.name
            per_strategy.setdefault(name, []).append(
                {"avg_quality": r.avg_quality, "avg_objective": r.avg_objective, "best_model_rate": r.best_model_rate}
            )
        log(f"  fold {fold + 1}/{k}: {len(train_q)} train, {len(test_q)} evaluated")
    summary = {}
    for name, rows in per_strategy.items():
        summary[name] = {
            key: {"mean": float(np.mean([r[key] for r in rows])), "std": float(np.std([r[key] for r in rows]))} for key in rows[0]
        }
    return summary


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


def run(args: argparse.Namespace) -> int:
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    use_token(router_token(args.router_token))
    print("=" * 70 + "\n  ML Model Selection Validation (runtime replay)\n" + "=" * 70)
    if args.cross_validate:
        models_dir, data_file = Path(args.models_dir), Path(args.data_file or "")
        if not args.data_file:
            raise DataError("--cross-validate needs --data-file (the training data to fold)")
    else:
        models_dir, data_file = _fetch(args, log)
    algorithms = list(ALGORITHMS) if args.algorithm == "all" else [args.algorithm]
    log(f"Data file:   {data_file}\nModels dir:  {models_dir}\nAlgorithm:   {args.algorithm}\nTest split:  {100 * args.test_split:.0f}%\n")

    records, report = load_records(data_file, strict=args.strict)
    table = build_outcome_table(records, report)
    for line in report.summary_lines():
        log(line)

    embedding_name = args.embedding_model or args.qwen3_model
    profile = profile_from_args(args, log)
    if args.cross_validate:
        embedder = make_embedder(
            embedding_name if profile is not None else embedding_name or "qwen3",
            args.device,
            args.batch_size,
            embedding_cache_dir(args.cache_dir),
            args.quiet,
            args.router_url,
            args.router_dimension or 1024,
            profile=profile,
        )
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

    loaded = load_selectors(models_dir, algorithms)
    for warning in loaded.warnings:
        log(f"warning: {warning}")
    meta = loaded.metadata
    if not loaded.artifacts:
        for kind, why in loaded.failed.items():
            print(f"FAILED {kind}: {why}", file=sys.stderr)
        return 1
    if profile is not None:
        deploy = check_deploy(profile, loaded.artifacts, meta)
        for line in deploy.lines():
            print(line, file=sys.stderr if line.startswith("DEPLOY ERROR") else sys.stdout)
        if not deploy.ok:
            print(f"error: {models_dir} is not a set {profile.source} can use as trained (see above)", file=sys.stderr)
            return 1
        log(f"Deploy check against {profile.source}: passed")
    if meta.get("categories") and meta["categories"] != list(CATEGORIES):
        raise ArtifactError(f"the artifacts use a different category order {meta['categories']}: their one-hot would not match")
    trained_model = meta.get("embedding_model")
    if embedding_name and trained_model and not args.no_embeddings and profile is None:
        asked = resolve_model(embedding_name).model_id
        if asked != trained_model:
            raise ArtifactError(f"the artifacts were trained with {trained_model!r}, not {asked!r}: their vectors would not match")
    if not trained_model and not embedding_name and not args.no_embeddings and profile is None:
        raise ArtifactError("the artifacts carry no metadata naming their embedding model: pass --embedding-model (or --qwen3-model PATH)")

    if meta.get("objective"):
        objective = Objective.from_dict(meta["objective"])
    else:
        objective = fit_objective(table)
        log("warning: no objective in the metadata: ref fitted on the evaluated data itself")
    ranking = [m for m, _ in meta.get("model_ranking", [])] or None

    plan = choose_eval_queries(table, meta, report.sha256, args.test_split, args.seed, args.include_seen)
    for note in plan.notes:
        print(note)
    if not plan.queries:
        print("error: no query left to evaluate (see the notes above)", file=sys.stderr)
        return 1
    print(f"Loaded {len(plan.queries)} test queries with {len(table.models)} models\nModels: {', '.join(table.models)}")

    dimension = int(meta.get("embedding_dim") or 0)
    if args.no_embeddings:
        if not dimension:
            dimension = (feature_dim_of(*next(iter(loaded.artifacts.items()))) or 1038) - len(CATEGORIES)
        vectors = random_unit_vectors(plan.queries, dimension, args.seed)
        print(f"{BOLD}--no-embeddings: RANDOM unit vectors (plumbing check only; selector numbers are meaningless){RESET}")
        embedding_id = "random"
    elif profile is None and recorded_embedding(meta) is not None and not is_router_model(trained_model or ""):
        # A set trained for a router profile: the embedding it recorded (--router-config to check it against a router).
        trained_for = SimpleNamespace(source=f"{models_dir} (the profile it was trained for)", embedding=recorded_embedding(meta))
        embedder = embedder_for_profile(
            trained_for, embedding_name, args.device, args.batch_size, embedding_cache_dir(args.cache_dir), args.quiet, args.router_url
        )
        vectors = embedder.embed(plan.queries)
        embedding_id = embedder.model_id
        log(f"Embedded {len(plan.queries)} queries with {embedding_id} ({embedder.cache_hits} cached)")
    else:
        # With a router profile: the vectors that router will compute, whatever the set recorded.
        embedder = make_embedder(
            embedding_name if profile is not None else embedding_name or trained_model,
            args.device,
            args.batch_size,
            embedding_cache_dir(args.cache_dir),
            args.quiet,
            args.router_url or meta.get("router_url"),
            args.router_dimension or dimension or 1024,
            profile=profile,
        )
        vectors = embedder.embed(table.texts(plan.queries))  # `prompt` when recorded: the text the router embeds
        embedding_id = embedder.model_id
        log(f"Embedded {len(plan.queries)} queries with {embedding_id} ({embedder.cache_hits} cached)")
    features = build_features(vectors, [table.category_by_query[q] for q in plan.queries])

    by_category = meta.get("category_models")
    if by_category is not None and not (isinstance(by_category, dict) and all(isinstance(v, str) for v in by_category.values())):
        log("warning: the metadata's category_models is not an object of category -> model name: no 'Best per category' row")
        by_category = None
    routes = replay_routes(profile, table, meta, plan.queries, log)
    results, failed = evaluate_once(table, loaded, plan.queries, features, objective, ranking, by_category, routes)
    print("\nEvaluating strategies...\n")
    print(format_table(results, len(plan.queries), len(table.models)))
    for kind, why in failed.items():
        print(f"{BOLD}FAILED {kind.upper()} Selection: {why}{RESET}")
    if routes is not None:
        for line in format_fallbacks(results, routes):
            print(line)
    ties = {r.name: r.ties for r in results if r.kind == "selector" and r.ties}
    for name, n in ties.items():
        print(f"note: {name}: {n} queries had an exact tie (the runtime's choice is arbitrary there)")
    print()
    print(format_benefits(results))
    print(f"\nObjective: {objective.describe()}")
    usable = {kind: a for kind, a in loaded.artifacts.items() if kind not in failed}  # replayed without error
    sizes = {kind: (models_dir / ARTIFACT_FILES[kind]).stat().st_size for kind in usable}
    costs = measure_costs(usable, features, args.cost_sample, sizes)
    print("\n" + "\n".join(format_costs(costs)))
    skew = None
    if args.router_url and not args.no_embeddings and not is_router_model(embedder.model_id) and loaded.artifacts:
        router_model = profile.embedding.model_type if profile is not None else "qwen3"  # the model the router runs
        skew = report_skew(args, table, loaded, plan.queries, vectors, failed, router_model)
    if args.output_json:
        payload = {
            "data_file": str(data_file),
            "models_dir": str(models_dir),
            "embedding_model": embedding_id,
            "objective": objective.to_dict(),
            "n_queries": len(plan.queries),
            "models": table.models,
            "coverage_notes": [n.replace(BOLD, "").replace(RESET, "") for n in plan.notes],
            "overlap": plan.overlap,
            "strategies": [r.to_dict() for r in results],
            "failed": failed,
            "benefits": [vars(b) for b in routing_benefits(results)],
            "seed": args.seed,
            "random_embeddings": bool(args.no_embeddings),
            "skew": skew.to_dict() if skew else None,
            "decision_queries": dict(Counter(routes.decision_by_query.values())) if routes else None,
            "router_cost": {kind: cost.to_dict() for kind, cost in costs.items()},
        }
        Path(args.output_json).write_text(json.dumps(payload, indent=2))
        log(f"Wrote {args.output_json}")
    if args.plot:
        plot_results(results, Path(args.plot), f"{data_file.name}: {len(plan.queries)} queries\nembeddings: {embedding_id}")
        log(f"Wrote {args.plot}")
    return 2 if failed and not results else (1 if failed else 0)


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
    except (DataError, ArtifactError, EmbeddingModelError, RouterConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # hub errors and the like: one line, not a traceback
        from hub import HubError

        if isinstance(exc, HubError):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
