#!/usr/bin/env python3
"""Give every query the category the running semantic router's classifier assigns to it.

At serving time the router appends the one-hot of ITS category to the query's embedding; a
selector trained on other labels (task names, hand labels, nothing at all) sees other features
than the router will send it. Run this between benchmark.py and train.py:

    python add_category_to_training_data.py --vsr-url http://localhost:8080 \\
        --input benchmark_output.jsonl --output benchmark_output.categorised.jsonl

Each unique query is classified once (the batch endpoint when the router has it, else single
requests; retried with backoff). Every input line is written, in order, with the router's
`category` (canonicalised to the 14 slots), `category_confidence`, and the previous category as
`source_category`. A query the router could not classify keeps its category and gets
`category_error`; the exit code is then 1. A killed run resumes without asking again what it has.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path

from data_loader import (
    CATEGORIES,
    DataError,
    bad_lines_message,
    canonical_category,
    iter_jsonl_lines,
    parse_query_line,
    write_file_atomically,
)
from llm_benchmark import RetryPolicy
from router_api import DEFAULT_ROUTER_URL, Classification, ClassifyOutcome, RouterUnavailable, classify_queries, require_router
from router_profile import RouterConfigError, add_router_config_argument, profile_from_args


def read_input(path: Path) -> list[dict]:
    """Every non-blank line as a dict with a non-empty `query`; all bad lines named at once."""
    rows, problems = [], []
    for line_number, raw in iter_jsonl_lines(path):
        obj, problem = parse_query_line(raw, line_number)
        if problem:
            problems.append(problem)
        else:
            rows.append(obj)
    if problems:
        raise DataError(bad_lines_message(path, problems, "nothing was sent"))
    if not rows:
        raise DataError(f"{path}: no queries")
    return rows


def progress_path(output: Path) -> Path:
    return output.with_name(output.name + ".progress.jsonl")


def load_progress(path: Path) -> dict[str, Classification]:
    """Classifications a killed run already received (a torn or odd line is simply asked again)."""
    done = {}
    if path.exists():
        for raw in path.read_bytes().split(b"\n"):
            try:
                obj = json.loads(raw)
                done[obj["query"]] = Classification(str(obj["category"]), obj.get("confidence"))
            except (ValueError, KeyError, TypeError):
                continue
    return done


def relabel(rows: list[dict], results: dict[str, Classification], errors: dict[str, str]) -> list[dict]:
    """The rows with the router's categories; `source_category` keeps the first label ever seen."""
    out = []
    for row in rows:
        row = dict(row)
        previous = row.get("category")
        row.setdefault("source_category", previous)
        result = results.get(row["query"])
        if result is None:
            row["category_error"] = errors.get(row["query"], "not classified")
        else:
            canonical, _ = canonical_category(result.category)
            row["category"] = canonical
            row["category_confidence"] = result.confidence
            if result.category != canonical:
                row["router_category"] = result.category
            row.pop("category_error", None)
        out.append(row)
    return out


def summary_lines(rows: list[dict], results: dict[str, Classification], errors: dict[str, str]) -> list[str]:
    first_row = {}
    for row in rows:
        first_row.setdefault(row["query"], row)
    distribution = Counter(canonical_category(r.category)[0] for r in results.values())
    changed = Counter()
    for query, result in results.items():
        row = first_row[query]
        before = canonical_category(row.get("source_category", row.get("category")))[0]
        after = canonical_category(result.category)[0]
        if before != after:
            changed[(before, after)] += 1
    n = len(first_row)
    lines = [f"{'Category':<20}{'Queries':>9}{'Share':>9}"]
    for category in CATEGORIES:
        if distribution[category]:
            lines.append(f"{category:<20}{distribution[category]:>9}{100 * distribution[category] / n:>8.1f}%")
    total_changed = sum(changed.values())
    lines.append(f"Changed category: {total_changed} of {n} queries ({100 * total_changed / n:.1f}%)")
    for (before, after), count in changed.most_common(5):
        lines.append(f"  {before} -> {after}: {count}")
    if errors:
        lines.append(f"Unclassified: {len(errors)} queries kept their previous category (marked `category_error`)")
        lines.append(f"  e.g. {next(iter(errors.values()))}")
    return lines


def categorise_file(
    input_path: Path,
    output_path: Path,
    url: str,
    batch_size: int = 32,
    concurrency: int = 8,
    policy: RetryPolicy | None = None,
    progress: bool = True,
    log=print,
) -> ClassifyOutcome:
    rows = read_input(input_path)
    require_router(url)
    unique = list(dict.fromkeys(row["query"] for row in rows))
    partial = progress_path(output_path)
    known = load_progress(partial)
    todo = [q for q in unique if q not in known]
    if known:
        log(f"Resuming: {len(unique) - len(todo)} of {len(unique)} queries already classified ({partial})")
    log(f"Classifying {len(todo)} unique queries ({len(rows)} lines) with the router at {url}")
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="classify", unit="q")
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        with partial.open("a", encoding="utf-8") as sink:

            def keep(text: str, result: Classification) -> None:  # as it arrives: a killed run loses nothing
                sink.write(json.dumps({"query": text, "category": result.category, "confidence": result.confidence}) + "\n")
                sink.flush()

            outcome = asyncio.run(classify_queries(url, todo, batch_size, concurrency, policy, keep, bar.update if bar else None))
    finally:
        if bar is not None:
            bar.close()
    outcome.results = {**{q: known[q] for q in unique if q in known}, **outcome.results}
    output_path.parent.mkdir(parents=True, exist_ok=True)
    lines = relabel(rows, outcome.results, outcome.errors)
    write_file_atomically(output_path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in lines).encode("utf-8"))
    if not outcome.errors:
        partial.unlink(missing_ok=True)  # everything is in the output now
    log(f"Wrote {output_path} ({len(rows)} lines; {'batch endpoint' if outcome.mode == 'batch' else 'single requests'})")
    for line in summary_lines(rows, outcome.results, outcome.errors):
        log(line)
    return outcome


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vsr-url", default=DEFAULT_ROUTER_URL, help=f"the semantic router's API (default {DEFAULT_ROUTER_URL})")
    p.add_argument("--input", required=True, help="benchmark output or query JSONL (each line has `query`)")
    p.add_argument("--output", required=True, help="JSONL to write (may be --input itself: replaced atomically at the end)")
    p.add_argument("--batch-size", type=int, default=32, help="texts per batch request (default 32)")
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight at most (default 8)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per request attempt (default 60)")
    p.add_argument("--retries", type=int, default=3, help="retries after a failed attempt (default 3)")
    p.add_argument("--backoff", type=float, default=0.5, help="first backoff in seconds, doubled per retry, with jitter")
    p.add_argument("--no-progress", action="store_true")
    add_router_config_argument(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.batch_size < 1 or args.concurrency < 1:
        print("error: --batch-size and --concurrency must be at least 1", file=sys.stderr)
        return 2
    policy = RetryPolicy(timeout=args.timeout, retries=args.retries, backoff=args.backoff, max_backoff=10.0)
    try:
        profile_from_args(args)  # the router's decisions and candidates, for what follows
    except RouterConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        outcome = categorise_file(
            Path(args.input), Path(args.output), args.vsr_url, args.batch_size, args.concurrency, policy, not args.no_progress
        )
    except (DataError, RouterUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: classifications so far are kept; run the same command again to resume", file=sys.stderr)
        return 130
    if outcome.errors:
        print(f"{len(outcome.errors)} queries could not be classified: run the same command again to retry them", file=sys.stderr)
        return 1
    print("Next: python train.py --data-file " + args.output + " --output-dir models/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
