#!/usr/bin/env python3
"""Time of the README's set-up training and quick start, as a newcomer runs them after install:
fresh processes, an empty embedding cache, the bundled example and `minilm`. Prints wall time and
CPU time (user + system, all threads) of each command; on a busy machine the CPU time is the
figure that carries over.

    python benchmarks/bench_quickstart.py
"""

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one child process run to completion."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, *argv], cwd=ROOT, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    with tempfile.TemporaryDirectory() as work:
        models, cache = str(Path(work) / "models"), str(Path(work) / "cache")
        commands = {
            "set-up: train.py": ["train.py", "--data-file", "examples/llmrouter-9models.train.jsonl", "--output-dir", models],
            "quick start: validate.py": ["validate.py", "--data-file", "examples/llmrouter-9models.test.jsonl", "--models-dir", models],
        }
        shared = ["--embedding-model", "minilm", "--cache-dir", cache]
        total_wall = total_cpu = 0.0
        for name, argv in commands.items():
            extra = ["--no-download", "--plot", str(Path(work) / "validation.png")] if "validate" in name else []
            wall, cpu = timed([*argv, *shared, *extra])
            total_wall, total_cpu = total_wall + wall, total_cpu + cpu
            print(f"{name:<28} wall {wall:6.1f} s   CPU {cpu:6.1f} s")
        print(f"{'both, cold embedding cache':<28} wall {total_wall:6.1f} s   CPU {total_cpu:6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
