"""Every shell recipe in the README runs as written, offline: the README cannot drift from the code.

Blocks run in order, in one scratch copy of the project, with the loopback LLM server on the
ports the recipes name (8000 for vLLM, 11434 for Ollama), the loopback semantic router on 8080,
and the loopback Hub as $HF_ENDPOINT.
A block is skipped only by a `<!-- readme-test: skip (why) -->` marker, and the named recipes
below must all run.
"""

import os
import re
import shutil
import socket
import subprocess
import sys

import pytest
from conftest import ROOT
from fake_hub import FakeHub
from fake_llm_server import FakeLLMServer
from fake_router import FakeRouter
from test_hub import TOKEN, make_set

from data_loader import DATA_REPO, MODELS_REPO

REQUIRED = ["setup", "quick-start", "option-1", "option-2", "option-2b", "option-3", "router-features", "end-to-end", "tradeoff"]
BLOCK = re.compile(r"<!-- readme-test: (?P<marker>[^>]*?) -->\s*\n```bash\n(?P<body>.*?)```", re.DOTALL)


def readme_blocks():
    text = (ROOT / "README.md").read_text()
    every_bash_block = len(re.findall(r"^```bash$", text, flags=re.MULTILINE))
    blocks = []
    for match in BLOCK.finditer(text):
        marker = match.group("marker").strip()
        if marker.startswith("skip"):
            assert re.fullmatch(r"skip \(.+\)", marker), f"a skip marker must say why: {marker!r}"
            blocks.append(("skip", marker, match.group("body")))
        else:
            name = re.fullmatch(r"name=([\w-]+)", marker)
            assert name, f"bad marker {marker!r}"
            blocks.append((name.group(1), marker, match.group("body")))
    assert len(blocks) == every_bash_block, "every ```bash block needs a readme-test marker"
    return blocks


def test_readme_marks_every_block_and_runs_the_named_recipes():
    names = [name for name, _, _ in readme_blocks() if name != "skip"]
    missing = [r for r in REQUIRED if r not in names]
    assert not missing, f"named recipes missing or skipped: {missing}"


def quick_start_table() -> list[str]:
    """The strategy rows of the table shown under the README's quick start."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Quick start") : text.index("### Option 1")]
    table = section[section.index("Validation Results") :]
    table = table[table.index("-" * 40) : table.index("=" * 40, table.index("-" * 40))]
    return [line for line in table.splitlines()[1:] if line.strip()]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@pytest.fixture
def loopback_services(tmp_path):
    for port in (8000, 11434, 8080):
        if not port_free(port):
            pytest.fail(f"port {port} is taken: the README recipes need it for a loopback LLM server or router")
    servers = []
    for port in (8000, 11434):
        server = FakeLLMServer(default_answer="The answer is 2x. ```python\ndef add(a, b):\n    return a + b\n```")
        import asyncio
        import threading

        ready = threading.Event()

        def serve(server=server, port=port):
            server._loop = asyncio.new_event_loop()
            server._loop.run_until_complete(server.serve(port))
            ready.set()
            server._loop.run_forever()

        server._thread = threading.Thread(target=serve, daemon=True)
        server._thread.start()
        ready.wait(10)
        ready.clear()
        servers.append(server)
    router = FakeRouter().start(8080)
    hub = FakeHub().start()
    hub.add_repo(MODELS_REPO, make_set(tmp_path / "published"))
    data = (ROOT / "examples/benchmark_output.jsonl").read_bytes()
    hub.add_repo(DATA_REPO, {"benchmark_training_data.jsonl": data, "validation_benchmark_with_gt.jsonl": data}, repo_type="dataset")
    yield hub
    hub.stop()
    router.stop()
    for server in servers:
        server.stop()


def test_readme_recipes_run_as_written(tmp_path, loopback_services):
    hub = loopback_services
    work = tmp_path / "project"
    shutil.copytree(
        ROOT, work, ignore=shutil.ignore_patterns(".git", ".venv", ".cache", "models", "__pycache__", "my_models", "data", ".pytest_cache")
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # A wrapper, not a symlink: a symlinked venv interpreter loses its venv.
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "python").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{os.path.dirname(sys.executable)}{os.pathsep}{env.get('PATH', '')}",
            "HF_ENDPOINT": hub.url,
            "HF_HOME": str(tmp_path / "hf-home"),
            "HF_TOKEN": TOKEN,
            "ROUTER_EMBEDDING_MODEL": "minilm",  # offline: the bundled model stands in for qwen3
            "PIP_NO_INDEX": "1",  # `pip install -r requirements.txt` must be a no-op here, not a download
        }
    )
    ran, printed = [], {}
    for name, marker, body in readme_blocks():
        if name == "skip":
            continue
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", body], cwd=work, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, (
            f"README block {name!r} failed:\n{body}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
        )
        ran.append(name)
        printed[name] = done.stdout
    assert set(REQUIRED) <= set(ran)
    # The quick start's table in the README is what validate.py prints on the example, row for row,
    # and it shows routing at work: Oracle far above the best single model, selectors choosing.
    shown = quick_start_table()
    assert len(shown) == 16 and all(row in printed["quick-start"] for row in shown), printed["quick-start"]
    quality = {row[:64].strip(): float(row.split()[-4]) for row in shown}
    best_single = next(q for name, q in quality.items() if name.startswith("Best single"))
    assert quality["Oracle (best)"] - best_single > 0.1
    assert (work / "validation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # What the recipes promised exists.
    for folder in ("models", ".cache/ml-models", "my_models"):
        assert sorted(p.name for p in (work / folder).glob("*_model.json")) == ["kmeans_model.json", "knn_model.json", "svm_model.json"]
    assert (work / "data/benchmark_training_data.jsonl").exists()
    assert len(list((work / "tradeoff_models").glob("*_model.json"))) == 1  # the goal was met and its set written
    assert (work / "tradeoff.png").exists() and "summary" in (work / "tradeoff.json").read_text()
    assert ("model", "your-org/your-models") in hub.repos  # Option 2, step 4


def test_the_exit_status_table_covers_every_script():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Exit status") :]
    section = section[: section.index("\n## ", 1)]
    listed = set(re.findall(r"^\| `([\w.]+)` \|", section, flags=re.MULTILINE))
    scripts = {p.name for p in ROOT.glob("*.py") if 'if __name__ == "__main__":' in p.read_text()} | {"setup_tests.sh"}
    assert listed == scripts
