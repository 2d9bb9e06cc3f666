#!/usr/bin/env python3
"""Scoring throughput per metric (answers/s), single thread, as benchmark.py scores them.

    python benchmarks/bench_scoring.py [--seconds 2] [--scoring-dir DIR]

Corpora: `number` on the 842 real GPT-4 GSM8K answers of ../shared/data (reference: Mixtral's
answers graded correct); `math`, `multiple_choice`, `exact`, `f1`, `keywords` and `code` on
their rows of the conformance table (tests/conformance_table.py); `reasoning` reads 16,000-
character traces out of answers (scoring.read_reply); `judge verdicts` parses MT-Bench's 320 real
GPT-4 judgments (judge.parse_rating). Each corpus is scored over and over for `--seconds`; the
figure is answers scored / seconds. `--scoring-dir` imports scoring.py from elsewhere (an older
version) to compare; rows it cannot score are skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "routellm-2models"


def throughput(fn, items: list, seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while True:
        for item in items:
            fn(item)
        done += len(items)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=2.0, help="time spent per metric (default 2)")
    p.add_argument("--scoring-dir", help="import scoring.py from this directory")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, args.scoring_dir or str(ROOT))
    sys.path.insert(1, str(ROOT))
    from conformance_table import ROWS

    import scoring

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from gsm8k_agreement import DEFAULT_DATA, pairs

    corpora: dict[str, list] = {}
    if DEFAULT_DATA.exists():
        corpora["number (GSM8K, real)"] = [(answer, reference, "number") for _, reference, answer, _ in pairs(DEFAULT_DATA)]
    for metric in ("math", "mc", "exact", "f1", "keywords", "code"):
        corpora[f"{metric} (conformance rows)"] = [(a, t, m) for a, t, m, _, _ in ROWS if m == metric]
    print(f"scoring.py from {Path(scoring.__file__).parent}; {args.seconds:g} s per metric, one thread")
    print(f"{'metric':<28}{'answers':>9}{'answers/s':>12}")
    for name, rows in corpora.items():
        try:
            for row in rows:
                scoring.score(*row)
        except Exception as exc:  # an older scorer without this metric
            print(f"{name:<28}{len(rows):>9}{'n/a (' + type(exc).__name__ + ')':>12}")
            continue
        rate = throughput(lambda row: scoring.score(*row), rows, args.seconds)
        print(f"{name:<28}{len(rows):>9}{rate:>12,.0f}")
    if hasattr(scoring, "read_reply"):
        traces = [f"<think>{'Let me weigh each option carefully. ' * 444}</think>Answer: {c}" for c in "ABCD"]
        print(f"{'reasoning (16k-char trace)':<28}{len(traces):>9}{throughput(scoring.read_reply, traces, args.seconds):>12,.0f}")
    if hasattr(scoring, "read_reply"):
        # Hostile answers built to make regular expressions backtrack: seconds for the worst one.
        hostile = {
            "'answer' + 200k spaces": "answer" + " " * 200_000 + "x",
            "200k newlines": "answer:" + "\n \n" * 200_000 + "x",
            "50k <think>": "<think>" * 50_000,
            "50k </think>": "</think>" * 50_000,
            "50k fences": "```\n" * 50_000,
            "200k-char fence line": "```" + "a" * 200_000 + "`",
            "200k '####'": "#### " * 200_000,
            "50k \\boxed{": "\\boxed{" * 50_000,
        }
        worst = 0.0
        for text in hostile.values():
            for fn in (lambda t: scoring.score(t, "B", "mc"), lambda t: scoring.score(t, "7", "number"), scoring.extract_code):
                started = time.perf_counter()
                fn(text)
                worst = max(worst, time.perf_counter() - started)
        print(f"hostile answers ({', '.join(hostile)}): slowest read {worst:.2f} s")
    if (SHARED / "mt_bench_judgements.jsonl").exists():
        from judge import parse_rating

        texts = [json.loads(line)["judgment"] for line in (SHARED / "mt_bench_judgements.jsonl").read_text(encoding="utf-8").splitlines()]
        print(f"{'judge verdicts (MT-Bench)':<28}{len(texts):>9}{throughput(parse_rating, texts, args.seconds):>12,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
