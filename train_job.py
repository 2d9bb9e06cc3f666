"""train.py's work as a function: load the data, split, embed as the router will, (tune), train,
write one file per selector. train.py runs it from its flags; tradeoff.py (the chosen set) and
prepare_models.py (the local-training fallback) run it directly, and `TrainJob.command()` is the
train.py command line that does the same, so a printed command and the set written agree.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from data_loader import (
    CATEGORIES,
    DATA_REPO,
    TRAINING_DATA_FILE,
    DataError,
    LoadReport,
    OutcomeTable,
    load_outcome_table,
    query_set_digest,
    split_queries,
)
from embeddings import EmbeddingModelError, EmbeddingOptions, NativeEmbedder, RouterEmbedder, default_embedding_model
from models import algorithms, write_artifacts
from router_api import router_token, use_token
from router_profile import load_profile
from runtime_cost import oversized, selector_cost
from training import TrainedSet, TrainSettings, router_decisions, selector_flags, train_from_table, weight_text
from tuning import DEFAULT_BUDGET_SECONDS, DEFAULT_FOLDS, tune
from tuning import format_report as format_tuning


@dataclass
class TrainJob:
    """Everything train.py is asked to do. `holdout` None: no --holdout flag (none held out)."""

    data_file: str | None  # None: download the default training data from the Hub
    output_dir: str
    settings: TrainSettings
    embedding: EmbeddingOptions
    holdout: float | None = None
    candidates: str = "decisions"  # with a router config: label among each decision's candidates, or "all"
    tune: bool = False
    tune_folds: int = DEFAULT_FOLDS
    tune_budget: float = DEFAULT_BUDGET_SECONDS
    strict: bool = False
    quiet: bool = False
    router_token: str | None = field(default=None, repr=False)  # never in command(): it reads $VSR_API_TOKEN

    def command(self) -> list[str]:
        """The train.py arguments that do this job (the settings' tuned values spelled out)."""
        emb, settings = self.embedding, self.settings
        argv = ["--data-file", str(self.data_file)] if self.data_file else []
        argv += ["--embedding-model", emb.model] if emb.model else []
        argv += ["--router-config", emb.router_config] if emb.router_config else []
        argv += ["--efficiency", settings.efficiency, "--quality-weight", weight_text(settings.quality_weight)]
        if len(settings.algorithms) == 1:
            argv += ["--algorithm", settings.algorithms[0]]
        elif settings.algorithms != algorithms():
            raise ValueError(f"train.py trains one selector or all, not {', '.join(settings.algorithms)}")
        argv += ["--seed", str(settings.seed)]
        if self.holdout is not None:
            argv += ["--holdout", f"{self.holdout:g}"]
        for flag in selector_flags(settings):
            argv += flag.split(" ", 1)
        optional = [("--router-url", emb.router_url), ("--router-dimension", emb.router_dimension), ("--cache-dir", emb.cache_dir)]
        optional += [("--batch-size", emb.batch_size if emb.batch_size != 32 else None)]
        optional += [("--device", emb.device if emb.device != "cpu" else None)]
        for flag, value in optional:
            if value:
                argv += [flag, str(value)]
        return argv + ["--output-dir", str(self.output_dir)]


def run_training(job: TrainJob) -> list[Path]:
    """Do the job, saying what it does unless `job.quiet`; returns the files written. Raises the
    suite's errors (DataError, EmbeddingModelError, TrainingError, ...) with nothing written."""
    log = (lambda *a: None) if job.quiet else (lambda *a: print(*a, flush=True))
    use_token(router_token(job.router_token))
    data_file, table, report = load_training_data(job, log)
    train_queries, held_out = split_queries(table.queries, job.holdout or 0.0, job.settings.seed)
    log(f"Queries: {len(table.queries)} ({len(train_queries)} train, {len(held_out)} held out), models: {len(table.models)}")
    profile = load_profile(job.embedding.router_config, log)
    embedder = training_embedder(job.embedding, profile, log)
    metadata = {
        **embedding_metadata(embedder, profile),
        "data_file": data_file.name,
        "data_sha256": report.sha256,
        "holdout": {
            "fraction": job.holdout or 0.0,
            "seed": job.settings.seed,
            "count": len(held_out),
            "digest": query_set_digest(held_out),
        },
    }
    decisions = router_decisions(profile, table, log)
    if decisions and job.candidates == "all":
        log("--candidates all: labels among every model, not the decisions' candidates (validate.py --router-config shows the fallbacks)")
        decisions = None
    settings = job.settings
    if job.tune:
        settings = tune_settings(job, table, train_queries, embedder, metadata, bool(decisions), log)
    trained = train_from_table(table, train_queries, embedder.embed, settings, metadata, decisions)
    report_training(trained, embedder, log)
    return write_set(job.output_dir, trained, log)


def load_training_data(job: TrainJob, log) -> tuple[Path, OutcomeTable, LoadReport]:
    """(the data file, its outcome table, its load report), the report's lines logged."""
    data_file = Path(job.data_file) if job.data_file else fetch_default_training_data(Path(job.embedding.cache_dir or ".cache"))
    table, report = load_outcome_table(data_file, job.strict, log)
    if table.category_conflicts:
        log(f"  {table.category_conflicts} queries carry different categories on different lines: the most frequent is used")
    return data_file, table, report


def fetch_default_training_data(cache_dir: Path) -> Path:
    """--data-file absent: the default benchmark dataset from the Hub data repo."""
    from hub import HubError, download_file

    try:
        return download_file(DATA_REPO, TRAINING_DATA_FILE, cache_dir, repo_type="dataset")
    except HubError as exc:
        raise DataError(
            f"--data-file was not given and the default training data could not be downloaded from "
            f"{DATA_REPO}: {exc}. Pass --data-file with your own benchmark JSONL (for example "
            f"examples/benchmark_output.jsonl)."
        ) from None


def tune_settings(job: TrainJob, table: OutcomeTable, train_queries: list[str], embedder, metadata: dict, for_decisions: bool, log):
    """--tune: each selector's settings chosen by cross-validation (tuning.tune); the report is
    logged and recorded in `metadata`."""
    if for_decisions:
        log("note: --tune compares settings over all models; the decisions' candidates apply to the final training only")
    log(f"Tuning each selector's settings by {job.tune_folds}-fold cross-validation (budget {job.tune_budget:.0f} s) ...")
    settings, tuning = tune(table, train_queries, embedder.embed, job.settings, job.tune_folds, job.tune_budget, log)
    metadata["tuning"] = tuning.to_metadata()
    for line in format_tuning(tuning, settings.efficiency):
        log(line)
    log("Reproduce without tuning: python train.py ... " + " ".join(selector_flags(settings)))
    return settings


def report_training(trained: TrainedSet, embedder, log) -> None:
    log(f"Embedding model: {embedder.model_id} (cache: {embedder.cache_hits} hits, {embedder.cache_misses} new)")
    log(f"Objective: {trained.objective.describe()}")
    if trained.objective.missing_efficiency and trained.objective.basis != "none":
        log(f"  {trained.objective.missing_efficiency} outcomes lack {trained.objective.basis}: counted at ref (neutral)")
    log("Models by mean objective on the training queries: " + ", ".join(f"{m} {s:.3f}" for m, s in trained.ranking))
    for note in trained.notes:
        log(f"note: {note}")


def write_set(output_dir: str | Path, trained: TrainedSet, log) -> list[Path]:
    """Write the files (models.write_artifacts: all or none), and warn when one costs the router much per request."""
    written = write_artifacts(output_dir, trained.artifacts)
    for path in written:
        log(f"Wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    for warning in oversized({kind: selector_cost(kind, a, 0) for kind, a in trained.artifacts.items()}):
        print(f"warning: {warning}", file=sys.stderr)
    return written


def training_embedder(options: EmbeddingOptions, profile=None, log=print):
    """The embedder the options ask for. With a router profile: exactly what that router's ML
    selectors compute (refused, with the reason and what to use instead, when it cannot be
    reproduced or the chosen model gives another width). Without one: --embedding-model, and one
    line saying that the features are assumed, not read from a router."""
    if profile is None:
        embedder = options.make(options.model or default_embedding_model(), options.router_dimension or 1024)
        log(
            f"Features assumed, not read from a router: {embedder.model_id} ({embedder.dtype}) + {len(CATEGORIES)} category slots. "
            "Pass --router-config PATH (the router's config.yaml) to train for what your router computes."
        )
        return embedder
    problem = profile.embedding_problem()
    if problem:
        log(f"WARNING: {problem}: the set will be trained, but this router will not use it until its config is fixed")
    embedder = options.make(options.model, profile=profile)
    want = profile.embedding.dimension
    if want is not None and embedder.dimension != want:
        raise EmbeddingModelError(
            f"{embedder.model_id} gives {embedder.dimension} values; {profile.source} feeds its ML selectors {want} "
            f"({profile.embedding.describe()}): use the router's own weights, or --embedding-model router"
        )
    return embedder


def embedding_metadata(embedder, profile=None) -> dict:
    """What a set records about its vectors (validate.py, prepare_models.py and the deploy check read it)."""
    meta = {"embedding_model": embedder.model_id, "embedding_dtype": embedder.dtype}
    if isinstance(embedder, NativeEmbedder):
        meta["embedding_pooling"] = embedder.POOLING[embedder.model_type]
        meta["embedding_layer"] = "all" if embedder.layer is None else embedder.layer
    if isinstance(embedder, RouterEmbedder):
        meta["router_url"] = embedder.router_url
    if profile is not None:
        meta.update(profile.to_metadata())
    return meta
