#!/usr/bin/env python3
"""What validate.py reports with and without the router's decision candidates, on the shared
llmrouter data (5,608 train / 500 test queries x 9 models), through the real scripts.

    python benchmarks/bench_decision_candidates.py [--work-dir .cache/bench-candidates]

A loopback router (tests/fake_router.py) answers /api/v1/classify/intent as a v0.3 router with
three decisions over the data's own categories would (each matched on its `domain` rule), and
/api/v1/embeddings with the bundled all-MiniLM-L6-v2 vectors zero-padded to the 768 values its
config (Qwen3 cut to 768) asks for: distances are minilm's. add_category_to_training_data.py
records each query's category and decision. The config gives each decision three of the nine
models (every model is some decision's candidate, so the deploy check passes both sets). Then:

  A. train.py --router-config --candidates all (labels among all models, as before decisions
     were read), validate.py without the config: today's report, every label served;
  B. the same set, validate.py --router-config: what the router serves (labels outside a
     decision's modelRefs go to its first one), with the fallbacks counted;
  C. train.py --router-config (labels among each decision's candidates), validate.py with it.

All three decisions use `knn`: the KMeans and SVM files are consulted by no decision and are
trained and replayed as if every decision used them. Oracle, Random and the single-model rows
are over all nine models; "Oracle (decision candidates)" and "Each decision's first modelRef"
are the references under the router's rule.
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
from embeddings import Embedder  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "jsonl"
FIRST_MODELREF = "Each decision's first modelRef"
DECISIONS = {  # name: (domain, modelRefs in order: the first is the decision's fallback); each model in one decision
    "math_decision": ("math", ["qwen2.5-7b-instruct", "llama-3.3-nemotron-super-49b-v1", "llama3-chatqa-1.5-70b"]),
    "code_decision": ("computer science", ["codegemma-7b", "llama-3.1-nemotron-51b-instruct", "llama3-chatqa-1.5-8b"]),
    "general_decision": ("other", ["llama-3.1-8b-instruct", "gemma-2-9b-it", "mistral-7b-instruct-v0.3"]),
}


def router_config() -> str:
    lines = ["routing:", "  decisions:"]
    for name, (domain, refs) in DECISIONS.items():
        lines += [f"    - name: {name}", "      rules:", "        operator: OR", "        conditions:"]
        lines += [f"          - {{type: domain, name: {domain}}}", "      modelRefs:"]
        lines += [f"        - {{model: {m}}}" for m in refs]
        lines += ["      algorithm: {type: knn}"]
    lines += ["global:", "  model_catalog:", "    embeddings:", "      semantic: {qwen3_model_path: models/Qwen3-Embedding-0.6B}"]
    lines += ["  router:", "    model_selection:", "      enabled: true", "      ml:", "        model_type: qwen3"]
    lines += ["        embedding_dim: 768", "        models_path: models"]
    lines += [f"        {a}: {{pretrained_path: models/{a}_model.json}}" for a in ("knn", "kmeans", "svm")]
    return "\n".join(lines) + "\n"


def data_categories(path: Path) -> dict[str, str]:
    out = {}
    for line in open(path, encoding="utf-8"):
        obj = json.loads(line)
        out.setdefault(obj["query"], obj.get("category") or "other")
    return out


def quietly(fn, argv: list[str], log: Path) -> int:
    with open(log, "w") as sink:
        stdout, sys.stdout = sys.stdout, sink
        try:
            return fn(argv)
        finally:
            sys.stdout = stdout


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", default=".cache/bench-candidates")
    args = p.parse_args(argv)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    config = work / "router.yaml"
    config.write_text(router_config())
    decisions = [{"name": n, "domains": [d], "model_refs": [{"model": m} for m in refs]} for n, (d, refs) in DECISIONS.items()]
    sources = {split: DATA / f"llmrouter-9models.{split}.jsonl" for split in ("train", "test")}
    categories = {**data_categories(sources["train"]), **data_categories(sources["test"])}
    minilm = Embedder("minilm", cache_dir=work / "minilm-cache", quiet=True)  # the fake router's vectors, cached across runs
    router = FakeRouter(categories=categories, decisions=decisions, embedder=minilm).start()
    reports = {}
    try:
        files = {}
        for split, source in sources.items():
            files[split] = work / f"{split}.categorised.jsonl"
            argv = ["--vsr-url", router.url, "--input", str(source), "--output", str(files[split]), "--no-progress", "--concurrency", "16"]
            if quietly(categorise.main, argv, work / f"categorise-{split}.log") != 0:
                raise SystemExit(f"add_category_to_training_data.py exited non-zero (see {work})")
        cache = work / "cache"
        common = ["--data-file", str(files["train"]), "--embedding-model", "router", "--router-url", router.url]
        common += ["--cache-dir", str(cache), "--router-config", str(config)]
        for name, extra in (("plain", ["--candidates", "all"]), ("routed", [])):
            if quietly(train.main, [*common, "--output-dir", str(work / name), *extra], work / f"train-{name}.log") != 0:
                raise SystemExit(f"train.py ({name}) failed (see {work / f'train-{name}.log'})")
        runs = {"a": ("plain", []), "b": ("plain", ["--router-config", str(config)]), "c": ("routed", ["--router-config", str(config)])}
        for key, (name, extra) in runs.items():
            out = work / f"{key}.json"
            argv = ["--data-file", str(files["test"]), "--models-dir", str(work / name), "--no-download"]
            argv += ["--cache-dir", str(cache / "embeddings"), "--embedding-model", "router", "--router-url", router.url]
            if quietly(validate.main, [*argv, "--output-json", str(out), *extra], work / f"validate-{key}.log") != 0:
                raise SystemExit(f"validate.py ({key}) failed (see {work / f'validate-{key}.log'})")
            reports[key] = json.loads(out.read_text())
    finally:
        router.stop()
    by_name = {k: {s["name"]: s for s in r["strategies"]} for k, r in reports.items()}
    print(f"llmrouter-9models test: {reports['a']['n_queries']} queries; decisions: {json.dumps(reports['b']['decision_queries'])}")
    print(f"{'':<10}{'A: all models, no rule':>24}{'B: A as the router serves it':>40}{'C: trained for the decisions':>40}")
    for kind in ("KNN", "KMEANS", "SVM"):
        ra, rb, rc = (by_name[k][f"{kind} Selection"] for k in "abc")
        fb = f"{rb['avg_quality']:.4f} ({rb['fallbacks']} fallbacks)"
        fc = f"{rc['avg_quality']:.4f} ({rc['fallbacks']} fallbacks)"
        print(f"{kind:<10}{ra['avg_quality']:>24.4f}{fb:>40}{fc:>40}")
        for label, r in (("B", rb), ("C", rc)):
            if r["fallbacks_by_decision"]:
                print(f"  {label} fallbacks by decision: {json.dumps(r['fallbacks_by_decision'])}")
    b = by_name["b"]
    single = next(s for s in b.values() if s["kind"] == "best_single")
    print(
        f"references: Oracle over all 9 {b['Oracle (best)']['avg_quality']:.4f}; {single['name']} {single['avg_quality']:.4f}; "
        f"under the router's rule: Oracle (decision candidates) {b['Oracle (decision candidates)']['avg_quality']:.4f}, "
        f"each decision's first modelRef {b[FIRST_MODELREF]['avg_quality']:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
