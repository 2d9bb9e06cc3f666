#!/usr/bin/env python3
"""Give every query the category the running semantic router serves for it, and its decision.

At serving time the router appends the one-hot of ITS category to the query's embedding; a
selector trained on other labels (task names, hand labels, nothing at all) sees other features
than the router will send it. Run this between benchmark.py and train.py:

    python add_category_to_training_data.py --vsr-url http://localhost:8080 \\
        --input benchmark_output.jsonl --output benchmark_output.categorised.jsonl

Each unique user message (`prompt` when benchmark.py recorded it, else `query`) is sent once to
`POST /api/v1/classify/intent` (retried with backoff). Every input line is written, in order,
with the category the router serves (`router_api.serving_category`: the first `domain:` rule of
the matched decision, "" when it matched on none, the classifier's domain when no decision
matched; exactly as the router spelled it, never canonicalised), `decision` (the matched
decision, null when none), `category_confidence`, and the previous category as
`source_category`. A query the router could not classify keeps its category and gets
`category_error`; the exit code is then 1. A router that answers placeholders (no classifier
configured) or mostly categories outside the runtime's 14 slots is refused with exit code 3
unless --accept-suspect is given. A killed run resumes without asking again what it has.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path

from cli import add_router_config_argument, profile_from_args
from data_loader import (
    CATEGORIES,
    DataError,
    bad_lines_message,
    iter_jsonl_lines,
    parse_query_line,
    runtime_category,
    write_file_atomically,
)
from errors import ToolkitError
from llm_benchmark import RetryPolicy
from router_api import (
    DEFAULT_ROUTER_URL,
    TOKEN_ENV,
    Classification,
    ClassifyOutcome,
    classify_queries,
    require_router,
    router_token,
)

SUSPECT_EXIT = 3
PLACEHOLDER_CONFIDENCE = 0.5  # the router's placeholder answer: `general` at 0.5 for every text


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


def sent_text(row: dict) -> str:
    """The user message the router will see for this line: benchmark.py's `prompt`, else `query`."""
    prompt = row.get("prompt")
    return prompt if isinstance(prompt, str) and prompt.strip() else row["query"]


def progress_path(output: Path) -> Path:
    return output.with_name(output.name + ".progress.jsonl")


def load_progress(path: Path) -> dict[str, Classification]:
    """Classifications a killed run already received (a torn or odd line is simply asked again)."""
    done = {}
    if path.exists():
        for raw in path.read_bytes().split(b"\n"):
            try:
                obj = json.loads(raw)
                category, decision, confidence = obj["category"], obj.get("decision"), obj.get("confidence")
                if not isinstance(category, str) or not isinstance(decision, (str, type(None))):
                    continue
                done[obj["text"]] = Classification(category, confidence if isinstance(confidence, (int, float)) else None, decision)
            except (ValueError, KeyError, TypeError):
                continue
    return done


def relabel(rows: list[dict], results: dict[str, Classification], errors: dict[str, str]) -> list[dict]:
    """The rows with the router's categories and decisions; `source_category` keeps the first label ever seen."""
    out = []
    for row in rows:
        row = dict(row)
        previous = row.get("category")
        row.setdefault("source_category", previous)
        text = sent_text(row)
        result = results.get(text)
        if result is None:
            row["category_error"] = errors.get(text, "not classified")
        else:
            row["category"] = result.category  # exactly as the router serves it: the runtime's lookup is exact
            row["decision"] = result.decision
            row["category_confidence"] = result.confidence
            row.pop("router_category", None)  # written by earlier versions, which canonicalised
            row.pop("category_error", None)
        out.append(row)
    return out


