"""Routing metrics: score strategies (Oracle, selectors, Random, Always-<model>) on an outcome table.

All scoring goes through the one `Objective` of data_loader, with the parameters the artifacts
were trained with, so a choice is judged exactly as training ranked it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from data_loader import TIE_TOLERANCE, Objective, OutcomeTable


@dataclass
class EvalTable:
    """Dense matrices over queries that have outcomes for every model."""

    queries: list[str]
    models: list[str]
    quality: np.ndarray  # n x M
    latency: np.ndarray  # n x M, NaN when unknown
    cost: np.ndarray  # n x M, NaN when unknown
    score: np.ndarray  # n x M objective
    categories: list[str] = field(default_factory=list)  # per query, the router's category

    @classmethod
    def build(cls, table: OutcomeTable, queries: list[str], models: list[str], objective: Objective) -> "EvalTable":
        n, m = len(queries), len(models)
        quality, latency, cost, score = (np.full((n, m), np.nan) for _ in range(4))
        for i, query in enumerate(queries):
            for j, model in enumerate(models):
                o = table.outcomes_by_query[query][model]
                quality[i, j] = o.quality
                latency[i, j] = np.nan if o.latency is None else o.latency
                cost[i, j] = np.nan if o.cost is None else o.cost
                score[i, j] = objective.score(o)
        categories = [table.category_by_query[q] for q in queries]
        return cls(list(queries), list(models), quality, latency, cost, score, categories)

    @property
    def is_best(self) -> np.ndarray:
        """Models whose objective is within the tie tolerance of the query's best: ties all count."""
        return self.score >= self.score.max(axis=1, keepdims=True) - TIE_TOLERANCE


@dataclass
class StrategyResult:
    name: str
    kind: str  # oracle | selector | random | always | best_single | by_category | decision_default | decision_oracle
    avg_quality: float
    avg_latency: float | None
    p95_latency: float | None
    avg_cost: float | None
    avg_objective: float
    best_model_rate: float
    selection_counts: dict[str, float]
    ties: int = 0
    note: str = ""
    # The router's rule on the selector's labels (models.serve): labels outside the query's decision
    # candidates sent to its first modelRef, per decision, and one-candidate decisions that skip it.
    fallbacks: int = 0
    fallbacks_by_decision: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    elsewhere: int = 0  # queries of decisions that use another algorithm (their first modelRef stands in)

    def to_dict(self) -> dict:
        return asdict(self)


def _mean_or_none(values: np.ndarray) -> float | None:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else None


def _p95_or_none(values: np.ndarray) -> float | None:
    values = values[~np.isnan(values)]
    return float(np.percentile(values, 95)) if values.size else None


def evaluate_choices(name: str, kind: str, choices: list[str], table: EvalTable, ties: int = 0, note: str = "") -> StrategyResult:
    index = {m: j for j, m in enumerate(table.models)}
    unknown = sorted({c for c in choices if c not in index})
    if unknown:
        raise ValueError(f"{name} chose models with no outcomes in the data: {', '.join(unknown)}")
    rows = np.arange(len(choices))
    cols = np.array([index[c] for c in choices], dtype=int)
    counts = {m: 0 for m in table.models}
    for c in choices:
        counts[c] += 1
    return StrategyResult(
        name=name,
        kind=kind,
        avg_quality=float(table.quality[rows, cols].mean()),
        avg_latency=_mean_or_none(table.latency[rows, cols]),
        p95_latency=_p95_or_none(table.latency[rows, cols]),
        avg_cost=_mean_or_none(table.cost[rows, cols]),
        avg_objective=float(table.score[rows, cols].mean()),
        best_model_rate=float(table.is_best[rows, cols].mean()),
        selection_counts=counts,
        ties=ties,
        note=note,
    )


def oracle_choices(table: EvalTable, ranking: list[str] | None = None) -> list[str]:
    """Best objective per query; ties go to the better-ranked model (or the first column)."""
    order = [table.models.index(m) for m in (ranking or []) if m in table.models]
    order += [j for j in range(len(table.models)) if j not in order]
    best = table.is_best
    return [table.models[next(j for j in order if best[i, j])] for i in range(len(table.queries))]


def evaluate_random(table: EvalTable) -> StrategyResult:
    """The exact expectation of a uniform random choice, not one noisy draw. p95 latency is taken
    over the pooled latencies of all models (each equally likely)."""
    n, m = table.quality.shape
    return StrategyResult(
        name="Random Selection",
        kind="random",
        avg_quality=float(table.quality.mean()),
        avg_latency=_mean_or_none(table.latency.ravel()),
        p95_latency=_p95_or_none(table.latency.ravel()),
        avg_cost=_mean_or_none(table.cost.ravel()),
        avg_objective=float(table.score.mean()),
        best_model_rate=float(table.is_best.mean()),
        selection_counts={model: n / m for model in table.models},
        note="exact expectation over a uniform choice",
    )


