"""The quality-weight sweep: train at each weight on each split's training side, replay on its
held-out queries (training.replay_held_out), and read the curves (AIQ, cost to match, the goal's
bounds and the weight search). tradeoff.py turns its flags into these calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from data_loader import DataError, Objective, OutcomeTable, fit_objective, model_ranking
from evaluation import EvalTable, StrategyResult, category_choices, evaluate_choices, oracle_choices
from frontier import UNITS, Point, aiq, choose, cost_to_match, quality_at_cost, search_weight
from runtime_cost import SelectorCost, measure_costs
from training import TrainSettings, replay_held_out
from tuning import DEFAULT_FOLDS, embedded_once, tune

DEFAULT_WEIGHTS = (1.0, 0.95, 0.9, 0.85, 0.8, 0.7, 0.5)


@dataclass
class WeightResult:
    weight: float
    settings: TrainSettings
    objective: Objective
    selectors: dict[str, StrategyResult]
    oracle: StrategyResult
    by_category: StrategyResult  # each category's best model on the training queries: the table a selector has to beat


@dataclass
class Sweep:
    basis: str
    n_train: int
    test_queries: list[str]
    single_models: list[StrategyResult]
    best_single: str  # the highest mean quality on the TRAINING queries
    weights: list[WeightResult] = field(default_factory=list)
    excluded: dict[str, int] = field(default_factory=dict)
    folds: int = 1  # 1: one held-out part (or a test file); K: K-fold, every query held out once
    searched: list[WeightResult] = field(default_factory=list)  # points the goal's search measured, in order
    trainings: int = 0  # selector trainings so far (one per selector, weight and split)
    measure: Callable[..., WeightResult] | None = field(default=None, repr=False)  # (weight, algorithms) -> a new point
    costs: dict[str, SelectorCost] = field(default_factory=dict)  # the last set trained, in the router per request
    costs_of: str = ""  # which set that is

    def describe_evaluation(self) -> str:
        if self.folds > 1:
            return f"{len(self.test_queries)}, each held out once in {self.folds} folds (trained on the other folds)"
        return f"{len(self.test_queries)} (trained on {self.n_train})"

    def value(self, r: StrategyResult) -> float:
        return r.avg_cost if self.basis == "cost" else r.avg_latency

    def points(self, kind: str) -> list[Point]:
        """One strategy's operating points: a selector, "oracle" or "by_category" over the weights, or "single"."""
        if kind == "single":
            return [Point(self.value(r), r.avg_quality, r.name[len("Always ") :]) for r in self.single_models]
        of = {"oracle": lambda w: w.oracle, "by_category": lambda w: w.by_category}.get(kind, lambda w: w.selectors[kind])
        return [Point(self.value(of(w)), of(w).avg_quality, (kind, w.weight)) for w in self.weights]

    def searched_points(self, kind: str) -> list[Point]:
        """One selector's points measured by the goal's search, in the order tried."""
        results = [(w.weight, w.selectors[kind]) for w in self.searched if kind in w.selectors]
        return [Point(self.value(r), r.avg_quality, (kind, weight)) for weight, r in results]

    def result_at(self, kind: str, weight: float) -> WeightResult:
        """The measured point of one selector at one weight, on the grid or found by the search."""
        return next(w for w in self.weights + self.searched if w.weight == weight and kind in w.selectors)

    @property
    def reference(self) -> Point:
        """The best single model (chosen on train) as measured on the held-out queries."""
        return next(p for p in self.points("single") if p.key == self.best_single)

    @property
    def cost_range(self) -> tuple[float, float]:
        costs = [p.cost for p in self.points("single")]
        return min(costs), max(costs)


def evaluable_queries(table: OutcomeTable, queries: list[str], models: list[str], basis: str) -> tuple[list[str], dict[str, int]]:
    """Held-out queries with an outcome, and its cost (or latency), for every model; the rest counted."""
    attribute = "cost" if basis == "cost" else "latency"
    keep, excluded = [], {"missing a model": 0, f"missing {attribute}": 0}
    for q in queries:
        per_model = table.outcomes_by_query.get(q, {})
        if any(m not in per_model for m in models):
            excluded["missing a model"] += 1
        elif any(getattr(per_model[m], attribute) is None for m in models):
            excluded[f"missing {attribute}"] += 1
        else:
            keep.append(q)
    return keep, {k: v for k, v in excluded.items() if v}


@dataclass
class SweepData:
    """What a sweep trains and replays on: each split's training queries (of `train_table`) and
    held-out queries (of `test_table`, the same table unless a test file is given)."""

    train_table: OutcomeTable
    splits: list[tuple[list[str], list[str]]]
    test_table: OutcomeTable


