#!/usr/bin/env python3
"""Cost of isolating code answers: seconds per scored code answer, bubblewrap vs unisolated.

    python benchmarks/bench_code_sandbox.py [--runs 50]

A quick, correct answer with three assertions is scored `--runs` times each way; the figures
are medians and 95th percentiles, and their ratio (taken in one run, on an idle machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from code_sandbox import isolation_problem, run_code_tests  # noqa: E402

ANSWER = "def add(a, b):\n    return a + b\n"
TESTS = ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(0, 0) == 0"]


def timed(unsafe: bool, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = run_code_tests(ANSWER, TESTS, unsafe=unsafe)
        times.append(time.perf_counter() - started)
        assert result.score == 1.0, result
    return times


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=50)
    args = p.parse_args(argv)
    problem = isolation_problem()
    if problem:
        print(f"bubblewrap cannot isolate here: {problem}")
        return 1
    timed(False, 3)  # warm the page cache
    isolated, unisolated = timed(False, args.runs), timed(True, args.runs)
    for name, times in (("bubblewrap", isolated), ("unisolated", unisolated)):
        p95 = sorted(times)[int(0.95 * (len(times) - 1))]
        print(f"{name:<11} median {1000 * statistics.median(times):6.1f} ms   p95 {1000 * p95:6.1f} ms   ({len(times)} runs)")
    print(
        f"isolation costs {1000 * (statistics.median(isolated) - statistics.median(unisolated)):.1f} ms per answer "
        f"({statistics.median(isolated) / statistics.median(unisolated):.2f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
