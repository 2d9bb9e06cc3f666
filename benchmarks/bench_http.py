#!/usr/bin/env python3
"""benchmark.py request throughput against the loopback server answering after a fixed delay.

    python benchmarks/bench_http.py [--requests 3000] [--latency 0.1] [--concurrency 32 128] [--profile]

Ideal throughput is concurrency / latency (320/s at 32, 1,280/s at 128 with 100 ms). The server
runs in its own process, so client and server each have a core of these 2-core machines.
"""

import argparse
import cProfile
import io
import pstats
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llm_benchmark import BenchmarkSettings, ModelConfig, Query, RetryPolicy, run_benchmark  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--latency", type=float, default=0.1)
    p.add_argument("--concurrency", type=int, nargs="+", default=[32, 128])
    p.add_argument("--profile", action="store_true", help="print where the client's time goes")
    args = p.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/fake_llm_server.py"), "--port", str(port), "--latency", str(args.latency)],
        stdout=subprocess.PIPE,
    )
    server.stdout.readline()  # "listening on ..."
    try:
        model = ModelConfig(name="m", endpoint=f"http://127.0.0.1:{port}/v1")
        for concurrency in args.concurrency:
            queries = [Query(f"q{concurrency}-{i}", {"ground_truth": "42", "metric": "number"}, i) for i in range(args.requests)]
            settings = BenchmarkSettings(concurrency=concurrency, progress=False, policy=RetryPolicy(timeout=30))
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "out.jsonl"
                profiler = cProfile.Profile() if args.profile else None
                started = time.perf_counter()
                if profiler:
                    profiler.enable()
                run_benchmark(queries, [model], out, settings, log=lambda *a: None)
                if profiler:
                    profiler.disable()
                elapsed = time.perf_counter() - started
                lines = sum(1 for _ in out.open())
            ideal = concurrency / args.latency
            rate = args.requests / elapsed
            print(
                f"concurrency {concurrency:>4}: {lines} lines in {elapsed:6.2f} s = {rate:7.1f} req/s, "
                f"ideal {ideal:7.1f} req/s, share {rate / ideal:.2f}"
            )
            if profiler:
                text = io.StringIO()
                pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(12)
                print(text.getvalue())
    finally:
        server.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