def suspect_answers(results: dict[str, Classification]) -> list[str]:
    """Why these answers are not a category the router serves, one reason a line ([] when fine)."""
    if not results:
        return []
    n = len(results)
    reasons = []
    placeholders = sum(r.placeholder for r in results.values())
    if placeholders:
        reasons.append(
            f'{placeholders} of {n} answers are the router\'s placeholder (routing_decision "placeholder_response"): '
            "it has no classifier configured, so its categories say nothing about the queries"
        )
    categories = {r.category for r in results.values()}
    if not placeholders and n > 1 and len(categories) == 1 and all(r.confidence == PLACEHOLDER_CONFIDENCE for r in results.values()):
        reasons.append(f"all {n} answers are {next(iter(categories))!r} at confidence 0.5: the router's placeholder, not a classifier")
    outside = Counter(r.category for r in results.values() if r.category and r.category not in CATEGORIES)
    if sum(outside.values()) * 2 > n:
        named = ", ".join(f"{c!r} ({k})" for c, k in outside.most_common(5))
        reasons.append(
            f"{sum(outside.values())} of {n} categories are not among the runtime's 14 slots (lookup exact and "
            f"case-sensitive), so they all take 'other': {named}. Check the router's domain names"
        )
    return reasons


def summary_lines(rows: list[dict], results: dict[str, Classification], errors: dict[str, str]) -> list[str]:
    first_row = {}
    for row in rows:
        first_row.setdefault(sent_text(row), row)
    served = Counter(r.category for r in results.values())
    decisions = Counter(r.decision for r in results.values())
    changed = Counter()
    for text, result in results.items():
        row = first_row[text]
        before = runtime_category(row.get("source_category", row.get("category")))[0]
        after = runtime_category(result.category)[0]
        if before != after:
            changed[(before, after)] += 1
    n = len(first_row)
    lines = [f"{'Category (as served)':<28}{'Slot':<18}{'Queries':>9}{'Share':>9}"]
    for category, count in served.most_common():
        slot = runtime_category(category)[0]
        lines.append(f"{category or '(none: no domain rule)':<28}{slot:<18}{count:>9}{100 * count / n:>8.1f}%")
    if any(decisions):
        lines.append("Decisions: " + ", ".join(f"{d or '(none matched)'} {k}" for d, k in decisions.most_common()))
    total_changed = sum(changed.values())
    lines.append(f"Changed slot: {total_changed} of {n} queries ({100 * total_changed / n:.1f}%)")
    for (before, after), count in changed.most_common(5):
        lines.append(f"  {before} -> {after}: {count}")
    if errors:
        lines.append(f"Unclassified: {len(errors)} queries kept their previous category (marked `category_error`)")
    return lines


