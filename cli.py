"""The flags several scripts share, and their translation into settings and options: written
once, so train.py, validate.py and tradeoff.py spell and default them alike. The selector flags
are generated from the selector registry (models.SELECTORS): a new selector brings its own.
"""

from __future__ import annotations

import argparse

from data_loader import DEFAULT_QUALITY_WEIGHT
from embeddings import EMBEDDING_MODEL_ENV, EmbeddingOptions
from models import SELECTORS, algorithms
from router_api import TOKEN_ENV
from router_profile import RouterProfile, load_profile
from training import TrainSettings


def add_selector_arguments(p: argparse.ArgumentParser) -> None:
    """--algorithm, every registered selector's settings (--<kind>-<name>) and --seed."""
    p.add_argument("--algorithm", choices=("all",) + algorithms(), default="all")
    for selector in SELECTORS.values():
        for setting in selector.settings:
            p.add_argument(
                selector.flag(setting), type=type(setting.default), default=setting.default, choices=setting.choices, help=setting.help
            )
    p.add_argument("--seed", type=int, default=42)


def add_efficiency_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--efficiency",
        choices=("latency", "cost"),
        default="latency",
        help="what the efficiency term of the objective measures (default: latency)",
    )


def add_training_arguments(p: argparse.ArgumentParser) -> None:
    """Selector and objective flags, shared by train.py and validate.py --cross-validate."""
    add_selector_arguments(p)
    p.add_argument("--quality-weight", type=float, default=DEFAULT_QUALITY_WEIGHT)
    add_efficiency_argument(p)


def add_router_arguments(p: argparse.ArgumentParser) -> None:
    """Where `--embedding-model router` gets its vectors (train.py, validate.py, tradeoff.py)."""
    p.add_argument("--router-url", help="the semantic router's API, for --embedding-model router (default http://localhost:8080)")
    p.add_argument("--router-dimension", type=int, help="embedding size asked of the router (default 1024, or the set's own)")
    p.add_argument(
        "--router-token",
        help=f"bearer token for the router's API, when it requires one (default ${TOKEN_ENV}: the variable keeps it out of shell history)",
    )


def add_embedding_arguments(p: argparse.ArgumentParser) -> None:
    """Which embedding model, where its vectors are cached, and how it runs (train.py, tradeoff.py)."""
    p.add_argument(
        "--embedding-model",
        help="qwen3 (default, or $%s), gte, mpnet, e5, bge, minilm (bundled, offline), a hub id, a local path, "
        "or router (the running router's own embeddings, see --router-url). With --router-config: the router's own "
        "model (default), a folder holding its weights, or router" % EMBEDDING_MODEL_ENV,
    )
    add_router_config_argument(p)
    add_router_arguments(p)
    p.add_argument("--cache-dir", help="cache root: downloads, and embeddings in <dir>/embeddings (default: .cache), as in validate.py")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", choices=("cpu", "cuda", "mps"), default="cpu")


def settings_from_args(args: argparse.Namespace, quality_weight: float | None = None) -> TrainSettings:
    """The settings the selector and objective flags give; `quality_weight` stands in for the
    flag in a script that has none (tradeoff.py sweeps it)."""
    values = {selector.attribute(s): getattr(args, selector.attribute(s)) for selector in SELECTORS.values() for s in selector.settings}
    return TrainSettings(
        algorithms=algorithms() if args.algorithm == "all" else (args.algorithm,),
        quality_weight=args.quality_weight if quality_weight is None else quality_weight,
        efficiency=args.efficiency,
        seed=args.seed,
        **values,
    )


def embedding_options_from_args(args: argparse.Namespace) -> EmbeddingOptions:
    """The options add_embedding_arguments' flags give."""
    return EmbeddingOptions(
        model=args.embedding_model,
        router_config=args.router_config,
        router_url=args.router_url,
        router_dimension=args.router_dimension,
        cache_dir=args.cache_dir,
        batch_size=args.batch_size,
        device=args.device,
        quiet=args.quiet,
    )


def add_router_config_argument(p) -> None:
    """--router-config, shared by train.py, validate.py, tradeoff.py and the categoriser."""
    p.add_argument(
        "--router-config",
        metavar="PATH",
        help="the semantic router's own config YAML (v0.3): use the embedding, decisions and candidates it serves",
    )


def profile_from_args(args, log=print) -> RouterProfile | None:
    """The profile of --router-config (its summary logged), or None when the flag is absent."""
    return load_profile(args.router_config, log)
