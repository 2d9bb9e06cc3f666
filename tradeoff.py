#!/usr/bin/env python3
"""Sweep the quality weight, measure each selector's quality/cost trade-off on held-out queries,
and choose the operating point by a goal.

python tradeoff.py --data-file examples/routerarena-2models.jsonl --efficiency cost \\
    --embedding-model minilm --plot tradeoff.png --target-quality 0.99

For each quality weight the selectors are trained with train.py's own code on the training side
and replayed with the runtime's rules (models.select) on the held-out queries (a held-out part,
a test file, or K folds with --folds); single models, routing by category alone and Oracle are
measured on the same queries. AIQ, cost to match and the quality at the best single
model's cost summarise each curve (see the README). With a goal (--target-quality and/or
--target-cost, relative to the best single model), the weight and selector that meet it are
chosen on a cross-validated curve of the training queries alone, each selector's weight searched
between the listed ones (frontier.search_weight); the train.py command that reproduces the choice
is printed, and the set is written.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from data_loader import (
    DataError,
    Objective,
    OutcomeTable,
    build_outcome_table,
    fit_objective,
    fold_of,
    load_records,
    model_ranking,
    split_queries,
)
from embeddings import EmbeddingModelError, default_embedding_model, embedding_cache_dir
from evaluation import EvalTable, StrategyResult, category_choices, evaluate_choices, oracle_choices
from frontier import DEFAULT_WEIGHT_TOLERANCE, UNITS, Point, aiq, choose, cost_to_match, quality_at_cost, search_weight
from models import TrainingError, build_features, select
from plots import plot_sweep
from router_api import router_token, use_token
from router_profile import RouterConfigError, profile_from_args
from runtime_cost import SelectorCost, format_costs, measure_costs
from train import (
    TrainSettings,
    add_efficiency_argument,
    add_embedding_arguments,
    add_selector_arguments,
    embedder_from_args,
    settings_from_args,
    train_from_table,
    tuned_flags,
)
from tuning import DEFAULT_FOLDS, SETTING_OF, embedded_once, tune
from tuning import describe as describe_params

DEFAULT_WEIGHTS = (1.0, 0.95, 0.9, 0.85, 0.8, 0.7, 0.5)
DEFAULT_HOLDOUT = 0.2
MIN_WEIGHT_TOLERANCE = 0.001  # the search rounds weights to 4 decimals


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


def run_sweep(
    train_table: OutcomeTable,
    splits: list[tuple[list[str], list[str]]],
    test_table: OutcomeTable,
    embed,
    settings: TrainSettings,
    weights: list[float],
    tune_budget: float | None = None,
    tune_folds: int = DEFAULT_FOLDS,
    log=print,
) -> Sweep:
    """Train at each weight on each split's training queries and replay on its held-out queries
    (never seen in that training). One split is a held-out part or a test file; K splits are K
    folds, where every query is held out once and the choices of the K trainings are pooled."""
    models = train_table.models
    evaluated: list[tuple[list[str], list[str]]] = []
    excluded: dict[str, int] = {}
    for train_queries, test_queries in splits:
        seen = set(train_queries)
        overlap = [q for q in test_queries if q in seen]
        if overlap:
            raise DataError(f"{len(overlap)} held-out queries are also training queries: the sweep would measure memory, not routing")
        queries, left_out = evaluable_queries(test_table, test_queries, models, settings.efficiency)
        for why, n in left_out.items():
            excluded[why] = excluded.get(why, 0) + n
        evaluated.append((train_queries, queries))
    queries = [q for _, held_out in evaluated for q in held_out]
    if not queries:
        detail = ", ".join(f"{n} {why}" for why, n in excluded.items()) or "none given"
        raise DataError(f"no held-out query can be evaluated ({detail}): the trade-off needs every model's {settings.efficiency}")
    for why, n in excluded.items():
        log(f"  {n} queries not evaluated: {why}")
    all_train = list(dict.fromkeys(q for train_queries, _ in evaluated for q in train_queries))
    # Training and held-out queries embedded once, for every split, weight and tuning candidate.
    _, embed = embedded_once(embed, list(dict.fromkeys(train_table.texts(all_train) + test_table.texts(queries))))
    quality_only = Objective(1.0, "none")
    tops = [model_ranking(train_table.subset(train_queries), quality_only)[0][0] for train_queries, _ in evaluated]
    best_single = max(dict.fromkeys(tops), key=tops.count)  # the same in every fold, as a rule; else the most frequent
    if len(set(tops)) > 1:
        log(f"  the folds' training sides disagree on the best single model ({', '.join(sorted(set(tops)))}): {best_single} is used")
    singles_table = EvalTable.build(test_table, queries, models, quality_only)
    singles = [evaluate_choices(f"Always {m}", "always", [m] * len(queries), singles_table) for m in models]
    sweep = Sweep(settings.efficiency, len(all_train), queries, singles, best_single, excluded=excluded, folds=len(splits))

    def measure(weight: float, algorithms: tuple[str, ...] | None = None) -> WeightResult:
        """Train `algorithms` (default: the settings') at `weight` on each split's training side and
        replay them on its held-out queries; Oracle and the category table scored alongside."""
        trial = dataclasses.replace(settings, quality_weight=weight, algorithms=algorithms or settings.algorithms)
        choices: dict[str, list[str]] = {kind: [] for kind in (*trial.algorithms, "oracle", "by_category")}
        for train_queries, held_out in evaluated:
            fold_trial = trial
            if tune_budget:
                log(f"[weight {weight:g}] tuning ({tune_folds}-fold, budget {tune_budget:.0f} s) ...")
                fold_trial, _ = tune(train_table, train_queries, embed, trial, train_from_table, tune_folds, tune_budget, lambda *a: None)
            trained = train_from_table(train_table, train_queries, embed, fold_trial)
            sweep.trainings += len(fold_trial.algorithms)
            if trained.objective.basis == "none":
                raise DataError(
                    f"the training data records no {settings.efficiency}: there is no trade-off to sweep "
                    f"(try --efficiency {'latency' if settings.efficiency == 'cost' else 'cost'})"
                )
            features = build_features(embed(test_table.texts(held_out)), [test_table.category_by_query[q] for q in held_out])
            for kind in fold_trial.algorithms:
                choices[kind] += select(kind, trained.artifacts[kind], features).choices
            table = EvalTable.build(test_table, held_out, models, trained.objective)
            ranking = [m for m, _ in trained.ranking]
            choices["oracle"] += oracle_choices(table, ranking)
            choices["by_category"] += category_choices(table, trained.category_models, ranking[0])[0]
        # One objective scores the pooled choices: `ref` from all the training sides (for one split,
        # exactly the objective its selectors were trained with).
        objective = fit_objective(train_table.subset(all_train), weight, settings.efficiency)
        table = EvalTable.build(test_table, queries, models, objective)
        results = {kind: evaluate_choices(kind.upper(), "selector", choices[kind], table) for kind in trial.algorithms}
        oracle = evaluate_choices("Oracle", "oracle", choices["oracle"], table)
        by_category = evaluate_choices("CATEGORY", "by_category", choices["by_category"], table)
        last.update(artifacts={kind: trained.artifacts[kind] for kind in fold_trial.algorithms}, features=features)
        return WeightResult(weight, fold_trial, objective, results, oracle, by_category)

    last: dict = {}  # the last set measure() trained, and the features it replayed
    sweep.measure = measure
    for i, weight in enumerate(weights, 1):
        result = measure(weight)
        sweep.weights.append(result)
        figures = (f"{k.upper()} quality {r.avg_quality:.4f} {sweep.basis} {sweep.value(r):.4g}" for k, r in result.selectors.items())
        log(f"[{i}/{len(weights)}] weight {weight:g}: " + ", ".join(figures))
    # What the selectors cost the router per request depends on the weight only through the number
    # of SVM support vectors: the last set trained stands for all.
    sweep.costs = measure_costs(last["artifacts"], last["features"])
    sweep.costs_of = f"the set trained at weight {weights[-1]:g} on {len(evaluated[-1][0])} queries"
    return sweep


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
                "settings": {k: v for k, v in dataclasses.asdict(w.settings).items() if k != "algorithms"},
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


def weight_text(weight: float) -> str:
    """The weight as train.py's flag takes it, exactly: the float it parses back to is this one."""
    short = f"{weight:g}"
    return short if float(short) == weight else repr(weight)


def fold_splits(queries: list[str], k: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """K (training, held-out) splits of `queries`, every query held out once (data_loader.fold_of)."""
    fold = fold_of(queries, k, seed)
    return [([q for q in queries if fold[q] != f], [q for q in queries if fold[q] == f]) for f in range(k)]


def train_command(args: argparse.Namespace, settings: TrainSettings, kind: str) -> list[str]:
    """The train.py arguments that reproduce one swept point: same data, split, objective and settings."""
    argv = ["--data-file", args.data_file]
    embedding_model = args.embedding_model or (None if args.router_config else default_embedding_model())
    if embedding_model:
        argv += ["--embedding-model", embedding_model]
    if args.router_config:
        argv += ["--router-config", args.router_config]
    argv += ["--efficiency", settings.efficiency]
    argv += ["--quality-weight", weight_text(settings.quality_weight), "--algorithm", kind, "--seed", str(settings.seed)]
    if args.folds:
        argv += ["--holdout", "0"]  # the figures are K-fold estimates; the set learns from every query
    elif not args.test_file:
        argv += ["--holdout", f"{args.holdout:g}"]
    for flag in tuned_flags(settings):
        argv += flag.split(" ", 1)
    for flag, value in (("--router-url", args.router_url), ("--router-dimension", args.router_dimension), ("--cache-dir", args.cache_dir)):
        if value:
            argv += [flag, str(value)]
    return argv + ["--output-dir", args.output_dir]


def parse_weights(text: str) -> list[float]:
    try:
        weights = [float(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise ValueError(f"--weights takes numbers separated by commas, got {text!r}") from None
    bad = [w for w in weights if not 0.0 <= w <= 1.0]
    if not weights or bad:
        raise ValueError(f"--weights must be numbers in [0, 1], got {text!r}")
    return sorted(set(weights), reverse=True)


def run(args: argparse.Namespace) -> int:
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    use_token(router_token(args.router_token))  # never in the train.py commands it prints: those read $VSR_API_TOKEN
    weights = parse_weights(args.weights)
    if args.target_quality is not None and args.target_quality <= 0 or args.target_cost is not None and args.target_cost <= 0:
        raise ValueError("--target-quality and --target-cost are positive fractions of the best single model's quality and cost")
    goal = args.target_quality is not None or args.target_cost is not None
    if args.search_tolerance != 0 and not MIN_WEIGHT_TOLERANCE <= args.search_tolerance < 1:
        raise ValueError(
            f"--search-tolerance is a weight step in [{MIN_WEIGHT_TOLERANCE:g}, 1), or 0 for the grid alone; got {args.search_tolerance:g}"
        )
    if goal and args.tune:
        raise ValueError(
            "a goal is chosen at the settings given (tuning at each weight the search tries would need folds inside every "
            "training side): run tradeoff.py without --tune, then train.py --tune --quality-weight <the chosen weight>"
        )
    if args.goal_folds < 2:
        raise ValueError(f"--goal-folds must be at least 2, got {args.goal_folds}")
    records, report = load_records(Path(args.data_file), strict=args.strict)
    table = build_outcome_table(records, report)
    for line in report.summary_lines():
        log(line)
    if args.holdout is not None and (args.folds is not None or args.test_file):
        raise ValueError("--holdout splits --data-file itself: it does not go with --folds or --test-file")
    if args.holdout is None:
        args.holdout = DEFAULT_HOLDOUT
    if args.folds is not None:
        if args.test_file or args.tune:
            raise ValueError("--folds evaluates by K-fold on --data-file alone: it takes neither --test-file nor --tune")
        if args.folds < 2:
            raise ValueError(f"--folds must be at least 2, got {args.folds}")
        test_table = table
        splits = fold_splits(table.queries, args.folds, args.seed)
    elif args.test_file:
        test_records, test_report = load_records(Path(args.test_file), strict=args.strict)
        test_table = build_outcome_table(test_records, test_report)
        train_queries = table.queries
        seen = set(train_queries)
        test_queries = [q for q in test_table.queries if q not in seen]
        if len(test_queries) < len(test_table.queries):
            log(f"  {len(test_table.queries) - len(test_queries)} test queries are also in the training file: not evaluated")
        splits = [(train_queries, test_queries)]
    else:
        test_table = table
        splits = [split_queries(table.queries, args.holdout, args.seed)]
    if not any(test_queries for _, test_queries in splits):
        raise DataError("no held-out query: give --holdout > 0, --folds or --test-file")
    settings = settings_from_args(args)
    profile = profile_from_args(args, log)
    if profile is not None and any(set(table.models) - set(d.candidates) for d in profile.ml_decisions()):
        # The sweep trains and replays over every model; the decisions' candidate rule is
        # train.py's and validate.py's (this script's limit, said rather than hidden).
        log(
            "note: the router's decisions allow subsets of these models; this sweep labels and replays over "
            "every model, so its figures can overstate what a decision gets. The printed train.py command "
            "trains for the decisions; check the chosen set with validate.py --router-config."
        )
    quiet = lambda *a: None  # noqa: E731 -- the "features assumed" line is train.py's to say
    embedder = embedder_from_args(args, embedding_cache_dir(args.cache_dir), profile, log if profile else quiet)
    log(f"Sweeping quality weights {', '.join(f'{w:g}' for w in weights)} ({settings.efficiency} basis, {embedder.model_id})")
    sweep = run_sweep(
        table, splits, test_table, embedder.embed, settings, weights,
        args.tune_budget if args.tune else None, args.tune_folds, log,
    )  # fmt: skip
    summaries = summarise(sweep)
    for line in format_sweep(sweep) + format_summary(sweep, summaries) + format_costs(sweep.costs, sweep.costs_of):
        log(line)
    result = sweep_to_json(sweep, summaries)
    result["router_cost"] = {"set": sweep.costs_of, **{kind: cost.to_dict() for kind, cost in sweep.costs.items()}}
    held_out = None if args.test_file or args.folds else args.holdout
    result.update({"data_file": args.data_file, "test_file": args.test_file, "holdout": held_out, "folds": args.folds})
    result["embedding_model"] = embedder.model_id
    result["embedding_dim"] = embedder.dimension
    if profile is not None:
        result["router_config_sha256"] = profile.digest
    status, chosen = 0, None
    if goal:
        status, chosen, result["target"] = pursue_goal(args, table, splits, sweep, embedder.embed, settings, weights, log)
    if args.output_json:
        path = Path(args.output_json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        log(f"Wrote {path}")
    if args.plot:
        files = Path(args.data_file).name + (f", tested on {Path(args.test_file).name}" if args.test_file else "")
        title = f"{files}\nheld-out queries: {sweep.describe_evaluation()}; {embedder.model_id}"
        plot_sweep(sweep, Path(args.plot), title, chosen, goal_bounds(sweep, args.target_quality, args.target_cost) if goal else None)
        log(f"Wrote {args.plot}")
    return status


def pursue_goal(args, table: OutcomeTable, splits, sweep: Sweep, embed, settings: TrainSettings, weights: list[float], log):
    """Choose the operating point that meets the goal, on the training queries only, and write its set.

    The choice is made on a cross-validated curve that never holds a held-out query: with --folds,
    the sweep itself; with --holdout or --test-file, --goal-folds folds of the training queries
    (the held-out ones then measure the chosen point, as validate.py would). On that curve each
    selector's weight is searched between the grid's (search_goal). Returns (exit status, the
    chosen point on the sweep's held-out queries or None, the JSON record).
    """
    started = time.monotonic()
    if args.folds:
        curve, chosen_on = sweep, f"{args.folds}-fold cross-validation on every query (the sweep above)"
    else:
        train_queries = splits[0][0]
        chosen_on = f"{args.goal_folds}-fold cross-validation on the {len(train_queries)} training queries"
        log(f"Choosing the operating point by {chosen_on}; the held-out queries are not looked at:")
        curve = run_sweep(table, fold_splits(train_queries, args.goal_folds, args.seed), table, embed, settings, weights, log=log)
    grid_trainings = curve.trainings
    min_quality, max_cost = goal_bounds(curve, args.target_quality, args.target_cost)
    goal = " and ".join(
        part
        for part in (
            args.target_quality is not None and f"quality >= {args.target_quality:g} x best single ({min_quality:.4f})",
            args.target_cost is not None and f"{curve.basis} <= {args.target_cost:g} x best single ({max_cost:.4g})",
        )
        if part
    )
    tried: dict[str, list[float]] = {}
    if args.search_tolerance:
        log(f"Searching each selector's weight for the goal's boundary, to within {args.search_tolerance:g} in weight:")
        tried = search_goal(curve, min_quality, max_cost, args.search_tolerance, log)
    choice, _, _ = choose_by_goal(curve, args.target_quality, args.target_cost)
    searched = curve.trainings - grid_trainings
    per_selector = "; ".join(f"{k.upper()} " + (", ".join(f"{w:g}" for w in ws) or "none") for k, ws in tried.items())
    log(
        f"Chosen on {chosen_on}: {len(weights)} grid weights x {len(settings.algorithms)} selectors, "
        f"{sum(map(len, tried.values()))} weights searched ({per_selector or 'no search'}), "
        f"{grid_trainings} + {searched} trainings, {time.monotonic() - started:.0f} s"
    )
    record = {
        "goal": goal,
        "met": choice.point is not None,
        "chosen_on": chosen_on,
        "search": {
            "weight_tolerance": args.search_tolerance or None,
            "tried": {k: [{"weight": w, **_figures(curve, curve.result_at(k, w).selectors[k])} for w in ws] for k, ws in tried.items()},
            "trainings": {"grid": grid_trainings, "search": searched},
        },
        "curve": {  # every point measured for the choice, by weight
            kind: [
                {"weight": p.key[1], "quality": p.quality, curve.basis: p.cost}
                for p in sorted(curve.points(kind) + curve.searched_points(kind), key=lambda p: p.key[1])
            ]
            for kind in curve.weights[0].selectors
        },
    }
    if choice.point is None:
        p = choice.closest
        log(f"Goal not met on {chosen_on}: {goal}. Closest: {p.key[0].upper()} at weight {p.key[1]:g}, "
            f"quality {p.quality:.4f}, {curve.basis} {p.cost:.4g}: {choice.shortfall}.")  # fmt: skip
        record["closest"] = {"selector": p.key[0], "weight": p.key[1], "quality": p.quality, curve.basis: p.cost}
        return 3, None, record
    kind, weight = choice.point.key
    chosen_settings = curve.result_at(kind, weight).settings
    argv = train_command(args, chosen_settings, kind)
    command = "python train.py " + " ".join(shlex.quote(a) for a in argv)
    ref = curve.reference
    log(
        f"Goal met on {chosen_on}: {goal}. {kind.upper()} at weight {weight:g} ({describe_params(_params(chosen_settings, kind))}): "
        f"quality {choice.point.quality:.4f} ({choice.point.quality / ref.quality:.3f}x), "
        f"{curve.basis} {choice.point.cost:.4g} ({choice.point.cost / ref.cost:.3f}x of {curve.best_single})"
    )
    counts = curve.result_at(kind, weight).selectors[kind].selection_counts
    only = [m for m, n in counts.items() if n == len(curve.test_queries)]
    if only:
        log(f"It sends every query to {only[0]}: on this data the goal is met by not routing.")
    record.update({"selector": kind, "weight": weight, "quality": choice.point.quality, curve.basis: choice.point.cost, "command": command})
    on_held_out = choice.point
    if curve is not sweep:  # the chosen point on the held-out queries: what validate.py will report
        measured = next((w for w in sweep.weights if w.weight == weight), None) or sweep.measure(weight, (kind,))
        r = measured.selectors[kind]
        on_held_out = Point(sweep.value(r), r.avg_quality, (kind, weight))
        # Relative to the best single model on the same held-out queries, as the goal is on its own curve.
        held_min, held_max = goal_bounds(sweep, args.target_quality, args.target_cost)
        meets = choose([on_held_out], held_min, held_max).point is not None
        record["held_out"] = {"n_queries": len(sweep.test_queries), **_figures(sweep, r), "meets_goal": meets}
        ref = sweep.reference
        log(
            f"On the {len(sweep.test_queries)} held-out queries: quality {r.avg_quality:.4f} ({r.avg_quality / ref.quality:.3f}x), "
            f"{sweep.basis} {sweep.value(r):.4g} ({sweep.value(r) / ref.cost:.3f}x of {sweep.best_single})"
            + ("" if meets else ": the goal, met on cross-validation, is missed here (the two estimates differ by their noise)")
        )
    log(f"Reproduce: {command}")
    from train import main as train_main

    train_status = train_main(argv + (["--quiet"] if args.quiet else []))
    return train_status, on_held_out, record


def _figures(sweep: Sweep, r: StrategyResult) -> dict:
    return {"quality": r.avg_quality, sweep.basis: sweep.value(r)}


def _params(settings: TrainSettings, kind: str) -> dict:
    """The tunable settings of one selector, named as tuning names them."""
    return {param: getattr(settings, name) for (k, param), name in SETTING_OF.items() if k == kind}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-file", required=True, help="benchmark JSONL with cost (or latency) per (query, model)")
    p.add_argument("--test-file", help="evaluate on this file instead of a held-out part of --data-file")
    p.add_argument("--holdout", type=float, help=f"fraction of --data-file's queries held out (default {DEFAULT_HOLDOUT:g})")
    p.add_argument("--folds", type=int, help="K-fold instead of one held-out part: every query held out once")
    p.add_argument("--weights", default=",".join(f"{w:g}" for w in DEFAULT_WEIGHTS), help="quality weights to sweep")
    add_efficiency_argument(p)
    add_selector_arguments(p)
    p.add_argument("--tune", action="store_true", help="choose the selectors' settings by cross-validation at each weight")
    p.add_argument("--tune-folds", type=int, default=DEFAULT_FOLDS)
    p.add_argument("--tune-budget", type=float, default=60.0, help="seconds of tuning per weight (default 60)")
    p.add_argument("--target-quality", type=float, help="goal: at least this fraction of the best single model's quality")
    p.add_argument("--target-cost", type=float, help="goal: at most this fraction of the best single model's cost (or latency)")
    p.add_argument(
        "--search-tolerance",
        type=float,
        default=DEFAULT_WEIGHT_TOLERANCE,
        help=f"with a goal: bisect each selector's weight until the goal's boundary is bracketed this closely "
        f"(default {DEFAULT_WEIGHT_TOLERANCE:g}; 0: choose from --weights alone)",
    )
    p.add_argument(
        "--goal-folds",
        type=int,
        default=DEFAULT_FOLDS,
        help=f"with a goal and --holdout or --test-file: folds of the training queries the goal is chosen on (default {DEFAULT_FOLDS})",
    )
    p.add_argument("--output-dir", default="models/", help="where the set that meets the goal is written (default: models/)")
    p.add_argument("--output-json", help="every number of the sweep")
    p.add_argument("--plot", help="quality against cost (or latency) per selector, single models, Oracle (PNG)")
    add_embedding_arguments(p)
    p.add_argument("--strict", action="store_true")
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (DataError, EmbeddingModelError, TrainingError, RouterConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
