"""Real routing data (../shared/data, skipped cleanly when absent): routing must pay on held-out queries."""

import numpy as np

from data_loader import build_outcome_table, load_records, split_queries
from evaluation import EvalTable, evaluate_baselines, evaluate_choices
from models import ALGORITHMS, build_features, check_artifact, select
from training import TrainSettings, train_from_table


def test_selectors_trained_on_real_data_beat_random_on_unseen_queries(shared_data, minilm_embedder):
    table = build_outcome_table(*load_records(shared_data / "llmrouter-9models.train.jsonl"))
    # A 900-query sample keeps the embedding time of a cold CI cache to about a minute.
    _, sample = split_queries(table.queries, 900 / len(table.queries), seed=3)
    train_q, test_q = split_queries(sample, 0.25, seed=5)
    trained = train_from_table(table, train_q, minilm_embedder.embed, TrainSettings())
    eval_table = EvalTable.build(table, test_q, table.models, trained.objective)
    features = build_features(minilm_embedder.embed(test_q), [table.category_by_query[q] for q in test_q])
    baselines = {r.kind: r for r in evaluate_baselines(eval_table, [m for m, _ in trained.ranking])}
    for kind in ALGORITHMS:
        check_artifact(kind, trained.artifacts[kind])
        result = evaluate_choices(kind, "selector", select(kind, trained.artifacts[kind], features).choices, eval_table)
        assert result.avg_quality > baselines["random"].avg_quality + 0.1, kind
        assert result.avg_quality > baselines["best_single"].avg_quality - 0.05, kind
    assert np.isclose(baselines["oracle"].best_model_rate, 1.0)
