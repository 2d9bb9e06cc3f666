"""What a deployed semantic router's ML selectors will see, read from the router's own config.

A trained set is worth what the router does with it: the router's config decides which
embedding the KNN/KMeans/SVM selectors are fed, whether that embedding can start at all, which
decisions use a selector and over which candidates, and which files are loaded. This module
reads a v0.3 router config (the layout the current router accepts: `routing:` and/or `global:`),
lays its `global:` over the router's canonical defaults as the router does, and derives that
profile. It never refuses a config for reasons the selectors do not depend on.

Every rule here was read in vllm-project/semantic-router (main of 2026-08-22, plus PR #2886):
- `pkg/config/canonical_defaults.go`: the defaults (mmBERT at models/mmbert-embed-32k-2d-matryoshka,
  `embedding_config.model_type: mmbert`, `target_dimension: 768`, `target_layer: 22`;
  `model_selection.enabled: true`; response cache enabled).
- `pkg/config/canonical_global.go` (`resolveCanonicalGlobal`): the user's `global:` is
  yaml-unmarshalled onto the defaults, so nested fields merge and lists replace.
- `pkg/extproc/router_selection.go` (`resolveSelectionEmbeddingFunc`, `selectionEmbeddingModelType`,
  `selectionEmbeddingDimension`), `pkg/selection/factory.go` (PR #2886: `ml.model_type` with
  `ml.embedding_dim`, 1024 when unset for qwen3, decides for the ML selectors).
- `pkg/modelruntime/router_runtime.go` (`batchedEmbeddingNeeds`): when batched Qwen3 starts.
- `pkg/config/embedding_config.go`, `pkg/embedding/*`: the backend and the remote endpoint.
- `pkg/extproc/openvino_embedding_cgo.go`, `pkg/classification/openvino_backend_cgo.go`: OpenVINO
  returns the model's full width (no cut).
- `candle-binding/src/ffi/embedding.rs`: Qwen3 cut to a dimension above 1024 keeps 1024; mmBERT
  asked for more than its 768 values fails.
- `pkg/config/decision_config.go`: decisions, `modelRefs` (`model`, `lora_name`), `algorithm.type`,
  the rule tree whose `type: domain` leaves give the served category.
The numbers and rules are restated in ../shared/docs/router-artifacts.md ("Feature vector").
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from data_loader import CATEGORIES
from errors import ToolkitError
from models import ALGORITHMS, ARTIFACT_FILES, artifact_labels, feature_dim_of

ML_ALGORITHMS = ALGORITHMS  # the selectors the router has a runtime for (ml.<kind>.pretrained_path)
CATEGORY_SLOTS = len(CATEGORIES)
QWEN3_NATIVE_DIMENSION = 1024
MMBERT_NATIVE_DIMENSION = 768
CANDLE_MODEL_TYPES = ("qwen3", "gemma", "mmbert", "multimodal")  # get_embedding_2d_matryoshka's accepted names

# The router's model registry (pkg/config/registry.go): local paths and aliases -> hub repository.
_EMBEDDING_REGISTRY = {
    "Qwen/Qwen3-Embedding-0.6B": ("models/mom-embedding-pro", "Qwen3-Embedding-0.6B", "embedding-pro", "qwen3"),
    "llm-semantic-router/mmbert-embed-32k-2d-matryoshka": (
        "models/mmbert-embed-32k-2d-matryoshka",
        "mom-embedding-ultra",
        "mmbert-embed-32k-2d-matryoshka",
        "mmbert-embedding",
        "embedding-mmbert",
        "mmbert",
        "embedding-ultra",
    ),
    "google/embeddinggemma-300m": ("models/mom-embedding-flash", "embeddinggemma-300m", "embedding-flash", "gemma"),
    "llm-semantic-router/multi-modal-embed-small": (
        "models/mom-embedding-multimodal",
        "multi-modal-embed-small",
        "multimodal-embedding",
        "embedding-multimodal",
        "multimodal",
    ),
}
_HUB_BY_PATH = {}
for _hub, _names in _EMBEDDING_REGISTRY.items():
    for _name in _names:
        _HUB_BY_PATH[_name] = _hub
        _HUB_BY_PATH.setdefault(f"models/{_name}", _hub)
    _HUB_BY_PATH[_hub] = _hub


def hub_id_for_router_path(path: str) -> str | None:
    """The hub repository the router's registry maps a configured model path or alias to."""
    path = path.strip()
    return _HUB_BY_PATH.get(path) or _HUB_BY_PATH.get(path.rstrip("/"))


