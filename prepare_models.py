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

from cli import add_router_config_argument, profile_from_args
from data_loader import MODELS_REPO
from embeddings import EmbeddingOptions, default_embedding_model
from errors import ToolkitError
from hub import HubError, download_models
from hub import check_set_for_embedding as check_set_for_embedding_model
from models import ArtifactError
from router_profile import check_set_for_profile
from train_job import TrainJob, run_training
from training import TrainSettings


class NoUsableSet(ToolkitError, RuntimeError):
    """Neither the local set, nor a download, nor local training gave a checked set."""


def prepare(
    models_dir: Path,
    embedding_model: str | None,
    repo_id: str,
    data_file: str | None,
    token: str | None,
    revision: str | None = None,
    cache_dir: str | None = None,
    log=print,
    profile=None,
) -> str:
    """Returns the path taken: "local", "download" or "trained". Raises NoUsableSet when all fail.

    With a router `profile` (router_profile.RouterProfile), a set must pass that router's deploy
    check instead of naming `embedding_model` (None: the profile's own embedding)."""
    reasons = []

    def check_set(folder, model, log):
        if profile is not None:
            return check_set_for_profile(folder, profile, log)
        return check_set_for_embedding_model(folder, model or default_embedding_model(), log)

    try:
        check_set(models_dir, embedding_model, log)
        log(f"✓ Using the local set in {models_dir}")
        return "local"
    except ArtifactError as exc:
        reasons.append(f"local: {exc}")
        log(f"  local set not usable: {exc}")
    try:
        log(f"  downloading from {repo_id} ...")
        with_staging = models_dir / ".prepare-download"
        download_models(repo_id, with_staging, revision, token)
        check_set(with_staging, embedding_model, log)
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
        raise NoUsableSet("no usable model set:\n  " + "\n  ".join(reasons))
    if embedding_model:
        embedding = embedding_model
    elif profile is not None:
        embedding = f"the embedding of {profile.source}"
    else:
        embedding = default_embedding_model()
    log(f"  training locally from {data_file} with {embedding} ...")
    options = EmbeddingOptions(
        model=embedding_model or (None if profile is not None else default_embedding_model()),
        router_config=profile.source if profile is not None else None,
        cache_dir=cache_dir,
        quiet=True,
    )
    try:
        run_training(TrainJob(data_file, str(models_dir), TrainSettings(), options, quiet=True))
    except ToolkitError as exc:  # said as train.py would say it
        print(f"error: {exc}", file=sys.stderr)
        reasons.append("train: training failed (see above)")
        raise NoUsableSet("no usable model set:\n  " + "\n  ".join(reasons)) from None
    check_set(models_dir, embedding_model, log)
    log(f"✓ Trained a set locally into {models_dir}")
    return "trained"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models-dir", default=".cache/ml-models")
    p.add_argument("--embedding-model", help="the router's embedding model (default: qwen3, or the --router-config profile's)")
    add_router_config_argument(p)
    p.add_argument("--repo-id", default=MODELS_REPO)
    p.add_argument("--revision")
    p.add_argument("--data-file", help="benchmark JSONL for the local-training fallback")
    p.add_argument("--cache-dir", help="cache root for local training, as train.py --cache-dir (default: .cache)")
    p.add_argument("--token", help="Hugging Face token (default: $HF_TOKEN)")
    args = p.parse_args(argv)
    try:
        profile = profile_from_args(args)
        models_dir = Path(args.models_dir)
        path = prepare(
            models_dir, args.embedding_model, args.repo_id, args.data_file, args.token, args.revision, args.cache_dir, profile=profile
        )
    except ToolkitError as exc:  # NoUsableSet, or a router config it cannot read
        print(f"✗ {exc}", file=sys.stderr)
        return 1
    print(f"path taken: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