@dataclass
class TuneAtEachWeight:
    """tradeoff.py --tune: each weight's settings chosen by tuning.tune on each training side."""

    budget_seconds: float
    folds: int = DEFAULT_FOLDS


def run_sweep(
    data: SweepData, embed, settings: TrainSettings, weights: list[float], tuning: TuneAtEachWeight | None = None, log=print
) -> Sweep:
    """Train at each weight on each split's training queries and replay on its held-out queries
    (never seen in that training). One split is a held-out part or a test file; K splits are K
    folds, where every query is held out once and the choices of the K trainings are pooled."""
    evaluated, excluded = evaluable_splits(data, settings.efficiency, log)
    queries = [q for _, held_out in evaluated for q in held_out]
    all_train = list(dict.fromkeys(q for train_queries, _ in evaluated for q in train_queries))
    # Training and held-out queries embedded once, for every split, weight and tuning candidate.
    _, embed = embedded_once(embed, list(dict.fromkeys(data.train_table.texts(all_train) + data.test_table.texts(queries))))
    quality_only = Objective(1.0, "none")
    tops = [model_ranking(data.train_table.subset(train_queries), quality_only)[0][0] for train_queries, _ in evaluated]
    best_single = max(dict.fromkeys(tops), key=tops.count)  # the same in every fold, as a rule; else the most frequent
    if len(set(tops)) > 1:
        log(f"  the folds' training sides disagree on the best single model ({', '.join(sorted(set(tops)))}): {best_single} is used")
    models = data.train_table.models
    singles_table = EvalTable.build(data.test_table, queries, models, quality_only)
    singles = [evaluate_choices(f"Always {m}", "always", [m] * len(queries), singles_table) for m in models]
    sweep = Sweep(settings.efficiency, len(all_train), queries, singles, best_single, excluded=excluded, folds=len(data.splits))
    trainer = WeightTrainer(SweepData(data.train_table, evaluated, data.test_table), embed, settings, tuning, sweep, log)
    sweep.measure = trainer
    for i, weight in enumerate(weights, 1):
        result = trainer(weight)
        sweep.weights.append(result)
        figures = (f"{k.upper()} quality {r.avg_quality:.4f} {sweep.basis} {sweep.value(r):.4g}" for k, r in result.selectors.items())
        log(f"[{i}/{len(weights)}] weight {weight:g}: " + ", ".join(figures))
    # What the selectors cost the router per request depends on the weight only through the number
    # of SVM support vectors: the last set trained stands for all.
    sweep.costs = measure_costs(trainer.last_artifacts, trainer.last_features)
    sweep.costs_of = f"the set trained at weight {weights[-1]:g} on {len(evaluated[-1][0])} queries"
    return sweep


def evaluable_splits(data: SweepData, basis: str, log) -> tuple[list[tuple[list[str], list[str]]], dict[str, int]]:
    """The splits with their held-out side cut to the evaluable queries (evaluable_queries), and
    the counts left out; DataError when a held-out query is also a training one, or none is left."""
    evaluated: list[tuple[list[str], list[str]]] = []
    excluded: dict[str, int] = {}
    for train_queries, test_queries in data.splits:
        seen = set(train_queries)
        overlap = [q for q in test_queries if q in seen]
        if overlap:
            raise DataError(f"{len(overlap)} held-out queries are also training queries: the sweep would measure memory, not routing")
        queries, left_out = evaluable_queries(data.test_table, test_queries, data.train_table.models, basis)
        for why, n in left_out.items():
            excluded[why] = excluded.get(why, 0) + n
        evaluated.append((train_queries, queries))
    if not any(held_out for _, held_out in evaluated):
        detail = ", ".join(f"{n} {why}" for why, n in excluded.items()) or "none given"
        raise DataError(f"no held-out query can be evaluated ({detail}): the trade-off needs every model's {basis}")
    for why, n in excluded.items():
        log(f"  {n} queries not evaluated: {why}")
    return evaluated, excluded