def categorise_file(
    input_path: Path,
    output_path: Path,
    url: str = DEFAULT_ROUTER_URL,
    concurrency: int = 8,
    policy: RetryPolicy | None = None,
    progress: bool = True,
    log=print,
    model: str | None = None,
    token: str | None = None,
    accept_suspect: bool = False,
) -> tuple[ClassifyOutcome, list[str]]:
    """Classify, write the output, and return (outcome, suspect reasons). With suspect reasons
    and not `accept_suspect`, nothing is written: the answers received stay in the progress file."""
    rows = read_input(input_path)
    require_router(url)
    unique = list(dict.fromkeys(sent_text(row) for row in rows))
    partial = progress_path(output_path)
    known = load_progress(partial)
    todo = [t for t in unique if t not in known]
    if known:
        log(f"Resuming: {len(unique) - len(todo)} of {len(unique)} queries already classified ({partial})")
    asked = f" (request model {model!r})" if model else ""
    log(f"Classifying {len(todo)} unique queries ({len(rows)} lines) with the router at {url}{asked}")
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="classify", unit="q")
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        with partial.open("a", encoding="utf-8") as sink:

            def keep(text: str, result: Classification) -> None:  # as it arrives: a killed run loses nothing
                if result.placeholder:
                    return  # never reused: the next run, on a configured router, asks again
                line = {"text": text, "category": result.category, "confidence": result.confidence, "decision": result.decision}
                sink.write(json.dumps(line, ensure_ascii=False) + "\n")
                sink.flush()

            outcome = asyncio.run(classify_queries(url, todo, concurrency, policy, keep, bar.update if bar else None, model, token))
    finally:
        if bar is not None:
            bar.close()
    outcome.results = {**{t: known[t] for t in unique if t in known}, **outcome.results}
    reasons = suspect_answers(outcome.results)
    for line in summary_lines(rows, outcome.results, outcome.errors):
        log(line)
    if reasons and not accept_suspect:
        return outcome, reasons
    output_path.parent.mkdir(parents=True, exist_ok=True)
    lines = relabel(rows, outcome.results, outcome.errors)
    write_file_atomically(output_path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in lines).encode("utf-8"))
    if not outcome.errors:
        partial.unlink(missing_ok=True)  # everything is in the output now
    log(f"Wrote {output_path} ({len(rows)} lines)")
    return outcome, reasons


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vsr-url", default=DEFAULT_ROUTER_URL, help=f"the semantic router's API (default {DEFAULT_ROUTER_URL})")
    p.add_argument("--input", required=True, help="benchmark output or query JSONL (each line has `query`)")
    p.add_argument("--output", required=True, help="JSONL to write (may be --input itself: replaced atomically at the end)")
    p.add_argument("--model", help="the request `model` field to send (a router with recipes picks its classifier by it)")
    p.add_argument(
        "--router-token", help=f"bearer token for the router's API (default ${TOKEN_ENV}; the variable keeps it out of your shell history)"
    )
    p.add_argument("--accept-suspect", action="store_true", help="write placeholder or out-of-slot categories anyway")
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight at most (default 8)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per request attempt (default 60)")
    p.add_argument("--retries", type=int, default=3, help="retries after a failed attempt (default 3)")
    p.add_argument("--backoff", type=float, default=0.5, help="first backoff in seconds, doubled per retry, with jitter")
    p.add_argument("--no-progress", action="store_true")
    add_router_config_argument(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.concurrency < 1:
        print("error: --concurrency must be at least 1", file=sys.stderr)
        return 2
    policy = RetryPolicy(timeout=args.timeout, retries=args.retries, backoff=args.backoff, max_backoff=10.0)
    try:
        profile = profile_from_args(args)  # the router's decisions: the recorded ones are checked against it
    except ToolkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        outcome, reasons = categorise_file(
            Path(args.input),
            Path(args.output),
            args.vsr_url,
            args.concurrency,
            policy,
            not args.no_progress,
            model=args.model,
            token=router_token(args.router_token),
            accept_suspect=args.accept_suspect,
        )
    except ToolkitError as exc:  # bad input, or the router cannot be reached
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: classifications so far are kept; run the same command again to resume", file=sys.stderr)
        return 130
    if reasons:
        verdict = "written anyway (--accept-suspect)" if args.accept_suspect else "NOT written"
        print(f"\nERROR: these are not the categories the router serves; {args.output} {verdict}:", file=sys.stderr)
        for reason in reasons:
            print(f"  - {reason}", file=sys.stderr)
        if not args.accept_suspect:
            print(
                f"Configure the router's classifier and decisions (or pass --model for a router with recipes), delete "
                f"{progress_path(Path(args.output))} and run again; --accept-suspect writes these answers as they are.",
                file=sys.stderr,
            )
            return SUSPECT_EXIT
    if profile is not None:
        unknown = Counter(r.decision for r in outcome.results.values() if r.decision and profile.decision(r.decision) is None)
        if unknown:
            named = ", ".join(f"{d!r} ({n})" for d, n in unknown.most_common(5))
            print(f"warning: the router answered decisions that {args.router_config} does not have: {named}: is it this router's config?")
    if outcome.errors:
        print(f"{len(outcome.errors)} queries could not be classified: run the same command again to retry them", file=sys.stderr)
        return 1
    print("Next: python train.py --data-file " + args.output + " --output-dir models/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
