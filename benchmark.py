#!/usr/bin/env python3
"""Send each query to several LLMs behind OpenAI-compatible endpoints, score the answers against
the ground truth, and write one JSONL line per (query, model): the training data of train.py.

    python benchmark.py --queries examples/queries.jsonl --model-config models.yaml --output benchmark_output.jsonl

Running the same command again resumes: answered pairs are kept, failed ones are retried.
Exit status: 0 every pair answered; 1 some pairs failed (recorded with `error`; run again to retry);
2 bad arguments, configuration or queries (nothing sent); 130 interrupted (answered pairs kept).
"""

from __future__ import annotations

import argparse
import math
import os
import sys

from code_sandbox import require_isolation
from errors import ToolkitError, UsageError
from llm_benchmark import (
    DEFAULT_ENDPOINT,
    BenchmarkSettings,
    ModelConfig,
    ModelSummary,
    Query,
    RetryPolicy,
    format_summary,
    load_judge_config,
    load_model_config,
    load_queries,
    run_benchmark,
)
from scoring import canonical_metric


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--queries", required=True, help="JSONL with query, optional ground_truth, category, task_name, metric, choices")
    models = p.add_mutually_exclusive_group(required=True)
    models.add_argument("--models", help="comma-separated model names, all on --endpoint")
    models.add_argument("--model-config", help="YAML file with a models: list (endpoints, keys, headers, prices)")
    p.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help=f"OpenAI-compatible base URL for --models (default {DEFAULT_ENDPOINT})")
    p.add_argument("--api-key", help="API key for --models (default: LLM_API_KEY or OPENAI_API_KEY)")
    p.add_argument("--output", default="benchmark_output.jsonl")
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight at most (default 4)")
    # None = not given: a model's own setting in the YAML then holds (else 1024 / 0.0).
    p.add_argument("--max-tokens", type=int, default=None, help="maximum tokens per answer (default 1024)")
    p.add_argument("--temperature", type=float, default=None, help="sampling temperature (default 0.0)")
    p.add_argument("--limit", type=int, help="only the first N queries")
    p.add_argument("--concise", action="store_true", help="ask for the answer only (shorter, cheaper answers)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request attempt (default 120)")
    p.add_argument("--retries", type=int, default=3, help="retries after a failed attempt (default 3)")
    p.add_argument("--backoff", type=float, default=0.5, help="first backoff in seconds, doubled per retry, with jitter")
    p.add_argument("--max-backoff", type=float, default=30.0)
    p.add_argument("--code-timeout", type=float, default=10.0, help="seconds for the code metric's test run")
    p.add_argument(
        "--unsafe-code",
        action="store_true",
        help="score code answers WITHOUT isolation (as you, seeing your files) when bubblewrap cannot run here",
    )
    p.add_argument("--judge-model", help="the LLM judge of metric: judge queries (overrides a judge: entry in --model-config)")
    p.add_argument("--judge-endpoint", default=None, help="OpenAI-compatible base URL of the judge (default: --endpoint)")
    p.add_argument("--judge-api-key", help="API key of the judge (default: LLM_JUDGE_API_KEY, else the --models key)")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        models = _models_from_args(args)
        queries, stats = load_queries(args.queries, args.limit)
        judge = _judge_from_args(args, queries)
    except ToolkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        check_numbers(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if stats["duplicates"]:
        print(f"{args.queries}: {stats['duplicates']} repeated queries dropped (first occurrence kept)")
    if not _code_can_be_scored(queries, args.unsafe_code):
        return 2
    _announce(args, queries, models)
    settings = _settings_from_args(args, judge)
    try:
        summaries = run_benchmark(queries, models, args.output, settings)
    except KeyboardInterrupt:
        print(f"\ninterrupted: every answered pair is in {args.output}; run the same command again to resume", file=sys.stderr)
        return 130
    except ToolkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return _report(summaries, args.output)


def check_numbers(args: argparse.Namespace) -> None:
    """The numeric flags argparse reads but cannot bound (UsageError naming the flag): "inf",
    "nan" and negatives parse as floats, and would fail every request or every code run later."""
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    positive = {"--timeout": args.timeout, "--code-timeout": args.code_timeout}
    at_least_zero = {
        "--backoff": args.backoff,
        "--max-backoff": args.max_backoff,
        "--retries": args.retries,
        "--temperature": args.temperature,
    }
    for flag, value in positive.items():
        if not (math.isfinite(value) and value > 0):
            raise UsageError(f"{flag} must be a finite number of seconds above 0, got {value}")
    for flag, value in at_least_zero.items():
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise UsageError(f"{flag} must be a finite number, 0 or more, got {value}")
    for flag, value in {"--max-tokens": args.max_tokens, "--limit": args.limit}.items():
        if value is not None and value < 1:
            raise UsageError(f"{flag} must be at least 1, got {value}")


def _models_from_args(args: argparse.Namespace) -> list[ModelConfig]:
    """The models of --model-config, else those --models names at --endpoint, with the key of
    --api-key, $LLM_API_KEY or $OPENAI_API_KEY. ConfigError for a bad config, UsageError for no names."""
    if args.model_config:
        return load_model_config(args.model_config)
    key = args.api_key or os.environ.get("LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    if not names:
        raise UsageError("--models: no model names")
    return [ModelConfig(name=n, endpoint=args.endpoint, api_key=key) for n in names]


def _judge_from_args(args: argparse.Namespace, queries: list[Query]) -> ModelConfig | None:
    """The LLM judge: --judge-model (at --judge-endpoint, else --endpoint) over the config's judge:
    entry, which is read only when a query has `metric: judge`. ConfigError for a bad entry."""
    # The judge is read only when a query needs it: an unset ${VAR} in an unused judge entry stops nothing.
    needs_judge = any(canonical_metric(q.fields.get("metric")) == "judge" for q in queries)
    judge = load_judge_config(args.model_config) if args.model_config and needs_judge else None
    if args.judge_model:
        judge_key = (
            args.judge_api_key or os.environ.get("LLM_JUDGE_API_KEY") or os.environ.get("LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")
        )
        judge = ModelConfig(name=args.judge_model, endpoint=args.judge_endpoint or args.endpoint, api_key=judge_key)
    return judge


def _code_can_be_scored(queries: list[Query], unsafe_code: bool) -> bool:
    """False (the error printed) when a query scores code and the sandbox cannot isolate it, unless
    --unsafe-code (then a warning): checked before any request, so such a run does not start."""
    has_code = any(canonical_metric(q.fields.get("metric")) == "code" and q.fields.get("ground_truth") is not None for q in queries)
    if has_code and not unsafe_code:
        try:
            require_isolation()  # before any request: a run that cannot score safely does not start
        except ToolkitError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return False
    elif has_code:
        print("WARNING: --unsafe-code: code answers run as you, without isolation (they can read and change your files)")
    return True


def _announce(args: argparse.Namespace, queries: list[Query], models: list[ModelConfig]) -> None:
    """What the run will do, and how many queries it cannot score."""
    no_truth = sum(1 for q in queries if q.fields.get("ground_truth") is None and canonical_metric(q.fields.get("metric")) != "judge")
    print(f"Benchmarking {len(queries)} queries x {len(models)} models -> {args.output}")
    if no_truth:
        print(f"note: {no_truth} queries have no ground_truth: their answers are recorded with performance null (unscored)")


def _settings_from_args(args: argparse.Namespace, judge: ModelConfig | None) -> BenchmarkSettings:
    return BenchmarkSettings(
        concurrency=args.concurrency,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        concise=args.concise,
        policy=RetryPolicy(timeout=args.timeout, retries=args.retries, backoff=args.backoff, max_backoff=args.max_backoff),
        progress=not args.no_progress,
        code_timeout=args.code_timeout,
        unsafe_code=args.unsafe_code,
        judge=judge,
    )


def _report(summaries: dict[str, ModelSummary], output: str) -> int:
    """Print the per-model summary and what to do next; the exit status: 1 when pairs failed, else 0."""
    print()
    print(format_summary(summaries))
    errors = sum(s.errors for s in summaries.values())
    if errors:
        print(
            f"\n{errors} pairs failed (error recorded, performance null): run the same command again to retry them",
            file=sys.stderr,
        )
        return 1
    stem = output[: -len(".jsonl")] if output.endswith(".jsonl") else output
    print(
        "\nNext: label the queries with the router's own classifier, then train:\n"
        "  python add_category_to_training_data.py --vsr-url http://localhost:8080 "
        f"--input {output} --output {stem}.categorised.jsonl\n"
        f"  python train.py --data-file {stem}.categorised.jsonl --output-dir models/"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