@dataclass
class WeightTrainer:
    """Measures one point of the sweep: `trainer(weight, algorithms)` trains `algorithms` (default:
    the settings') at `weight` on each split's training side (training.replay_held_out) and
    replays them on its held-out queries; Oracle and the category table are scored alongside."""

    data: SweepData  # the splits, held-out sides already cut to the evaluable queries
    embed: Callable
    settings: TrainSettings
    tuning: TuneAtEachWeight | None
    sweep: Sweep  # counts the trainings
    log: Callable
    last_artifacts: dict = field(default_factory=dict)  # the last set trained, and the features it replayed
    last_features: object = None

    def __call__(self, weight: float, algorithms: tuple[str, ...] | None = None) -> WeightResult:
        settings, data = self.settings, self.data
        trial = settings.replace(quality_weight=weight, algorithms=algorithms or settings.algorithms)
        choices: dict[str, list[str]] = {kind: [] for kind in (*trial.algorithms, "oracle", "by_category")}
        for train_queries, held_out in data.splits:
            fold_trial = self.tuned(trial, train_queries, weight)
            replay = replay_held_out(data.train_table, train_queries, held_out, self.embed, fold_trial, test_table=data.test_table)
            self.sweep.trainings += len(fold_trial.algorithms)
            if replay.trained.objective.basis == "none":
                other = "latency" if settings.efficiency == "cost" else "cost"
                raise DataError(
                    f"the training data records no {settings.efficiency}: there is no trade-off to sweep (try --efficiency {other})"
                )
            for kind in fold_trial.algorithms:
                choices[kind] += replay.choices(kind)
            table = EvalTable.build(data.test_table, held_out, data.train_table.models, replay.trained.objective)
            ranking = [m for m, _ in replay.trained.ranking]
            choices["oracle"] += oracle_choices(table, ranking)
            choices["by_category"] += category_choices(table, replay.trained.category_models, ranking[0])[0]
        # One objective scores the pooled choices: `ref` from all the training sides (for one split,
        # exactly the objective its selectors were trained with).
        all_train = list(dict.fromkeys(q for train_queries, _ in data.splits for q in train_queries))
        objective = fit_objective(data.train_table.subset(all_train), weight, settings.efficiency)
        table = EvalTable.build(data.test_table, self.sweep.test_queries, data.train_table.models, objective)
        results = {kind: evaluate_choices(kind.upper(), "selector", choices[kind], table) for kind in trial.algorithms}
        oracle = evaluate_choices("Oracle", "oracle", choices["oracle"], table)
        by_category = evaluate_choices("CATEGORY", "by_category", choices["by_category"], table)
        self.last_artifacts = {kind: replay.trained.artifacts[kind] for kind in fold_trial.algorithms}
        self.last_features = replay.features
        return WeightResult(weight, fold_trial, objective, results, oracle, by_category)

    def tuned(self, trial: TrainSettings, train_queries: list[str], weight: float) -> TrainSettings:
        """The settings at this weight: as given, or (--tune) chosen on this training side."""
        if not self.tuning:
            return trial
        self.log(f"[weight {weight:g}] tuning ({self.tuning.folds}-fold, budget {self.tuning.budget_seconds:.0f} s) ...")
        tuned, _ = tune(
            self.data.train_table, train_queries, self.embed, trial, self.tuning.folds, self.tuning.budget_seconds, lambda *a: None
        )
        return tuned


@dataclass
class Summary:
    name: str
    aiq: float
    to_match: Point | None  # cheapest point reaching the best single model's quality
    at_its_cost: Point | None  # best point within the best single model's cost


def summarise(sweep: Sweep) -> list[Summary]:
    ref = sweep.reference
    c_min, c_max = sweep.cost_range
    kinds = list(sweep.weights[0].selectors) + ["by_category", "single", "oracle"]
    out = []
    for kind in kinds:
        points = sweep.points(kind)
        name = {"single": "Single models", "oracle": "Oracle", "by_category": "By category"}.get(kind, kind.upper())
        out.append(Summary(name, aiq(points, c_min, c_max), cost_to_match(points, ref.quality), quality_at_cost(points, ref.cost)))
    return out


def format_sweep(sweep: Sweep) -> list[str]:
    unit = UNITS[sweep.basis]
    models = [r.name[len("Always ") :] for r in sweep.single_models]
    lines = [
        f"Held-out queries: {sweep.describe_evaluation()}; {sweep.basis} in {unit} per query",
        f"{'weight':>6}  {'strategy':<8}{'quality':>9}{sweep.basis:>12}{'objective':>11}  share of queries per model",
    ]
    for w in sweep.weights:
        for r in list(w.selectors.values()) + [w.by_category, w.oracle]:
            share = " ".join(f"{m} {100 * r.selection_counts[m] / len(sweep.test_queries):.0f}%" for m in models if r.selection_counts[m])
            lines.append(f"{w.weight:>6g}  {r.name:<8}{r.avg_quality:>9.4f}{sweep.value(r):>12.4g}{r.avg_objective:>11.4f}  {share}")
    lines.append("CATEGORY: each router category to its best model on the training queries (a table, no selector)")
    lines.append("Single models on the same queries:")
    for r in sweep.single_models:
        name = r.name[len("Always ") :]
        mark = "  <- best single (highest quality on the training queries)" if name == sweep.best_single else ""
        lines.append(f"        {name:<40}{r.avg_quality:>9.4f}{sweep.value(r):>12.4g}{mark}")
    return lines


