#!/usr/bin/env python3
"""Writes examples/routerarena-2models.jsonl: RouterArena's cached results for two hosted models
in the benchmark format, with the per-query USD cost the source measured.

    python examples/convert_routerarena.py ../shared/data/routerarena-2models > examples/routerarena-2models.jsonl

Source: RouteWorks/RouterArena @ 4714a9ad73e897a1241e73a86c9297fed2e871d8, `cached_results/*.jsonl`
(Apache-2.0, see LICENSE-routerarena). Every field written is copied from the source record:
`performance` = `evaluation_result.score`, `cost` = `evaluation_result.inference_cost` (USD, the
source's token counts times its prices), the token counts from `token_usage`. Nothing is invented:
the source records no latency, so there is no `response_time`.

The `category` is derived from the source's task name (MMLU-Pro's subject, a medical QA set ->
health, ...), a stand-in for the router's classifier: run add_category_to_training_data.py for the
categories the router itself computes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MODELS = ("claude-3-haiku-20240307", "gemini-2.0-flash-001")

# Task (the part of `global_index` before the last "_") -> router category. MMLU-Pro carries its
# subject ("MMLUPro_law"); it is used when it is one of the router's categories.
CATEGORY_OF_TASK = {
    "AIME": "math",
    "MATH": "math",
    "MathQA": "math",
    "AsDiv": "math",
    "GSM8K": "math",
    "OpenTDB_Science: Mathematics": "math",
    "LiveCodeBench": "computer science",
    "OpenTDB_Science: Computers": "computer science",
    "PubMedQA": "health",
    "MedMCQA": "health",
    "QANTA_History": "history",
    "OpenTDB_History": "history",
    "QANTA_Philosophy": "philosophy",
    "MMLU_formal_logic": "philosophy",
    "Ethics_commonsense": "philosophy",
    "Ethics_deontology": "philosophy",
    "Ethics_virtue": "philosophy",
    "Ethics_justice": "philosophy",
    "FinQA": "business",
    "MMLU_management": "business",
}
MMLU_PRO_SUBJECTS = {
    "biology",
    "business",
    "chemistry",
    "computer science",
    "economics",
    "health",
    "history",
    "law",
    "math",
    "philosophy",
    "physics",
    "psychology",
}


def category_of(task: str) -> str:
    if task.startswith("MMLUPro_") and task[len("MMLUPro_") :] in MMLU_PRO_SUBJECTS:
        return task[len("MMLUPro_") :]
    return CATEGORY_OF_TASK.get(task, "other")


def convert(source_dir: Path):
    """Benchmark lines, query by query (both models of a query together), in the source's order."""
    by_model = {}
    for model in MODELS:
        path = source_dir / f"{model}.jsonl"
        rows = {}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            row = json.loads(line)
            if row["llm_selected"] != model:
                raise SystemExit(f"{path}:{number}: llm_selected is {row['llm_selected']!r}, expected {model!r}")
            rows[row["global_index"]] = row
        by_model[model] = rows
    first = by_model[MODELS[0]]
    for index, row in first.items():
        task = index.rsplit("_", 1)[0]
        for model in MODELS:
            source = by_model[model][index]
            if source["question"] != row["question"]:
                raise SystemExit(f"{index}: the two models were asked different questions")
            result = source["evaluation_result"]
            line = {"query": source["question"], "category": category_of(task), "model_name": model}
            score = (result or {}).get("score")
            if source["success"] and isinstance(score, (int, float)) and not 0 <= score <= 1:
                # One METEOR score in the source is below 0; the format takes [0, 1]. Recorded as
                # unscored with the reason, not clipped: a clipped score would be one we made up.
                line["error"] = f"source score {score!r} is outside [0, 1]"
            elif source["success"] and isinstance(score, (int, float)):
                line["performance"] = result["score"]
                line["cost"] = result["inference_cost"]
                line["prompt_tokens"] = source["token_usage"]["input_tokens"]
                line["completion_tokens"] = source["token_usage"]["output_tokens"]
            else:
                line["error"] = source.get("error") or "no score in the source"
            line["task_name"] = task
            line["source_id"] = index
            yield line


def main() -> int:
    source_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/routerarena-2models")
    for line in convert(source_dir):
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
