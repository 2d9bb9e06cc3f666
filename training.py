"""Training as a library: the settings, `train_from_table`, and the held-out replay.

Every script that trains goes through here: train.py (by train_job.py), validate.py
--cross-validate, tradeoff.py's sweep and chooser, and train.py --tune (tuning.py). They split
their queries with `fold_splits` / data_loader.split_queries, train with `train_from_table` and
replay the held-out side with `replay_held_out`, which calls models.select, the runtime replay.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from dataclasses import dataclass, field

import numpy as np

from data_loader import (
    CATEGORIES,
    DEFAULT_QUALITY_WEIGHT,
    Objective,
    OutcomeTable,
    category_models,
    fit_objective,
    fold_of,
    label_queries,
    query_hash,
)
from models import (
    ARTIFACT_FILES,
    SELECTORS,
    TOOL_VERSION,
    QueryRoutes,
    TrainingError,
    TrainingSet,
    build_features,
    encode_metadata,
    query_routes,
    select,
)
from models import algorithms as registered_algorithms

MIN_USEFUL_QUERIES = 50  # below this, say that the set is a smoke test, not a router
COMMON_SETTINGS = ("algorithms", "quality_weight", "efficiency", "seed")


def selector_defaults() -> dict[str, object]:
    """Every registered selector's settings at their defaults, by flat name (`knn_k`, `svm_c`)."""
    return {sel.attribute(s): s.default for sel in SELECTORS.values() for s in sel.settings}


class TrainSettings:
    """Which selectors to train, their settings, the objective's quality weight and efficiency
    basis (latency or cost), and the seed.

    A selector's settings come from its registry entry (models.Setting) and are given and read by
    their flat names, `<kind>_<name>` (`knn_k`, `svm_c`): the names of their flags (`--knn-k`) and
    of the artifacts' metadata `settings`. An unknown name raises TypeError, as a dataclass would.
    """

    def __init__(
        self,
        algorithms: tuple[str, ...] | None = None,
        quality_weight: float = DEFAULT_QUALITY_WEIGHT,
        efficiency: str = "latency",
        seed: int = 42,
        **selector_values,
    ):
        defaults = selector_defaults()
        unknown = sorted(set(selector_values) - set(defaults))
        if unknown:
            raise TypeError(f"TrainSettings has no setting {', '.join(unknown)} (known: {', '.join(defaults)})")
        self.algorithms = registered_algorithms() if algorithms is None else tuple(algorithms)
        self.quality_weight = quality_weight
        self.efficiency = efficiency
        self.seed = seed
        self.values = {**defaults, **selector_values}

    def __getattr__(self, name: str):
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"TrainSettings has no setting {name!r}")

    def replace(self, **changes) -> TrainSettings:
        """A copy with some settings changed (flat names, or the four common ones)."""
        common = {name: changes.pop(name, getattr(self, name)) for name in COMMON_SETTINGS}
        return TrainSettings(**common, **{**self.values, **changes})

    def with_params(self, kind: str, params: dict) -> TrainSettings:
        """A copy with one selector's settings given by their train keywords (a tuning grid's names: `C`)."""
        selector = SELECTORS[kind]
        by_keyword = {s.keyword: selector.attribute(s) for s in selector.settings}
        return self.replace(**{by_keyword[k]: v for k, v in params.items()})

    def selector_kwargs(self, kind: str) -> dict:
        """The keywords of `kind`'s train function: its settings and the seed."""
        selector = SELECTORS[kind]
        return {**{s.keyword: self.values[selector.attribute(s)] for s in selector.settings}, "seed": self.seed}

    def tuned_params(self, kind: str) -> dict:
        """The settings of `kind` that tuning varies, by their train keywords (as tuning names them)."""
        selector = SELECTORS[kind]
        return {s.keyword: self.values[selector.attribute(s)] for s in map(selector.setting, selector.tuned)}

    def to_dict(self) -> dict:
        """Every setting by flat name (the metadata's `settings`), the selectors' in registry order."""
        return {
            "algorithms": list(self.algorithms),
            **self.values,
            "quality_weight": self.quality_weight,
            "efficiency": self.efficiency,
            "seed": self.seed,
        }

    def __eq__(self, other) -> bool:
        return isinstance(other, TrainSettings) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return "TrainSettings(" + ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items()) + ")"


def selector_flags(settings: TrainSettings) -> list[str]:
    """The train.py flags that give these selector settings: every tuned setting (tuning may have
    moved it), the others where they differ from their default."""
    flags = []
    for selector in SELECTORS.values():
        tuned = [selector.setting(name) for name in selector.tuned]
        changed = [s for s in selector.settings if s.name not in selector.tuned and settings.values[selector.attribute(s)] != s.default]
        flags += [f"{selector.flag(s)} {s.text(settings.values[selector.attribute(s)])}" for s in tuned + changed]
    return flags


