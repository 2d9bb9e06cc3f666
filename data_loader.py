"""Benchmark JSONL -> per-query outcome table, the one objective, and the query-level split.

Everything that decides which model is "best" for a query lives here, once: training labels,
cluster mappings, SVM targets and validation metrics all call `Objective` and `best_model`, so
the trainer and the validator can never disagree.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from errors import ToolkitError, UsageError

# The runtime's 14-slot one-hot order, as read from the router's Go source. `unknown` has its
# own slot; any name not in this list takes the `other` slot. Matching is exact.
CATEGORIES: tuple[str, ...] = (
    "math",
    "physics",
    "chemistry",
    "biology",
    "computer science",
    "history",
    "economics",
    "business",
    "law",
    "health",
    "psychology",
    "philosophy",
    "other",
    "unknown",
)
OTHER_CATEGORY = "other"

# Hub locations shared by train.py, validate.py, download_model.py and upload_model.py.
MODELS_REPO = "abdallah1008/semantic-router-ml-models"
DATA_REPO = "abdallah1008/ml-selection-benchmark-data"
TRAINING_DATA_FILE = "benchmark_training_data.jsonl"
VALIDATION_DATA_FILE = "validation_benchmark_with_gt.jsonl"

DEFAULT_QUALITY_WEIGHT = 0.9
EFFICIENCY_BASES = ("latency", "cost")
# Two models whose objective differs by less than this on a query are tied on it.
TIE_TOLERANCE = 1e-9


class DataError(ToolkitError, ValueError):
    """Input data that cannot be used; the message names the file, line and field."""


# ---------------------------------------------------------------------------------------------
# Categories


def _category_key(name: str) -> str:
    return re.sub(r"[\s_]+", " ", name.strip().lower())


_SLOT_BY_KEY = {_category_key(c): c for c in CATEGORIES}


def runtime_category(raw: object) -> tuple[str, str]:
    """The slot the runtime gives a category string, and how: exact | other | missing.

    The router's lookup is an exact, case-sensitive map (../shared/docs/router-artifacts.md,
    "Feature vector"): `Computer_Science`, `Math` and `engineering` all take `other`, and so does a
    missing or empty category (the runtime never produces `unknown` for a request without one).
    Nothing is guessed here: a near miss is only named, by `slot_hint`, so the user can fix the data.
    """
    if raw is None or raw == "":
        return OTHER_CATEGORY, "missing"
    if isinstance(raw, str) and raw in CATEGORIES:
        return raw, "exact"
    return OTHER_CATEGORY, "other"


def slot_hint(raw: object) -> str | None:
    """The slot a label that takes `other` was probably meant for (`Computer_Science` -> `computer
    science`), for the load report only: the runtime does not make this guess."""
    if not isinstance(raw, str):
        return None
    slot = _SLOT_BY_KEY.get(_category_key(raw))
    return slot if slot is not None and slot != raw else None


def category_one_hot(category: str) -> list[float]:
    """The runtime's one-hot: exact, case-sensitive match, anything else in the `other` slot."""
    vector = [0.0] * len(CATEGORIES)
    index = CATEGORIES.index(category) if category in CATEGORIES else CATEGORIES.index(OTHER_CATEGORY)
    vector[index] = 1.0
    return vector


# ---------------------------------------------------------------------------------------------
# Failures: which count against the model

FAILURE_KINDS = ("model", "setup")
_SETUP_TRANSPORT = re.compile(r"\b(?:ConnectError|ConnectTimeout|UnsupportedProtocol|InvalidURL|LocalProtocolError|ProxyError)\b")


