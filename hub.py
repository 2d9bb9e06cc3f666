"""Hugging Face Hub transfer of artifact sets and benchmark data, with errors a person can act on.

huggingface_hub talks HTTP to `HF_ENDPOINT` (default https://huggingface.co); the tests point it
at a loopback server that speaks the same API.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from data_loader import TRAINING_DATA_FILE, VALIDATION_DATA_FILE
from errors import ToolkitError
from models import ALGORITHMS, ARTIFACT_FILES, ArtifactError, decode_metadata, load_artifact

DATA_FILES = (TRAINING_DATA_FILE, VALIDATION_DATA_FILE)
TRAIN_LOCALLY_HINT = "python train.py --data-file YOUR_BENCHMARK.jsonl --output-dir models/ --embedding-model minilm"


class HubError(ToolkitError, RuntimeError):
    pass


def _token(token: str | None) -> str | None:
    return token or os.environ.get("HF_TOKEN") or None


def _explain(exc: Exception, repo_id: str, filename: str | None = None) -> HubError:
    """Map huggingface_hub's exceptions to: not found / unauthorised / no network, and what next."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    what = f"{repo_id}/{filename}" if filename else repo_id
    if isinstance(exc, GatedRepoError):
        return HubError(f"access to {repo_id} is restricted: accept its terms on the Hub and pass --token or set HF_TOKEN")
    if isinstance(exc, RepositoryNotFoundError):
        return HubError(
            f"repository {repo_id} was not found, or it is private and no valid token was given "
            f"(pass --token or set HF_TOKEN). To train locally instead: {TRAIN_LOCALLY_HINT}"
        )
    if isinstance(exc, RevisionNotFoundError):
        return HubError(f"revision not found in {repo_id}: check --revision")
    # LocalEntryNotFoundError (offline) is a subclass of EntryNotFoundError: test it first.
    if isinstance(exc, LocalEntryNotFoundError):
        return HubError(
            f"cannot reach the Hub to fetch {what} (no network, or HF_HUB_OFFLINE is set). To train locally instead: {TRAIN_LOCALLY_HINT}"
        )
    if isinstance(exc, EntryNotFoundError):
        return HubError(f"{what}: no such file in the repository")
    if isinstance(exc, HfHubHTTPError):
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            return HubError(f"unauthorised for {repo_id} (HTTP {status}): pass a valid --token or set HF_TOKEN")
        return HubError(f"the Hub answered HTTP {status} for {what}")
    if isinstance(exc, OSError):
        return HubError(f"cannot reach the Hub to fetch {what}: {type(exc).__name__}. To train locally instead: {TRAIN_LOCALLY_HINT}")
    return HubError(f"{what}: {type(exc).__name__}: {exc}")


def download_file(
    repo_id: str, filename: str, output_dir: str | Path, repo_type: str = "model", revision: str | None = None, token: str | None = None
) -> Path:
    """One file into output_dir/filename (a plain copy, not a symlink into the Hub cache)."""
    from huggingface_hub import hf_hub_download

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix=".hub-", dir=output_dir) as staging:
            fetched = hf_hub_download(
                repo_id=repo_id, filename=filename, repo_type=repo_type, revision=revision, token=_token(token), local_dir=staging
            )
            target = output_dir / filename
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(fetched, target)
    except Exception as exc:
        raise _explain(exc, repo_id, filename) from None
    return target


def repo_type_for(filename: str) -> str:
    """A data file (.jsonl) lives in the data repo, a dataset; anything else in the models repo."""
    return "dataset" if filename in DATA_FILES or filename.endswith(".jsonl") else "model"