def weight_text(weight: float) -> str:
    """The weight as train.py's flag takes it, exactly: the float it parses back to is this one."""
    short = f"{weight:g}"
    return short if float(short) == weight else repr(weight)


@dataclass
class TrainedSet:
    """What train_from_table returns: one artifact dict per selector kind, and what they were trained with."""

    artifacts: dict[str, dict]
    objective: Objective
    ranking: list[tuple[str, float]]
    notes: list[str] = field(default_factory=list)
    category_models: dict[str, str] = field(default_factory=dict)  # each category's best model on the training queries
    routes: QueryRoutes | None = None  # the training queries' decisions, when trained for the router's decisions


def train_from_table(
    table: OutcomeTable, train_queries: list[str], embed, settings: TrainSettings, metadata: dict | None = None, decisions=None
) -> TrainedSet:
    """Train the selectors on `train_queries` of `table`. `embed(texts)`: one float32 row per text
    (len(texts) x the embedding's width).

    The objective's `ref` comes from these training queries only, and travels in the metadata.
    `decisions` (router_profile.DecisionProfile-like, config order), when given: each query is
    labelled among its decision's candidates (models.query_routes, TrainingSet.build); each
    selector learns from the queries of the decisions that use it (of every decision when none
    does); queries of no known decision and of one-candidate decisions are left out (the router
    never asks a selector for them); the decisions go into the metadata for validate.py's replay.
    Raises TrainingError when nothing can be learnt.
    """
    train_table = table.subset(train_queries)
    routes = None
    notes = []
    if decisions:
        routes, kept, dropped = routed_queries(train_table, decisions)
        notes.extend(routes.describe() + dropped)
        train_table = train_table.subset(kept)
    objective = fit_objective(train_table, settings.quality_weight, settings.efficiency)
    labels = label_queries(train_table, objective)
    notes += _check_learnable(train_table, labels)
    categories = [train_table.category_by_query[q] for q in labels.queries]
    features = build_features(embed(train_table.texts(labels.queries)), categories)  # the user message as sent, as the router embeds it
    candidates = [routes.candidates(q) for q in labels.queries] if routes else None
    ts_all = TrainingSet.build(train_table, labels.queries, features, objective, labels.ranking, candidates)
    by_category = category_models(train_table, objective, labels.ranking)
    meta = _set_metadata(metadata, features, objective, labels, by_category, settings, decisions)
    artifacts = {}
    for kind in settings.algorithms:
        ts = ts_all
        if routes is not None:
            ts = _rows_of_decisions_using(kind, ts_all, labels.queries, routes, decisions, notes)
        trained = SELECTORS[kind].train(ts, **settings.selector_kwargs(kind))
        trained.artifact["metadata"] = encode_metadata({"algorithm": kind, **meta})
        artifacts[kind] = trained.artifact
        notes.extend(trained.notes)
    return TrainedSet(artifacts, objective, labels.ranking, notes, by_category, routes)


def _check_learnable(train_table: OutcomeTable, labels) -> list[str]:
    """TrainingError when there is nothing to learn; notes when there is little."""
    if len(train_table.models) < 2:
        raise TrainingError(f"the training data has {len(train_table.models)} model(s) with scored outcomes; routing needs at least two")
    if not labels.queries:
        raise TrainingError("no training query has outcomes for two or more models: nothing to learn about choosing")
    notes = []
    if len(labels.queries) < MIN_USEFUL_QUERIES:
        notes.append(
            f"only {len(labels.queries)} training queries: the files are valid, but too few queries to learn "
            "routing reliably; benchmark hundreds"
        )
    if labels.skipped_single_model:
        notes.append(f"{labels.skipped_single_model} queries have outcomes for fewer than two models: counted, not used")
    return notes


