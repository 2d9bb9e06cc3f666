#!/usr/bin/env python3
"""What validate.py reports with and without the router's decision candidates, on the shared
llmrouter data (5,608 train / 500 test queries x 9 models), through the real scripts.

    python benchmarks/bench_decision_candidates.py [--embedding-model minilm] [--work-dir .cache/bench-candidates]

A loopback router (tests/fake_router.py) answers /api/v1/classify/intent as a v0.3 router with
three decisions over the data's own categories would (each matched on its `domain` rule);
add_category_to_training_data.py records each query's category and decision. The config gives
each decision a subset of the models, a cheap one first (its fallback). Then:

  A. train.py without the config, validate.py without it: today's report, every label served;
  B. the same set, validate.py --router-config: what the router serves (labels outside a
     decision's modelRefs go to its first one), with the fallbacks counted;
  C. train.py --router-config (labels among each decision's candidates), validate.py with it.

All three decisions use `knn` in the config: the KMeans and SVM rows show the same decisions as
if configured with those selectors. The Oracle and baseline rows are over all nine models.
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fake_router import FakeRouter  # noqa: E402

import add_category_to_training_data as categorise  # noqa: E402
import train  # noqa: E402
import validate  # noqa: E402
from data_loader import build_outcome_table, load_records  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "jsonl"
DECISIONS = {  # name: (domain, modelRefs in order: the first is the decision's fallback)
    "math_decision": ("math", ["qwen2.5-7b-instruct", "llama-3.1-8b-instruct", "llama-3.3-nemotron-super-49b-v1"]),
    "code_decision": ("computer science", ["codegemma-7b", "qwen2.5-7b-instruct", "llama-3.1-nemotron-51b-instruct"]),
    "general_decision": ("other", ["llama-3.1-8b-instruct", "gemma-2-9b-it", "mistral-7b-instruct-v0.3"]),
}


def router_config() -> str:
    lines = ["routing:", "  decisions:"]
    for name, (domain, refs) in DECISIONS.items():
        lines += [f"    - name: {name}", "      rules:", "        operator: OR", "        conditions:"]
        lines += [f"          - {{type: domain, name: {domain}}}", "      modelRefs:"]
        lines += [f"        - {{model: {m}}}" for m in refs]
        lines += ["      algorithm: {type: knn}"]
    lines += ["global:", "  router:", "    model_selection:", "      enabled: true", "      ml:", "        models_path: models"]
    lines += [f"        {a}: {{pretrained_path: models/{a}_model.json}}" for a in ("knn", "kmeans", "svm")]
    return "\n".join(lines) + "\n"


def data_categories(path: Path) -> dict[str, str]:
    out = {}
    for line in open(path, encoding="utf-8"):
        obj = json.loads(line)
        out.setdefault(obj["query"], obj.get("category") or "other")
    return out


def run_validate(test: Path, models: Path, cache: Path, out: Path, *extra: str) -> dict:
    argv = ["--data-file", str(test), "--models-dir", str(models), "--no-download", "--cache-dir", str(cache / "embeddings")]
    argv += ["--output-json", str(out), "--quiet", *extra]
    code = validate.main(argv)
    if code != 0:
        raise SystemExit(f"validate.py exited {code}")
    return json.loads(out.read_text())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--embedding-model", default="minilm")
    p.add_argument("--work-dir", default=".cache/bench-candidates")
    args = p.parse_args(argv)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    config = work / "router.yaml"
    config.write_text(router_config())
    decisions = [{"name": n, "domains": [d], "model_refs": [{"model": m} for m in refs]} for n, (d, refs) in DECISIONS.items()]
    files = {}
    for split in ("train", "test"):
        source = DATA / f"llmrouter-9models.{split}.jsonl"
        router = FakeRouter(categories=data_categories(source), decisions=decisions).start()
        try:
            files[split] = work / f"{split}.categorised.jsonl"
            argv = ["--vsr-url", router.url, "--input", str(source), "--output", str(files[split]), "--no-progress", "--concurrency", "16"]
            with open(work / f"categorise-{split}.log", "w") as log:
                stdout, sys.stdout = sys.stdout, log
                try:
                    code = categorise.main(argv)
                finally:
                    sys.stdout = stdout
            if code != 0:
                raise SystemExit(f"add_category_to_training_data.py exited {code}")
        finally:
            router.stop()
    cache = work / "cache"
    common = ["--data-file", str(files["train"]), "--embedding-model", args.embedding_model, "--cache-dir", str(cache), "--quiet"]
    for name, extra in (("plain", []), ("routed", ["--router-config", str(config)])):
        if train.main([*common, "--output-dir", str(work / name), *extra]) != 0:
            raise SystemExit(f"train.py ({name}) failed")
    a = run_validate(files["test"], work / "plain", cache, work / "a.json")
    b = run_validate(files["test"], work / "plain", cache, work / "b.json", "--router-config", str(config))
    c = run_validate(files["test"], work / "routed", cache, work / "c.json", "--router-config", str(config))
    by_name = [{s["name"]: s for s in r["strategies"]} for r in (a, b, c)]
    n = a["n_queries"]
    print(
        f"llmrouter-9models test: {n} queries; decisions (queries): {json.dumps(b['decision_queries'])}; embeddings {args.embedding_model}"
    )
    print(f"{'':<18}{'A: no candidates':>18}{'B: router serves A':>28}{'C: trained for them':>28}")
    for kind in ("KNN", "KMEANS", "SVM"):
        ra, rb, rc = (x[f"{kind} Selection"] for x in by_name)
        fb = f"{rb['avg_quality']:.4f} ({rb['fallbacks']} fallbacks)"
        fc = f"{rc['avg_quality']:.4f} ({rc['fallbacks']} fallbacks)"
        print(f"{kind:<18}{ra['avg_quality']:>18.4f}{fb:>28}{fc:>28}")
        for label, r in (("B", rb), ("C", rc)):
            if r["fallbacks_by_decision"]:
                print(f"  {label} fallbacks by decision: {json.dumps(r['fallbacks_by_decision'])}")
    base = by_name[0]
    single = next(s for s in base.values() if s["kind"] == "best_single")
    print(f"references over all 9 models: Oracle {base['Oracle (best)']['avg_quality']:.4f}, {single['name']} {single['avg_quality']:.4f}")
    # The same queries, served without a selector (each decision's first modelRef) and by the best
    # candidate of each query's decision (the Oracle a selector over those candidates can reach).
    table = build_outcome_table(load_records(files["test"])[0])
    refs = {name: models for name, (_, models) in DECISIONS.items()}
    queries = [q for q in table.queries if len(table.outcomes_by_query[q]) == len(table.models)]
    first = [table.outcomes_by_query[q][refs[table.decision_by_query[q]][0]].quality for q in queries]
    best = [max(table.outcomes_by_query[q][m].quality for m in refs[table.decision_by_query[q]]) for q in queries]
    print(f"with the decisions' candidates: first modelRef alone {sum(first) / len(first):.4f}, Oracle {sum(best) / len(best):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
