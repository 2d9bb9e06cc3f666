#!/usr/bin/env python3
"""Draw the quick start's example data from LLMRouter's routing results (MIT, see LICENSE-llmrouter).

The rule, fixed before looking at any result: from each file, for each task, the `--per-task`
queries whose sha256 (of the UTF-8 query text) is smallest, with every one of their lines (one per
model), in the source's line order. A hash is an arbitrary but reproducible order: no query is
chosen for how the models did on it. The source's test file repeats some training queries
(`--exclude`): those are left out before drawing, so every test query is unseen in training.

    python examples/make_llmrouter_subset.py ../shared/data/jsonl/llmrouter-9models.train.jsonl --per-task 30 \\
        > examples/llmrouter-9models.train.jsonl
    python examples/make_llmrouter_subset.py ../shared/data/jsonl/llmrouter-9models.test.jsonl --per-task 15 \\
        --exclude ../shared/data/jsonl/llmrouter-9models.train.jsonl > examples/llmrouter-9models.test.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict


def chosen_queries(lines: list[dict], per_task: int, excluded: set[str] = frozenset()) -> set[str]:
    """Per task_name, the `per_task` queries not in `excluded` with the smallest sha256 of their text."""
    by_task: dict[str, set[str]] = defaultdict(set)
    for row in lines:
        if row["query"] not in excluded:
            by_task[row["task_name"]].add(row["query"])
    chosen = set()
    for queries in by_task.values():
        chosen.update(sorted(queries, key=lambda q: hashlib.sha256(q.encode("utf-8")).hexdigest())[:per_task])
    return chosen


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", help="a llmrouter-9models JSONL file of the shared data (one line per query and model)")
    p.add_argument("--per-task", type=int, required=True, help="queries kept per task")
    p.add_argument("--exclude", help="leave out the queries of this JSONL file (the training source, for the test file)")
    args = p.parse_args(argv)
    excluded = set()
    if args.exclude:
        with open(args.exclude, encoding="utf-8") as handle:
            excluded = {json.loads(line)["query"] for line in handle if line.strip()}
    with open(args.source, encoding="utf-8") as handle:
        raw = [line for line in handle if line.strip()]
    rows = [json.loads(line) for line in raw]
    keep = chosen_queries(rows, args.per_task, excluded)
    for line, row in zip(raw, rows):
        if row["query"] in keep:
            sys.stdout.write(line if line.endswith("\n") else line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
