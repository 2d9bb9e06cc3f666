#!/usr/bin/env python3
"""Download a trained router set (or benchmark data) from the Hugging Face Hub.

python download_model.py --output-dir .cache/ml-models
python download_model.py --output-dir data/ --file benchmark_training_data.jsonl
"""

from __future__ import annotations

import argparse
import sys

from data_loader import DATA_REPO, MODELS_REPO, TRAINING_DATA_FILE, VALIDATION_DATA_FILE
from errors import ToolkitError
from hub import HubError, download_file, download_models, repo_type_for
from models import ARTIFACT_FILES, load_artifact


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output-dir", default="models/")
    p.add_argument("--repo-id", default=MODELS_REPO, help=f"models repo (default: {MODELS_REPO})")
    p.add_argument("--file", help="one file only; a data file (.jsonl) comes from --data-repo")
    p.add_argument("--training-data", action="store_true", help="fetch the benchmark data files from --data-repo")
    p.add_argument("--data-repo", default=DATA_REPO, help=f"data repo, a dataset (default: {DATA_REPO})")
    p.add_argument("--revision", help="branch, tag or commit (default: main)")
    p.add_argument("--token", help="Hugging Face token (default: $HF_TOKEN)")
    return p


def run(args: argparse.Namespace) -> int:
    if args.training_data:
        path = download_file(args.data_repo, TRAINING_DATA_FILE, args.output_dir, "dataset", args.revision, args.token)
        print(f"✓ Downloaded {path}")
        try:
            path = download_file(args.data_repo, VALIDATION_DATA_FILE, args.output_dir, "dataset", args.revision, args.token)
            print(f"✓ Downloaded {path}")
        except HubError as exc:
            print(f"note: {VALIDATION_DATA_FILE} not downloaded: {exc}")
        return 0
    if args.file:
        repo_type = repo_type_for(args.file)
        repo_id = args.data_repo if repo_type == "dataset" else args.repo_id
        path = download_file(repo_id, args.file, args.output_dir, repo_type, args.revision, args.token)
        kind = next((k for k, name in ARTIFACT_FILES.items() if name == args.file), None)
        if kind:
            load_artifact(path, kind)  # the same schema check training uses
        print(f"✓ Downloaded {path}" + (" (checked)" if kind else ""))
        return 0
    for path in download_models(args.repo_id, args.output_dir, args.revision, args.token):
        print(f"✓ Downloaded {path}")
    print(f"All three files pass the artifact check: {args.output_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except ToolkitError as exc:
        print(f"✗ Download failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