def failure_kind(error: str) -> str:
    """Whose failure a recorded `error` is: "model" (an outcome of quality 0 for that model on that
    query) or "setup" (no outcome at all: our side, or nothing known about the model).

    model   the model's own timeouts, 5xx after retries, malformed replies after retries, a
            connection dropped mid-answer, 408, and error objects in a 200 reply that carry a 5xx
    setup   connection refused or unreachable (ConnectError, ConnectTimeout), 401/403 and every
            other 4xx (a wrong key, model id or request is ours to fix), 429 after retries (our
            own rate limit), a scorer that failed, and any error not recognised here

    The rule reads the error texts that llm_benchmark.post_json writes ("HTTP 401: ...", "gave up
    after 4 attempts: timeout after 120s ...", "error object in a 200 reply (HTTP 404): ...")."""
    text = str(error)
    status = re.search(r"\bHTTP (\d{3})\b", text)
    if status:
        code = int(status.group(1))
        return "model" if code >= 500 or code == 408 else "setup"
    if text.startswith("scoring failed") or _SETUP_TRANSPORT.search(text):
        return "setup"
    if text.startswith("gave up after") and re.search(r"timeout after|malformed response|ReadError|RemoteProtocolError|WriteError", text):
        return "model"
    return "setup"


# ---------------------------------------------------------------------------------------------
# Records


@dataclass
class Record:
    """One benchmark line: the outcome of one model on one query."""

    query: str
    model_name: str
    performance: float | None  # None: failed call or nothing to score against
    response_time: float | None  # seconds
    cost: float | None
    category: str
    line_number: int
    error: str | None = None
    failure: str | None = None  # for a failed call: "model" (quality 0) or "setup" (no outcome), see failure_kind
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt: str | None = None  # the user message exactly as benchmark.py sent it (choices appended, when stored apart)
    decision: str | None = None  # the router decision the query matched (add_category_to_training_data.py)
    extra: dict = field(default_factory=dict)

    @property
    def scored(self) -> bool:
        return self.error is None and self.performance is not None

    @property
    def counts_against_model(self) -> bool:
        """A failed call that becomes an outcome of quality 0 (failure_kind: "model")."""
        return self.error is not None and self.failure == "model"


@dataclass
class LoadReport:
    """What loading a file found, beyond the usable records: every count is printed."""

    path: str
    lines: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    failed_calls: int = 0
    failures_counted: Counter = field(default_factory=Counter)  # model -> failed calls scored as quality 0
    failures_excluded: Counter = field(default_factory=Counter)  # model -> failed calls left out (our side)
    all_failed_queries: int = 0  # queries on which every model failed: no model can be best there
    unscored: int = 0
    superseded_errors: int = 0
    duplicates: list[tuple[int, str]] = field(default_factory=list)
    categories_to_other: Counter = field(default_factory=Counter)  # label -> lines: not a slot name, the runtime uses `other`
    categories_missing: int = 0
    sha256: str = ""  # of the file's bytes, to tie artifacts to the exact data they came from

    def summary_lines(self, max_listed: int = 10) -> list[str]:
        out = [f"{self.path}: {self.lines} lines"]
        if self.problems:
            out.append(f"  skipped {len(self.problems)} bad lines:")
            for line, reason in self.problems[:max_listed]:
                out.append(f"    line {line}: {reason}")
            if len(self.problems) > max_listed:
                out.append(f"    ... and {len(self.problems) - max_listed} more")
        if self.failed_calls:
            out.append(
                f"  {self.failed_calls} failed-call lines (error set); of the pairs still failed, "
                f"{sum(self.failures_counted.values())} count as quality 0 against their model (its timeouts, 5xx), "
                f"{sum(self.failures_excluded.values())} are no outcome (our side: connection refused, 401/403, 429, other 4xx)"
            )
            for model in sorted(set(self.failures_counted) | set(self.failures_excluded)):
                out.append(f"    {model}: {self.failures_counted[model]} counted as quality 0, {self.failures_excluded[model]} left out")
        if self.all_failed_queries:
            out.append(f"  {self.all_failed_queries} queries where every model failed: no label (no model can serve them)")
        if self.unscored:
            out.append(f"  {self.unscored} unscored lines (performance null): never used as labels")
        if self.superseded_errors:
            out.append(f"  {self.superseded_errors} failed calls superseded by a later success (resumed run)")
        if self.duplicates:
            out.append(f"  {len(self.duplicates)} duplicate (query, model) lines, the last one wins:")
            for line, reason in self.duplicates[:max_listed]:
                out.append(f"    line {line}: {reason}")
        for raw, n in sorted(self.categories_to_other.items(), key=lambda kv: str(kv[0])):
            hint = slot_hint(raw)
            meant = f" (the lookup is exact and case-sensitive: not {hint!r})" if hint else ""
            out.append(f"  category {raw!r} on {n} lines is not one of the router's 14 slots: the 'other' slot{meant}")
        if self.categories_missing:
            out.append(f"  {self.categories_missing} lines without category: the 'other' slot, as the router gives them")
        if self.categories_to_other or self.categories_missing:
            out.append(f"  the router's own categories fix this: {categorise_command(self.path)}")
        return out


