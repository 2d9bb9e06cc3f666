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

from models import dump_artifact, l2_normalise_rows

BALL_TREE_LEAF_SIZE = 16  # Linfa's nearest-neighbour builders default to 2^4 points per leaf
DEFAULT_COST_SAMPLE = 10  # queries timed per selector: enough for a median, cheap at 50k KNN rows
# Above this many KNN values (rows x dimensions) train.py warns: about 1,900 rows at Qwen3's 1,038
# values, 5,000 at minilm's 398 (benchmarks/bench_router_cost.py measures what they cost). KMeans
# and SVM are bounded by the settings the user chose, and cost far less per stored value (no tree
# to build): they are reported, not warned about.
WARN_VALUES = 2_000_000
BOUNDING_FLAG = {"knn": "--knn-max-rows", "kmeans": "--kmeans-clusters", "svm": "--svm-prototypes"}
WHAT = {"knn": "rows", "kmeans": "centroids", "svm": "support vectors"}


@dataclass
class SelectorCost:
    """The work one `Select` does per request, and (when measured) how long a replica of it took."""

    kind: str
    vectors: int  # KNN rows, KMeans centroids, SVM support vectors over all classifiers (a linear one counts 1)
    dimensions: int
    file_bytes: int
    seconds_per_request: float | None = None  # median over `sample` queries timed one at a time
    sample: int = 0

    @property
    def values(self) -> int:
        """Stored numbers the router touches per request: vectors x dimensions."""
        return self.vectors * self.dimensions

    def describe(self) -> str:
        work = f"{self.vectors:,} {WHAT[self.kind]} x {self.dimensions:,} dims = {self.values / 1e6:.2f}M values"
        if self.kind == "knn":
            work = f"Ball Tree built over {work}, then queried"
        line = f"{self.kind.upper():<7}{work}; file {self.file_bytes / 1e6:.2f} MB"
        if self.seconds_per_request is not None:
            line += f"; ~{1e3 * self.seconds_per_request:.2f} ms per request (median of {self.sample})"
        return line

    def to_dict(self) -> dict:
        return {**asdict(self), "values": self.values, "bounded_by": BOUNDING_FLAG[self.kind]}


def selector_cost(kind: str, artifact: dict, file_bytes: int | None = None) -> SelectorCost:
    """The work of one `Select` on `artifact` (a checked artifact dict). `file_bytes`: the file's
    size on disk; when None, the size of the JSON the trainer writes for it."""
    if kind == "knn":
        rows = artifact["embeddings"]
        vectors, dims = len(rows), len(rows[0]) if rows else 0
    elif kind == "kmeans":
        rows = artifact["centroids"]
        vectors, dims = len(rows), len(rows[0]) if rows else 0
    else:
        linear = artifact.get("linear_classifiers") or []
        rbf = artifact.get("rbf_classifiers") or []
        vectors = len(linear) + sum(len(c["support_vectors"]) for c in rbf)
        dims = next((len(c["weights"]) for c in linear), 0) or next((len(c["support_vectors"][0]) for c in rbf if c["support_vectors"]), 0)
    if file_bytes is None:
        file_bytes = len(dump_artifact(artifact).encode("utf-8"))
    return SelectorCost(kind, vectors, dims, file_bytes)


def knn_request(rows: np.ndarray, k: int, x: np.ndarray) -> np.ndarray:
    """The runtime's KNN work for one query `x` (d,): a Ball Tree over every row (n x d), then
    its min(k, n) nearest rows (indices, nearest first). The vote over them costs O(k)."""
    from sklearn.neighbors import BallTree

    tree = BallTree(rows, leaf_size=BALL_TREE_LEAF_SIZE)
    return tree.query(x[None, :], k=min(k, len(rows)), return_distance=False)[0]


def _kmeans_request(centroids: np.ndarray, x: np.ndarray) -> int:
    return int(np.argmin(np.sum((centroids - x) ** 2, axis=1)))


def _svm_request(classifiers: list[tuple[np.ndarray, np.ndarray, float, float]], weights: list[tuple[np.ndarray, float]], x) -> int:
    xh = l2_normalise_rows(x[None, :])[0]
    values = [float(w @ xh - rho) for w, rho in weights]
    values += [float(np.exp(-gamma * np.sum((sv - xh) ** 2, axis=1)) @ alpha - rho) for sv, alpha, rho, gamma in classifiers]
    return int(np.argmax(values)) if values else 0


def time_select(kind: str, artifact: dict, features: np.ndarray) -> float:
    """Median seconds of one replica `Select` per query over the rows of `features` (n x d), each
    query timed alone. The file is parsed once beforehand, as the runtime loads it once."""
    features = np.asarray(features, dtype=np.float64)
    if kind == "knn":
        rows, k = np.asarray(artifact["embeddings"], dtype=np.float64), int(artifact["k"])

        def request(x):
            return knn_request(rows, k, x)
    elif kind == "kmeans":
        centroids = np.asarray(artifact["centroids"], dtype=np.float64)

        def request(x):
            return _kmeans_request(centroids, x)
    else:
        rbf = [
            (
                np.asarray(c["support_vectors"], dtype=np.float64),
                np.asarray(c["alpha"], dtype=np.float64),
                float(c["rho"]),
                float(c["gamma"]),
            )  # fmt: skip
            for c in artifact.get("rbf_classifiers") or []
        ]
        linear = [(np.asarray(c["weights"], dtype=np.float64), float(c["rho"])) for c in artifact.get("linear_classifiers") or []]

        def request(x):
            return _svm_request(rbf, linear, x)

    times = []
    for x in features:
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
