#!/usr/bin/env python3
"""Categorisation throughput against the loopback router answering after a fixed delay.

    python benchmarks/bench_categorise.py [--queries 30000] [--latency 0.1] [--concurrency 32]

One `/api/v1/classify/intent` request per text (the batch endpoint is another classifier, not the
serving category): ideal = concurrency / latency queries per second. The router runs in its own
process.
"""

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_http import free_port  # noqa: E402

from router_api import classify_queries  # noqa: E402


def start_router(latency: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, str(ROOT / "tests" / "fake_router.py"), "--port", str(port), "--latency", str(latency)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()  # "fake router on ..."
    return proc, f"http://127.0.0.1:{port}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--queries", type=int, default=30000)
    p.add_argument("--latency", type=float, default=0.1)
    p.add_argument("--concurrency", type=int, default=32)
    args = p.parse_args(argv)
    texts = [f"benchmark query number {i}: what is the derivative of x^{i}?" for i in range(args.queries)]
    proc, url = start_router(args.latency)
    try:
        started = time.perf_counter()
        outcome = asyncio.run(classify_queries(url, texts, args.concurrency))
        seconds = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait()
    assert len(outcome.results) == len(texts), len(outcome.errors)
    ideal = args.concurrency / args.latency
    rate = len(texts) / seconds
    print(f"single  {len(texts)} queries in {seconds:6.2f} s: {rate:8.1f} q/s = {rate / ideal:.2f} of ideal {ideal:.0f} q/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