def categorise_command(path: str | Path) -> str:
    """The command that gives every line of `path` the category the router serves."""
    path = Path(path)
    output = path.with_name(path.name.removesuffix(".jsonl") + ".categorised.jsonl")
    return f"python add_category_to_training_data.py --vsr-url http://localhost:8080 --input {path} --output {output}"


def _number(value: object) -> float | None:
    """A finite JSON number, else None (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _parse_line(raw: str, line_number: int) -> Record:
    try:
        obj = json.loads(raw, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"{c} is not JSON")))
    except ValueError as exc:
        raise DataError(f"invalid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise DataError("line is not a JSON object")
    query = obj.get("query")
    if not isinstance(query, str) or not query.strip():
        raise DataError("field 'query' is missing or not a non-empty string")
    model = obj.get("model_name")
    if not isinstance(model, str) or not model.strip():
        raise DataError("field 'model_name' is missing or not a non-empty string")
    error = obj.get("error")
    error = None if error in (None, "") else str(error)
    failure = obj.get("failure")
    if error is not None:
        if failure is not None and failure not in FAILURE_KINDS:
            raise DataError(f"field 'failure' must be one of {', '.join(FAILURE_KINDS)}, got {failure!r}")
        failure = failure or failure_kind(error)  # files written before the field: the same rule, from the text
    else:
        failure = None

    performance = obj.get("performance")
    if performance is not None:
        value = _number(performance)
        if value is None or not 0.0 <= value <= 1.0:
            raise DataError(f"field 'performance' must be a number in [0, 1], got {performance!r}")
        performance = value
    timings = {}
    for name in ("response_time", "cost"):
        raw_value = obj.get(name)
        if raw_value is None:
            timings[name] = None
            continue
        value = _number(raw_value)
        if value is None or value < 0:
            raise DataError(f"field '{name}' must be a non-negative number, got {raw_value!r}")
        timings[name] = value
    tokens = {}
    for name in ("prompt_tokens", "completion_tokens"):
        raw_value = obj.get(name)
        if raw_value is not None and (_number(raw_value) is None or raw_value < 0):
            raise DataError(f"field '{name}' must be a non-negative number, got {raw_value!r}")
        tokens[name] = None if raw_value is None else int(raw_value)
    prompt = obj.get("prompt")
    if prompt is not None and (not isinstance(prompt, str) or not prompt.strip()):
        raise DataError(f"field 'prompt' (the user message benchmark.py sent) must be a non-empty string, got {prompt!r}")
    decision = obj.get("decision")
    if decision is not None and not isinstance(decision, str):
        raise DataError(f"field 'decision' (the router's matched decision) must be a string, got {decision!r}")
    known = {"query", "model_name", "performance", "response_time", "cost", "category", "error", "failure", "prompt", "decision"}
    known |= set(tokens)
    return Record(
        query=query,
        model_name=model,
        performance=performance,
        response_time=timings["response_time"],
        cost=timings["cost"],
        category=obj.get("category"),  # mapped to its runtime slot by the caller, which counts it
        line_number=line_number,
        error=error,
        failure=failure,
        prompt=prompt,
        decision=decision or None,
        extra={k: v for k, v in obj.items() if k not in known},
        **tokens,
    )


def iter_jsonl_lines(path: str | Path, digest=None):
    """(line number, raw line) for each non-blank line; a file that cannot be read is a DataError.
    `digest` (a hashlib object), when given, is fed the file's bytes on the way: one read serves both."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    with handle:
        for line_number, data in enumerate(handle, start=1):
            if digest is not None:
                digest.update(data)
            try:
                raw = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{path}, line {line_number}: not UTF-8 ({exc.reason})") from None
            if raw.strip():
                yield line_number, raw


