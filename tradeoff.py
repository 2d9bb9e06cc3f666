#!/usr/bin/env python3
"""Sweep the quality weight, measure each selector's quality/cost trade-off on held-out queries,
and choose the operating point by a goal.

python tradeoff.py --data-file examples/routerarena-2models.jsonl --efficiency cost \\
    --embedding-model minilm --plot tradeoff.png --target-quality 0.99

For each quality weight the selectors are trained as train.py trains them on the training side
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
import json
import shlex
import sys
import time
from pathlib import Path

from cli import (
    add_efficiency_argument,
    add_embedding_arguments,
    add_selector_arguments,
    embedding_options_from_args,
    profile_from_args,
    settings_from_args,
)
from data_loader import (
    DEFAULT_QUALITY_WEIGHT,
    DataError,
    OutcomeTable,
    load_outcome_table,
    split_queries,
)
from embeddings import default_embedding_model
from errors import ToolkitError, UsageError
from frontier import DEFAULT_WEIGHT_TOLERANCE, Point, choose
from plots import plot_sweep
from router_api import router_token, use_token
from runtime_cost import format_costs
from sweep import (
    DEFAULT_WEIGHTS,
    Summary,
    Sweep,
    SweepData,
    TuneAtEachWeight,
    choose_by_goal,
    figures,
    format_summary,
    format_sweep,
    goal_bounds,
    run_sweep,
    search_goal,
    summarise,
    sweep_to_json,
)
from train_job import TrainJob, run_training, training_embedder
from training import TrainSettings, fold_splits
from tuning import DEFAULT_FOLDS
from tuning import describe as describe_params

DEFAULT_HOLDOUT = 0.2
MIN_WEIGHT_TOLERANCE = 0.001  # the search rounds weights to 4 decimals


def chosen_set_job(args: argparse.Namespace, settings: TrainSettings, kind: str) -> TrainJob:
    """The train.py job that writes one swept point's set: same data, split, objective and
    settings, on all the data's training side; `job.command()` is the command line that does it."""
    embedding = embedding_options_from_args(args)
    embedding.model = args.embedding_model or (None if args.router_config else default_embedding_model())
    if args.folds:
        holdout = 0.0  # the figures are K-fold estimates; the set learns from every query
    else:
        holdout = None if args.test_file else holdout_fraction(args)
    settings = settings.replace(algorithms=(kind,))
    return TrainJob(args.data_file, args.output_dir, settings, embedding, holdout, quiet=args.quiet, router_token=args.router_token)


def holdout_fraction(args) -> float:
    return DEFAULT_HOLDOUT if args.holdout is None else args.holdout