def category_choices(table: EvalTable, category_models: dict[str, str], fallback: str) -> tuple[list[str], int]:
    """(Each query's category's model, how many queries went to `fallback` instead): their category
    had no model in training, or its model has no outcomes in `table`."""
    usable = {c: m for c, m in category_models.items() if m in table.models}
    return [usable.get(c, fallback) for c in table.categories], sum(c not in usable for c in table.categories)


def evaluate_baselines(table: EvalTable, ranking: list[str] | None, category_models: dict[str, str] | None = None) -> list[StrategyResult]:
    """Oracle, Random, Always-<model>, Best single and, given `category_models`, Best per category.

    Best single is the top of `ranking` (the training side's ranking, from the artifact metadata)
    when given; otherwise it is chosen on the evaluated queries themselves and marked as such.
    Best per category routes each query to its category's best model on the training queries
    (`category_models`, from the metadata); a category training never saw goes to Best single.
    """
    results = [evaluate_choices("Oracle (best)", "oracle", oracle_choices(table, ranking), table), evaluate_random(table)]
    for model in table.models:
        results.append(evaluate_choices(f"Always {model}", "always", [model] * len(table.queries), table))
    single = next((m for m in (ranking or []) if m in table.models), None)
    if single is not None:
        best = evaluate_choices(f"Best single ({single}, chosen on train)", "best_single", [single] * len(table.queries), table)
    else:
        single = max((r for r in results if r.kind == "always"), key=lambda r: r.avg_objective).name[len("Always ") :]
        best = evaluate_choices(
            f"Best single ({single}, chosen on test!)",
            "best_single",
            [single] * len(table.queries),
            table,
            note="chosen on the evaluated queries: optimistic",
        )
    results.append(best)
    if category_models:
        choices, unseen = category_choices(table, category_models, single)
        placed = "query of a category" if unseen == 1 else "queries of categories"
        note = f"{unseen} {placed} without a model in these data: sent to the best single model" if unseen else ""
        results.append(evaluate_choices("Best per category (chosen on train)", "by_category", choices, table, note=note))
    return results


def decision_baselines(table: EvalTable, candidates: list[tuple[str, ...] | None], ranking: list[str] | None) -> list[StrategyResult]:
    """With the router's decisions (one candidates tuple per query, None: no decision known):
    each query sent to its decision's first modelRef (what the router serves without a selector;
    the best single model when no decision is known), and the Oracle among the candidates (the
    best a selector can reach under the router's rule)."""
    order = [m for m in (ranking or []) if m in table.models] + [m for m in table.models if m not in (ranking or [])]
    index = {m: j for j, m in enumerate(table.models)}
    single = order[0]
    first = [c[0] if c else single for c in candidates]
    best = []
    for i, allowed in enumerate(candidates):
        pool = [m for m in order if m in (allowed or order)]
        top = max(table.score[i, index[m]] for m in pool)
        best.append(next(m for m in pool if table.score[i, index[m]] >= top - TIE_TOLERANCE))
    unknown = sum(c is None for c in candidates)
    note = f"{unknown} queries without a known decision: the best single model" if unknown else ""
    return [
        evaluate_choices("Each decision's first modelRef", "decision_default", first, table, note=note),
        evaluate_choices("Oracle (decision candidates)", "decision_oracle", best, table),
    ]


@dataclass
class Benefit:
    selector: str
    quality_vs_random: float  # relative, e.g. 0.12 = +12%
    objective_vs_random: float
    quality_vs_best_single: float
    objective_vs_best_single: float
    oracle_gap_closed: float | None  # share of (oracle - best single) objective gap closed
    best_rate_vs_random: float = field(default=0.0)
    objective_vs_by_category: float | None = None  # relative to Best per category, when evaluated


def _relative(a: float, b: float) -> float:
    return (a - b) / abs(b) if b else float("inf") if a > b else 0.0


def routing_benefits(results: list[StrategyResult]) -> list[Benefit]:
    by_kind = {r.kind: r for r in results if r.kind in ("oracle", "random", "best_single")}
    oracle, random, single = by_kind["oracle"], by_kind["random"], by_kind["best_single"]
    by_category = next((r for r in results if r.kind == "by_category"), None)
    out = []
    for r in results:
        if r.kind != "selector":
            continue
        gap = oracle.avg_objective - single.avg_objective
        out.append(
            Benefit(
                selector=r.name,
                quality_vs_random=_relative(r.avg_quality, random.avg_quality),
                objective_vs_random=_relative(r.avg_objective, random.avg_objective),
                quality_vs_best_single=_relative(r.avg_quality, single.avg_quality),
                objective_vs_best_single=_relative(r.avg_objective, single.avg_objective),
                oracle_gap_closed=(r.avg_objective - single.avg_objective) / gap if gap > 1e-12 else None,
                best_rate_vs_random=r.best_model_rate / random.best_model_rate if random.best_model_rate else 0.0,
                objective_vs_by_category=_relative(r.avg_objective, by_category.avg_objective) if by_category else None,
            )
        )
    return out