def write_file_atomically(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one, never a part:
    a temporary file beside it, fsynced, made world-readable (mkstemp makes 0600), renamed."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fold_of(queries: Iterable[str], k: int, seed: int) -> dict[str, int]:
    """Query-level K-fold assignment by a hash of the query text and the seed."""
    return {q: int(query_hash(q, seed), 16) % k for q in queries}


def parse_query_line(raw: str, line_number: int) -> tuple[dict | None, str | None]:
    """(the line as a dict with a non-empty string `query`, None) or (None, what is wrong with it)."""
    try:
        obj = json.loads(raw)
    except ValueError as exc:
        return None, f"line {line_number}: invalid JSON ({exc})"
    if not isinstance(obj, dict) or not isinstance(obj.get("query"), str) or not obj["query"].strip():
        return None, f"line {line_number}: field 'query' is missing or not a non-empty string"
    return obj, None


def bad_lines_message(path: str | Path, problems: list[str], consequence: str) -> str:
    """Every bad line of a file, by number (the first 20), in one message."""
    listed = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
    return f"{path}: {len(problems)} bad line(s), {consequence}:\n  {listed}"


def load_records(path: str | Path, strict: bool = False) -> tuple[list[Record], LoadReport]:
    """Read a benchmark JSONL file.

    Bad lines are skipped and listed in the report (or, with `strict`, the first one raises).
    A file with no usable record at all is an error: it would otherwise train an empty model.
    """
    path = Path(path)
    report = LoadReport(path=str(path))
    records: list[Record] = []
    digest = hashlib.sha256()
    for line_number, raw in iter_jsonl_lines(path, digest):
        report.lines = line_number
        try:
            record = _parse_line(raw, line_number)
        except DataError as exc:
            if strict:
                raise DataError(f"{path}, line {line_number}: {exc}") from None
            report.problems.append((line_number, str(exc)))
            continue
        raw_category = record.category
        record.category, how = runtime_category(raw_category)
        if how == "other":
            report.categories_to_other[raw_category] += 1
        elif how == "missing" and not (raw_category == "" and record.decision is not None):
            # "" with a decision is the router's own answer (a decision without a domain rule), not a gap
            report.categories_missing += 1
        records.append(record)
    report.sha256 = digest.hexdigest()
    if not any(r.scored for r in records):
        detail = "; ".join(report.summary_lines(max_listed=3)[1:]) or "empty file"
        raise DataError(f"{path}: no usable scored record ({detail})")
    return records, report


# ---------------------------------------------------------------------------------------------
# The outcome table


@dataclass(frozen=True)
class Outcome:
    quality: float
    latency: float | None  # seconds
    cost: float | None  # USD
    failed: bool = False  # a failed call counted against the model: quality 0, objective 0, never best


@dataclass
class OutcomeTable:
    """query -> model -> Outcome, over scored calls and the failed calls that count against their
    model (`failure_kind` "model": quality 0, `Outcome.failed`)."""

    outcomes_by_query: dict[str, dict[str, Outcome]]
    category_by_query: dict[str, str]
    models: list[str]  # every model with at least one scored outcome, sorted
    category_conflicts: int = 0
    prompt_by_query: dict[str, str] = field(default_factory=dict)  # only queries whose lines carry `prompt`
    decision_by_query: dict[str, str] = field(default_factory=dict)  # only queries whose lines carry `decision`

    @property
    def queries(self) -> list[str]:
        return list(self.outcomes_by_query)

    def texts(self, queries: Iterable[str]) -> list[str]:
        """The text the router embeds for each query: the user message benchmark.py sent
        (`prompt`) when the data records it, else the query itself."""
        return [self.prompt_by_query.get(q, q) for q in queries]

    def complete(self, queries: Iterable[str]) -> list[str]:
        """The queries (in order) with an outcome for every model: the ones every strategy,
        Oracle and each single model included, can be scored on."""
        return [q for q in queries if len(self.outcomes_by_query[q]) == len(self.models)]

    def subset(self, queries: Iterable[str]) -> "OutcomeTable":
        keep = [q for q in queries if q in self.outcomes_by_query]
        return OutcomeTable(
            {q: self.outcomes_by_query[q] for q in keep},
            {q: self.category_by_query[q] for q in keep},
            list(self.models),
            prompt_by_query={q: self.prompt_by_query[q] for q in keep if q in self.prompt_by_query},
            decision_by_query={q: self.decision_by_query[q] for q in keep if q in self.decision_by_query},
        )


def build_outcome_table(records: list[Record], report: LoadReport | None = None) -> OutcomeTable:
    """Resolve duplicates and keep scored outcomes, and failures that count against their model.

    Rule for duplicate (query, model) lines: a resumed benchmark appends, so the LAST successful
    line wins. A failed call followed by a success is the normal resume path and is not reported;
    any other duplicate is reported (with the line that was replaced). A pair whose last line is a
    failed call with `failure` "model" (its timeouts, 5xx after retries) is an outcome of quality 0
    marked `failed`; one with `failure` "setup" (our side) is no outcome. Both are counted per model.
    """
    latest: dict[tuple[str, str], Record] = {}
    failed: dict[tuple[str, str], Record] = {}
    category_votes: dict[str, Counter] = defaultdict(Counter)
    prompts: dict[str, str] = {}
    decisions: dict[str, str] = {}
    for record in records:
        category_votes[record.query][record.category] += 1
        if record.prompt is not None:
            prompts.setdefault(record.query, record.prompt)  # one message per query: benchmark.py builds it once
        if record.decision is not None:
            decisions.setdefault(record.query, record.decision)
        key = (record.query, record.model_name)
        if not record.scored:
            if report is not None:
                if record.error is not None:
                    report.failed_calls += 1
                else:
                    report.unscored += 1
            if record.error is not None:
                failed[key] = record
            continue
        if key in latest and report is not None:
            report.duplicates.append((record.line_number, f"replaces line {latest[key].line_number} for model {record.model_name!r}"))
        if key in failed and report is not None:
            report.superseded_errors += 1
        failed.pop(key, None)
        latest[key] = record
    outcomes_by_query: dict[str, dict[str, Outcome]] = {}
    for (query, model), record in latest.items():
        outcomes_by_query.setdefault(query, {})[model] = Outcome(
            quality=float(record.performance), latency=record.response_time, cost=record.cost
        )
    for (query, model), record in failed.items():
        if (query, model) in latest:  # a failure after a success: the success stands
            continue
        if report is not None:
            (report.failures_counted if record.counts_against_model else report.failures_excluded)[model] += 1
        if record.counts_against_model:
            outcomes_by_query.setdefault(query, {})[model] = Outcome(quality=0.0, latency=None, cost=record.cost, failed=True)
    if report is not None:
        report.all_failed_queries = sum(1 for per_model in outcomes_by_query.values() if all(o.failed for o in per_model.values()))
    conflicts = 0
    category_by_query = {}
    for query in outcomes_by_query:
        votes = category_votes[query]
        if len(votes) > 1:
            conflicts += 1
        # Most frequent category; ties go to the name that sorts first, so the choice is stable.
        category_by_query[query] = min(votes.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    models = sorted({m for per_model in outcomes_by_query.values() for m in per_model})
    return OutcomeTable(
        outcomes_by_query,
        category_by_query,
        models,
        category_conflicts=conflicts,
        prompt_by_query={q: p for q, p in prompts.items() if q in outcomes_by_query},
        decision_by_query={q: d for q, d in decisions.items() if q in outcomes_by_query},
    )


def load_outcome_table(path: str | Path, strict: bool = False, log=print) -> tuple[OutcomeTable, LoadReport]:
    """Load a benchmark JSONL into its outcome table; the load report's lines are logged."""
    records, report = load_records(path, strict=strict)
    table = build_outcome_table(records, report)
    for line in report.summary_lines():
        log(line)
    return table, report


# ---------------------------------------------------------------------------------------------
# The objective


@dataclass(frozen=True)
class Objective:
    """score = w * quality + (1 - w) * efficiency, efficiency = 1 / (1 + value / ref).

    `value` is the latency in seconds (basis "latency") or the cost in USD (basis "cost"); `ref`
    is the median of that value over the TRAINING outcomes, stored in the artifacts so that
    validation reuses it instead of recomputing it on test data. Basis "none" (the data has no
    latency or cost) makes the score the quality alone. A missing value for one outcome counts as
    `ref` (efficiency 0.5, neutral); `missing_efficiency` says how often that happened in training.
    """

    quality_weight: float = DEFAULT_QUALITY_WEIGHT
    basis: str = "latency"  # latency | cost | none
    ref: float = 1.0
    missing_efficiency: int = 0

    def efficiency(self, outcome: Outcome) -> float:
        value = outcome.latency if self.basis == "latency" else outcome.cost
        if value is None:
            value = self.ref
        return 1.0 / (1.0 + value / self.ref)

    def score(self, outcome: Outcome) -> float:
        if outcome.failed:  # no answer: neither quality nor efficiency, below any answer
            return 0.0
        if self.basis == "none":
            return outcome.quality
        w = self.quality_weight
        return w * outcome.quality + (1.0 - w) * self.efficiency(outcome)

    def describe(self) -> str:
        if self.basis == "none":
            return "score = quality (the data records neither latency nor cost)"
        unit = "s" if self.basis == "latency" else " USD"
        w = self.quality_weight
        return f"score = {w:g} * quality + {1 - w:g} * 1 / (1 + {self.basis} / {self.ref:.6g}{unit})"

    def to_dict(self) -> dict:
        return {"quality_weight": self.quality_weight, "basis": self.basis, "ref": self.ref}

    @classmethod
    def from_dict(cls, data: dict) -> "Objective":
        return cls(float(data["quality_weight"]), str(data["basis"]), float(data["ref"]))


def fit_objective(table: OutcomeTable, quality_weight: float = DEFAULT_QUALITY_WEIGHT, basis: str = "latency") -> Objective:
    """The objective for a training table: `ref` is the median efficiency value of its outcomes."""
    if not 0.0 <= quality_weight <= 1.0:
        raise UsageError(f"quality weight must be in [0, 1], got {quality_weight}")
    if basis not in EFFICIENCY_BASES:
        raise UsageError(f"efficiency basis must be one of {EFFICIENCY_BASES}, got {basis!r}")
    attribute = "latency" if basis == "latency" else "cost"
    values = [getattr(o, attribute) for m in table.outcomes_by_query.values() for o in m.values()]
    present = sorted(v for v in values if v is not None)
    if not present:
        return Objective(quality_weight, "none", 1.0)
    median = present[len(present) // 2] if len(present) % 2 else 0.5 * (present[len(present) // 2 - 1] + present[len(present) // 2])
    # A zero median (free models) would divide by zero; the smallest positive value stands in.
    positive = [v for v in present if v > 0]
    ref = median if median > 0 else (positive[0] if positive else 1.0)
    return Objective(quality_weight, basis, ref, missing_efficiency=len(values) - len(present))


def model_ranking(table: OutcomeTable, objective: Objective) -> list[tuple[str, float]]:
    """Models by mean objective over the queries they have outcomes for, best first.

    This is the tie-break order everywhere: when several models tie on a query, the one that is
    better overall wins (an alphabetical tie-break would route to a weak model on real data, where
    most queries have several models at 1.0). Equal means fall back to the name, to stay stable.
    """
    totals: dict[str, list[float]] = {m: [] for m in table.models}
    for per_model in table.outcomes_by_query.values():
        for model, outcome in per_model.items():
            totals[model].append(objective.score(outcome))
    means = {m: (sum(v) / len(v) if v else float("-inf")) for m, v in totals.items()}
    return sorted(means.items(), key=lambda kv: (-kv[1], kv[0]))


def category_models(table: OutcomeTable, objective: Objective, ranking: list[tuple[str, float]]) -> dict[str, str]:
    """Per category of `table`'s queries, the model with the best mean objective over that
    category's queries: routing by the router's own category alone, the configuration a selector
    has to beat to be worth deploying. Ties go to the better-ranked model (`ranking`, best first)."""
    rank = {m: i for i, (m, _) in enumerate(ranking)}
    totals: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for query, per_model in table.outcomes_by_query.items():
        for model, outcome in per_model.items():
            totals[table.category_by_query[query]][model].append(objective.score(outcome))
    best = {}
    for category, per_model in sorted(totals.items()):
        means = {m: sum(v) / len(v) for m, v in per_model.items()}
        top = max(means.values())
        best[category] = min((m for m, s in means.items() if s >= top - TIE_TOLERANCE), key=lambda m: (rank.get(m, len(rank)), m))
    return best


def best_model(per_model: dict[str, Outcome], objective: Objective, rank: dict[str, int]) -> str:
    """The model with the highest objective on one query; ties go to the better-ranked model.
    A failed call is never best while any model answered."""
    answered = {m: o for m, o in per_model.items() if not o.failed} or per_model
    scores = {m: objective.score(o) for m, o in answered.items()}
    top = max(scores.values())
    tied = [m for m, s in scores.items() if s >= top - TIE_TOLERANCE]
    return min(tied, key=lambda m: (rank.get(m, len(rank)), m))


@dataclass
class Labels:
    """The queries a selector can learn from, from the outcome table and the objective."""

    queries: list[str]  # queries with outcomes for at least two models, table order
    skipped_single_model: int
    ranking: list[tuple[str, float]]
    table: OutcomeTable = field(repr=False)
    objective: Objective = field(repr=False)

    @property
    def best(self) -> list[str]:
        """Each query's best model (best_model). Training does not read it: models.TrainingSet.build
        labels each query itself, among its decision's candidates when it has one."""
        rank = {m: i for i, (m, _) in enumerate(self.ranking)}
        return [best_model(self.table.outcomes_by_query[q], self.objective, rank) for q in self.queries]


def label_queries(table: OutcomeTable, objective: Objective) -> Labels:
    """The queries to learn from, and the models ranked by mean objective. Queries with fewer than
    two outcomes, or where every model failed, are counted only."""
    queries, skipped = [], 0
    for query, per_model in table.outcomes_by_query.items():
        if len(per_model) < 2 or all(o.failed for o in per_model.values()):
            skipped += 1  # no choice to learn: one model, or none that answered
            continue
        queries.append(query)
    return Labels(queries, skipped, model_ranking(table, objective), table, objective)


# ---------------------------------------------------------------------------------------------
# The query-level split


def query_hash(query: str, seed: int = 0) -> str:
    return hashlib.sha256(f"{seed}\x00{query}".encode("utf-8")).hexdigest()


def split_queries(queries: Iterable[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Deterministic (keep, held_out) split by a hash of the query text and the seed.

    A query lands on one side only, with all its model rows, whatever the file order. The held-out
    side is the `fraction` of queries with the smallest hashes (exact count, rounded).
    """
    unique = list(dict.fromkeys(queries))
    if not 0.0 <= fraction < 1.0:
        raise UsageError(f"held-out fraction must be in [0, 1), got {fraction}")
    n_out = int(round(fraction * len(unique)))
    ordered = sorted(unique, key=lambda q: query_hash(q, seed))
    held_out = set(ordered[:n_out])
    return [q for q in unique if q not in held_out], [q for q in unique if q in held_out]


def query_set_digest(queries: Iterable[str]) -> str:
    """A short fingerprint of a set of queries, to check that a recorded split is reproduced."""
    digest = hashlib.sha256()
    for h in sorted(query_hash(q) for q in set(queries)):
        digest.update(h.encode())
    return digest.hexdigest()[:16]
