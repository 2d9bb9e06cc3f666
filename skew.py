"""Train/serve skew: does a set trained on local features choose as it will on the router's own?

At serving time the router feeds a selector its own embedding of the query and the one-hot of
its own classifier's category. A set trained and validated on a local embedding model and the
data's category labels may choose otherwise in production. On a sample of test queries this
computes both feature vectors and replays the selectors (models.select, the runtime replay) on
each mix, so a user sees how much of what validate.py reported will hold:

- cosine agreement of the local and the router's embeddings;
- how many of the data's categories differ from the router's;
- per selector, the share of choices that change because of the embedding, because of the
  category, and because of both; and the mean quality of the choices each way.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from data_loader import OutcomeTable, query_hash, runtime_category
from models import build_features, select
from router_api import RouterUnavailable, classify_queries, embed_with_router, require_router


@dataclass
class SelectorSkew:
    changed_by_embedding: float  # share of sampled queries
    changed_by_category: float
    changed_by_both: float
    quality_as_validated: float  # local embedding, data categories
    quality_in_production: float  # router embedding, router categories


@dataclass
class SkewReport:
    router_url: str
    n: int
    cosine: dict | None = None  # mean, min, p5
    embedding_problem: str | None = None
    category_differs: int = 0
    unclassified: int = 0
    transitions: Counter = field(default_factory=Counter)
    selectors: dict[str, SelectorSkew] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "router_url": self.router_url,
            "n_queries": self.n,
            "cosine": self.cosine,
            "embedding_problem": self.embedding_problem,
            "category_differs": self.category_differs,
            "unclassified": self.unclassified,
            "category_transitions": [[a, b, n] for (a, b), n in self.transitions.most_common()],
            "selectors": {k: vars(v) for k, v in self.selectors.items()},
        }


def sample_queries(queries: list[str], size: int, seed: int) -> list[str]:
    """A deterministic sample: the `size` queries with the smallest hash under `seed`."""
    return sorted(queries, key=lambda q: query_hash(q, seed))[:size]


def skew_report(
    table: OutcomeTable,
    artifacts: dict[str, dict],
    queries: list[str],
    local: np.ndarray,
    router_url: str,
    router_model: str = "qwen3",
) -> SkewReport:
    """`local`: the queries' vectors from the model the set was trained with (one row each); the
    router is asked for its own, of the same dimension."""
    require_router(router_url)
    report = SkewReport(router_url, len(queries))
    texts = table.texts(queries)  # what the router embeds and classifies: the user message as sent
    dimension = local.shape[1]
    try:
        routed, _ = embed_with_router(router_url, texts, router_model, dimension)
    except RouterUnavailable as exc:
        report.embedding_problem = (
            f"{exc}. A router that cannot embed to {dimension} values cannot serve this set: it was trained with another model"
        )
        routed = None
    if routed is not None:
        unit = routed / np.maximum(np.linalg.norm(routed, axis=1, keepdims=True), 1e-12)
        cosines = np.sum(local * unit, axis=1) / np.maximum(np.linalg.norm(local, axis=1), 1e-12)
        report.cosine = {"mean": float(cosines.mean()), "min": float(cosines.min()), "p5": float(np.percentile(cosines, 5))}

    outcome = asyncio.run(classify_queries(router_url, texts))
    data_categories = [table.category_by_query[q] for q in queries]
    router_categories = []
    for text, data_category in zip(texts, data_categories):
        result = outcome.results.get(text)
        category = runtime_category(result.category)[0] if result else data_category  # unclassified: as in the data
        router_categories.append(category)
        if category != data_category:
            report.category_differs += 1
            report.transitions[(data_category, category)] += 1
    report.unclassified = len(outcome.errors)

    mixes = {"validated": (local, data_categories), "category": (local, router_categories)}
    if routed is not None:
        mixes.update({"embedding": (routed, data_categories), "production": (routed, router_categories)})
    for kind, artifact in artifacts.items():
        choices = {name: select(kind, artifact, build_features(vectors, cats)).choices for name, (vectors, cats) in mixes.items()}

        def changed(name: str) -> float:
            if name not in choices:
                return float("nan")
            return float(np.mean([a != b for a, b in zip(choices["validated"], choices[name])]))

        def quality(name: str) -> float:
            if name not in choices:
                return float("nan")
            return float(np.mean([table.outcomes_by_query[q][m].quality for q, m in zip(queries, choices[name])]))

        report.selectors[kind] = SelectorSkew(
            changed("embedding"), changed("category"), changed("production"), quality("validated"), quality("production")
        )
    return report


def format_report(report: SkewReport) -> str:
    lines = [f"Train/serve skew on {report.n} sampled test queries (router {report.router_url})"]
    if report.cosine:
        c = report.cosine
        lines.append(f"  embeddings: cosine(local, router) mean {c['mean']:.4f}, 5th percentile {c['p5']:.4f}, min {c['min']:.4f}")
    else:
        lines.append(f"  embeddings: {report.embedding_problem}")
    share = 100 * report.category_differs / max(report.n, 1)
    lines.append(f"  categories: {report.category_differs} of {report.n} ({share:.1f}%) differ from the router's classifier")
    for (before, after), n in report.transitions.most_common(3):
        lines.append(f"    {before} -> {after}: {n}")
    if report.unclassified:
        lines.append(f"  {report.unclassified} queries the router could not classify: counted with the data's category")
    lines.append(
        f"  {'Selector':<10}{'changed by embedding':>22}{'by category':>13}{'by both':>9}{'quality validated':>19}{'in production':>15}"
    )
    for kind, s in report.selectors.items():
        changed = f"{100 * s.changed_by_embedding:>21.1f}%{100 * s.changed_by_category:>12.1f}%{100 * s.changed_by_both:>8.1f}%"
        lines.append(f"  {kind.upper():<10}{changed}{s.quality_as_validated:>19.3f}{s.quality_in_production:>15.3f}")
    worst = max((s.changed_by_both for s in report.selectors.values() if s.changed_by_both == s.changed_by_both), default=0.0)
    if worst > 0.05 or share > 5:
        lines.append(
            "  The router will choose differently than validated here. Label the data with the router's classifier "
            "(add_category_to_training_data.py) and train on its embeddings (train.py --embedding-model router)."
        )
    return "\n".join(lines)
