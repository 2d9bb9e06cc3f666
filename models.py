"""The selectors (KNN, KMeans, SVM, and any registered): train from the outcome table, export runtime-exact JSON, replay `Select`.

Each selector kind is one `Selector` entry of `SELECTORS` (see `register_selector`), which holds
everything the suite knows about it:
  train(training_set, **settings) -> TrainedSelector   (artifact dict + fitted estimator)
  check(artifact) -> None                              (the runtime's parse, raises ArtifactError)
  select(artifact, features) -> Selection              (the runtime's Select, batched)
  file_name, feature_dim(artifact), labels(artifact)   (the file, its feature size, its model names)
  settings (flags, defaults, help), tuning_grid, tuned (cli.py, tuning.py and the reproducing command
                                                        generate from them)
  cost                                                 (what one Select costs the router per request)

The replays follow ../shared/docs/router-artifacts.md; validate.py and the tests call only them.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data_loader import CATEGORIES, Objective, OutcomeTable, best_model, category_one_hot
from errors import ToolkitError

TOOL_VERSION = "1.0.0"
ALGORITHMS = ("knn", "kmeans", "svm")  # the router's three (ml.<kind>.pretrained_path); `algorithms()` adds any registered since
ARTIFACT_FILES: dict[str, str] = {}  # kind -> file name, filled by register_selector


class ArtifactError(ToolkitError, ValueError):
    """An artifact the runtime would reject, or one that does not fit the data it is used with."""


class TrainingError(ToolkitError, ValueError):
    pass


# ---------------------------------------------------------------------------------------------
# Features and the training set


def build_features(embeddings: np.ndarray, categories: list[str]) -> np.ndarray:
    """embedding ++ 14-slot category one-hot, float64, exactly as the runtime builds it."""
    one_hot = np.array([category_one_hot(c) for c in categories], dtype=np.float64).reshape(len(categories), len(CATEGORIES))
    return np.hstack([np.asarray(embeddings, dtype=np.float64), one_hot])


def l2_normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """The SVM runtime's normalisation: x / ||x|| when ||x|| > 1e-10, else x unchanged."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.where(norms > 1e-10, matrix / np.where(norms > 1e-10, norms, 1.0), matrix)


def quantize(matrix: np.ndarray, digits: int = 7) -> np.ndarray:
    """Round to `digits` significant digits, so the file holds short numbers that parse back to
    exactly the values we trained on (float32 carries about 7 digits anyway).

    The result is float(f"%.{digits}g" % x) for every x, computed without formatting each number
    (that took 3.5 s for one 4,500-row KNN set): m = round(x * 10^j) is exact unless x * 10^j lies
    within rounding error of a half, and m / 10^j (or m * 10^-j) is then the correctly rounded
    double, both operands being exact. The few near-halves, non-finite values and exponents outside
    the exact powers of ten are formatted one by one as before.
    """
    flat = np.asarray(matrix, dtype=np.float64).ravel()
    finite = np.isfinite(flat) & (flat != 0)
    top, bottom = 10.0**digits - 0.5, 10.0 ** (digits - 1) - 0.5  # |m| must round into [10^(d-1), 10^d)
    with np.errstate(all="ignore"):  # huge, tiny and non-finite values take the slow path below
        j = (digits - 1 - np.floor(np.log10(np.where(finite, np.abs(flat), 1.0)))).astype(np.int64)
        near_edge = np.zeros(flat.shape, dtype=bool)
        for _ in range(2):  # log10 can be off by one next to a power of ten
            size = np.abs(flat * np.power(10.0, j.astype(np.float64)))
            near_edge |= (np.abs(size - top) < 1e-3) | (np.abs(size - bottom) < 1e-3)
            j = np.where(size >= top, j - 1, np.where(size < bottom, j + 1, j))
        scaled = flat * np.power(10.0, j.astype(np.float64))
        m = np.round(scaled)
        exact = finite & (np.abs(j) <= 22) & ~near_edge & (np.abs(scaled - np.floor(scaled) - 0.5) > 1e-6)
        ten = np.power(10.0, np.abs(j).astype(np.float64))
        out = np.where(j >= 0, m / ten, m * ten)
    slow = ~exact
    if slow.any():
        out[slow] = np.char.mod(f"%.{digits}g", flat[slow]).astype(np.float64)
    return out.reshape(np.shape(matrix))


# ---------------------------------------------------------------------------------------------
# Decisions and their candidates: which models the router lets a selector's label reach


@dataclass
class QueryRoutes:
    """Per query, the router decision it matches and that decision's candidates.

    The rule (../shared/docs/router-artifacts.md, "Which selector and which candidates"): the
    selector's label is looked up in the matched decision's modelRefs (lora_name when set, else
    model); a label outside them sends the request to the first modelRef; a decision with one
    modelRef skips the selector. `decisions` maps a decision's name to any object with `name`,
    `algorithm` and `candidates` (router_profile.DecisionProfile). A query whose decision is not
    known has no constraint (None): it is replayed and labelled over every model, as before.
    """

    decision_by_query: dict[str, str]  # queries with a known decision only
    decisions: dict[str, object]
    recorded: int = 0  # decisions read from the data's `decision` field (add_category_to_training_data.py)
    inferred: int = 0  # decisions taken from the profile by the query's category (no `decision` in the data)
    unknown: dict[str, int] = field(default_factory=dict)  # recorded decision names the profile does not have -> queries

    def uses(self, query: str, algorithm: str) -> bool:
        """Does the query's decision call this selector? Decisions of another algorithm do not;
        when no decision uses `algorithm`, every decision is taken as if it did (what train.py
        trained that file on). A query without a known decision: True (unconstrained)."""
        name = self.decision_by_query.get(query)
        if name is None:
            return True
        if not any(d.algorithm == algorithm for d in self.decisions.values()):
            return True
        return self.decisions[name].algorithm == algorithm

    def candidates(self, query: str) -> tuple[str, ...] | None:
        name = self.decision_by_query.get(query)
        return tuple(self.decisions[name].candidates) if name is not None else None

    def describe(self) -> list[str]:
        out = []
        if self.recorded or self.inferred:
            out.append(
                f"decisions: {self.recorded} queries by the router's recorded decision, {self.inferred} by their category "
                "matching a decision's domain rule"
            )
        for name, n in sorted(self.unknown.items()):
            out.append(f"decision {name!r} of {n} queries is not in the router config: those queries are not constrained")
        return out