# The router's canonical defaults, restricted to the fields this profile reads.
CANONICAL_DEFAULTS = {
    "router": {"model_selection": {"enabled": True, "method": "knn", "ml": {}}},
    "stores": {"response_cache": {"enabled": True}},
    "model_catalog": {
        "embeddings": {
            "semantic": {
                "mmbert_model_path": "models/mmbert-embed-32k-2d-matryoshka",
                "use_cpu": True,
                "embedding_config": {"model_type": "mmbert", "target_dimension": 768, "target_layer": 22},
            }
        }
    },
}


class RouterConfigError(ToolkitError, ValueError):
    """A router config this module cannot read: names the file, the field and, where known, the line."""


@dataclass(frozen=True)
class DecisionProfile:
    name: str
    algorithm: str  # the decision's algorithm.type ("knn", "kmeans", "svm", anything else, or "")
    candidates: tuple[str, ...]  # modelRefs in config order: each its lora_name when set, else model
    domains: tuple[str, ...]  # the served category of each `type: domain` rule leaf, in order (name, or name:label)
    recipe: str = ""  # the recipe the decision belongs to ("" = the top-level routing)

    @property
    def uses_selector(self) -> bool:
        """The runtime calls the ML selector: an ML algorithm and more than one candidate."""
        return self.algorithm in ML_ALGORITHMS and len(self.candidates) > 1


@dataclass(frozen=True)
class RemoteEndpoint:
    base_url: str
    url: str  # base_url with /embeddings appended, as the router's provider builds it
    model: str
    api_key_env: str  # the environment variable holding the key (never the key)
    dimensions: int  # sent as `dimensions` when > 0


@dataclass(frozen=True)
class EmbeddingSpec:
    """The embedding the ML selectors are fed."""

    backend: str  # candle, openai_compatible or openvino
    model_type: str  # qwen3, mmbert, gemma, multimodal, remote, ... exactly as the router passes it
    model_path: str  # the router-side model folder (candle), or the remote model name
    hub_id: str | None  # the weights that folder names in the router's registry, when known
    dimension: int | None  # values per vector the selectors see (None: whatever the remote returns)
    native_dimension: int | None  # the model's own width before any cut
    layer: int | None  # transformer layers run (None: the whole model)
    dtype: str  # the precision the router runs the model in
    decided_by: str  # which config keys decided it
    endpoint: RemoteEndpoint | None = None
    problem: str | None = None  # why the router cannot compute this embedding at all (every request falls back)

    @property
    def cut(self) -> bool:
        return self.dimension is not None and self.native_dimension is not None and self.dimension < self.native_dimension

    def describe(self) -> str:
        if self.backend == "openai_compatible":
            assert self.endpoint is not None
            width = f"{self.dimension} values" if self.dimension else "width as returned"
            return f"remote openai_compatible {self.endpoint.model!r} at {self.endpoint.url}, used as returned ({width})"
        weights = self.model_path or "no model path"
        if self.hub_id and self.hub_id != self.model_path:
            weights += f" = {self.hub_id}"
        if self.cut:
            size = f"{self.dimension} values (cut from {self.native_dimension}, re-normalised)"
        else:
            size = f"{self.dimension} values" if self.dimension else "dimension unknown"
        layers = "whole model" if self.layer is None else f"first {self.layer} layers"
        return f"{self.backend} {self.model_type} ({weights}), {self.dtype}, {size}, {layers}"


