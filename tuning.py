"""train.py --tune: each selector's settings chosen by K-fold cross-validation on the training queries.

Only the training queries are folded (the caller's held-out queries and any test file are never
seen); query embeddings are computed once; every candidate is trained and replayed by
training.replay_held_out (train_from_table, then models.select, the runtime replay) and judged
by the one objective. The grids are the selectors' own (models.Selector.tuning_grid). Each grid
holds a setting that amounts to "always the best single model" (KNN labels smoothed over every
training query, one KMeans cluster), so a tuned selector is not expected to lose to the best
single model on cross-validation; where the best candidate still does not beat it, the report
says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from data_loader import OutcomeTable
from evaluation import EvalTable, evaluate_baselines, evaluate_choices
from models import SELECTORS
from training import TrainSettings, evaluation_folds, replay_held_out

DEFAULT_FOLDS = 5
DEFAULT_BUDGET_SECONDS = 240.0  # with the final training, under 5 minutes for 5.6k queries x 9 models


def candidate_grid(kind: str, settings: TrainSettings, n_train: int) -> list[dict]:
    """The settings tried for one selector (its registry entry's tuning grid, by train keyword),
    today's values first, so a tight budget still has them. A selector without a grid: today's only."""
    current = settings.selector_kwargs(kind)
    make_grid = SELECTORS[kind].tuning_grid
    grid = make_grid(current, n_train) if make_grid else []
    default = {param: current[param] for param in (grid[0] if grid else settings.tuned_params(kind))}
    return [default] + [c for c in grid if c != default]


def describe(params: dict) -> str:
    return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


@dataclass
class Estimate:
    """Mean and spread over the folds."""

    objective: tuple[float, float]
    quality: tuple[float, float]
    efficiency: tuple[float, float] | None  # mean latency (s) or cost (USD) of the choices; None without data

    @classmethod
    def of(cls, results) -> "Estimate":
        def spread(values):
            return float(np.mean(values)), float(np.std(values))

        efficiency = [r.avg_latency if r.avg_latency is not None else r.avg_cost for r in results]
        return cls(
            spread([r.avg_objective for r in results]),
            spread([r.avg_quality for r in results]),
            spread(efficiency) if all(e is not None for e in efficiency) else None,
        )

    def to_dict(self) -> dict:
        return {"objective": list(self.objective), "quality": list(self.quality), "efficiency": self.efficiency and list(self.efficiency)}


@dataclass
class SelectorTuning:
    chosen: dict
    estimate: Estimate
    tried: list[tuple[dict, float]]  # (params, mean objective), in the order tried
    beats_best_single: bool


@dataclass
class TuningReport:
    folds: int
    n_queries: int
    seconds: float
    selectors: dict[str, SelectorTuning] = field(default_factory=dict)
    best_single: Estimate | None = None
    oracle: Estimate | None = None
    by_category: Estimate | None = None
    out_of_budget: list[str] = field(default_factory=list)  # selectors whose grid the budget cut short

    def to_metadata(self) -> dict:
        return {
            "folds": self.folds,
            "n_queries": self.n_queries,
            "seconds": round(self.seconds, 1),
            "best_single": self.best_single.to_dict() if self.best_single else None,
            "oracle": self.oracle.to_dict() if self.oracle else None,
            "by_category": self.by_category.to_dict() if self.by_category else None,
            "selectors": {
                kind: {
                    "chosen": t.chosen,
                    "cv": t.estimate.to_dict(),
                    "beats_best_single": t.beats_best_single,
                    "tried": [[p, round(o, 6)] for p, o in t.tried],
                }
                for kind, t in self.selectors.items()
            },
            "out_of_budget": self.out_of_budget,
        }


def embedded_once(embed, texts: list[str]):
    """(text -> vector, an embed function that looks texts up): every text embedded one time only."""
    lookup = dict(zip(texts, embed(texts)))

    def lookup_embed(wanted):
        return np.array([lookup[t] for t in wanted])

    return lookup, lookup_embed


def tune(
    table: OutcomeTable,
    queries: list[str],
    embed,
    settings: TrainSettings,
    folds: int = DEFAULT_FOLDS,
    budget_seconds: float = DEFAULT_BUDGET_SECONDS,
    log=print,
) -> tuple[TrainSettings, TuningReport]:
    """(settings with each selector's chosen values, report). Each candidate is trained and
    replayed on every fold by training.replay_held_out; the budget covers training, not embedding."""
    started = time.monotonic()
    _, cached_embed = embedded_once(embed, table.texts(queries))  # for every fold and candidate; `prompt` when recorded
    fold_data = evaluation_folds(table, queries, folds, settings.seed)
    report = TuningReport(folds, len(queries), 0.0)
    budget_started = time.monotonic()  # the budget is for training candidates, not for embedding
    baselines = {"best_single": [], "oracle": [], "by_category": []}
    candidates = {kind: candidate_grid(kind, settings, len(queries)) for kind in settings.algorithms}
    progress = {"done": 0, "total": sum(len(c) for c in candidates.values())}
    chosen_settings = settings
    for kind, grid in candidates.items():
        # This selector's share of what is left of the budget, by its number of candidates:
        # time a faster selector did not use goes to the next.
        left = sum(len(candidates[k]) for k in list(candidates)[list(candidates).index(kind) :])
        share = (budget_seconds - (time.monotonic() - budget_started)) * len(grid) / left
        tried = _try_candidates(kind, grid, share, table, fold_data, cached_embed, settings, baselines, report, progress, log)
        best_params, best_results = max(tried, key=lambda pr: Estimate.of(pr[1]).objective[0])  # first max: default wins ties
        estimate = Estimate.of(best_results)
        single = Estimate.of(baselines["best_single"])
        report.selectors[kind] = SelectorTuning(
            best_params,
            estimate,
            [(p, Estimate.of(r).objective[0]) for p, r in tried],
            estimate.objective[0] > single.objective[0] + 1e-12,
        )
        chosen_settings = chosen_settings.with_params(kind, best_params)
    report.best_single = Estimate.of(baselines["best_single"])
    report.oracle = Estimate.of(baselines["oracle"])
    report.by_category = Estimate.of(baselines["by_category"])
    report.seconds = time.monotonic() - started
    return chosen_settings, report


def _try_candidates(kind, grid, share, table, fold_data, embed, settings, baselines, report, progress, log) -> list[tuple[dict, list]]:
    """Cross-validate `kind`'s candidates in order until its share of the budget (s) is spent;
    the baselines are measured once per fold alongside. Returns (params, per-fold results)."""
    kind_started = time.monotonic()
    tried: list[tuple[dict, list]] = []
    for params in grid:
        if tried and time.monotonic() - kind_started > share:
            report.out_of_budget.append(kind)
            log(f"  {kind}: time budget spent after {len(tried)} of {len(grid)} settings")
            break
        trial = settings.replace(algorithms=(kind,)).with_params(kind, params)
        fold_results = []
        for train_queries, test_queries in fold_data:
            replay = replay_held_out(table, train_queries, test_queries, embed, trial)
            eval_table = EvalTable.build(table, test_queries, table.models, replay.trained.objective)
            fold_results.append(evaluate_choices(kind, "selector", replay.choices(kind), eval_table))
            if len(baselines["oracle"]) < len(fold_data):  # once per fold
                ranking = [m for m, _ in replay.trained.ranking]
                by_kind = {r.kind: r for r in evaluate_baselines(eval_table, ranking, replay.trained.category_models)}
                for name, per_fold in baselines.items():
                    per_fold.append(by_kind[name])
        tried.append((params, fold_results))
        progress["done"] += 1
        estimate = Estimate.of(fold_results)
        log(
            f"  [{progress['done']}/{progress['total']}] {kind} {describe(params)}: "
            f"objective {estimate.objective[0]:.4f} ±{estimate.objective[1]:.4f}"
        )
    return tried


def format_report(report: TuningReport, basis: str) -> list[str]:
    unit = {"latency": "latency (s)", "cost": "cost (USD)"}.get(basis, "efficiency")

    def row(name: str, e: Estimate) -> str:
        eff = f"{e.efficiency[0]:.4g} ±{e.efficiency[1]:.2g}" if e.efficiency else "n/a"
        return f"{name:<46}{e.objective[0]:>8.4f} ±{e.objective[1]:.4f}{e.quality[0]:>9.4f} ±{e.quality[1]:.4f}{eff:>22}"

    lines = [
        f"Tuning: {report.folds}-fold cross-validation on {report.n_queries} training queries ({report.seconds:.0f} s)",
        f"{'Strategy (chosen settings)':<46}{'objective':>16}{'quality':>17}{unit:>22}",
    ]
    for kind, t in report.selectors.items():
        lines.append(row(f"{kind.upper()} ({describe(t.chosen)})", t.estimate))
    lines.append(row("Best single model (chosen per fold on train)", report.best_single))
    if report.by_category:
        lines.append(row("Best per category (chosen per fold on train)", report.by_category))
    lines.append(row("Oracle", report.oracle))
    for kind, t in report.selectors.items():
        if not t.beats_best_single:
            lines.append(
                f"{kind.upper()} does not beat the best single model on cross-validation "
                f"({t.estimate.objective[0]:.4f} vs {report.best_single.objective[0]:.4f}): routing with it is not expected to pay here."
            )
        elif report.by_category and t.estimate.objective[0] <= report.by_category.objective[0] + 1e-12:
            lines.append(
                f"{kind.upper()} does not beat routing by category alone on cross-validation "
                f"({t.estimate.objective[0]:.4f} vs {report.by_category.objective[0]:.4f}): a category -> model table does as well."
            )
    return lines
