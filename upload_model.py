#!/usr/bin/env python3
"""Upload a trained router set (with a model card), or benchmark data, to the Hugging Face Hub.

python upload_model.py --model-dir models/ --repo-id your-org/your-models
python upload_model.py --training-data --data-file benchmark_output.jsonl --data-repo your-org/your-data

--private makes an existing public repository private before uploading, or refuses (nothing sent).
Exit status: 0 uploaded; 1 refused or failed (the message says why); 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli import add_router_config_argument, profile_from_args
from data_loader import DATA_REPO, MODELS_REPO, TRAINING_DATA_FILE, load_records
from errors import ToolkitError, UsageError
from hub import Upload, check_artifact_set, model_card, upload_folder_files
from models import ARTIFACT_FILES
from router_profile import check_set_for_profile

REPORT_NAME = "validation_report.json"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", help="the set to upload")
    p.add_argument("--repo-id", default=MODELS_REPO, help=f"models repo (default: {MODELS_REPO})")
    p.add_argument(
        "--private",
        action="store_true",
        help="the repository is private: created so, or made so if it exists public (refused if it cannot be)",
    )
    p.add_argument("--token", help="Hugging Face token (default: $HF_TOKEN)")
    p.add_argument("--training-data", action="store_true", help="upload benchmark data (--data-file) instead")
    p.add_argument("--data-file", help="benchmark JSONL to upload with --training-data")
    p.add_argument("--data-repo", default=DATA_REPO, help=f"data repo, a dataset (default: {DATA_REPO})")
    p.add_argument("--path-in-repo", default=TRAINING_DATA_FILE, help=f"name of the data file in the repo (default: {TRAINING_DATA_FILE})")
    p.add_argument(
        "--validation-report", help=f"validate.py --output-json report for the model card (default: MODEL_DIR/{REPORT_NAME} if present)"
    )
    add_router_config_argument(p)  # refuse a set that router cannot use as trained
    return p


def run(args: argparse.Namespace) -> int:
    if args.training_data:
        if not args.data_file:
            raise UsageError("--training-data needs --data-file")
        records, report = load_records(args.data_file)  # refuses a file with no usable line
        for line in report.summary_lines():
            print(line)
        upload = upload_folder_files(
            args.data_repo,
            {args.path_in_repo: Path(args.data_file)},
            "dataset",
            args.private,
            args.token,
            f"Upload {args.path_in_repo} ({len(records)} lines)",
        )
        print(f"✓ Uploaded {args.data_file} to {args.data_repo}{visibility(upload)} as {args.path_in_repo}: {upload.url}")
        return 0
    if not args.model_dir:
        raise UsageError("--model-dir is required (or --training-data --data-file FILE)")
    model_dir = Path(args.model_dir)
    profile = profile_from_args(args)
    # Refuses a broken or inconsistent set, and with a router profile one that router cannot use as trained.
    artifacts = check_artifact_set(model_dir) if profile is None else check_set_for_profile(model_dir, profile)
    report_path = Path(args.validation_report) if args.validation_report else model_dir / REPORT_NAME
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    files: dict[str, bytes | Path] = {ARTIFACT_FILES[k]: model_dir / ARTIFACT_FILES[k] for k in artifacts}
    files["README.md"] = model_card(artifacts, report).encode()
    if report is not None:
        files[REPORT_NAME] = report_path
    upload = upload_folder_files(args.repo_id, files, "model", args.private, args.token, "Upload router selectors")
    print(f"✓ Uploaded {', '.join(files)} to {args.repo_id}{visibility(upload)}: {upload.url}")
    return 0


def visibility(upload: Upload) -> str:
    """What the Hub reports after the upload, never what was asked."""
    if upload.made_private:
        return " (private: it was public, and was made private before the upload)"
    return " (private)" if upload.private else " (public)"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except ToolkitError as exc:
        print(f"✗ Upload refused or failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