def query_routes(queries: list[str], decisions, decision_by_query: dict[str, str], category_by_query: dict[str, str]) -> QueryRoutes:
    """Each query's decision: its recorded one (the router's own answer), else the first decision,
    in config order, with a domain rule on the query's category. `decisions`: DecisionProfile-like
    objects in config order."""
    by_name = {d.name: d for d in decisions}
    routes = QueryRoutes({}, by_name)
    for query in queries:
        name = decision_by_query.get(query)
        if name is not None:
            if name in by_name:
                routes.decision_by_query[query] = name
                routes.recorded += 1
            else:
                routes.unknown[name] = routes.unknown.get(name, 0) + 1
            continue
        category = category_by_query.get(query)
        match = next((d for d in decisions if category in d.domains), None)
        if match is not None:
            routes.decision_by_query[query] = match.name
            routes.inferred += 1
    return routes


@dataclass
class Served:
    """What the router serves for a selector's choices: `models`, and how often it overrode them."""

    models: list[str]
    fallbacks: int = 0  # labels outside the decision's candidates: sent to its first modelRef
    skipped: int = 0  # one-candidate decisions: the selector is not called
    elsewhere: int = 0  # queries of decisions that use another algorithm: their first modelRef stands in
    fallbacks_by_decision: dict[str, int] = field(default_factory=dict)
    queries_by_decision: dict[str, int] = field(default_factory=dict)


def serve(
    choices: list[str],
    candidates: list[tuple[str, ...] | None],
    decisions: list[str | None] | None = None,
    uses_selector: list[bool] | None = None,
) -> Served:
    """The runtime's rule on a selector's `choices` (one per query), given each query's decision
    candidates (None: unconstrained), decision name (for the counts) and whether that decision
    uses this selector at all (False: the query never reaches it; its first modelRef stands in,
    counted as `elsewhere`)."""
    decisions = decisions or [None] * len(choices)
    uses_selector = uses_selector or [True] * len(choices)
    served = Served([])
    for choice, allowed, name, uses in zip(choices, candidates, decisions, uses_selector):
        if name is not None:
            served.queries_by_decision[name] = served.queries_by_decision.get(name, 0) + 1
        if allowed is None:
            served.models.append(choice)
        elif not uses:
            served.models.append(allowed[0])
            served.elsewhere += 1
        elif len(allowed) == 1:
            served.models.append(allowed[0])
            served.skipped += 1
        elif choice in allowed:
            served.models.append(choice)
        else:
            served.models.append(allowed[0])
            served.fallbacks += 1
            if name is not None:
                served.fallbacks_by_decision[name] = served.fallbacks_by_decision.get(name, 0) + 1
    return served


@dataclass
class TrainingSet:
    """Everything a selector learns from: one row per training query."""

    queries: list[str]
    features: np.ndarray  # n x d, embedding ++ one-hot, not normalised
    best: list[str]  # label per query under the objective
    models: list[str]  # model order = overall ranking, best first
    scores: np.ndarray  # n x M objective of what the router serves when the selector picks the model (see build)
    quality: np.ndarray  # n x M, likewise
    latency: np.ndarray  # n x M seconds, NaN when unknown
    objective: Objective
    allowed: np.ndarray | None = None  # n x M bool: the model is a candidate of the query's decision (None: all are)

    @classmethod
    def build(
        cls,
        table: OutcomeTable,
        queries: list[str],
        features: np.ndarray,
        objective: Objective,
        ranking: list[tuple[str, float]],
        candidates: list[tuple[str, ...] | None] | None = None,
    ) -> "TrainingSet":
        """`candidates`: per query, its decision's candidates (None: any model). The label is the
        best model among them; a model outside them gets the outcome of the decision's first
        candidate, which is what the router serves when the selector picks it (`serve`), so every
        selector learns what its choice really yields. NaN where the model has no outcome."""
        models = [m for m, _ in ranking]
        rank = {m: i for i, m in enumerate(models)}
        n, m = len(queries), len(models)
        scores = np.full((n, m), np.nan)
        quality = np.full((n, m), np.nan)
        latency = np.full((n, m), np.nan)
        allowed = np.ones((n, m), dtype=bool) if candidates is not None else None
        best = []
        for i, query in enumerate(queries):
            per_model = table.outcomes_by_query[query]
            for model, outcome in per_model.items():
                j = rank[model]
                scores[i, j] = objective.score(outcome)
                quality[i, j] = outcome.quality
                latency[i, j] = np.nan if outcome.latency is None else outcome.latency
            allowed_here = candidates[i] if candidates is not None else None
            if allowed_here is not None:
                per_model = {c: per_model[c] for c in allowed_here if c in per_model}
                if not per_model:
                    raise TrainingError(
                        f"query {query[:60]!r}: none of its decision's candidates ({', '.join(allowed_here)}) has an outcome"
                    )
                allowed[i] = False
                allowed[i, [rank[c] for c in allowed_here if c in rank]] = True
                outside = ~allowed[i]
                first = rank.get(allowed_here[0])  # the fallback; NaN (no outcome) when the data lacks it
                scores[i, outside] = np.nan if first is None else scores[i, first]
                quality[i, outside] = np.nan if first is None else quality[i, first]
            best.append(best_model(per_model, objective, rank))
        return cls(list(queries), np.asarray(features, dtype=np.float64), best, models, scores, quality, latency, objective, allowed)

    @property
    def selectable(self) -> np.ndarray:
        """Per model: a candidate of some training query's decision (all True without decisions).
        A label outside every candidate list would only ever be overridden by the router."""
        return np.ones(len(self.models), dtype=bool) if self.allowed is None else self.allowed.any(axis=0)

    def rows(self, index: np.ndarray | list[int]) -> "TrainingSet":
        """The same set restricted to some queries (those whose decision uses one selector)."""
        i = np.asarray(index, dtype=int)
        allowed = None if self.allowed is None else self.allowed[i]
        return TrainingSet(
            [self.queries[k] for k in i],
            self.features[i],
            [self.best[k] for k in i],
            self.models,
            self.scores[i],
            self.quality[i],
            self.latency[i],
            self.objective,
            allowed,
        )

    def best_by_mean(self, rows: np.ndarray) -> str:
        """The selectable model with the best mean objective over `rows` (ties: better overall rank)."""
        means = np.where(self.selectable, mean_over_rows(self.scores[rows]), -np.inf)
        if self.allowed is not None:
            # An outside model ties with the first candidate it falls back to: prefer the model the
            # rows' decisions allow (a nudge far below any real difference of mean objective).
            means = means + 1e-9 * self.allowed[rows].mean(axis=0)
        return self.models[int(np.argmax(means))]  # first max: models are rank-ordered


def mean_over_rows(values: np.ndarray) -> np.ndarray:
    """Per-model mean over the second-to-last axis, ignoring NaN (no outcome); -inf where no row has one."""
    counts = np.sum(~np.isnan(values), axis=-2)
    return np.where(counts > 0, np.nansum(values, axis=-2) / np.maximum(counts, 1), -np.inf)


@dataclass
class TrainedSelector:
    """A selector's train result: the artifact dict (written as its file), the fitted estimator, notes for the log."""

    artifact: dict
    estimator: object = None  # the fitted scikit-learn object(s), for parity checks
    notes: list[str] = field(default_factory=list)