@dataclass(frozen=True)
class RouterProfile:
    source: str  # the config path
    digest: str  # sha256 of the config bytes
    decisions: tuple[DecisionProfile, ...]
    embedding: EmbeddingSpec
    artifact_paths: dict[str, str]  # algorithm -> ml.<algo>.pretrained_path ("" when not set: nothing is loaded)
    models_path: str  # ml.models_path
    model_selection_enabled: bool
    batched_qwen3: bool  # the batched Qwen3 model starts (needed when the ML path embeds with qwen3 on candle)
    batched_qwen3_reason: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def feature_dim(self) -> int | None:
        """Values per feature vector the selectors receive: the embedding plus 14 category slots."""
        return None if self.embedding.dimension is None else self.embedding.dimension + CATEGORY_SLOTS

    @property
    def embedding_ready(self) -> bool:
        """The router can compute the ML path's embedding at all (else every request falls back)."""
        return self.embedding_problem() is None

    def embedding_problem(self) -> str | None:
        if self.embedding.problem:
            return self.embedding.problem
        if self.embedding.backend == "candle" and self.embedding.model_type == "qwen3" and not self.batched_qwen3:
            return f"batched Qwen3 will not start ({self.batched_qwen3_reason}): every Qwen3 embedding fails and every request falls back"
        return None

    def decision(self, name: str, recipe: str | None = None) -> DecisionProfile | None:
        """The decision of that name (top-level routing first, or in `recipe` when given)."""
        for d in self.decisions:
            if d.name == name and (recipe is None or d.recipe == recipe):
                return d
        return None

    def ml_decisions(self) -> tuple[DecisionProfile, ...]:
        """Decisions whose algorithm.type is knn, kmeans or svm (one-candidate ones included)."""
        return tuple(d for d in self.decisions if d.algorithm in ML_ALGORITHMS)

    def ml_algorithms(self) -> tuple[str, ...]:
        """The selectors some decision uses, in knn/kmeans/svm order."""
        used = {d.algorithm for d in self.ml_decisions()}
        return tuple(a for a in ML_ALGORITHMS if a in used)

    def candidate_labels(self, algorithm: str | None = None) -> set[str]:
        """Every label some ML decision (of `algorithm`, when given) could serve."""
        return {c for d in self.ml_decisions() if algorithm in (None, d.algorithm) for c in d.candidates}

    def summary(self) -> str:
        """A few lines: what the ML selectors will see."""
        emb = self.embedding
        lines = [f"Router profile: {self.source} (sha256 {self.digest[:12]})"]
        lines.append(f"  embedding: {emb.describe()}  [{emb.decided_by}]")
        if self.feature_dim is not None:
            lines.append(f"  features: {self.feature_dim} = {emb.dimension} + {CATEGORY_SLOTS} category slots")
        if emb.backend == "candle" and emb.model_type == "qwen3":
            state = "starts" if self.batched_qwen3 else "WILL NOT START"
            consequence = "" if self.batched_qwen3 else ": every Qwen3 embedding fails, every request falls back"
            lines.append(f"  batched Qwen3: {state} ({self.batched_qwen3_reason}){consequence}")
        if emb.problem:
            lines.append(f"  PROBLEM: {emb.problem}")
        ml = self.ml_decisions()
        if ml:
            parts = []
            for d in ml:
                where = f"{d.recipe}/" if d.recipe else ""
                skip = " (one candidate: selector skipped)" if len(d.candidates) == 1 else ""
                parts.append(f"{where}{d.name} {d.algorithm} [{', '.join(d.candidates)}]{skip}")
            lines.append("  ML decisions: " + "; ".join(parts))
        else:
            lines.append("  ML decisions: none (no decision has algorithm.type knn, kmeans or svm)")
        paths = [f"{a} -> {self.artifact_paths[a] or '(no pretrained_path: nothing loaded)'}" for a in ML_ALGORITHMS]
        lines.append("  artifacts: " + "; ".join(paths))
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def to_metadata(self) -> dict[str, str]:
        """Values for an artifact's metadata (all JSON strings, as the Go loader reads metadata)."""
        spec = asdict(self.embedding)
        return {
            "router_config": Path(self.source).name,
            "router_config_sha256": self.digest,
            "router_profile": self.summary(),
            "router_embedding": json.dumps(spec, sort_keys=True),
        }


# ---------------------------------------------------------------------------------------------
# Loading


_SEMANTIC = ("model_catalog", "embeddings", "semantic")
_EMBEDDING_CONFIG = _SEMANTIC + ("embedding_config",)
_MODEL_PATH_KEYS = {m: f"{m}_model_path" for m in CANDLE_MODEL_TYPES}  # the semantic: field naming each model's folder


class _Fields:
    """Typed access to the parsed YAML, with the file, field path and line in every error."""

    def __init__(self, source: str, lines: dict[tuple, int], prefix: tuple = ()):
        self.source, self.lines, self.prefix = source, lines, prefix

    def error(self, path: tuple, message: str) -> RouterConfigError:
        path = self.prefix + path  # `global:` values are read after the overlay: name the user's field
        line = self.lines.get(path)
        where = f"{self.source}" + (f", line {line}" if line else "")
        return RouterConfigError(f"{where}: {_dotted(path)}: {message}")

    def get(self, data, path: tuple, kind, default=None):
        """data[path] with the type the router's Go struct gives it; `default` when absent or null."""
        value = data
        for key in path:
            if isinstance(key, int) and isinstance(value, list) and key < len(value):
                value = value[key]
            elif isinstance(key, str) and isinstance(value, dict) and value.get(key) is not None:
                value = value[key]
            else:
                return default
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
                return str(value)  # yaml.v2 decodes a scalar number into a string field
            expected = {dict: "a mapping", list: "a list", str: "a string", int: "an integer", bool: "true or false"}[kind]
            raise self.error(path, f"must be {expected}, got {value!r}")
        return value


def _dotted(path: tuple) -> str:
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


