"""Replaying a trained set on held-out queries: load and check its files, choose the queries,
evaluate every strategy with the runtime's Select (models.select) and the router's candidate
rule (models.serve), and format the report. validate.py turns its flags into these calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data_loader import CATEGORIES, DataError, Objective, OutcomeTable, query_hash, query_set_digest, split_queries
from evaluation import EvalTable, StrategyResult, decision_baselines, evaluate_baselines, evaluate_choices, routing_benefits
from models import (
    ARTIFACT_FILES,
    ArtifactError,
    QueryRoutes,
    decode_metadata,
    feature_dim_of,
    load_artifact,
    query_routes,
    select,
    serve,
)
from router_profile import DecisionProfile
from training import TrainSettings, evaluation_folds, replay_held_out, router_decisions

BOLD, RESET = "\033[1m", "\033[0m"


@dataclass
class LoadedSelectors:
    """A set's files as parsed and checked (models.load_artifact), and the ones that could not be used."""

    artifacts: dict[str, dict]
    failed: dict[str, str]  # algorithm -> why it could not be used
    metadata: dict  # decoded, from the first artifact that has it ({} when none has)
    warnings: list[str] = field(default_factory=list)


def load_selectors(models_dir: Path, algorithms: list[str]) -> LoadedSelectors:
    """Parse each file as the runtime would; a file that fails, or whose metadata disagrees with
    the others (embedding model, feature size, categories, objective), is set aside with the reason."""
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
    """The queries to evaluate, the notes that say why these, and how many were seen in training."""

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
    complete = table.complete(queries)
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
    """The baselines (and, with `routes`, the decisions' references) and every selector replayed on
    `queries` (features: len(queries) x d); returns (results, {kind: why it failed})."""
    eval_table = EvalTable.build(table, queries, table.models, objective)
    results = evaluate_baselines(eval_table, ranking, category_models)
    if routes is not None:
        results += decision_baselines(eval_table, [routes.candidates(q) for q in queries], ranking)
    selector_results, failed = evaluate_selectors(loaded, features, eval_table, routes)
    return results + selector_results, failed


def cross_validate(table: OutcomeTable, embed, settings: TrainSettings, k: int, seed: int, log=print, decisions=None) -> dict:
    """K query-level folds (by query hash and `seed`): train on K-1 and replay on the held-out
    fold (training.replay_held_out; with `decisions`, trained and replayed for the router's
    decision candidates). Returns, per strategy, the mean and spread (std) of quality, objective
    and best-model rate over the folds."""
    per_strategy: dict[str, list[dict]] = {}
    for fold, (train_q, test_q) in enumerate(evaluation_folds(table, table.queries, k, seed)):
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
        log(f"  fold {fold + 1}/{k}: {len(train_q)} train, {len(test_q)} evaluated")
    return {
        name: {key: {"mean": float(np.mean([r[key] for r in rows])), "std": float(np.std([r[key] for r in rows]))} for key in rows[0]}
        for name, rows in per_strategy.items()
    }
