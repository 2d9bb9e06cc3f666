"""One error base (errors.ToolkitError): every error type the suite raises for its user derives
from it, and a script's main reports one as one line and an exit status, while anything else
(a bug) goes up as a traceback."""

import importlib
import inspect
import os
import subprocess
import sys

import pytest
from conftest import ROOT, write_jsonl

from errors import ToolkitError, UsageError

# Written by hand: a type removed, renamed or moved fails here. name -> the base it keeps besides
# ToolkitError, so `except ValueError` / `except RuntimeError` written before the base still holds.
EXPECTED = {
    "errors.UsageError": ValueError,
    "data_loader.DataError": ValueError,
    "embeddings.EmbeddingModelError": RuntimeError,
    "embeddings.CacheError": RuntimeError,
    "hub.HubError": RuntimeError,
    "llm_benchmark.ConfigError": ValueError,
    "models.ArtifactError": ValueError,
    "models.TrainingError": ValueError,
    "router_api.RouterUnavailable": RuntimeError,
    "router_profile.RouterConfigError": ValueError,
    "code_sandbox.SandboxUnavailable": RuntimeError,
}
# Control flow inside llm_benchmark.post_json, caught there: never a main's to report.
INTERNAL = {"llm_benchmark.ErrorReply", "llm_benchmark.RetryableError"}


def defined_exceptions() -> dict[str, type]:
    """Every exception class defined in a top-level module of the suite, by `module.Name`."""
    found = {}
    for path in sorted(ROOT.glob("*.py")):
        module = importlib.import_module(path.stem)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == path.stem:
                found[f"{path.stem}.{name}"] = obj
    return found


def test_every_error_type_derives_from_the_base_and_keeps_its_second_base():
    found = defined_exceptions()
    assert set(EXPECTED) | INTERNAL <= set(found), "an error type listed here is gone"
    for name, cls in found.items():
        if name == "errors.ToolkitError" or name in INTERNAL:
            continue
        assert issubclass(cls, ToolkitError), f"{name} does not derive from errors.ToolkitError"
    for name, second in EXPECTED.items():
        assert issubclass(found[name], second), f"{name} lost its {second.__name__} base"
    for name in INTERNAL:
        assert not issubclass(found[name], ToolkitError), f"{name} is control flow: a main must not swallow it"


def test_flag_values_out_of_range_are_usage_errors():
    from data_loader import split_queries
    from frontier import choose

    with pytest.raises(UsageError, match=r"held-out fraction must be in \[0, 1\), got 1.5"):
        split_queries(["a", "b"], 1.5, 0)
    with pytest.raises(UsageError, match="a goal needs a minimum quality, a maximum cost, or both"):
        choose([])


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_train_reports_a_usage_error_as_one_line_and_exit_1(tmp_path, capsys):
    import train

    data = ROOT / "examples" / "benchmark_output.jsonl"
    code = train.main(["--data-file", str(data), "--output-dir", str(tmp_path / "m"), "--holdout", "1.5", "--quiet"])
    assert code == 1
    assert one_line(capsys.readouterr().err) == "error: held-out fraction must be in [0, 1), got 1.5"
    assert not (tmp_path / "m").exists()


def test_upload_reports_a_usage_error_as_one_line_and_exit_1(capsys):
    import upload_model

    assert upload_model.main([]) == 1
    assert one_line(capsys.readouterr().err) == "✗ Upload refused or failed: --model-dir is required (or --training-data --data-file FILE)"


def test_download_reports_a_hub_error_as_one_line_and_exit_1(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update({"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home")})
    done = subprocess.run(
        [sys.executable, str(ROOT / "download_model.py"), "--output-dir", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    assert one_line(done.stderr).startswith("✗ Download failed: ")


def test_benchmark_reports_a_config_error_as_one_line_and_exit_2(tmp_path, capsys):
    import benchmark

    queries = write_jsonl(tmp_path / "q.jsonl", [{"query": "1+1?", "ground_truth": "2"}])
    config = tmp_path / "models.yaml"
    config.write_text("models: 3\n")
    code = benchmark.main(["--queries", str(queries), "--model-config", str(config), "--output", str(tmp_path / "o.jsonl")])
    assert code == 2
    assert one_line(capsys.readouterr().err) == f"error: {config}: expected a top-level 'models:' list"


def test_a_bug_is_a_traceback_not_an_error_line(monkeypatch, tmp_path):
    """A main catches ToolkitError only: a plain ValueError or KeyError (a bug) goes up with its traceback."""
    import benchmark
    import download_model
    import upload_model

    def bug(*args, **kwargs):
        raise ValueError("a bug, not a message")

    monkeypatch.setattr(upload_model, "run", bug)
    with pytest.raises(ValueError, match="a bug"):
        upload_model.main([])
    monkeypatch.setattr(download_model, "run", bug)
    with pytest.raises(ValueError, match="a bug"):
        download_model.main([])
    monkeypatch.setattr(benchmark, "load_queries", bug)
    with pytest.raises(ValueError, match="a bug"):
        benchmark.main(["--queries", str(tmp_path / "q.jsonl"), "--models", "m", "--output", str(tmp_path / "o.jsonl")])