def parse_weights(text: str) -> list[float]:
    try:
        weights = [float(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise UsageError(f"--weights takes numbers separated by commas, got {text!r}") from None
    bad = [w for w in weights if not 0.0 <= w <= 1.0]
    if not weights or bad:
        raise UsageError(f"--weights must be numbers in [0, 1], got {text!r}")
    return sorted(set(weights), reverse=True)


def check_flags(args: argparse.Namespace) -> None:
    """The flag values and combinations argparse cannot check (UsageError)."""
    if args.target_quality is not None and args.target_quality <= 0 or args.target_cost is not None and args.target_cost <= 0:
        raise UsageError("--target-quality and --target-cost are positive fractions of the best single model's quality and cost")
    if args.search_tolerance != 0 and not MIN_WEIGHT_TOLERANCE <= args.search_tolerance < 1:
        raise UsageError(
            f"--search-tolerance is a weight step in [{MIN_WEIGHT_TOLERANCE:g}, 1), or 0 for the grid alone; got {args.search_tolerance:g}"
        )
    if has_goal(args) and args.tune:
        raise UsageError(
            "a goal is chosen at the settings given (tuning at each weight the search tries would need folds inside every "
            "training side): run tradeoff.py without --tune, then train.py --tune --quality-weight <the chosen weight>"
        )
    if args.goal_folds < 2:
        raise UsageError(f"--goal-folds must be at least 2, got {args.goal_folds}")


def check_split_flags(args: argparse.Namespace) -> None:
    if args.holdout is not None and (args.folds is not None or args.test_file):
        raise UsageError("--holdout splits --data-file itself: it does not go with --folds or --test-file")
    if args.folds is not None:
        if args.test_file or args.tune:
            raise UsageError("--folds evaluates by K-fold on --data-file alone: it takes neither --test-file nor --tune")
        if args.folds < 2:
            raise UsageError(f"--folds must be at least 2, got {args.folds}")


def has_goal(args: argparse.Namespace) -> bool:
    return args.target_quality is not None or args.target_cost is not None


def sweep_data(args: argparse.Namespace, table: OutcomeTable, log) -> SweepData:
    """The splits the flags ask for: K folds (--folds), a test file (--test-file), or a held-out part."""
    check_split_flags(args)
    if args.folds is not None:
        data = SweepData(table, fold_splits(table.queries, args.folds, args.seed), table)
    elif args.test_file:
        test_table, _ = load_outcome_table(Path(args.test_file), args.strict, log)
        seen = set(table.queries)
        test_queries = [q for q in test_table.queries if q not in seen]
        if len(test_queries) < len(test_table.queries):
            log(f"  {len(test_table.queries) - len(test_queries)} test queries are also in the training file: not evaluated")
        data = SweepData(table, [(table.queries, test_queries)], test_table)
    else:
        data = SweepData(table, [split_queries(table.queries, holdout_fraction(args), args.seed)], table)
    if not any(test_queries for _, test_queries in data.splits):
        raise DataError("no held-out query: give --holdout > 0, --folds or --test-file")
    return data


def run(args: argparse.Namespace) -> int:
    """Check the flags, load and split the data, sweep, report, then pursue the goal if one is given."""
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    use_token(router_token(args.router_token))  # never in the train.py commands it prints: those read $VSR_API_TOKEN
    weights = parse_weights(args.weights)
    check_flags(args)
    table, _ = load_outcome_table(Path(args.data_file), args.strict, log)
    data = sweep_data(args, table, log)
    settings = settings_from_args(args, quality_weight=DEFAULT_QUALITY_WEIGHT)
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
    embedder = training_embedder(embedding_options_from_args(args), profile, log if profile else quiet)
    log(f"Sweeping quality weights {', '.join(f'{w:g}' for w in weights)} ({settings.efficiency} basis, {embedder.model_id})")
    tuning = TuneAtEachWeight(args.tune_budget, args.tune_folds) if args.tune else None
    sweep = run_sweep(data, embedder.embed, settings, weights, tuning, log)
    summaries = summarise(sweep)
    for line in format_sweep(sweep) + format_summary(sweep, summaries) + format_costs(sweep.costs, sweep.costs_of):
        log(line)
    result = sweep_record(args, sweep, summaries, embedder, profile)
    status, chosen = 0, None
    if has_goal(args):
        status, chosen, result["target"] = pursue_goal(args, data, sweep, embedder.embed, settings, weights, log)
    write_outputs(args, sweep, result, chosen, embedder.model_id, log)
    return status


def sweep_record(args, sweep: Sweep, summaries: list[Summary], embedder, profile) -> dict:
    """--output-json's record of the sweep (the goal's part is added by pursue_goal)."""
    result = sweep_to_json(sweep, summaries)
    result["router_cost"] = {"set": sweep.costs_of, **{kind: cost.to_dict() for kind, cost in sweep.costs.items()}}
    held_out = None if args.test_file or args.folds else holdout_fraction(args)
    result.update({"data_file": args.data_file, "test_file": args.test_file, "holdout": held_out, "folds": args.folds})
    result["embedding_model"] = embedder.model_id
    result["embedding_dim"] = embedder.dimension
    if profile is not None:
        result["router_config_sha256"] = profile.digest
    return result


def write_outputs(args, sweep: Sweep, result: dict, chosen: Point | None, embedding_id: str, log) -> None:
    """--output-json and --plot."""
    if args.output_json:
        path = Path(args.output_json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        log(f"Wrote {path}")
    if args.plot:
        files = Path(args.data_file).name + (f", tested on {Path(args.test_file).name}" if args.test_file else "")
        title = f"{files}\nheld-out queries: {sweep.describe_evaluation()}; {embedding_id}"
        bounds = goal_bounds(sweep, args.target_quality, args.target_cost) if has_goal(args) else None
        plot_sweep(sweep, Path(args.plot), title, chosen, bounds)
        log(f"Wrote {args.plot}")


def pursue_goal(args, data: SweepData, sweep: Sweep, embed, settings: TrainSettings, weights: list[float], log):
    """Choose the operating point that meets the goal, on the training queries only, and write its set.

    The choice is made on a cross-validated curve that never holds a held-out query: with --folds,
    the sweep itself; with --holdout or --test-file, --goal-folds folds of the training queries
    (the held-out ones then measure the chosen point, as validate.py would). On that curve each
    selector's weight is searched between the grid's (search_goal). Returns (exit status, the
    chosen point on the sweep's held-out queries or None, the JSON record).
    """
    started = time.monotonic()
    curve, chosen_on = goal_curve(args, data, sweep, embed, settings, weights, log)
    grid_trainings = curve.trainings
    min_quality, max_cost = goal_bounds(curve, args.target_quality, args.target_cost)
    goal = describe_goal(args, curve, min_quality, max_cost)
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
    record = goal_record(args, curve, goal, choice, chosen_on, tried, grid_trainings, searched)
    if choice.point is None:
        p = choice.closest
        log(f"Goal not met on {chosen_on}: {goal}. Closest: {p.key[0].upper()} at weight {p.key[1]:g}, "
            f"quality {p.quality:.4f}, {curve.basis} {p.cost:.4g}: {choice.shortfall}.")  # fmt: skip
        record["closest"] = {"selector": p.key[0], "weight": p.key[1], "quality": p.quality, curve.basis: p.cost}
        return 3, None, record
    job = report_choice(args, curve, choice, chosen_on, goal, record, log)
    kind, weight = choice.point.key
    on_held_out = choice.point if curve is sweep else measure_on_held_out(args, sweep, kind, weight, record, log)
    log(f"Reproduce: {record['command']}")
    try:
        run_training(job)
    except ToolkitError as exc:  # said as train.py would say it
        print(f"error: {exc}", file=sys.stderr)
        return 1, on_held_out, record
    return 0, on_held_out, record


def goal_curve(args, data: SweepData, sweep: Sweep, embed, settings: TrainSettings, weights: list[float], log) -> tuple[Sweep, str]:
    """(the curve the goal is chosen on, what it is): the sweep itself with --folds, else a
    --goal-folds cross-validated sweep of the training queries alone."""
    if args.folds:
        return sweep, f"{args.folds}-fold cross-validation on every query (the sweep above)"
    train_queries = data.splits[0][0]
    chosen_on = f"{args.goal_folds}-fold cross-validation on the {len(train_queries)} training queries"
    log(f"Choosing the operating point by {chosen_on}; the held-out queries are not looked at:")
    folds = SweepData(data.train_table, fold_splits(train_queries, args.goal_folds, args.seed), data.train_table)
    return run_sweep(folds, embed, settings, weights, log=log), chosen_on


def describe_goal(args, curve: Sweep, min_quality: float | None, max_cost: float | None) -> str:
    parts = (
        args.target_quality is not None and f"quality >= {args.target_quality:g} x best single ({min_quality:.4f})",
        args.target_cost is not None and f"{curve.basis} <= {args.target_cost:g} x best single ({max_cost:.4g})",
    )
    return " and ".join(part for part in parts if part)


def goal_record(args, curve: Sweep, goal: str, choice, chosen_on: str, tried: dict, grid_trainings: int, searched: int) -> dict:
    """--output-json's `target`: the goal, whether it was met, and every point measured for it."""
    return {
        "goal": goal,
        "met": choice.point is not None,
        "chosen_on": chosen_on,
        "search": {
            "weight_tolerance": args.search_tolerance or None,
            "tried": {k: [{"weight": w, **figures(curve, curve.result_at(k, w).selectors[k])} for w in ws] for k, ws in tried.items()},
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


def report_choice(args, curve: Sweep, choice, chosen_on: str, goal: str, record: dict, log) -> TrainJob:
    """Say which point meets the goal, record it, and return the job that writes its set."""
    kind, weight = choice.point.key
    chosen_settings = curve.result_at(kind, weight).settings
    job = chosen_set_job(args, chosen_settings, kind)
    command = "python train.py " + " ".join(shlex.quote(a) for a in job.command())
    ref = curve.reference
    log(
        f"Goal met on {chosen_on}: {goal}. {kind.upper()} at weight {weight:g} ({describe_params(chosen_settings.tuned_params(kind))}): "
        f"quality {choice.point.quality:.4f} ({choice.point.quality / ref.quality:.3f}x), "
        f"{curve.basis} {choice.point.cost:.4g} ({choice.point.cost / ref.cost:.3f}x of {curve.best_single})"
    )
    counts = curve.result_at(kind, weight).selectors[kind].selection_counts
    only = [m for m, n in counts.items() if n == len(curve.test_queries)]
    if only:
        log(f"It sends every query to {only[0]}: on this data the goal is met by not routing.")
    record.update({"selector": kind, "weight": weight, "quality": choice.point.quality, curve.basis: choice.point.cost, "command": command})
    return job


def measure_on_held_out(args, sweep: Sweep, kind: str, weight: float, record: dict, log) -> Point:
    """The chosen point on the sweep's held-out queries: what validate.py will report."""
    measured = next((w for w in sweep.weights if w.weight == weight), None) or sweep.measure(weight, (kind,))
    r = measured.selectors[kind]
    on_held_out = Point(sweep.value(r), r.avg_quality, (kind, weight))
    # Relative to the best single model on the same held-out queries, as the goal is on its own curve.
    held_min, held_max = goal_bounds(sweep, args.target_quality, args.target_cost)
    meets = choose([on_held_out], held_min, held_max).point is not None
    record["held_out"] = {"n_queries": len(sweep.test_queries), **figures(sweep, r), "meets_goal": meets}
    ref = sweep.reference
    log(
        f"On the {len(sweep.test_queries)} held-out queries: quality {r.avg_quality:.4f} ({r.avg_quality / ref.quality:.3f}x), "
        f"{sweep.basis} {sweep.value(r):.4g} ({sweep.value(r) / ref.cost:.3f}x of {sweep.best_single})"
        + ("" if meets else ": the goal, met on cross-validation, is missed here (the two estimates differ by their noise)")
    )
    return on_held_out


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
    except ToolkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