@dataclass
class Selection:
    """A replay's result: one model name per feature row, and how many rows had an exact tie."""

    choices: list[str]
    ties: int = 0  # queries where the runtime's choice is arbitrary (exact vote or distance ties)


# ---------------------------------------------------------------------------------------------
# KNN


def _nearest_training_queries(ts: TrainingSet, points: np.ndarray, size: int) -> np.ndarray:
    """len(points) x size indices of the `size` training queries nearest to each point (Euclidean,
    in no particular order within a point's set), computed in blocks of 512 points."""
    x = ts.features
    sq = np.einsum("ij,ij->i", x, x)
    near = np.empty((len(points), size), dtype=np.int64)
    for start in range(0, len(points), 512):
        block = points[start : start + 512]
        d2 = np.einsum("ij,ij->i", block, block)[:, None] + sq[None, :] - 2.0 * block @ x.T
        near[start : start + len(block)] = np.argpartition(d2, size - 1, axis=1)[:, :size]
    return near


def _neighbourhood_labels(ts: TrainingSet, size: int, points: np.ndarray | None = None) -> tuple[list[str], np.ndarray]:
    """Per training query (or per row of `points`): the model with the best mean objective over its
    `size` nearest training queries (a training query counts itself), and that model's mean
    quality there.

    size 1 is the query's own best model. Larger sizes denoise the labels: on real data most
    outcomes are 0/1 and one query's winner is often luck, while the neighbourhood's is a trend.
    """
    labels, quality, _ = _neighbourhood_outcomes(ts, size, points)
    return labels, quality


