"""What a selector costs the router on every routed request.

The router runs a selector's `Select` once per request (../shared/docs/router-artifacts.md,
"Cost per request"):
  KNN     builds a Ball Tree over every row of knn_model.json, then queries it: the work grows
          with rows x dimensions, and the rows grow with the training queries (bounded by
          train.py --knn-max-rows);
  KMeans  one distance per centroid: bounded by --kmeans-clusters;
  SVM     one kernel term per support vector of every classifier: bounded by --svm-prototypes
          (x models).

`selector_cost` states that work from the artifact alone (no clock, no machine). `measure_costs`
adds a per-request time of a replica of each `Select`, timed one query at a time. Its figures are
estimates of the runtime's, not measurements of it: the runtime (a Rust crate over Linfa's
nearest-neighbour code) is not available here, so scikit-learn's `BallTree` stands in for
Linfa's (both split a node at the median of its widest dimension and bound it by a centre and a
radius, so both build in O(rows x dimensions x log rows)), numpy stands in for the KMeans and SVM
loops, and the machine's load moves every figure. Compare them as ratios within one run.
The choices themselves are replayed by models.select, never by this module.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from models import SELECTORS, dump_artifact

DEFAULT_COST_SAMPLE = 10  # queries timed per selector: enough for a median, cheap at 50k KNN rows
# Above this many KNN values (rows x dimensions) train.py warns: about 1,900 rows at Qwen3's 1,038
# values, 5,000 at minilm's 398 (benchmarks/bench_router_cost.py measures what they cost). KMeans
# and SVM are bounded by the settings the user chose, and cost far less per stored value (no tree
# to build): they are reported, not warned about.
WARN_VALUES = 2_000_000


@dataclass
class SelectorCost:
    """The work one `Select` does per request, and (when measured) how long a replica of it took."""

    kind: str
    vectors: int  # KNN rows, KMeans centroids, SVM support vectors over all classifiers (a linear one counts 1)
    dimensions: int
    file_bytes: int
    seconds_per_request: float | None = None  # median over `sample` queries timed one at a time
    sample: int = 0
    modelled: bool = True  # False: the kind has no cost model (models.Selector.cost), vectors and dimensions are 0

    @property
    def values(self) -> int:
        """Stored numbers the router touches per request: vectors x dimensions."""
        return self.vectors * self.dimensions

    def describe(self) -> str:
        model = SELECTORS[self.kind].cost
        if not self.modelled:
            unknown = "its cost per request is not modelled (no cost model in its registry entry)"
            return f"{self.kind.upper():<6} {unknown}; file {self.file_bytes / 1e6:.2f} MB"
        work = model.describe.format(f"{self.vectors:,} {model.stored} x {self.dimensions:,} dims = {self.values / 1e6:.2f}M values")
        line = f"{self.kind.upper():<6} {work}; file {self.file_bytes / 1e6:.2f} MB"
        if self.seconds_per_request is not None:
            line += f"; ~{1e3 * self.seconds_per_request:.2f} ms per request (median of {self.sample})"
        return line

    def to_dict(self) -> dict:
        record = {k: v for k, v in asdict(self).items() if k != "modelled"}  # an unmodelled cost has no bound to name
        return {**record, "values": self.values, "bounded_by": SELECTORS[self.kind].cost.bounded_by if self.modelled else None}


def selector_cost(kind: str, artifact: dict, file_bytes: int | None = None) -> SelectorCost:
    """The work of one `Select` on `artifact` (a checked artifact dict), by the kind's cost model
    (models.RequestCost). `file_bytes`: the file's size on disk; when None, the size of the JSON
    the trainer writes for it."""
    if file_bytes is None:
        file_bytes = len(dump_artifact(artifact).encode("utf-8"))
    model = SELECTORS[kind].cost
    if model is None:
        return SelectorCost(kind, 0, 0, file_bytes, modelled=False)
    return SelectorCost(kind, model.vectors(artifact), SELECTORS[kind].feature_dim(artifact) or 0, file_bytes)


def time_select(kind: str, artifact: dict, features: np.ndarray) -> float:
    """Median seconds of one replica `Select` per query over the rows of `features` (n x d), each
    query timed alone. The file is parsed once beforehand, as the runtime loads it once."""
    request = SELECTORS[kind].cost.replica(artifact)
    times = []
    for x in np.asarray(features, dtype=np.float64):
        started = time.perf_counter()
        request(x)
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def measure_costs(
    artifacts: dict[str, dict], features: np.ndarray, sample: int = DEFAULT_COST_SAMPLE, file_bytes: dict[str, int] | None = None
) -> dict[str, SelectorCost]:
    """Per selector: its work and, when `sample` > 0, the median time of a replica `Select` on the
    first `sample` rows of `features` (queries x d, the router's feature vectors)."""
    costs = {}
    for kind, artifact in artifacts.items():
        cost = selector_cost(kind, artifact, (file_bytes or {}).get(kind))
        if sample > 0 and len(features) and cost.vectors:
            queries = features[:sample]
            cost.seconds_per_request, cost.sample = time_select(kind, artifact, queries), len(queries)
        costs[kind] = cost
    return costs


def machine_load() -> str:
    """The 1-minute load average against the cores: timings on a loaded machine are longer."""
    try:
        load = f"{os.getloadavg()[0]:.1f}"
    except OSError:
        load = "unknown"
    return f"load average {load} on {os.cpu_count()} cores"


def format_costs(costs: dict[str, SelectorCost], which: str = "") -> list[str]:
    """The report's lines: one per selector, then how to read the times. `which`: the set measured."""
    lines = [f"Cost per request in the router{f' ({which})' if which else ''}: its Select runs once per routed request"]
    lines += ["  " + cost.describe() for cost in costs.values()]
    timed = {k: c for k, c in costs.items() if c.seconds_per_request}
    if timed:
        lines.append(
            "  Times are estimates from replicas (scikit-learn's BallTree for Linfa's, numpy for the KMeans and SVM "
            f"loops), measured here with {machine_load()}: read them as ratios."
        )
    lines += [f"  warning: {warning}" for warning in oversized(costs)]
    return lines


def oversized(costs: dict[str, SelectorCost]) -> list[str]:
    """train.py's warning when the KNN set stores more than WARN_VALUES values, naming the flag that bounds it."""
    cost = costs.get("knn")
    if cost is None or cost.values <= WARN_VALUES:
        return []
    return [
        f"knn stores {cost.vectors:,} rows x {cost.dimensions:,} dims = {cost.values:,} values, above {WARN_VALUES:,}: "
        "the router builds a Ball Tree over every row on every request. --knn-max-rows bounds it."
    ]