def format_summary(sweep: Sweep, summaries: list[Summary]) -> list[str]:
    ref = sweep.reference
    c_min, c_max = sweep.cost_range

    def rel(p: Point | None, attr: str) -> str:
        if p is None:
            return "never"
        value, base = getattr(p, attr), getattr(ref, attr)
        return f"{value:.4g} ({value / base:.2f}x)" if base else f"{value:.4g}"

    lines = [
        f"Best single model: {sweep.best_single} (quality {ref.quality:.4f}, {sweep.basis} {ref.cost:.4g} {UNITS[sweep.basis]})",
        f"AIQ over {sweep.basis} {c_min:.4g} .. {c_max:.4g} (the single models' range)",
        f"{'strategy':<15}{'AIQ':>8}{'cost to match its quality':>30}{'quality at its cost':>26}",
    ]
    for s in summaries:
        lines.append(f"{s.name:<15}{s.aiq:>8.4f}{rel(s.to_match, 'cost'):>30}{rel(s.at_its_cost, 'quality'):>26}")
    return lines


def sweep_to_json(sweep: Sweep, summaries: list[Summary]) -> dict:
    def point(p: Point | None):
        return None if p is None else {"cost": p.cost, "quality": p.quality, "at": list(p.key) if isinstance(p.key, tuple) else p.key}

    ref = sweep.reference
    return {
        "efficiency": sweep.basis,
        "unit": UNITS[sweep.basis],
        "n_train_queries": sweep.n_train,
        "n_test_queries": len(sweep.test_queries),
        "excluded": sweep.excluded,
        "best_single": {"model": sweep.best_single, "quality": ref.quality, sweep.basis: ref.cost, "chosen_on": "train"},
        "single_models": [r.to_dict() for r in sweep.single_models],
        "aiq_range": list(sweep.cost_range),
        "weights": [
            {
                "weight": w.weight,
                "objective": w.objective.to_dict(),
                "settings": {k: v for k, v in w.settings.to_dict().items() if k != "algorithms"},
                "strategies": [r.to_dict() for r in list(w.selectors.values()) + [w.by_category, w.oracle]],
            }
            for w in sweep.weights
        ],
        "summary": {
            s.name: {"aiq": s.aiq, "cost_to_match": point(s.to_match), "quality_at_best_single_cost": point(s.at_its_cost)}
            for s in summaries
        },
    }


def goal_bounds(sweep: Sweep, target_quality: float | None, target_cost: float | None) -> tuple[float | None, float | None]:
    """(minimum quality, maximum cost) in absolute terms: the targets times the best single model's."""
    ref = sweep.reference
    return (None if target_quality is None else target_quality * ref.quality, None if target_cost is None else target_cost * ref.cost)


def search_goal(sweep: Sweep, min_quality: float | None, max_cost: float | None, tolerance: float, log=print) -> dict[str, list[float]]:
    """Per selector, bisect the quality weight for the goal's boundary on the sweep's own splits
    (frontier.search_weight says what it relies on); each point measured is added to
    `sweep.searched`. Returns the weights tried per selector, in order."""
    tried = {}
    for kind in sweep.weights[0].selectors:

        def measure(weight: float, kind: str = kind) -> Point:
            result = sweep.measure(weight, (kind,))
            sweep.searched.append(result)
            r = result.selectors[kind]
            log(f"  search: {kind.upper()} at weight {weight:g}: quality {r.avg_quality:.4f} {sweep.basis} {sweep.value(r):.4g}")
            return Point(sweep.value(r), r.avg_quality, (kind, weight))

        tried[kind] = search_weight(measure, {p.key[1]: p for p in sweep.points(kind)}, min_quality, max_cost, tolerance)
    return tried


def choose_by_goal(sweep: Sweep, target_quality: float | None, target_cost: float | None):
    """(Choice over every selector at every measured weight, grid and search, the goal in absolute terms)."""
    min_quality, max_cost = goal_bounds(sweep, target_quality, target_cost)
    points = [p for kind in sweep.weights[0].selectors for p in sweep.points(kind) + sweep.searched_points(kind)]
    return choose(points, min_quality, max_cost), min_quality, max_cost


def figures(sweep: Sweep, r: StrategyResult) -> dict:
    """One measured point as --output-json records it: quality and the sweep's cost (or latency)."""
    return {"quality": r.avg_quality, sweep.basis: sweep.value(r)}