def download_models(repo_id: str, output_dir: str | Path, revision: str | None = None, token: str | None = None) -> list[Path]:
    """The three artifacts, staged beside `output_dir` and moved in only once all are fetched and
    pass the artifact check: a failed download never replaces a working local set."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=output_dir) as staging:
        for kind in ALGORITHMS:
            download_file(repo_id, ARTIFACT_FILES[kind], staging, "model", revision, token)
        try:
            check_artifact_set(staging)
        except ArtifactError as exc:
            raise ArtifactError(f"{repo_id}: {str(exc).replace(staging, repo_id)}") from None
        paths = []
        for kind in ALGORITHMS:
            target = output_dir / ARTIFACT_FILES[kind]
            os.replace(Path(staging) / ARTIFACT_FILES[kind], target)
            paths.append(target)
    return paths


def check_artifact_set(model_dir: str | Path, kinds=ALGORITHMS) -> dict[str, dict]:
    """Load and schema-check each file; the files must agree on embedding model and dimension."""
    model_dir = Path(model_dir)
    artifacts, problems = {}, []
    for kind in kinds:
        try:
            artifacts[kind] = load_artifact(model_dir / ARTIFACT_FILES[kind], kind)
        except ArtifactError as exc:
            problems.append(str(exc))
    if problems:
        raise ArtifactError("; ".join(problems))
    identities = {}
    for kind, artifact in artifacts.items():
        meta = decode_metadata(artifact.get("metadata", {}))
        identities[kind] = (meta.get("embedding_model"), meta.get("feature_dim"))
    if len(set(identities.values())) > 1:
        detail = ", ".join(f"{ARTIFACT_FILES[k]}: model={m} dim={d}" for k, (m, d) in identities.items())
        raise ArtifactError(f"{model_dir}: the files disagree with each other ({detail})")
    return artifacts


def check_set_for_embedding(model_dir: str | Path, embedding_model: str, log=print) -> dict[str, dict]:
    """A complete, valid set made for the router's embedding model, or ArtifactError saying why not.

    With metadata, the set must name that model (as a resolved hub id) and its dimension. A set
    without metadata (trained elsewhere) passes on its feature dimension alone, with a warning."""
    from embeddings import KNOWN_DIMENSIONS, resolve_model

    artifacts = check_artifact_set(model_dir)
    expected_id = resolve_model(embedding_model).model_id
    expected_dim = KNOWN_DIMENSIONS.get(expected_id)
    meta = decode_metadata(next(iter(artifacts.values())).get("metadata", {}))
    if meta.get("embedding_model"):
        if meta["embedding_model"] != expected_id:
            raise ArtifactError(f"{model_dir}: trained with {meta['embedding_model']!r}, not {expected_id!r}")
        if expected_dim is not None and meta.get("embedding_dim") != expected_dim:
            raise ArtifactError(f"{model_dir}: embedding dimension {meta.get('embedding_dim')} is not {expected_dim}")
        return artifacts
    from models import feature_dim_of

    if expected_dim is None:
        raise ArtifactError(f"{model_dir}: no metadata, and the dimension of {expected_id!r} is not known to check it against")
    dims = {feature_dim_of(kind, a) for kind, a in artifacts.items()} - {None}
    if dims != {expected_dim + 14}:
        raise ArtifactError(f"{model_dir}: feature dimension {sorted(dims)} does not match {expected_id} ({expected_dim} + 14)")
    log(f"warning: {model_dir} carries no metadata (trained elsewhere): accepted on its feature dimension {expected_dim + 14}")
    return artifacts


def model_card(artifacts: dict[str, dict], validation_report: dict | None) -> str:
    meta = decode_metadata(next(iter(artifacts.values())).get("metadata", {}))
    lines = [
        "---",
        "tags: [llm-routing, semantic-router]",
        "---",
        "",
        "# LLM router selectors (KNN, KMeans, SVM)",
        "",
        "Files: " + ", ".join(f"`{ARTIFACT_FILES[k]}`" for k in artifacts),
        "",
        "## Training",
        "",
        f"- Embedding model: `{meta.get('embedding_model', 'unknown')}` "
        f"({meta.get('embedding_dim', '?')} dims + {len(meta.get('categories', [])) or 14} category slots)",
        f"- Data: `{meta.get('data_file', 'unknown')}` (sha256 `{str(meta.get('data_sha256', '?'))[:16]}...`), "
        f"{meta.get('n_train_queries', '?')} training queries, {meta.get('n_models', '?')} models",
        f"- Models: {', '.join(meta.get('models', [])) or 'unknown'}",
        f"- Objective: `{json.dumps(meta.get('objective', {}))}`",
        f"- Held out: `{json.dumps(meta.get('holdout', {}))}`",
        f"- Tool version: {meta.get('tool_version', '?')}",
        "",
    ]
    if validation_report:
        lines += ["## Validation", "", "| Strategy | Avg quality | Avg objective | Best model % |", "|---|---|---|---|"]
        for row in validation_report.get("strategies", []):
            lines.append(f"| {row['name']} | {row['avg_quality']:.3f} | {row['avg_objective']:.3f} | {100 * row['best_model_rate']:.1f}% |")
        lines.append("")
    else:
        lines += ["## Validation", "", "No validation report was present when this set was uploaded.", ""]
    return "\n".join(lines)


@dataclass
class Upload:
    url: str  # the commit's URL
    private: bool  # the repository's visibility after the upload, as the Hub reports it
    made_private: bool = False  # it existed public and was made private because `private` was asked


def upload_folder_files(
    repo_id: str, files: dict[str, bytes | Path], repo_type: str, private: bool, token: str | None, message: str
) -> Upload:
    """Commit `files` (name in the repo -> bytes or a local path) to `repo_id`, creating it if needed.

    `private=True` holds for a repository that already exists public too: it is made private
    (PUT /api/{type}s/{repo}/settings, the Hub's visibility setting) before any file is sent, and
    the upload is refused, with nothing sent, when the Hub does not allow that or it does not hold.
    `private=False` never makes a private repository public. Raises HubError."""
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(token=_token(token))
    made_private = False
    try:
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
        if private and not api.repo_info(repo_id, repo_type=repo_type).private:
            try:
                api.update_repo_settings(repo_id, private=True, repo_type=repo_type)
            except Exception as exc:
                raise HubError(
                    f"{repo_id} exists and is public, and it could not be made private ({_explain(exc, repo_id)}): "
                    "nothing was uploaded. Make it private on the Hub (Settings) or choose another --repo-id"
                ) from None
            if not api.repo_info(repo_id, repo_type=repo_type).private:
                raise HubError(f"{repo_id} exists and is still public after asking the Hub to make it private: nothing was uploaded")
            made_private = True
        operations = [
            CommitOperationAdd(path_in_repo=name, path_or_fileobj=content if isinstance(content, bytes) else str(content))
            for name, content in files.items()
        ]
        info = api.create_commit(repo_id, operations, commit_message=message, repo_type=repo_type)
        visibility = api.repo_info(repo_id, repo_type=repo_type).private
    except HubError:
        raise
    except Exception as exc:
        raise _explain(exc, repo_id) from None
    return Upload(str(getattr(info, "commit_url", repo_id)), bool(visibility), made_private)
