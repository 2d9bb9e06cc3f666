"""train.py --tune: each selector's settings chosen by K-fold cross-validation on the training queries.

Only the training queries are folded (the caller's held-out queries and any test file are never
seen); query embeddings are computed once; every candidate is trained with train.py's own
`train_from_table` and replayed with `models.select`, the runtime replay, and judged by the one
objective. Each grid holds a setting that amounts to "always the best single model" (KNN labels
smoothed over every training query, one KMeans cluster), so a tuned selector is not expected to
lose to the best single model on cross-validation; where the best candidate still does not beat
it, the report says so.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from data_loader import OutcomeTable, fold_of
from evaluation import EvalTable, evaluate_baselines, evaluate_choices
from models import build_features, select

DEFAULT_FOLDS = 5
KNN_ROW_BUDGETS = (0, 250, 1000)  # --knn-max-rows values the tuner tries besides the default
DEFAULT_BUDGET_SECONDS = 240.0  # with the final training, under 5 minutes for 5.6k queries x 9 models
# Which TrainSettings field each grid parameter sets.
SETTING_OF = {
    ("knn", "k"): "knn_k",
    ("knn", "smoothing"): "knn_smoothing",
    ("knn", "max_rows"): "knn_max_rows",
    ("kmeans", "clusters"): "kmeans_clusters",
    ("svm", "C"): "svm_c",
    ("svm", "gamma"): "svm_gamma",
}


def candidate_grid(kind: str, settings, n_train: int) -> list[dict]:
    """The settings tried for one selector, today's defaults first (a tight budget still has them)."""
    # Most promising first (from 5-fold runs on public routing data), so a budget that runs out
    # has tried what matters; "always the best single model" early (KNN smoothing over every
    # training query, one KMeans cluster).
    if kind == "knn":
        pairs = [(5, n_train), (15, 30), (15, 60), (5, 60), (15, 120), (15, 250), (5, 10), (15, 10), (5, 1), (15, 1)]
        budget = settings.knn_max_rows
        grid = [{"k": k, "smoothing": s, "max_rows": budget} for k, s in pairs]
        # Other row budgets at the default k and smoothing, last: fewer rows cost the router less
        # on every request (runtime_cost.py), no budget keeps every training query.
        grid += [{"k": settings.knn_k, "smoothing": settings.knn_smoothing, "max_rows": b} for b in KNN_ROW_BUDGETS if b != budget]
    elif kind == "kmeans":
        grid = [{"clusters": c} for c in (1, 16, 32, 64, 4, 2)]
    else:
        pairs = [(0.03, 2.0), (0.03, 1.0), (0.03, 0.5), (0.1, 2.0), (0.01, 2.0), (0.03, 5.0), (0.1, 0.5), (0.3, 1.0), (1.0, 1.0)]
        grid = [{"C": c, "gamma": g} for c, g in pairs]
    default = {param: getattr(settings, SETTING_OF[(kind, param)]) for param in grid[0]}
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


@dataclass
class _Fold:
    train: list[str]
    test: list[str]
    features: np.ndarray


def make_folds(table: OutcomeTable, queries: list[str], k: int, seed: int, vectors: dict[str, np.ndarray]) -> list[_Fold]:
    """K query-level folds of `queries` by hash; a fold evaluates only queries with an outcome for every model."""
    fold = fold_of(queries, k, seed)
    folds = []
    for f in range(k):
        train = [q for q in queries if fold[q] != f]
        test = [q for q in queries if fold[q] == f and len(table.outcomes_by_query[q]) == len(table.models)]
        features = build_features(np.array([vectors[q] for q in test]), [table.category_by_query[q] for q in test])
        folds.append(_Fold(train, test, features))
    return folds


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
    settings,
    train_from_table,
    folds: int = DEFAULT_FOLDS,
    budget_seconds: float = DEFAULT_BUDGET_SECONDS,
    log=print,
) -> tuple[object, TuningReport]:
    """(settings with each selector's chosen values, report). `train_from_table` is train.py's."""
    started = time.monotonic()
    lookup, cached_embed = embedded_once(embed, queries)  # for every fold and candidate
    fold_data = make_folds(table, queries, folds, settings.seed, lookup)
    report = TuningReport(folds, len(queries), 0.0)
    budget_started = time.monotonic()  # the budget is for training candidates, not for embedding
    baselines = {"best_single": [], "oracle": [], "by_category": []}
    candidates = {kind: candidate_grid(kind, settings, len(queries)) for kind in settings.algorithms}
    total = sum(len(c) for c in candidates.values())
    chosen_settings = settings
    done = 0
    for kind, grid in candidates.items():
        # This selector's share of what is left of the budget, by its number of candidates:
        # time a faster selector did not use goes to the next.
        left = sum(len(candidates[k]) for k in list(candidates)[list(candidates).index(kind) :])
        share = (budget_seconds - (time.monotonic() - budget_started)) * len(grid) / left
        kind_started = time.monotonic()
        results_by_candidate: list[tuple[dict, list]] = []
        for params in grid:
            if results_by_candidate and time.monotonic() - kind_started > share:
                report.out_of_budget.append(kind)
                log(f"  {kind}: time budget spent after {len(results_by_candidate)} of {len(grid)} settings")
                break
            trial = dataclasses.replace(settings, algorithms=(kind,), **{SETTING_OF[(kind, p)]: v for p, v in params.items()})
            fold_results = []
            for fold in fold_data:
                trained = train_from_table(table, fold.train, cached_embed, trial)
                eval_table = EvalTable.build(table, fold.test, table.models, trained.objective)
                selection = select(kind, trained.artifacts[kind], fold.features)
                fold_results.append(evaluate_choices(kind, "selector", selection.choices, eval_table))
                if len(baselines["oracle"]) < len(fold_data):  # once per fold
                    ranking = [m for m, _ in trained.ranking]
                    by_kind = {r.kind: r for r in evaluate_baselines(eval_table, ranking, trained.category_models)}
                    for name, per_fold in baselines.items():
                        per_fold.append(by_kind[name])
            results_by_candidate.append((params, fold_results))
            done += 1
            estimate = Estimate.of(fold_results)
            log(f"  [{done}/{total}] {kind} {describe(params)}: objective {estimate.objective[0]:.4f} ±{estimate.objective[1]:.4f}")
        best_params, best_results = max(
            results_by_candidate, key=lambda pr: Estimate.of(pr[1]).objective[0]
        )  # first max: default wins ties
        estimate = Estimate.of(best_results)
        single = Estimate.of(baselines["best_single"])
        report.selectors[kind] = SelectorTuning(
            best_params,
            estimate,
            [(p, Estimate.of(r).objective[0]) for p, r in results_by_candidate],
            estimate.objective[0] > single.objective[0] + 1e-12,
        )
        chosen_settings = dataclasses.replace(chosen_settings, **{SETTING_OF[(kind, p)]: v for p, v in best_params.items()})
    report.best_single = Estimate.of(baselines["best_single"])
    report.oracle = Estimate.of(baselines["oracle"])
    report.by_category = Estimate.of(baselines["by_category"])
    report.seconds = time.monotonic() - started
    return chosen_settings, report


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
