#!/bin/bash
# Does a change keep every output? Runs the same ten commands (train, --tune, validate,
# --cross-validate, tradeoff.py with a goal on a held-out part and on folds, prepare_models.py's
# training fallback, two refused flags) in two checkouts and compares what they print and write:
# stdout byte for byte (times and paths masked), the JSON reports and every artifact (its
# run_id, created_at and tuning time aside).
#
#   bash benchmarks/compare_outputs.sh /path/to/old/checkout /path/to/new/checkout
#
# Each checkout needs examples/ and the bundled minilm model; about 4 minutes per checkout on
# 2 idle cores. Prints one line per difference, and "identical" when there is none.
set -u
old=$(cd "$1" && pwd); new=$(cd "$2" && pwd)
work=$(mktemp -d)

run_all() {  # checkout, output folder
  cd "$1" || exit 2
  local out=$2 c="--cache-dir $2/cache"
  mkdir -p "$out"
  export OMP_NUM_THREADS=1 ROUTER_EMBEDDING_MODEL=minilm HF_HUB_OFFLINE=1
  run() { local name=$1; shift; "$@" > "$out/$name.out" 2> "$out/$name.err"; echo "exit $?" >> "$out/$name.out"; }
  run train python train.py --data-file examples/llmrouter-9models.train.jsonl --output-dir "$out/models" --embedding-model minilm $c
  run validate python validate.py --data-file examples/llmrouter-9models.test.jsonl --models-dir "$out/models" --no-download $c --output-json "$out/validate.json"
  run train_tune python train.py --data-file examples/llmrouter-9models.train.jsonl --output-dir "$out/tuned" --embedding-model minilm $c --tune --tune-folds 3 --algorithm kmeans --holdout 0.2
  run validate_tuned python validate.py --data-file examples/llmrouter-9models.train.jsonl --models-dir "$out/tuned" --no-download $c --algorithm kmeans
  run cv python validate.py --data-file examples/llmrouter-9models.train.jsonl --cross-validate 3 $c --embedding-model minilm --models-dir "$out/none"
  run tradeoff python tradeoff.py --data-file examples/routerarena-2models.jsonl --efficiency cost --embedding-model minilm $c --target-quality 0.99 --output-dir "$out/chosen" --output-json "$out/tradeoff.json"
  run tradeoff_folds python tradeoff.py --data-file examples/routerarena-2models.jsonl --efficiency cost --embedding-model minilm $c --folds 3 --algorithm knn --target-cost 0.8 --output-dir "$out/chosen2"
  run prepare python prepare_models.py --models-dir "$out/prep" --data-file examples/llmrouter-9models.train.jsonl --embedding-model minilm --repo-id nobody/none $c
  run bad_weights python tradeoff.py --data-file examples/routerarena-2models.jsonl --weights 2 $c
  run bad_holdout python train.py --data-file examples/llmrouter-9models.train.jsonl --holdout 1.5 $c --embedding-model minilm
  for f in "$out"/*.out; do
    sed -i -E 's/[0-9.]+ ms per request/N ms per request/; s/load average [0-9.]+/load average N/; s/\(([0-9]+) s\)/(N s)/; s/trainings, [0-9]+ s/trainings, N s/' "$f"
    sed -i "s#$out#OUT#g" "$f"
  done
}

(run_all "$old" "$work/old")
(run_all "$new" "$work/new")
python3 - "$work/old" "$work/new" <<'PY'
import glob, json, os, sys

old, new = sys.argv[1:]
differences = []
for path in sorted(glob.glob(f"{old}/*.out")):
    if open(path).read() != open(path.replace(old, new)).read():
        differences.append(f"stdout of {os.path.basename(path)[:-4]}")

def flat(o, p=""):
    if isinstance(o, dict):
        for k, v in o.items():
            yield from flat(v, f"{p}.{k}")
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from flat(v, f"{p}[{i}]")
    else:
        yield p, o

for name in ("validate.json", "tradeoff.json"):
    a = list(flat(json.load(open(f"{old}/{name}"))))
    b = [(k, v.replace(new, old) if isinstance(v, str) else v) for k, v in flat(json.load(open(f"{new}/{name}")))]
    if [k for k, _ in a] != [k for k, _ in b]:
        differences.append(f"{name}: other fields or field order")
    differences += [f"{name}: {k}" for (k, v), (_, w) in zip(a, b) if v != w and "seconds" not in k]

for path in sorted(glob.glob(f"{old}/*/*_model.json")):
    a, b = json.load(open(path)), json.load(open(path.replace(old, new)))
    for artifact in (a, b):
        meta = artifact.get("metadata", {})
        meta.pop("run_id", None), meta.pop("created_at", None)
        if "tuning" in meta:
            tuning = json.loads(meta["tuning"])
            tuning.pop("seconds")
            meta["tuning"] = json.dumps(tuning)
    if json.dumps(a) != json.dumps(b):
        differences.append(f"artifact {os.path.relpath(path, old)}")
print("\n".join(differences) or "identical")
PY
