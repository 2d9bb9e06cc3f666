#!/usr/bin/env python3
"""Evidence for train.py's --knn-max-rows default: K-fold cross-validated objective of the KNN
selector against its row budget, on public routing sets, next to a random subset of the
unbudgeted set's rows of the same size (the rule the prototypes must beat).

Every fold trains with train.py's own `train_from_table` on the other folds and replays with the
runtime replay (`models.select`), exactly as `train.py --tune` does. The default is the smallest
budget whose mean objective is within the folds' spread (one standard deviation over folds) of
the unbudgeted set's, on every set.

    python benchmarks/bench_knn_budget.py [--embedding-model minilm] [--cache-dir .cache] [--folds 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from data_loader import build_outcome_table, load_records  # noqa: E402
from embeddings import Embedder  # noqa: E402
from evaluation import EvalTable, evaluate_choices  # noqa: E402
from models import select  # noqa: E402
from runtime_cost import machine_load, time_select  # noqa: E402
from training import TrainSettings, evaluation_folds, replay_held_out, train_from_table  # noqa: E402
from tuning import embedded_once  # noqa: E402

DATA = ROOT.parent / "shared/data/jsonl"
SETS = {  # name: (file, efficiency basis of the objective)
    "llmrouter-9models (train)": (DATA / "llmrouter-9models.train.jsonl", "latency"),  # no latency recorded: quality only
    "routerarena-2models": (ROOT / "examples/routerarena-2models.jsonl", "latency"),  # likewise: quality only
}
BUDGETS = (25, 50, 100, 250, 500, 750, 1000, 1500, 2000, 3000)
RANDOM_DRAWS = 3


def random_rows(artifact: dict, size: int, rng: np.random.Generator) -> dict:
    """The unbudgeted artifact cut to `size` rows drawn at random (each keeps its own label)."""
    keep = np.sort(rng.choice(len(artifact["embeddings"]), size=size, replace=False))
    cut = dict(artifact)
    for key in ("embeddings", "labels", "qualities", "latencies"):
        if key in artifact:
            cut[key] = [artifact[key][i] for i in keep]
    return cut


def cross_validate(table, embed, settings: TrainSettings, folds: int, budgets: tuple[int, ...], seed: int, log):
    """{budget: (per-fold objective of the prototypes, per-fold mean objective of random subsets)};
    budget 0 is the unbudgeted set (its random column is None). Also per-request replica times."""
    _, cached = embedded_once(embed, table.queries)
    fold_data = evaluation_folds(table, table.queries, folds, seed)
    results: dict[int, tuple[list[float], list[float] | None]] = {}
    timing: dict[int, list[float]] = {}
    rng = np.random.default_rng(seed)
    for f, (train_queries, test_queries) in enumerate(fold_data):
        replay = replay_held_out(table, train_queries, test_queries, cached, settings)
        full, features = replay.trained, replay.features
        eval_table = EvalTable.build(table, test_queries, table.models, full.objective)

        def objective(artifact, features=features, eval_table=eval_table):
            return evaluate_choices("knn", "selector", select("knn", artifact, features).choices, eval_table).avg_objective

        n_rows = len(full.artifacts["knn"]["embeddings"])
        results.setdefault(0, ([], None))[0].append(objective(full.artifacts["knn"]))
        timing.setdefault(0, []).append(time_select("knn", full.artifacts["knn"], features[:5]))
        for budget in budgets:
            if budget >= n_rows:
                continue
            started = time.monotonic()
            budgeted = train_from_table(table, train_queries, cached, settings.replace(knn_max_rows=budget))
            seconds = time.monotonic() - started
            artifact = budgeted.artifacts["knn"]
            assert len(artifact["embeddings"]) <= budget
            draws = [objective(random_rows(full.artifacts["knn"], len(artifact["embeddings"]), rng)) for _ in range(RANDOM_DRAWS)]
            kept, random = results.setdefault(budget, ([], []))
            kept.append(objective(artifact))
            random.append(float(np.mean(draws)))
            timing.setdefault(budget, []).append(time_select("knn", artifact, features[:5]))
            log(f"    fold {f + 1}/{folds} budget {budget}: {kept[-1]:.4f} (random {random[-1]:.4f}), trained in {seconds:.1f} s")
        log(f"  fold {f + 1}/{folds}: {n_rows} rows unbudgeted, objective {results[0][0][-1]:.4f}")
    return results, timing


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--embedding-model", default="minilm")
    p.add_argument("--cache-dir", default=str(ROOT / ".cache"))
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--budgets", default=",".join(map(str, BUDGETS)))
    p.add_argument("--sets", default=",".join(SETS), help="which of the sets, by name, comma-separated")
    args = p.parse_args(argv)
    budgets = tuple(int(b) for b in args.budgets.split(","))
    embedder = Embedder(args.embedding_model, cache_dir=Path(args.cache_dir) / "embeddings", quiet=True)
    smallest = {}
    print(f"KNN row budget, {args.folds}-fold CV, {embedder.model_id}, default KNN settings; {machine_load()}")
    for name in args.sets.split(","):
        path, basis = SETS[name]
        table = build_outcome_table(*load_records(path))
        settings = TrainSettings(algorithms=("knn",), efficiency=basis, seed=args.seed, knn_max_rows=0)  # the unbudgeted set
        print(f"\n{name}: {len(table.queries)} queries, {len(table.models)} models, objective on {basis}", flush=True)
        results, timing = cross_validate(table, embedder.embed, settings, args.folds, budgets, args.seed, print)
        full = np.array(results[0][0])
        floor = full.mean() - full.std()
        print(f"{'rows':>8}{'objective (prototypes)':>26}{'random subset':>20}{'folds won/tied/lost':>22}{'ms/request':>12}")
        for budget in sorted(results, key=lambda b: b or 10**9):
            kept, random = np.array(results[budget][0]), results[budget][1]
            label = "all" if budget == 0 else str(budget)
            rand = f"{np.mean(random):.4f} ±{np.std(random):.4f}" if random else ""
            wins = "/".join(str(sum(op(k, r) for k, r in zip(kept, random or []))) for op in (float.__gt__, float.__eq__, float.__lt__))
            wins = wins if random else ""
            ms = 1e3 * np.median(timing[budget])
            print(f"{label:>8}{kept.mean():>17.4f} ±{kept.std():.4f}{rand:>20}{wins:>22}{ms:>12.2f}")
        within = [b for b in sorted(results) if b and np.mean(results[b][0]) >= floor]
        smallest[name] = within[0] if within else None
        spread = f"{full.mean():.4f} - {full.std():.4f} = {floor:.4f}"
        print(f"  within the folds' spread of all rows ({spread}): smallest budget {smallest[name]}")
    print(f"\nSmallest budget within the spread, per set: {smallest}; {machine_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