def _neighbourhood_outcomes(ts: TrainingSet, size: int, points: np.ndarray | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """`_neighbourhood_labels` plus the chosen model's mean latency over the neighbourhood (seconds,
    NaN where no neighbour records one)."""
    n = len(ts.best)
    rank = {m: i for i, m in enumerate(ts.models)}
    if size <= 1 and points is None:
        cols = np.array([rank[b] for b in ts.best])
        return list(ts.best), ts.quality[np.arange(n), cols], ts.latency[np.arange(n), cols]
    where = ts.features if points is None else np.asarray(points, dtype=np.float64)
    near = _nearest_training_queries(ts, where, min(max(size, 1), n))
    means = mean_over_rows(ts.scores[near])
    if ts.allowed is not None:
        # A label is one of the candidates of the decision of the row's own query (of a point's
        # nearest training query): elsewhere the router would override it.
        own = np.arange(n) if points is None else _nearest_training_queries(ts, where, 1)[:, 0]
        means = np.where(ts.allowed[own], means, -np.inf)
    best = np.argmax(means, axis=1)  # first maximum: models are rank-ordered
    picked = np.arange(len(best))
    quality = mean_over_rows(ts.quality[near])[picked, best]
    latency = ts.latency[near][picked, :, best]  # points x size: the chosen model's latency per neighbour
    known = ~np.isnan(latency)
    mean_latency = np.where(known.any(axis=1), np.nansum(latency, axis=1) / np.maximum(known.sum(axis=1), 1), np.nan)
    return [ts.models[j] for j in best], quality, mean_latency


def _category_groups(features: np.ndarray) -> list[np.ndarray]:
    """Row indices per distinct category one-hot (the last len(CATEGORIES) columns), in first-seen order."""
    _, first, inverse = np.unique(features[:, -len(CATEGORIES) :], axis=0, return_index=True, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    return [np.flatnonzero(inverse == g) for g in np.argsort(first)]


def _share_rows(sizes: list[int], budget: int) -> list[int]:
    """Rows per group: proportional to the group's size (largest remainders), at least one per
    group, never more than the group has, and `budget` in all (sum(sizes) > budget >= len(sizes))."""
    total = sum(sizes)
    shares = [budget * s / total for s in sizes]
    rows = [min(s, max(1, int(math.floor(x)))) for s, x in zip(sizes, shares)]
    while sum(rows) > budget:  # the "at least one" floors can overshoot: take from the largest
        rows[int(np.argmax(rows))] -= 1
    while sum(rows) < budget:
        room = [i for i in range(len(sizes)) if rows[i] < sizes[i]]
        rows[max(room, key=lambda i: (shares[i] - rows[i], -i))] += 1
    return rows


def knn_prototypes(ts: TrainingSet, max_rows: int, seed: int = 42) -> np.ndarray:
    """At most `max_rows` points that stand for the training queries: per category (so each point
    keeps an exact one-hot, the part of the distance that separates categories), k-means centres of
    that category's queries, as many as its share of `max_rows` (at least one). A centre's
    embedding part is rescaled to its members' mean norm, so it lies where queries lie (the
    mean of unit vectors is shorter than they are). A category with no more queries than its share
    keeps them as they are. Shape: rows x d, rows <= max_rows.

    With fewer rows than categories, the queries are clustered all together instead.
    """
    from sklearn.cluster import KMeans

    x = ts.features
    groups = _category_groups(x)
    by_category = max_rows >= len(groups)
    if not by_category:
        groups = [np.arange(len(x))]
    width = x.shape[1] - len(CATEGORIES)
    points = []
    for members, rows in zip(groups, _share_rows([len(g) for g in groups], max_rows)):
        group = x[members]
        distinct = len(np.unique(group, axis=0))
        if len(group) <= rows or distinct <= rows:
            points.append(np.unique(group, axis=0) if distinct < len(group) else group)
            continue
        km = KMeans(n_clusters=rows, n_init=1, random_state=seed).fit(group)
        centres = km.cluster_centers_.copy()
        for c in range(rows):
            norms = np.linalg.norm(group[km.labels_ == c, :width], axis=1)
            length = np.linalg.norm(centres[c, :width])
            if len(norms) and length > 1e-12:
                centres[c, :width] *= norms.mean() / length
        points.append(centres)
    return np.vstack(points)


def train_knn(ts: TrainingSet, k: int = 5, smoothing: int = 30, max_rows: int = 0, seed: int = 42, **_) -> TrainedSelector:
    """One row per training query, so the runtime's quality-weighted vote among the k nearest
    queries picks well. A row is labelled with the best model of its neighbourhood (`smoothing`
    nearest training queries; 1 = the query's own best model) and carries that model's quality
    there and its latency on the query.

    `max_rows` > 0 bounds the rows, because the runtime builds a Ball Tree over every row on every
    request (router-artifacts.md, "Cost per request"): a set with more training queries than that
    writes `knn_prototypes` instead, each labelled with the best model of its
    max(smoothing, queries / max_rows) nearest training queries and carrying that model's mean
    quality and latency there. A set with no more queries than `max_rows` is written exactly as
    without a budget.

    Exact vote ties are arbitrary at run time, so each row's quality is nudged by less than 1e-6
    in favour of better-ranked models: a tie then goes to the model that is better overall.
    """
    if k < 1:
        raise TrainingError(f"--knn-k must be at least 1, got {k}")
    if max_rows < 0:
        raise TrainingError(f"--knn-max-rows must be 0 (no budget) or a positive number of rows, got {max_rows}")
    rank = {m: i for i, m in enumerate(ts.models)}
    n_models = len(ts.models)
    notes = []
    n = len(ts.best)
    if max_rows and n > max_rows:
        points = knn_prototypes(ts, max_rows, seed)
        size = max(smoothing, int(math.ceil(n / len(points))))
        labels, label_quality, label_latency = _neighbourhood_outcomes(ts, size, points)
        latencies = list(label_latency)
        notes.append(f"knn: {n} training queries written as {len(points)} prototype rows (--knn-max-rows {max_rows})")
    else:
        points = ts.features
        labels, label_quality = _neighbourhood_labels(ts, smoothing)
        latencies = [ts.latency[i, rank[label]] for i, label in enumerate(labels)]
    qualities = []
    for i, label in enumerate(labels):
        j = rank[label]
        q = max(float(label_quality[i]), 0.01)  # the runtime floors at 0.01 anyway
        nudge = 1e-7 * (n_models - j) / n_models
        qualities.append(round(q - 1e-6 + nudge if q >= 0.02 else q + nudge, 9))
    artifact = {
        "algorithm": "knn",
        "trained": True,
        "k": int(k),
        "embeddings": quantize(points).tolist(),
        "labels": labels,
        "qualities": qualities,
    }
    known = [lat for lat in latencies if not math.isnan(lat)]
    if known:
        # The runtime has no per-row "missing": an unknown latency is written as the midpoint.
        fill = (min(known) + max(known)) / 2
        artifact["latencies"] = [int(round((fill if math.isnan(lat) else lat) * 1e9)) for lat in latencies]
    if k > len(labels):
        notes.append(f"knn: k={k} is larger than the {len(labels)} training rows; the runtime uses all rows")
    return TrainedSelector(artifact, None, notes)


def check_knn(a: dict) -> None:
    _require(a, {"algorithm": str, "trained": bool, "k": "uint", "embeddings": list, "labels": list})
    rows = _float_matrix(a["embeddings"], "embeddings")
    _string_list(a["labels"], "labels")
    if len(a["labels"]) != len(rows):
        raise ArtifactError(f"labels has {len(a['labels'])} entries for {len(rows)} embeddings")
    if "qualities" in a:
        _float_list(a["qualities"], "qualities")
        if len(a["qualities"]) > len(rows):
            raise ArtifactError("qualities has more entries than embeddings")
    if "latencies" in a:
        lat = a["latencies"]
        if not isinstance(lat, list) or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in lat):
            raise ArtifactError("latencies must be a list of non-negative JSON integers (nanoseconds); a float fails the runtime's parse")
        if len(lat) > len(rows):
            raise ArtifactError("latencies has more entries than embeddings")


def select_knn(a: dict, features: np.ndarray) -> Selection:
    rows = np.asarray(a["embeddings"], dtype=np.float64)
    labels = a["labels"]
    n_rows = len(rows)
    kk = min(int(a["k"]), n_rows)
    if kk == 0:
        raise ArtifactError("knn: no rows (k or embeddings empty): the runtime fails with 'No votes found'")
    qualities = a.get("qualities") or []
    latencies = a.get("latencies") or []
    min_l, max_l = (min(latencies), max(latencies)) if latencies else (1, 1)
    value_range = max(max_l - min_l, 1)
    q = np.array([qualities[i] if i < len(qualities) else 0.5 for i in range(n_rows)], dtype=np.float64)
    lat = np.array([latencies[i] if i < len(latencies) else (min_l + max_l) / 2 for i in range(n_rows)], dtype=np.float64)
    weight = 0.9 * np.maximum(q, 0.01) + 0.1 * (1.0 - (lat - min_l) / value_range)

    x = np.asarray(features, dtype=np.float64)
    row_sq = np.einsum("ij,ij->i", rows, rows)
    choices, ties = [], 0
    # Candidates by the fast expansion, then exact distances on a margin of extras, so the
    # neighbour set is the true one even where the expansion's rounding would reorder.
    n_candidates = min(n_rows, kk + 8)
    for start in range(0, len(x), 256):
        block = x[start : start + 256]
        approx = row_sq[None, :] - 2.0 * block @ rows.T
        if n_candidates < n_rows:
            candidates = np.argpartition(approx, n_candidates - 1, axis=1)[:, :n_candidates]
        else:
            candidates = np.broadcast_to(np.arange(n_rows), (len(block), n_rows))
        for xi, cand in zip(block, candidates):
            exact = np.sum((rows[cand] - xi) ** 2, axis=1)
            order = np.lexsort((cand, exact))
            nearest = cand[order[:kk]]
            tie = len(order) > kk and exact[order[kk]] == exact[order[kk - 1]]
            votes: dict[str, float] = {}
            for idx in nearest:  # nearest first: vote ties go to the nearest label
                votes[labels[idx]] = votes.get(labels[idx], 0.0) + weight[idx]
            top = max(votes.values())
            winners = [m for m, v in votes.items() if v == top]
            choices.append(winners[0])
            ties += int(tie or len(winners) > 1)
    return Selection(choices, ties)


# ---------------------------------------------------------------------------------------------
# KMeans


def train_kmeans(ts: TrainingSet, clusters: int = 8, seed: int = 42, **_) -> TrainedSelector:
    """KMeans on the unique training queries; each cluster routes to its best mean-objective model."""
    from sklearn.cluster import KMeans

    if clusters < 1:
        raise TrainingError(f"--kmeans-clusters must be at least 1, got {clusters}")
    distinct = len(np.unique(ts.features, axis=0))
    n_clusters = min(clusters, distinct)
    notes = []
    if n_clusters < clusters:
        notes.append(f"kmeans: {clusters} clusters requested but only {distinct} distinct training queries: fitted {n_clusters}")
    estimator = KMeans(n_clusters=n_clusters, n_init=4, random_state=seed).fit(ts.features)
    assignment = estimator.labels_
    cluster_models = [ts.best_by_mean(np.flatnonzero(assignment == c)) for c in range(n_clusters)]
    artifact = {
        "algorithm": "kmeans",
        "trained": True,
        "num_clusters": n_clusters,
        "centroids": estimator.cluster_centers_.astype(np.float64).tolist(),
        "cluster_models": cluster_models,
        "feature_dim": int(ts.features.shape[1]),
    }
    return TrainedSelector(artifact, estimator, notes)


def check_kmeans(a: dict) -> None:
    _require(a, {"algorithm": str, "trained": bool, "num_clusters": "uint", "centroids": list, "cluster_models": list})
    centroids = _float_matrix(a["centroids"], "centroids")
    _string_list(a["cluster_models"], "cluster_models")
    if len(a["cluster_models"]) < len(centroids):
        raise ArtifactError(
            f"cluster_models has {len(a['cluster_models'])} entries for {len(centroids)} centroids: the runtime fails on the missing ones"
        )
    if a["num_clusters"] != len(centroids):
        raise ArtifactError(f"num_clusters is {a['num_clusters']} but there are {len(centroids)} centroids")
    _check_feature_dim(a, centroids.shape[1] if len(centroids) else None)


def select_kmeans(a: dict, features: np.ndarray) -> Selection:
    centroids = np.asarray(a["centroids"], dtype=np.float64)
    if len(centroids) == 0:
        raise ArtifactError("kmeans: no centroids: the runtime treats the file as untrained")
    x = np.asarray(features, dtype=np.float64)
    d2 = np.einsum("ij,ij->i", x, x)[:, None] + np.einsum("ij,ij->i", centroids, centroids)[None, :] - 2.0 * x @ centroids.T
    nearest = np.argmin(d2, axis=1)
    sorted_d = np.sort(d2, axis=1)
    ties = int(np.sum(sorted_d[:, 1] == sorted_d[:, 0])) if centroids.shape[0] > 1 else 0
    models = a["cluster_models"]
    return Selection([models[i] for i in nearest], ties)


# ---------------------------------------------------------------------------------------------
# SVM


def _prototypes(ts: TrainingSet, xh: np.ndarray, max_prototypes: int, seed: int, scores: np.ndarray | None = None):
    """Training points for the SVM regressors: the queries themselves, or (on large sets) the
    centres of `max_prototypes` micro-clusters, each carrying the mean objective of its members
    per model. Each RBF regressor stores its support vectors in full in the file, so this keeps
    svm_model.json a size the router can load while the decision values stay exactly those of the
    trained regressors."""
    scores = ts.scores if scores is None else scores  # the regression targets (train_svm may adjust them)
    n = len(xh)
    if n <= max_prototypes:
        return xh, scores, np.ones_like(scores)
    from sklearn.cluster import MiniBatchKMeans

    km = MiniBatchKMeans(n_clusters=max_prototypes, random_state=seed, n_init=3, batch_size=2048).fit(xh)
    centres = l2_normalise_rows(km.cluster_centers_)
    m = scores.shape[1]
    targets = np.full((max_prototypes, m), np.nan)
    weights = np.zeros((max_prototypes, m))
    for c in range(max_prototypes):
        rows = scores[km.labels_ == c]
        counts = np.sum(~np.isnan(rows), axis=0)
        weights[c] = counts
        targets[c] = np.where(counts > 0, np.nansum(rows, axis=0) / np.maximum(counts, 1), np.nan)
    return centres, targets, weights


def train_svm(
    ts: TrainingSet,
    kernel: str = "rbf",
    gamma: float = 1.0,
    C: float = 0.1,
    epsilon: float = 0.05,
    max_prototypes: int = 256,
    seed: int = 42,
    **_,
) -> TrainedSelector:
    """One epsilon-SVR per model that predicts the model's objective from the normalised feature;
    the runtime's argmax over decision values then picks the model with the best predicted score.

    Regression, rather than one-vs-rest classification of a single "best" label, learns from every
    model's outcome, so queries where several models tie teach what they should. Classifiers are
    written in overall-rank order, so the runtime's "first strictly greatest" favours the better
    model on exact ties.
    """
    from sklearn.svm import SVR

    if len(ts.models) < 2:
        raise TrainingError(f"svm: the data has only one model ({ts.models[0]!r}): there is nothing to choose between")
    if kernel not in ("rbf", "linear"):
        raise TrainingError(f"--svm-kernel must be rbf or linear, got {kernel!r}")
    notes = []
    if len(set(ts.best)) == 1:
        notes.append(f"svm: every training query has the same best model ({ts.best[0]!r}); the selector will mostly pick it")
    xh = quantize(l2_normalise_rows(ts.features))
    scores = ts.scores
    if ts.allowed is not None:
        # A model outside a query's decision is served as the decision's first modelRef: the same
        # outcome, so the regressors would tie the two and the router log a fallback for nothing.
        # Three tube widths (epsilon) less for the outside model break that tie towards the candidate:
        # within the tube the two predictions could still swap.
        scores = np.where(ts.allowed, scores, scores - 3 * epsilon)
    points, targets, weights = _prototypes(ts, xh, max_prototypes, seed, scores)
    points = quantize(points)
    estimators, linear, rbf = {}, [], []
    selectable = ts.selectable
    for j, model in enumerate(ts.models):
        if not selectable[j]:
            continue  # no decision allows it: the router would override every choice of it
        use = ~np.isnan(targets[:, j])
        if use.sum() < 2:
            raise TrainingError(f"svm: model {model!r} has outcomes for fewer than two training queries")
        svr = SVR(kernel=kernel, gamma=gamma, C=C, epsilon=epsilon)
        svr.fit(points[use], targets[use, j], sample_weight=weights[use, j])
        estimators[model] = svr
        alpha = svr.dual_coef_[0].astype(np.float64)
        support = svr.support_vectors_.astype(np.float64)
        rho = float(-svr.intercept_[0])
        if not len(alpha):
            # Every target within epsilon of a constant (a model right on every query): the SVR
            # has no support vectors and predicts -rho. One vector with alpha 0 says the same to
            # the runtime without handing it an empty matrix.
            alpha, support = np.zeros(1), points[use][:1].astype(np.float64)
        if kernel == "linear":
            linear.append({"model_name": model, "weights": (alpha @ support).tolist(), "rho": rho})
        else:
            rbf.append(
                {"model_name": model, "alpha": alpha.tolist(), "support_vectors": support.tolist(), "rho": rho, "gamma": float(gamma)}
            )
    artifact = {
        "algorithm": "svm",
        "trained": True,
        "model_names": [m for m, ok in zip(ts.models, selectable) if ok],
        "kernel_type": "Linear" if kernel == "linear" else "Rbf",
        "gamma": float(gamma),
        "feature_dim": int(ts.features.shape[1]),
    }
    if linear:
        artifact["linear_classifiers"] = linear
    if rbf:
        artifact["rbf_classifiers"] = rbf
    return TrainedSelector(artifact, estimators, notes)


def check_svm(a: dict) -> None:
    _require(a, {"algorithm": str, "trained": bool, "model_names": list, "kernel_type": str, "gamma": "float"})
    _string_list(a["model_names"], "model_names")
    if a["kernel_type"] not in ("Rbf", "Linear"):
        raise ArtifactError(f'kernel_type must be exactly "Rbf" or "Linear", got {a["kernel_type"]!r}')
    for key in ("linear_classifiers", "rbf_classifiers"):
        if key in a and not isinstance(a[key], list):
            raise ArtifactError(f"{key} must be a list")
    dims = set()
    for i, c in enumerate(a.get("linear_classifiers") or []):
        where = f"linear_classifiers[{i}]"
        _require(c, {"model_name": str, "weights": list, "rho": "float"}, where)
        dims.add(len(_float_list(c["weights"], f"{where}.weights")))
    for i, c in enumerate(a.get("rbf_classifiers") or []):
        where = f"rbf_classifiers[{i}]"
        _require(c, {"model_name": str, "alpha": list, "support_vectors": list, "rho": "float", "gamma": "float"}, where)
        alpha = _float_list(c["alpha"], f"{where}.alpha")
        sv = _float_matrix(c["support_vectors"], f"{where}.support_vectors")
        if len(alpha) != len(sv):
            raise ArtifactError(f"{where}: {len(alpha)} alphas for {len(sv)} support vectors")
        if len(sv):
            dims.add(sv.shape[1])
    if len(dims) > 1:
        raise ArtifactError(f"svm classifiers disagree on the feature dimension: {sorted(dims)} (the runtime crashes)")
    _check_feature_dim(a, dims.pop() if dims else None)


def svm_decision_values(a: dict, features: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Decision values per classifier (columns: linear ones first, then RBF, in file order)."""
    xh = l2_normalise_rows(np.asarray(features, dtype=np.float64))
    columns, names = [], []
    for c in a.get("linear_classifiers") or []:
        columns.append(xh @ np.asarray(c["weights"], dtype=np.float64) - float(c["rho"]))
        names.append(c["model_name"])
    x_sq = np.einsum("ij,ij->i", xh, xh)
    for c in a.get("rbf_classifiers") or []:
        sv = np.asarray(c["support_vectors"], dtype=np.float64).reshape(-1, xh.shape[1])  # [] is no vectors
        d2 = np.maximum(x_sq[:, None] + np.einsum("ij,ij->i", sv, sv)[None, :] - 2.0 * xh @ sv.T, 0.0)
        columns.append(np.exp(-float(c["gamma"]) * d2) @ np.asarray(c["alpha"], dtype=np.float64) - float(c["rho"]))
        names.append(c["model_name"])
    values = np.column_stack(columns) if columns else np.zeros((len(xh), 0))
    return values, names


def select_svm(a: dict, features: np.ndarray) -> Selection:
    values, names = svm_decision_values(a, features)
    default = a["model_names"][0]
    if not names:
        return Selection([default] * len(values), 0)
    choices, ties = [], 0
    for row in values:
        finite = np.where(np.isnan(row), -np.inf, row)
        top = finite.max()
        if top == -np.inf:
            choices.append(default)  # no value is greater than anything: model_names[0]
            continue
        choices.append(names[int(np.argmax(finite))])  # argmax: the first strictly greatest
        ties += int(np.sum(finite == top) > 1)
    return Selection(choices, ties)


# ---------------------------------------------------------------------------------------------
# Schema helpers: the runtime's parse (Rust serde) and the Go loader's typed structs

# Fields the Go loader knows, with their types: a known field of the wrong type fails the load.
_GO_TYPES = {
    "version": str,
    "algorithm": str,
    "trained": bool,
    "input_dim": "int",
    "k": "int",
    "num_clusters": "int",
    "kernel": str,
    "efficiency_weight": "float",
    "gamma": "float",
    "n_clusters": "int",
    "feature_dim": "int",
    "C": "float",
    "n_classes": "int",
}


def _is(value, kind) -> bool:
    if kind == "uint":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind is bool:
        return isinstance(value, bool)
    return isinstance(value, kind)


def _require(obj: dict, fields: dict, where: str = "") -> None:
    prefix = f"{where}: " if where else ""
    if not isinstance(obj, dict):
        raise ArtifactError(f"{prefix}expected a JSON object")
    for name, kind in fields.items():
        if name not in obj:
            raise ArtifactError(f"{prefix}missing required field {name!r}")
        if not _is(obj[name], kind):
            raise ArtifactError(f"{prefix}field {name!r} has the wrong type ({type(obj[name]).__name__}: {str(obj[name])[:40]})")


def _float_list(values, where: str) -> list:
    if not isinstance(values, list) or not all(_is(v, "float") for v in values):
        raise ArtifactError(f"{where} must be a list of finite numbers")
    return values


def _float_matrix(rows, where: str) -> np.ndarray:
    if not isinstance(rows, list):
        raise ArtifactError(f"{where} must be a list of lists")
    width = None
    for i, row in enumerate(rows):
        _float_list(row, f"{where}[{i}]")
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise ArtifactError(f"{where} is ragged: row {i} has {len(row)} values, row 0 has {width}")
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), width or 0)


def _string_list(values, where: str) -> None:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ArtifactError(f"{where} must be a list of strings")


def _check_feature_dim(a: dict, actual: int | None) -> None:
    if "feature_dim" in a and actual is not None and a["feature_dim"] != actual:
        raise ArtifactError(f"feature_dim is {a['feature_dim']} but the vectors have {actual} values")


def _check_common(a: dict) -> None:
    for name, kind in _GO_TYPES.items():
        if name in a and not _is(a[name], kind):
            raise ArtifactError(f"field {name!r} has the wrong type for the Go loader ({type(a[name]).__name__})")
    for legacy in ("training", "cluster_stats"):
        if legacy in a:
            raise ArtifactError(f"field {legacy!r} must be left out: the Go loader types it differently")
    if "metadata" in a:
        meta = a["metadata"]
        if not isinstance(meta, dict):
            raise ArtifactError("metadata must be an object of string to string")
        for key, value in meta.items():
            if not isinstance(value, str):
                raise ArtifactError(
                    f"metadata[{key!r}] is a {type(value).__name__}: the Go loader reads metadata as string to "
                    "string, so every value must be a JSON string"
                )


# ---------------------------------------------------------------------------------------------
# Registry, metadata, files


@dataclass(frozen=True)
class Setting:
    """One setting of a selector: the flag `--<kind>-<name>` (underscores as hyphens), the
    TrainSettings attribute `<kind>_<name>`, the train function's keyword `param` (default: name)."""

    name: str
    default: object
    help: str | None = None
    param: str | None = None
    choices: tuple | None = None

    def __post_init__(self):
        # argparse builds the flag with type(default): a bool would read "False" as True, None has no type.
        if type(self.default) not in (int, float, str):
            raise TypeError(f"setting {self.name!r}: the default must be an int, a float or a str, got {self.default!r}")

    @property
    def keyword(self) -> str:
        return self.param or self.name

    def text(self, value) -> str:
        """The value as a flag takes it (floats as %g)."""
        return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class RequestCost:
    """What one `Select` of a kind costs the router on every routed request (runtime_cost.py;
    ../shared/docs/router-artifacts.md, "Cost per request")."""

    stored: str  # what it goes through per request: "rows", "centroids", "support vectors"
    bounded_by: str | None  # the train.py flag that bounds it (None: none does)
    vectors: Callable[[dict], int]  # artifact -> the vectors it goes through (of Selector.feature_dim values each)
    replica: Callable[[dict], Callable[[np.ndarray], object]]  # artifact -> one request's work on a feature vector (d,)
    describe: str = "{}"  # how the work reads, around "<vectors> x <dims> = <values>"


@dataclass(frozen=True)
class Selector:
    """Everything the suite knows about one selector kind; `register_selector` adds it.

    train(ts: TrainingSet, **settings, seed) -> TrainedSelector: learns from one row per training
        query (features n x d, per-model objective n x M, labels) and returns the artifact dict;
        its keywords are the settings' `keyword`s and `seed`. Raise TrainingError for bad settings.
        The dict must hold `"algorithm": kind`; training adds `metadata` (strings only); a field
        named like one the Go loader types (`k`, `C`, `kernel`, `feature_dim`, ... see _GO_TYPES)
        must have that type (check_artifact enforces both).
    check(artifact) -> None: the runtime's parse of the file; raise ArtifactError naming the field.
    select(artifact, features n x d float64) -> Selection: the runtime's Select, one model per row.
        ArtifactError, ValueError, KeyError or IndexError from it is validate.py's FAILED row.
    file_name: where train.py writes it (`<kind>_model.json`); feature_dim(artifact) -> d or None;
    labels(artifact) -> the model names it can return (the deploy check's candidate rule).
    settings: its flags (`--<kind>-<name>`), defaults (int, float or str: the flag's type) and help.
    tuning_grid(current, n_train) -> the candidates --tune tries: `current` holds the settings by
        keyword (and `seed`); each candidate is a dict by keyword, and the first candidate's keys
        are the settings --tune compares (today's values of them are tried first).
    tuned: the setting names the grid varies, in the grid's order. cost: what one Select costs the
        router per request (None: not modelled, said in the report). Reports name the selector
        `<KIND> Selection` (validate.py) and `<KIND>` (tradeoff.py).
    """

    kind: str
    train: Callable[..., TrainedSelector]
    check: Callable[[dict], None]
    select: Callable[[dict, np.ndarray], Selection]
    file_name: str
    feature_dim: Callable[[dict], int | None]  # the feature size the file expects (None: it cannot tell)
    labels: Callable[[dict], set[str]]  # the model names the file can return
    settings: tuple[Setting, ...] = ()
    tuning_grid: Callable[[dict, int], list[dict]] | None = None  # (current values by keyword, training queries) -> candidates
    cost: RequestCost | None = None  # None: its cost per request is not modelled (runtime_cost.py says so)
    # The settings its tuning grid varies, by name, in the order the grid names them: a reproducing
    # command always spells them out (tuning may have moved them); the others only when not default.
    tuned: tuple[str, ...] = ()

    def setting(self, name: str) -> Setting:
        return next(s for s in self.settings if s.name == name)

    def attribute(self, setting: Setting) -> str:
        return f"{self.kind}_{setting.name}"

    def flag(self, setting: Setting) -> str:
        return "--" + self.attribute(setting).replace("_", "-")


SELECTORS: dict[str, Selector] = {}


def register_selector(selector: Selector) -> Selector:
    """Add a selector kind: train.py, validate.py, tradeoff.py and --tune pick it up from here."""
    SELECTORS[selector.kind] = selector
    ARTIFACT_FILES[selector.kind] = selector.file_name
    return selector


def unregister_selector(kind: str) -> None:
    SELECTORS.pop(kind)
    ARTIFACT_FILES.pop(kind)


def algorithms() -> tuple[str, ...]:
    """Every registered selector kind, in registration order (`--algorithm all`)."""
    return tuple(SELECTORS)


def _knn_feature_dim(a: dict) -> int | None:
    return len(a["embeddings"][0]) if a["embeddings"] else None


def _kmeans_feature_dim(a: dict) -> int | None:
    return len(a["centroids"][0]) if a["centroids"] else None


def _svm_feature_dim(a: dict) -> int | None:
    for c in a.get("linear_classifiers") or []:
        return len(c.get("weights") or [])
    for c in a.get("rbf_classifiers") or []:
        for sv in c.get("support_vectors") or []:  # the first classifier with support vectors
            return len(sv)
    return None


def _svm_labels(a: dict) -> set[str]:
    names = {str(x) for x in a.get("model_names") or []}
    for key in ("linear_classifiers", "rbf_classifiers"):
        names |= {str(c.get("model_name")) for c in a.get(key) or [] if isinstance(c, dict)}
    return names


BALL_TREE_LEAF_SIZE = 16  # Linfa's nearest-neighbour builders default to 2^4 points per leaf


def knn_request(rows: np.ndarray, k: int, x: np.ndarray) -> np.ndarray:
    """The runtime's KNN work for one query `x` (d,): a Ball Tree over every row (n x d), then
    its min(k, n) nearest rows (indices, nearest first). The vote over them costs O(k).
    scikit-learn's BallTree stands in for Linfa's (runtime_cost.py says why that is fair)."""
    from sklearn.neighbors import BallTree

    tree = BallTree(rows, leaf_size=BALL_TREE_LEAF_SIZE)
    return tree.query(x[None, :], k=min(k, len(rows)), return_distance=False)[0]


def _knn_replica(a: dict):
    rows, k = np.asarray(a["embeddings"], dtype=np.float64), int(a["k"])
    return lambda x: knn_request(rows, k, x)


def _kmeans_replica(a: dict):
    centroids = np.asarray(a["centroids"], dtype=np.float64)
    return lambda x: int(np.argmin(np.sum((centroids - x) ** 2, axis=1)))


def _svm_vectors(a: dict) -> int:
    """A linear classifier counts one vector; an RBF one, its support vectors."""
    return len(a.get("linear_classifiers") or []) + sum(len(c["support_vectors"]) for c in a.get("rbf_classifiers") or [])


def _svm_replica(a: dict):
    rbf = [
        (np.asarray(c["support_vectors"], dtype=np.float64), np.asarray(c["alpha"], dtype=np.float64), float(c["rho"]), float(c["gamma"]))
        for c in a.get("rbf_classifiers") or []
    ]
    linear = [(np.asarray(c["weights"], dtype=np.float64), float(c["rho"])) for c in a.get("linear_classifiers") or []]

    def request(x):
        xh = l2_normalise_rows(x[None, :])[0]
        values = [float(w @ xh - rho) for w, rho in linear]
        values += [float(np.exp(-gamma * np.sum((sv - xh) ** 2, axis=1)) @ alpha - rho) for sv, alpha, rho, gamma in rbf]
        return int(np.argmax(values)) if values else 0

    return request


KNN_ROW_BUDGETS = (0, 250, 1000)  # --knn-max-rows values --tune tries besides the default


# The grids try the most promising settings first (from 5-fold runs on public routing data), so a
# --tune budget that runs out has tried what matters; "always the best single model" early (KNN
# smoothing over every training query, one KMeans cluster).
def _knn_grid(current: dict, n_train: int) -> list[dict]:
    pairs = [(5, n_train), (15, 30), (15, 60), (5, 60), (15, 120), (15, 250), (5, 10), (15, 10), (5, 1), (15, 1)]
    budget = current["max_rows"]
    grid = [{"k": k, "smoothing": s, "max_rows": budget} for k, s in pairs]
    # Other row budgets at the default k and smoothing, last: fewer rows cost the router less
    # on every request (runtime_cost.py), no budget keeps every training query.
    return grid + [{"k": current["k"], "smoothing": current["smoothing"], "max_rows": b} for b in KNN_ROW_BUDGETS if b != budget]


def _kmeans_grid(current: dict, n_train: int) -> list[dict]:
    return [{"clusters": c} for c in (1, 16, 32, 64, 4, 2)]


def _svm_grid(current: dict, n_train: int) -> list[dict]:
    pairs = [(0.03, 2.0), (0.03, 1.0), (0.03, 0.5), (0.1, 2.0), (0.01, 2.0), (0.03, 5.0), (0.1, 0.5), (0.3, 1.0), (1.0, 1.0)]
    return [{"C": c, "gamma": g} for c, g in pairs]


register_selector(
    Selector(
        kind="knn",
        train=train_knn,
        check=check_knn,
        select=select_knn,
        file_name="knn_model.json",
        feature_dim=_knn_feature_dim,
        labels=lambda a: {str(x) for x in a.get("labels") or []},
        settings=(
            Setting("k", 5),
            # 5-fold CV on training data, see README
            Setting("smoothing", 30, "label each KNN row with the best model of its N nearest training queries (1 = its own)"),
            # 5-fold CV on two public sets, see README; 0: no budget
            Setting(
                "max_rows",
                500,
                "write at most N KNN rows (prototypes of the training queries): the router builds a Ball Tree over "
                "every row on every request (0 = no budget; default %(default)s)",
            ),
        ),
        tuning_grid=_knn_grid,
        tuned=("k", "smoothing", "max_rows"),
        cost=RequestCost("rows", "--knn-max-rows", lambda a: len(a["embeddings"]), _knn_replica, "Ball Tree built over {}, then queried"),
    )
)
register_selector(
    Selector(
        kind="kmeans",
        train=train_kmeans,
        check=check_kmeans,
        select=select_kmeans,
        file_name="kmeans_model.json",
        feature_dim=_kmeans_feature_dim,
        labels=lambda a: {str(x) for x in a.get("cluster_models") or []},
        settings=(Setting("clusters", 8),),
        tuning_grid=_kmeans_grid,
        tuned=("clusters",),
        cost=RequestCost("centroids", "--kmeans-clusters", lambda a: len(a["centroids"]), _kmeans_replica),
    )
)
register_selector(
    Selector(
        kind="svm",
        train=train_svm,
        check=check_svm,
        select=select_svm,
        file_name="svm_model.json",
        feature_dim=_svm_feature_dim,
        labels=_svm_labels,
        settings=(
            Setting("kernel", "rbf", choices=("rbf", "linear")),
            Setting("gamma", 1.0),
            Setting("c", 0.1, "SVR regularisation C", param="C"),  # 5-fold CV on training data, see README
            Setting(
                "prototypes", 256, "at most this many training points per SVM regressor (micro-cluster centres beyond it)", "max_prototypes"
            ),
        ),
        tuning_grid=_svm_grid,
        tuned=("c", "gamma"),
        cost=RequestCost("support vectors", "--svm-prototypes", _svm_vectors, _svm_replica),
    )
)


def check_artifact(kind: str, artifact: dict) -> None:
    if not isinstance(artifact, dict):
        raise ArtifactError("the file is not a JSON object")
    _check_common(artifact)
    SELECTORS[kind].check(artifact)
    if artifact.get("algorithm") != kind:
        raise ArtifactError(f"algorithm is {artifact.get('algorithm')!r}, expected {kind!r}")


def feature_dim_of(kind: str, artifact: dict) -> int | None:
    return SELECTORS[kind].feature_dim(artifact)


def artifact_labels(kind: str, artifact: dict) -> set[str]:
    """The model names a selector file can return."""
    return SELECTORS[kind].labels(artifact)


def select(kind: str, artifact: dict, features: np.ndarray) -> Selection:
    return SELECTORS[kind].select(artifact, features)


def encode_metadata(values: dict) -> dict[str, str]:
    """Every value as a JSON string (numbers and lists as JSON text): the Go loader's metadata type."""
    return {k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for k, v in values.items()}


def decode_metadata(meta: dict[str, str]) -> dict:
    out = {}
    for key, value in (meta or {}).items():
        try:
            out[key] = json.loads(value)
        except (TypeError, ValueError):
            out[key] = value
    return out


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON (the runtime's parser rejects it)")


def load_artifact(path: str | Path, kind: str) -> dict:
    """Parse and check one artifact file as the runtime would; errors name the file."""
    path = Path(path)
    try:
        artifact = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing") from None
    except ValueError as exc:
        raise ArtifactError(f"{path}: not valid JSON ({exc})") from None
    try:
        check_artifact(kind, artifact)
    except ArtifactError as exc:
        raise ArtifactError(f"{path}: {exc}") from None
    return artifact


def dump_artifact(artifact: dict) -> str:
    """The file's text; ArtifactError (a ValueError) for a NaN or infinity, which the runtime's parser rejects."""
    try:
        return json.dumps(artifact, separators=(",", ":"), allow_nan=False)
    except ValueError as exc:
        raise ArtifactError(f"{artifact.get('algorithm', 'the')} artifact cannot be written as JSON the runtime parses: {exc}") from None


def write_artifacts(output_dir: str | Path, artifacts: dict[str, dict]) -> list[Path]:
    """Check, then write every file to a temporary name first and rename them into place only once
    all are written, so an interrupted run leaves the previous set, never a half-written file."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    staged = []
    try:
        for kind, artifact in artifacts.items():
            check_artifact(kind, artifact)
            fd, tmp = tempfile.mkstemp(dir=output_dir, prefix=f".{kind}-", suffix=".json.tmp")
            staged.append((tmp, output_dir / ARTIFACT_FILES[kind]))
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(dump_artifact(artifact))
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes 0600: the router often runs as another user
        for tmp, final in staged:
            os.replace(tmp, final)
    finally:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
    return [final for _, final in staged]