def _set_metadata(metadata, features, objective, labels, by_category, settings: TrainSettings, decisions) -> dict:
    """What every file of the set records (as strings, encode_metadata), besides the caller's `metadata`."""
    meta = dict(metadata or {})
    meta.update(
        {
            "feature_dim": features.shape[1],
            "embedding_dim": features.shape[1] - len(CATEGORIES),
            "categories": list(CATEGORIES),
            "objective": objective.to_dict(),
            "model_ranking": [[m, round(s, 6)] for m, s in labels.ranking],
            "models": [m for m, _ in labels.ranking],
            "category_models": by_category,  # validate.py's "Best per category" baseline
            "n_train_queries": len(labels.queries),
            "n_models": len(labels.ranking),
            "train_query_hashes": sorted(query_hash(q)[:12] for q in labels.queries),
            "settings": settings.to_dict(),
            "tool_version": TOOL_VERSION,
            # The decisions trained for (config order: name, algorithm, candidates): validate.py replays the router's rule with them.
            **(
                {"decision_candidates": [[d.name, d.algorithm, list(d.candidates), list(d.domains)] for d in decisions]}
                if decisions
                else {}
            ),
            "run_id": uuid.uuid4().hex[:12],
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
    )
    return meta


def _rows_of_decisions_using(kind: str, ts_all: TrainingSet, queries: list[str], routes: QueryRoutes, decisions, notes: list[str]):
    """The training rows of the decisions whose algorithm is `kind` (every row when none is)."""
    users = {d.name for d in decisions if d.algorithm == kind}
    if not users:
        notes.append(f"no decision uses {kind}: {ARTIFACT_FILES[kind]} learns every decision's queries, as if they all used it")
    ts = ts_all.rows([i for i, q in enumerate(queries) if not users or routes.decision_by_query[q] in users])
    if not ts.queries:
        raise TrainingError(f"no training query belongs to a decision that uses {kind} ({', '.join(sorted(users))})")
    return ts


def routed_queries(table: OutcomeTable, decisions) -> tuple[QueryRoutes, list[str], list[str]]:
    """(routes, the queries a selector can be asked about, notes on the others): a query needs a
    known decision with at least two candidates, and outcomes for two of them."""
    routes = query_routes(table.queries, decisions, table.decision_by_query, table.category_by_query)
    kept, unknown, one, few = [], 0, 0, 0
    for query in table.queries:
        candidates = routes.candidates(query)
        if candidates is None:
            unknown += 1
        elif len(candidates) == 1:
            one += 1
        elif sum(m in table.outcomes_by_query[query] for m in candidates) < 2:
            few += 1
        else:
            kept.append(query)
    notes = []
    if unknown:
        notes.append(
            f"{unknown} queries match no decision of the router config (by their recorded `decision`, else their category): "
            "left out; add_category_to_training_data.py records the router's own decision"
        )
    if one:
        notes.append(f"{one} queries of one-candidate decisions left out: the router skips the selector for them")
    if few:
        notes.append(f"{few} queries have outcomes for fewer than two of their decision's candidates: left out")
    if not kept:
        raise TrainingError("no training query belongs to a decision with two or more candidates: " + "; ".join(notes or ["no queries"]))
    return routes, kept, notes


def router_decisions(profile, table: OutcomeTable, log) -> tuple | None:
    """The decisions of the router profile (config order), or None; says when the data records
    the router's decisions but no config gives their candidates."""
    if profile is None:
        if table.decision_by_query:
            log(
                f"note: {len(table.decision_by_query)} queries record the router decision they matched, but without "
                "--router-config their candidates are unknown: labels are chosen among all models"
            )
        return None
    return profile.decisions


def fold_splits(queries: list[str], k: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """K (training, held-out) splits of `queries`, every query held out once (data_loader.fold_of,
    by query hash and seed); each side keeps the order of `queries`."""
    fold = fold_of(queries, k, seed)
    return [([q for q in queries if fold[q] != f], [q for q in queries if fold[q] == f]) for f in range(k)]


def evaluation_folds(table: OutcomeTable, queries: list[str], k: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """fold_splits of `queries`, each held-out side cut to the queries every strategy can be scored
    on (OutcomeTable.complete): the folds of --tune and validate.py --cross-validate."""
    return [(train, table.complete(test)) for train, test in fold_splits(queries, k, seed)]


@dataclass
class HeldOutReplay:
    """One split: the set trained on its training side, and its held-out queries' features
    (len(queries) x (embedding + 14), as the router builds them)."""

    trained: TrainedSet
    queries: list[str]
    features: np.ndarray

    def choices(self, kind: str) -> list[str]:
        """The model the runtime's Select (models.select) picks per held-out query."""
        return select(kind, self.trained.artifacts[kind], self.features).choices


def replay_held_out(
    table: OutcomeTable,
    train_queries: list[str],
    held_out: list[str],
    embed,
    settings: TrainSettings,
    decisions=None,
    test_table: OutcomeTable | None = None,
) -> HeldOutReplay:
    """Train on `train_queries` of `table`, and build the features of `held_out` (queries of
    `test_table`, default `table`) for the runtime replay: the one held-out recipe of tuning,
    cross-validation, the sweep and the chooser. The caller keeps the two sides apart."""
    trained = train_from_table(table, train_queries, embed, settings, decisions=decisions)
    test_table = table if test_table is None else test_table
    features = build_features(embed(test_table.texts(held_out)), [test_table.category_by_query[q] for q in held_out])
    return HeldOutReplay(trained, held_out, features)
