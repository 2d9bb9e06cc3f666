#!/usr/bin/env python3
"""Leave a complete, checked router set in a folder, whatever happens: the local set if it is
valid and made for the router's embedding model; else a download from the Hub; else a set
trained locally from a data file. Says which path it took; fails only when all three do.

    python prepare_models.py --models-dir .cache/ml-models --data-file benchmark.jsonl --embedding-model qwen3
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from data_loader import MODELS_REPO
from embeddings import default_embedding_model
from hub import HubError, check_set_for_embedding, download_models
from models import ArtifactError


def prepare(
    models_dir: Path,
    embedding_model: str,
    repo_id: str,
    data_file: str | None,
    token: str | None,
    revision: str | None = None,
    cache_dir: str | None = None,
    log=print,
) -> str:
    """Returns the path taken: "local", "download" or "trained". Raises RuntimeError when all fail."""
    reasons = []
    try:
        check_set_for_embedding(models_dir, embedding_model, log)
        log(f"✓ Using the local set in {models_dir}")
        return "local"
    except ArtifactError as exc:
        reasons.append(f"local: {exc}")
        log(f"  local set not usable: {exc}")
    try:
        log(f"  downloading from {repo_id} ...")
        with_staging = models_dir / ".prepare-download"
        download_models(repo_id, with_staging, revision, token)
        check_set_for_embedding(with_staging, embedding_model, log)
        models_dir.mkdir(parents=True, exist_ok=True)
        for path in with_staging.glob("*_model.json"):
            path.replace(models_dir / path.name)
        shutil.rmtree(with_staging, ignore_errors=True)
        log(f"✓ Downloaded a checked set from {repo_id} into {models_dir}")
        return "download"
    except (HubError, ArtifactError) as exc:
        reasons.append(f"download: {exc}")
        log(f"  download not usable: {exc}")
    if not data_file:
        reasons.append("train: no --data-file to train from")
        raise RuntimeError("no usable model set:\n  " + "\n  ".join(reasons))
    import train

    log(f"  training locally from {data_file} with {embedding_model} ...")
    argv = ["--data-file", data_file, "--output-dir", str(models_dir), "--embedding-model", embedding_model, "--quiet"]
    if cache_dir:
        argv += ["--cache-dir", cache_dir]
    if train.main(argv) != 0:
        reasons.append("train: training failed (see above)")
        raise RuntimeError("no usable model set:\n  " + "\n  ".join(reasons))
    check_set_for_embedding(models_dir, embedding_model, log)
    log(f"✓ Trained a set locally into {models_dir}")
    return "trained"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models-dir", default=".cache/ml-models")
    p.add_argument("--embedding-model", default=default_embedding_model(), help="the router's embedding model (default: qwen3)")
    p.add_argument("--repo-id", default=MODELS_REPO)
    p.add_argument("--revision")
    p.add_argument("--data-file", help="benchmark JSONL for the local-training fallback")
    p.add_argument("--cache-dir", help="cache root for local training, as train.py --cache-dir (default: .cache)")
    p.add_argument("--token", help="Hugging Face token (default: $HF_TOKEN)")
    args = p.parse_args(argv)
    try:
        path = prepare(Path(args.models_dir), args.embedding_model, args.repo_id, args.data_file, args.token, args.revision, args.cache_dir)
    except RuntimeError as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 1
    print(f"path taken: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