def _node_lines(node, path: tuple, lines: dict) -> None:
    import yaml

    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                _node_lines(value, path + (key.value,), lines)
                lines[path + (key.value,)] = key.start_mark.line + 1  # the key's line, where a block value starts below it
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _node_lines(item, path + (i,), lines)


def _overlay(defaults: dict, override: dict) -> dict:
    """The user's `global:` over the defaults as yaml.v2 unmarshals onto a struct: mappings merge
    key by key, anything else (lists included) replaces, an explicit null resets to empty."""
    out = copy.deepcopy(defaults)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _overlay(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_router_profile(path: str | Path) -> RouterProfile:
    """Read a v0.3 router config and derive what its ML selectors will see.

    Raises RouterConfigError naming the file, the field and the line for: a file that cannot be
    read or parsed, a file that is not a v0.3 config (neither `routing` nor `global`, which the
    router refuses too), and a field the profile needs that has a type the router cannot decode."""
    path = Path(path)
    raw, data, lines = _read_config(path)
    fields = _Fields(str(path), lines)
    user_global = fields.get(data, ("global",), dict, {})
    merged = _overlay(CANONICAL_DEFAULTS, user_global)
    g = _Fields(str(path), lines, prefix=("global",))
    decisions = _all_decisions(fields, data)
    ml = g.get(merged, ("router", "model_selection", "ml"), dict, {})
    embedding, notes = _embedding_spec(g, merged, user_global)
    enabled = g.get(merged, ("router", "model_selection", "enabled"), bool, False)
    models_path = g.get(merged, ("router", "model_selection", "ml", "models_path"), str, "")
    batched_qwen3, reason = _batched_qwen3(g, merged, enabled, models_path)
    artifact_paths = {a: g.get(ml, (a, "pretrained_path"), str, "") for a in ML_ALGORITHMS}
    notes.append("EMBEDDING_BACKEND_OVERRIDE in the router's environment would override the backend; a config cannot show it")
    return RouterProfile(
        source=str(path),
        digest=hashlib.sha256(raw).hexdigest(),
        decisions=tuple(decisions),
        embedding=embedding,
        artifact_paths=artifact_paths,
        models_path=models_path,
        model_selection_enabled=enabled,
        batched_qwen3=batched_qwen3,
        batched_qwen3_reason=reason,
        notes=tuple(notes),
    )


def _read_config(path: Path) -> tuple[bytes, dict, dict[tuple, int]]:
    """(the file's bytes, its YAML, the line of each field path); RouterConfigError for a file that
    cannot be read or parsed, or that is not a v0.3 config."""
    import yaml

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RouterConfigError(f"{path}: cannot read the router config: {exc.strerror or exc}") from None
    text = raw.decode("utf-8", errors="replace")
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise RouterConfigError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    lines: dict[tuple, int] = {}
    if root is not None:
        _node_lines(root, (), lines)
    if not isinstance(data, dict) or not ("routing" in data or "global" in data):
        raise RouterConfigError(
            f"{path}: not a v0.3 router config: it has neither a `routing:` nor a `global:` section "
            "(the router refuses such a file too; convert it with the router's config migration first)"
        )
    return raw, data, lines


def _all_decisions(fields: _Fields, data: dict) -> list[DecisionProfile]:
    """The top-level routing's decisions, then each recipe's, in file order."""
    decisions = list(_decisions(fields, data, ("routing",), ""))
    for i, recipe in enumerate(fields.get(data, ("recipes",), list, [])):
        if not isinstance(recipe, dict):
            raise fields.error(("recipes", i), "must be a mapping")
        name = fields.get(data, ("recipes", i, "name"), str, "")
        decisions.extend(_decisions(fields, data, ("recipes", i, "routing"), name))
    return decisions


def _batched_qwen3(g: _Fields, merged: dict, enabled: bool, models_path: str) -> tuple[bool, str]:
    """(whether the batched Qwen3 model starts, why or which settings are missing): it starts when
    model_selection.enabled, ml.models_path and qwen3_model_path are all set, or when the response
    cache embeds with qwen3 (docs: router-artifacts.md, "Batched Qwen3")."""
    qwen3_path = g.get(merged, _SEMANTIC + ("qwen3_model_path",), str, "")
    cache = _response_cache(g, merged)
    cache_on = g.get(cache, ("enabled",), bool, False) if cache else False
    cache_qwen3 = cache_on and str(cache.get("embedding_model") or "").strip().lower() == "qwen3" and bool(qwen3_path)
    ml_gate = enabled and bool(models_path) and bool(qwen3_path)
    if ml_gate:
        return True, "model_selection.enabled, ml.models_path and qwen3_model_path are set"
    if cache_qwen3:
        return True, "the response cache embeds with qwen3"
    missing = [
        name
        for name, ok in (
            ("global.router.model_selection.enabled", enabled),
            ("global.router.model_selection.ml.models_path", bool(models_path)),
            ("global.model_catalog.embeddings.semantic.qwen3_model_path", bool(qwen3_path)),
        )
        if not ok
    ]
    return False, "not set: " + ", ".join(missing) + " (and the response cache does not embed with qwen3)"


def _response_cache(g: _Fields, merged: dict) -> dict:
    stores = g.get(merged, ("stores",), dict, {})
    legacy = stores.get("semantic_cache")  # the router's deprecated alias, moved onto response_cache
    cache = g.get(merged, ("stores", "response_cache"), dict, {})
    if isinstance(legacy, dict):
        cache = _overlay(cache, legacy)
    return cache


def _decisions(fields: _Fields, data: dict, where: tuple, recipe: str):
    for i, decision in enumerate(fields.get(data, where + ("decisions",), list, [])):
        at = where + ("decisions", i)
        if not isinstance(decision, dict):
            raise fields.error(at, "must be a mapping")
        name = fields.get(data, at + ("name",), str, "")
        algorithm = fields.get(data, at + ("algorithm", "type"), str, "") if fields.get(data, at + ("algorithm",), dict) else ""
        candidates = []
        for j, ref in enumerate(fields.get(data, at + ("modelRefs",), list, [])):
            if not isinstance(ref, dict):
                raise fields.error(at + ("modelRefs", j), "must be a mapping with `model`")
            lora = fields.get(data, at + ("modelRefs", j, "lora_name"), str, "")
            candidates.append(lora or fields.get(data, at + ("modelRefs", j, "model"), str, ""))
        rules = fields.get(data, at + ("rules",), dict, {})
        yield DecisionProfile(name, algorithm, tuple(candidates), tuple(_domain_leaves(fields, rules, at + ("rules",))), recipe)


def _domain_leaves(fields: _Fields, node: dict, at: tuple) -> list[str]:
    """The served category of each `type: domain` leaf, depth first in file order: the domain name,
    or `name:label` for a labelled rule (the router's matched rule reads `domain:<name>:<label>`)."""
    out = []
    kind = node.get("type")
    if isinstance(kind, str) and kind.strip().lower() == "domain":
        name = node.get("name")
        label = node.get("label")
        if isinstance(name, str):
            out.append(f"{name}:{label}" if isinstance(label, str) and label else name)
    conditions = node.get("conditions") or []
    if not isinstance(conditions, list):
        raise fields.error(at + ("conditions",), "must be a list")
    for k, child in enumerate(conditions):
        if isinstance(child, dict):
            out.extend(_domain_leaves(fields, child, at + ("conditions", k)))
    return out


def _embedding_spec(g: _Fields, merged: dict, user_global: dict) -> tuple[EmbeddingSpec, list[str]]:
    """(the embedding the ML selectors are fed, notes on it), by the router's precedence: the
    backend; for a remote backend its endpoint, else the model type and dimension (ml.model_type
    over embedding_config), then what the Candle binding makes of them."""
    notes: list[str] = []
    backend_name = g.get(merged, _EMBEDDING_CONFIG + ("backend",), str, "")
    config_type = g.get(merged, _EMBEDDING_CONFIG + ("model_type",), str, "")
    target_dimension = g.get(merged, _EMBEDDING_CONFIG + ("target_dimension",), int, 0)
    backend = _embedding_backend(backend_name, config_type)
    if backend == "openai_compatible":
        return _remote_spec(g, merged, target_dimension), notes
    model_type, requested, decided_by = _selector_model_type(g, merged, user_global, config_type, target_dimension, notes)
    model_path = g.get(merged, _SEMANTIC + (_MODEL_PATH_KEYS[model_type],), str, "") if model_type in _MODEL_PATH_KEYS else ""
    native = {"qwen3": QWEN3_NATIVE_DIMENSION, "mmbert": MMBERT_NATIVE_DIMENSION}.get(model_type)
    dimension, problem = _local_dimension(backend, model_type, model_path, requested, native, notes)
    spec = EmbeddingSpec(
        backend=backend,
        model_type=model_type,
        model_path=model_path,
        hub_id=hub_id_for_router_path(model_path) if model_path else None,
        dimension=dimension,
        native_dimension=native,
        layer=None,  # the ML path never passes a layer: the whole model runs
        dtype="float32",  # Candle loads the safetensors as F32 (qwen3_embedding.rs, mmbert_embedding.rs)
        decided_by=decided_by,
        problem=problem,
    )
    return spec, notes


def _embedding_backend(backend_name: str, config_type: str) -> str:
    """candle, openai_compatible or openvino: embedding_config.backend, else openai_compatible for
    model_type `remote`, else candle; any other name takes the Candle branch
    (resolveSelectionEmbeddingProvider in pkg/extproc/router_selection.go, over pkg/config's
    EmbeddingBackend; EMBEDDING_BACKEND_OVERRIDE, which comes first there, is not in a config)."""
    backend = backend_name.strip().lower()
    if not backend:
        backend = "openai_compatible" if config_type.strip().lower() == "remote" else "candle"
    if backend not in ("openai_compatible", "openvino"):
        backend = "candle"  # any other name takes the router's default (Candle) branch
    return backend


def _remote_spec(g: _Fields, merged: dict, target_dimension: int) -> EmbeddingSpec:
    """The openai_compatible backend: the endpoint's vector as returned, `endpoint.dimensions` (else
    target_dimension) values expected; ml.model_type does not apply (router_selection.go returns the
    remote provider before it reads a model type)."""
    endpoint = _endpoint(g, merged)
    expected = endpoint.dimensions if endpoint.dimensions > 0 else (target_dimension if target_dimension > 0 else None)
    problem = None
    if not endpoint.base_url or not endpoint.model:
        problem = "the openai_compatible backend needs embeddings.semantic.endpoint.base_url and .model: every embedding fails"
    return EmbeddingSpec(
        backend="openai_compatible",
        model_type="remote",
        model_path=endpoint.model,
        hub_id=None,
        dimension=expected,
        native_dimension=None,
        layer=None,
        dtype="as returned",
        decided_by="embedding_config.backend openai_compatible (ml.model_type does not apply to a remote backend)",
        endpoint=endpoint,
        problem=problem,
    )


def _selector_model_type(
    g: _Fields, merged: dict, user_global: dict, config_type: str, target_dimension: int, notes: list[str]
) -> tuple[str, int, str]:
    """(model type, dimension asked for, 0 for the model's own, which keys decided): ml.model_type
    and ml.embedding_dim when ml.model_type is set (Factory.CreateAll in pkg/selection/factory.go,
    PR #2886), else embedding_config's model_type (empty: qwen3) and target_dimension (unset: 1024
    for qwen3) (selectionEmbeddingModelType and selectionEmbeddingDimension in
    pkg/extproc/router_selection.go). Appends to `notes` what a reader may expect to matter and does not."""
    ml_type = g.get(merged, ("router", "model_selection", "ml", "model_type"), str, "")
    ml_dim = g.get(merged, ("router", "model_selection", "ml", "embedding_dim"), int, 0)
    if ml_type:
        requested = ml_dim if ml_dim > 0 else (QWEN3_NATIVE_DIMENSION if ml_type == "qwen3" else 0)
        dim_text = f"ml.embedding_dim {ml_dim}" if ml_dim > 0 else f"ml.embedding_dim unset -> {requested or 'full'}"
        return ml_type, requested, f"global.router.model_selection.ml.model_type {ml_type}, {dim_text} (PR #2886)"
    model_type = config_type or "qwen3"
    requested = target_dimension if target_dimension > 0 else (QWEN3_NATIVE_DIMENSION if model_type == "qwen3" else 0)
    decided_by = (
        f"embedding_config.model_type {config_type or 'empty -> qwen3'} ({_origin(user_global, *_EMBEDDING_CONFIG, 'model_type')}), "
        f"target_dimension {target_dimension or 'unset'} ({_origin(user_global, *_EMBEDDING_CONFIG, 'target_dimension')})"
    )
    if ml_dim > 0:
        notes.append(f"ml.embedding_dim {ml_dim} without ml.model_type changes nothing (PR #2886)")
    if model_type == "mmbert" and 0 < target_dimension < MMBERT_NATIVE_DIMENSION:
        notes.append(f"a router built before PR #2886 does not cut mmBERT: {MMBERT_NATIVE_DIMENSION} values, not {target_dimension}")
    return model_type, requested, decided_by


def _origin(user_global: dict, *keys: str) -> str:
    """ "config" when the user's `global:` sets the field at `keys`, else "default"."""
    value = user_global
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return "config" if value is not None else "default"


def _local_dimension(
    backend: str, model_type: str, model_path: str, requested: int, native: int | None, notes: list[str]
) -> tuple[int | None, str | None]:
    """(values per vector, why every embedding fails or None) for a local backend: the Candle
    binding's cut (get_embedding_2d_matryoshka: Qwen3 keeps 1024 when asked for more, mmBERT cannot
    give more than 768, an unknown model type or a missing model folder fails); openvino gives the
    model's own width whatever was asked, None when that width is not known here (the router's
    openvinoEmbeddingFunc calls GetEmbedding/GetModernBertEmbedding with no dimension:
    pkg/classification/openvino_backend_cgo.go, "targetDim is unused — OpenVINO returns full model
    dimension"). Appends to `notes` a request the router caps or ignores."""
    if backend == "openvino":
        if requested and requested != native:
            width = native or "the model's own number of"
            notes.append(f"OpenVINO does not cut embeddings: {width} values, not the {requested} asked for")
        return native, None
    if model_type not in CANDLE_MODEL_TYPES:
        return (
            None,
            f"model type {model_type!r} is not one the Candle binding knows ({', '.join(CANDLE_MODEL_TYPES)}): every embedding fails",
        )
    if not model_path and model_type != "qwen3":  # for qwen3 the batched-Qwen3 gate says it (the path is part of it)
        path_key = _MODEL_PATH_KEYS[model_type]
        return (
            requested or native,
            f"embeddings.semantic.{path_key} is empty: the {model_type} model is not loaded and every embedding fails",
        )
    if model_type == "qwen3":
        if requested > QWEN3_NATIVE_DIMENSION:
            notes.append(f"Qwen3 asked for {requested} values gives {QWEN3_NATIVE_DIMENSION} (the router warns, keeps the full vector)")
        return min(requested, QWEN3_NATIVE_DIMENSION), None  # the Candle cut keeps 1024 when asked for more
    if model_type == "mmbert":
        problem = None
        if requested > MMBERT_NATIVE_DIMENSION:
            problem = f"mmBERT asked for {requested} values has only {MMBERT_NATIVE_DIMENSION}: every embedding fails"
        return requested or MMBERT_NATIVE_DIMENSION, problem
    return requested or None, None


def _endpoint(g: _Fields, merged: dict) -> RemoteEndpoint:
    at = ("model_catalog", "embeddings", "semantic", "endpoint")
    base = g.get(merged, at + ("base_url",), str, "").strip()
    url = ""
    if base:
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(base)
        route = parts.path.rstrip("/")
        if not route.endswith("/embeddings"):
            route += "/embeddings"
        url = urlunsplit((parts.scheme, parts.netloc, route, "", ""))
    return RemoteEndpoint(
        base_url=base,
        url=url,
        model=g.get(merged, at + ("model",), str, "").strip(),
        api_key_env=g.get(merged, at + ("api_key_env",), str, "").strip(),
        dimensions=g.get(merged, at + ("dimensions",), int, 0),
    )


# ---------------------------------------------------------------------------------------------
# Command-line use and the deploy check


def load_profile(path: str | Path | None, log=print) -> RouterProfile | None:
    """The profile of the router config at `path` (its summary logged), or None without a path."""
    if not path:
        return None
    profile = load_router_profile(path)
    for line in profile.summary().splitlines():
        log(line)
    return profile


FALLBACK = {
    "knn": "KNN fails and every request of a knn decision goes to its first modelRef",
    "kmeans": "KMeans fails and every request of a kmeans decision goes to its first modelRef",
    "svm": "an SVM dimension mismatch panics across the FFI boundary and ABORTS THE ROUTER PROCESS",
}


@dataclass
class DeployReport:
    errors: list[str] = field(default_factory=list)  # the router cannot use the set as trained
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        return [f"DEPLOY ERROR: {e}" for e in self.errors] + [f"deploy warning: {w}" for w in self.warnings]


def check_deploy(profile: RouterProfile, artifacts: dict[str, dict], metadata: dict) -> DeployReport:
    """Would the router described by `profile` use these selector files as they were trained?

    `artifacts`: algorithm -> parsed file; `metadata`: their decoded metadata (the first file's).
    Errors (each names both sides): the router cannot compute its ML embedding (a problem in its
    config, or the batched-Qwen3 gate not met: every request falls back); a feature size other than
    the profile's dimension + 14 (KNN and KMeans fall back on every request, SVM aborts the
    router); labels that are no candidate of any decision using that selector (those requests go
    to the decision's first modelRef); an embedding model, dimension, layer or dtype other than the
    profile's. Warnings: facts the set cannot show (no recorded dtype), selectors no decision uses,
    selectors a decision uses with no `pretrained_path` or no file here."""
    report = DeployReport()
    spec = profile.embedding
    problem = profile.embedding_problem()
    if problem:
        report.errors.append(f"the router cannot compute its ML embedding: {problem}")
    expected = profile.feature_dim
    for kind in artifacts:
        if kind not in ML_ALGORITHMS:  # a selector of this suite the router has no runtime for
            only = ", ".join(ML_ALGORITHMS)
            report.warnings.append(f"{ARTIFACT_FILES[kind]}: the router selects with {only} only: it never loads this file")
    artifacts = {kind: a for kind, a in artifacts.items() if kind in ML_ALGORITHMS}
    for kind, artifact in artifacts.items():
        size = feature_dim_of(kind, artifact)
        if size is None:
            continue
        if expected is None:
            report.warnings.append(f"{ARTIFACT_FILES[kind]}: {size} values; the width {spec.backend} returns is not in the config to check")
        elif size != expected:
            report.errors.append(
                f"{ARTIFACT_FILES[kind]}: the set's {size} values against the router's {spec.dimension} + {CATEGORY_SLOTS} = {expected}: "
                f"{FALLBACK[kind]}"
            )
    used = profile.ml_algorithms()
    for kind, artifact in artifacts.items():
        if kind not in used:
            report.warnings.append(f"{ARTIFACT_FILES[kind]}: no decision has algorithm.type {kind}: the router never consults it")
            continue
        allowed = profile.candidate_labels(kind)
        stray = sorted(artifact_labels(kind, artifact) - allowed)
        if stray:
            names = ", ".join(d.name for d in profile.ml_decisions() if d.algorithm == kind)
            report.errors.append(
                f"{ARTIFACT_FILES[kind]}: labels {stray} are no candidate of the {kind} decisions ({names}: "
                f"{sorted(allowed)}): those requests go to the decision's first modelRef"
            )
    for kind in used:
        if kind not in artifacts:
            report.warnings.append(f"a decision uses {kind}, but this set has no {ARTIFACT_FILES[kind]}")
        if not profile.artifact_paths.get(kind):
            report.warnings.append(
                f"a decision uses {kind}, but global.router.model_selection.ml.{kind}.pretrained_path is not set: the router loads no file"
            )
    _check_embedding_identity(profile, metadata, report)
    return report


def _check_embedding_identity(profile: RouterProfile, metadata: dict, report: DeployReport) -> None:
    spec = profile.embedding
    recorded = metadata.get("router_embedding")
    if isinstance(recorded, str):
        try:
            recorded = json.loads(recorded)
        except ValueError:
            recorded = None
    if isinstance(recorded, dict):
        for key in ("backend", "model_type", "hub_id", "dimension", "layer", "dtype"):
            ours, theirs = recorded.get(key), getattr(spec, key)
            if key == "hub_id" and ours is None and theirs is None:
                ours, theirs = recorded.get("model_path"), spec.model_path
            if ours != theirs:
                report.errors.append(f"embedding {key}: the set was trained with {ours!r}, the router computes {theirs!r}")
        return
    trained = metadata.get("embedding_model")
    want = spec.hub_id or (spec.endpoint.model if spec.endpoint else spec.model_path)
    if trained and want and trained not in (want, f"openai_compatible:{want}"):
        report.errors.append(f"embedding model: the set was trained with {trained!r}, the router's ML selectors embed with {want!r}")
    elif not trained:
        report.warnings.append("the set's metadata names no embedding model: only its size could be checked")
    dtype = metadata.get("embedding_dtype")
    if dtype is None:
        report.warnings.append(f"the set records no embedding dtype (trained before it was recorded): the router runs {spec.dtype}")
    elif dtype != spec.dtype:
        report.errors.append(f"embedding dtype: the set was trained with {dtype}, the router computes {spec.dtype}")


def check_set_for_profile(model_dir: str | Path, profile: RouterProfile, log=print) -> dict[str, dict]:
    """A complete, valid set the router of `profile` can use as trained (warnings logged), or
    models.ArtifactError naming every deploy error (prepare_models.py, upload_model.py)."""
    from hub import check_artifact_set
    from models import ArtifactError, decode_metadata

    artifacts = check_artifact_set(model_dir)
    metadata = decode_metadata(next(iter(artifacts.values())).get("metadata", {}))
    report = check_deploy(profile, artifacts, metadata)
    for warning in report.warnings:
        log(f"deploy warning: {warning}")
    if report.errors:
        raise ArtifactError(f"{model_dir} is not a set {profile.source} can use as trained: " + "; ".join(report.errors))
    return artifacts


def recorded_embedding(metadata: dict) -> EmbeddingSpec | None:
    """The embedding a set was trained for (`router_embedding` in its metadata), or None."""
    recorded = metadata.get("router_embedding")
    if isinstance(recorded, str):
        try:
            recorded = json.loads(recorded)
        except ValueError:
            return None
    if not isinstance(recorded, dict):
        return None
    try:
        endpoint = RemoteEndpoint(**recorded["endpoint"]) if recorded.get("endpoint") else None
        return EmbeddingSpec(**{**recorded, "endpoint": endpoint})
    except TypeError:  # written by another version: fields differ
        return None
