#!/usr/bin/env python3
"""Time figures for train.py --tune and tradeoff.py's sweep on 5.6k queries x 9 models
(../shared/data/jsonl/llmrouter-9models), and the tuned selectors' quality on all 500 test queries.

    python benchmarks/bench_tradeoff.py [--part tune|sweep|both] [--embedding-model minilm]

Embeddings are computed first (warm cache), so the figures are tuning and sweeping alone.
llmrouter-9models records no per-query cost or latency. The sweep's timing therefore runs on a
stand-in cost: each model's list price per million tokens (default_llm.json, input + output)
as its cost for every query. That is NOT a measured cost: this script prints the sweep's time
only, never its quality/cost figures.
"""

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from data_loader import Objective, OutcomeTable, build_outcome_table, category_models, load_records, model_ranking  # noqa: E402
from embeddings import Embedder  # noqa: E402
from evaluation import EvalTable, category_choices, evaluate_baselines, evaluate_choices  # noqa: E402
from models import build_features, select  # noqa: E402
from sweep import DEFAULT_WEIGHTS, SweepData, run_sweep  # noqa: E402
from training import TrainSettings, train_from_table  # noqa: E402
from tuning import DEFAULT_BUDGET_SECONDS, tune  # noqa: E402

SHARED = ROOT.parent / "shared/data"
DATA = SHARED / "jsonl"


def bench_tune(train_table, test_table, embedder) -> None:
    settings = TrainSettings(efficiency="latency")  # no latency in the data: quality alone
    started = time.perf_counter()
    chosen, report = tune(train_table, train_table.queries, embedder.embed, settings, 5, DEFAULT_BUDGET_SECONDS, lambda *a: None)
    trained = train_from_table(train_table, train_table.queries, embedder.embed, chosen)
    seconds = time.perf_counter() - started
    test_q = [q for q in test_table.queries if len(test_table.outcomes_by_query[q]) == len(train_table.models)]
    x = build_features(embedder.embed(test_q), [test_table.category_by_query[q] for q in test_q])
    table = EvalTable.build(test_table, test_q, train_table.models, trained.objective)
    baselines = {r.kind: r for r in evaluate_baselines(table, [m for m, _ in trained.ranking], trained.category_models)}
    print(f"train.py --tune (5 folds, budget {DEFAULT_BUDGET_SECONDS:.0f} s) + final training: {seconds:.0f} s")
    for kind in chosen.algorithms:
        result = evaluate_choices(kind, "selector", select(kind, trained.artifacts[kind], x).choices, table)
        params = report.selectors[kind].chosen
        print(f"  {kind:<7} {json.dumps(params):<32} test quality {result.avg_quality:.4f} on {len(test_q)} queries")
    print(f"  best single (chosen on train) {baselines['best_single'].avg_quality:.4f}, Oracle {baselines['oracle'].avg_quality:.4f}")
    print(f"  best per category (the router's category; chosen on train) {baselines['by_category'].avg_quality:.4f}")
    on_train, on_test = task_router_references(train_table, test_table, table)
    print(
        f"  references a router cannot reach, for scale (the data's task_name, unknown at serving time): each task's "
        f"best model on the train file {on_train:.4f}; each task's best model chosen on the test file itself {on_test:.4f}"
    )
    for kind, t in report.selectors.items():  # what cross-validation saw, in the order tried
        print(f"  {kind} tried: " + ", ".join(f"{json.dumps(p)} {o:.4f}" for p, o in t.tried))
    if report.out_of_budget:
        print(f"  budget spent before the end of the grid: {', '.join(report.out_of_budget)}")


def task_router_references(train_table: OutcomeTable, test_table: OutcomeTable, table: EvalTable) -> tuple[float, float]:
    """Mean test quality when every query goes to its task's best model, the task taken from the
    data's `task_name` (which the router never sees): chosen on the train file, and on the test
    file itself. The second bounds what routing by task alone could reach on these queries.
    Routing by task is routing by category with the task as the category: `category_models`."""

    def task_of(path: Path) -> dict[str, str]:  # the loader keeps no task_name: read it from the lines
        with path.open(encoding="utf-8") as f:
            return {row["query"]: row["task_name"] for row in map(json.loads, f)}

    quality_only = Objective(1.0, "none")
    test_tasks = task_of(DATA / "llmrouter-9models.test.jsonl")
    by_task = dataclasses.replace(table, categories=[test_tasks[q] for q in table.queries])

    def mean_quality(source: OutcomeTable, tasks: dict[str, str]) -> float:
        tasked = OutcomeTable(source.outcomes_by_query, tasks, source.models)
        ranking = model_ranking(tasked, quality_only)
        choices, _ = category_choices(by_task, category_models(tasked, quality_only, ranking), ranking[0][0])
        return evaluate_choices("task", "by_category", choices, by_task).avg_quality

    return mean_quality(train_table, task_of(DATA / "llmrouter-9models.train.jsonl")), mean_quality(test_table, test_tasks)


def with_list_price_cost(table: OutcomeTable) -> OutcomeTable:
    prices = json.loads((SHARED / "llmrouter-9models/default_llm.json").read_text())
    stand_in = {m: (prices[m]["input_price"] + prices[m]["output_price"]) * 1e-6 for m in table.models}
    outcomes = {
        q: {m: dataclasses.replace(o, cost=stand_in[m]) for m, o in per_model.items()} for q, per_model in table.outcomes_by_query.items()
    }
    return OutcomeTable(outcomes, table.category_by_query, table.models)


def bench_sweep(train_table, test_table, embedder) -> None:
    train_table, test_table = with_list_price_cost(train_table), with_list_price_cost(test_table)
    settings = TrainSettings(efficiency="cost")
    started = time.perf_counter()
    held_out = [q for q in test_table.queries if q not in set(train_table.queries)]  # the 119 seen ones are not held out
    sweep = run_sweep(
        SweepData(train_table, [(train_table.queries, held_out)], test_table),
        embedder.embed,
        settings,
        list(DEFAULT_WEIGHTS),
        log=lambda *a: None,
    )
    seconds = time.perf_counter() - started
    shape = f"{len(sweep.weights)} weights x 3 selectors, {len(train_table.queries)} train / {len(sweep.test_queries)} test queries"
    print(f"tradeoff.py sweep, {shape}: {seconds:.0f} s")
    print("  (timing only: the stand-in cost is a list price, not a measured cost; no quality/cost figure is reported)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=("tune", "sweep", "both"), default="both")
    p.add_argument("--embedding-model", default="minilm")
    p.add_argument("--cache-dir", default=str(ROOT / ".cache"))
    args = p.parse_args()
    train_table = build_outcome_table(*load_records(DATA / "llmrouter-9models.train.jsonl"))
    test_table = build_outcome_table(*load_records(DATA / "llmrouter-9models.test.jsonl"))
    embedder = Embedder(args.embedding_model, cache_dir=Path(args.cache_dir) / "embeddings", quiet=True)
    np.asarray(embedder.embed(train_table.queries + test_table.queries))  # warm: the figures exclude embedding
    print(f"{len(train_table.queries)} train queries x {len(train_table.models)} models, {len(test_table.queries)} test queries")
    if args.part in ("tune", "both"):
        bench_tune(train_table, test_table, embedder)
    if args.part in ("sweep", "both"):
        bench_sweep(train_table, test_table, embedder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
