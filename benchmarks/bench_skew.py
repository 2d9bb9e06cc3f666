#!/usr/bin/env python3
"""The skew report on real routing data: does it find what a disagreeing classifier did?

    python benchmarks/bench_skew.py [--disagree 0.2] [--cache-dir .cache/bench]

Trains the three selectors with `minilm` on the llmrouter-9models train file, then runs
validate.py --router-url on its test file against the loopback router, whose classifier returns
the data's own category except on a known, hash-chosen share of queries. Prints the share the
report found against the share the router was set to, and the selector quality change it predicts.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fake_router import FakeRouter  # noqa: E402

import train  # noqa: E402
import validate  # noqa: E402
from data_loader import build_outcome_table, load_records  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "jsonl"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--disagree", type=float, default=0.2)
    p.add_argument("--sample", type=int, default=500)
    p.add_argument("--cache-dir", default=str(ROOT / ".cache" / "bench"))
    args = p.parse_args(argv)
    train_file, test_file = DATA / "llmrouter-9models.train.jsonl", DATA / "llmrouter-9models.test.jsonl"
    if not train_file.exists():
        print(f"{train_file} not found: this script needs ../shared/data")
        return 1
    categories = build_outcome_table(load_records(test_file)[0]).category_by_query
    router = FakeRouter(dict(categories), disagree=args.disagree).start()
    with tempfile.TemporaryDirectory() as work:
        models = Path(work) / "models"
        assert (
            train.main(
                [
                    "--data-file",
                    str(train_file),
                    "--output-dir",
                    str(models),
                    "--embedding-model",
                    "minilm",
                    "--cache-dir",
                    args.cache_dir,
                    "--quiet",
                ]
            )
            == 0
        )
        report = Path(work) / "report.json"
        validate.main(
            [
                "--data-file",
                str(test_file),
                "--models-dir",
                str(models),
                "--no-download",
                "--router-url",
                router.url,
                "--cache-dir",
                args.cache_dir,
                "--skew-sample",
                str(args.sample),
                "--output-json",
                str(report),
                "--quiet",
            ]
        )
        skew = json.loads(report.read_text())["skew"]
    sampled = [t for path, body in router.requests if path == "/api/v1/embeddings" for t in body["texts"]]
    planted = sum(router.disagrees(q) for q in sampled)
    router.stop()
    print(f"\nsampled {skew['n_queries']} test queries; router set to disagree on {100 * args.disagree:.0f}%")
    print(
        f"planted disagreements: {planted} ({100 * planted / len(sampled):.1f}%); "
        f"report found: {skew['category_differs']} ({100 * skew['category_differs'] / skew['n_queries']:.1f}%)"
    )
    for kind, s in skew["selectors"].items():
        print(
            f"  {kind:<7} choices changed by category {100 * s['changed_by_category']:5.1f}%; "
            f"quality {s['quality_as_validated']:.3f} as validated -> {s['quality_in_production']:.3f} in production"
        )
    return 0 if planted == skew["category_differs"] else 1


if __name__ == "__main__":
    sys.exit(main())
