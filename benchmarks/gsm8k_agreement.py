#!/usr/bin/env python3
"""Agreement of the `number` scorer with RouteLLM's own GSM8K labels on real GPT-4 answers.

The reference of each question is the final number of Mixtral's answer where RouteLLM graded
Mixtral correct (its answers end "#### N"); GPT-4's answer to the same question is scored with
`score(answer, that number, metric)` and compared with RouteLLM's label for GPT-4. Prints the
count of agreements and every disagreement (question, our score, its label, the two final numbers).

    python benchmarks/gsm8k_agreement.py [--data ../shared/data/routellm-2models/gsm8k_responses.csv]
        [--metric number|math] [--scoring-dir DIR] [--show N]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "routellm-2models" / "gsm8k_responses.csv"
MIXTRAL, GPT4 = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"


def pairs(path: Path) -> list[tuple[str, str, str, bool]]:
    """(question, reference text, GPT-4 answer, RouteLLM's label for GPT-4) where Mixtral was graded correct."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [(r["prompt"], r[MIXTRAL + "_response"], r[GPT4 + "_response"], r[GPT4] == "True") for r in rows if r[MIXTRAL] == "True"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--metric", default="number")
    p.add_argument("--scoring-dir", help="import scoring.py from this directory (an older version, to compare)")
    p.add_argument("--show", type=int, default=0, help="print the first N disagreements in full")
    args = p.parse_args(argv)
    sys.path.insert(0, args.scoring_dir or str(ROOT))
    from scoring import final_number, score

    data = pairs(args.data)
    disagreements = []
    for question, reference, answer, label in data:
        value = final_number(reference)  # "#### 18" ends Mixtral's answers; the truth is that number
        truth = str(value.numerator) if value.denominator == 1 else str(float(value))
        ours = score(answer, truth, args.metric)
        if (ours == 1.0) != label:
            disagreements.append((question, reference, answer, label, ours))
    print(f"{len(data)} GPT-4 answers with a Mixtral reference graded correct; metric {args.metric}")
    print(f"agree with RouteLLM's label: {len(data) - len(disagreements)}; disagree: {len(disagreements)}")
    for i, (question, reference, answer, label, ours) in enumerate(disagreements):
        print(f"- ours {ours} vs label {label}: reference {final_number(reference)}, answer's final number {final_number(answer)}")
        if i < args.show:
            print(f"    Q: {question[:300]}\n    A: {answer[-300:]!r}\n    ref: {reference[-200:]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
