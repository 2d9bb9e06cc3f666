#!/usr/bin/env python3
"""Train the KNN, KMeans and SVM selectors from benchmark JSONL and write runtime-exact JSON.

python train.py --data-file examples/benchmark_output.jsonl --output-dir models/ --embedding-model minilm
"""

from __future__ import annotations

import argparse
import sys

from cli import add_embedding_arguments, add_training_arguments, embedding_options_from_args, settings_from_args
from data_loader import TRAINING_DATA_FILE
from errors import ToolkitError
from train_job import TrainJob, run_training
from tuning import DEFAULT_BUDGET_SECONDS, DEFAULT_FOLDS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-file", help="benchmark JSONL (default: download %s from the Hub)" % TRAINING_DATA_FILE)
    p.add_argument("--output-dir", default="models/", help="where the three JSON files go (default: models/)")
    add_embedding_arguments(p)
    add_training_arguments(p)
    p.add_argument("--holdout", type=float, default=0.0, help="fraction of queries held out for validate.py (default 0)")
    p.add_argument(
        "--candidates",
        choices=("decisions", "all"),
        default="decisions",
        help="with --router-config: label each query among its decision's candidates (default), or among all models "
        "(a set as trained before decisions were read, for comparison)",
    )
    p.add_argument("--tune", action="store_true", help="choose each selector's settings by cross-validation on the training queries")
    p.add_argument("--tune-folds", type=int, default=DEFAULT_FOLDS, help=f"folds for --tune (default {DEFAULT_FOLDS})")
    p.add_argument(
        "--tune-budget",
        type=float,
        default=DEFAULT_BUDGET_SECONDS,
        help=f"seconds --tune may spend, shared by the selectors (default {DEFAULT_BUDGET_SECONDS:.0f})",
    )
    p.add_argument("--strict", action="store_true", help="fail on the first bad input line instead of skipping it")
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    job = TrainJob(
        args.data_file,
        args.output_dir,
        settings_from_args(args),
        embedding_options_from_args(args),
        args.holdout,
        args.candidates,
        args.tune,
        args.tune_folds,
        args.tune_budget,
        args.strict,
        args.quiet,
        args.router_token,
    )
    try:
        run_training(job)
    except ToolkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
