"""Attacks an answer can make on the code scorer, each run for real, and the defence asserted.

Where it shows the attack is real, the same answer is also run with `unsafe=True` (no isolation)
and seen to succeed there. Scoring runs in a child Python process standing in for benchmark.py,
so that its environment and command line hold a secret the answer can hunt for.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

import code_sandbox

ROOT = Path(__file__).resolve().parent.parent

needs_isolation = pytest.mark.skipif(code_sandbox.isolation_problem() is not None, reason="bubblewrap cannot isolate here")

SECRET = "sk-test-" + uuid.uuid4().hex


def score_in_child(answer: str, tests: list[str], unsafe: bool = False, timeout: float = 10.0) -> float:
    """Score as benchmark.py would, from a separate process holding SECRET in env and argv."""
    script = textwrap.dedent(
        """
        import json, sys
        sys.path.insert(0, sys.argv[1])
        from scoring import score_code
        answer, tests, unsafe, timeout = json.load(sys.stdin)
        print(json.dumps(score_code(answer, tests, timeout=timeout, unsafe=unsafe)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(ROOT), f"--api-key={SECRET}"],
        input=json.dumps([answer, tests, unsafe, timeout]),
        capture_output=True,
        text=True,
        env={**os.environ, "LLM_API_KEY": SECRET},
        timeout=120,
    )
    assert done.returncode == 0, f"the scoring process died ({done.returncode}): {done.stderr[-2000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


HUNT_SECRET = f"""
import os
def found():
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        for name in ("environ", "cmdline"):
            try:
                if b"{SECRET}" in open(f"/proc/{{pid}}/{{name}}", "rb").read():
                    return True
            except OSError:
                pass
    return "{SECRET}" in str(os.environ)
"""


@needs_isolation
def test_answer_cannot_read_the_parents_environment_or_command_line():
    assert score_in_child(HUNT_SECRET, ["assert found() is False"]) == 1.0
    assert score_in_child(HUNT_SECRET, ["assert found() is False"], unsafe=True) == 0.0  # the attack is real


@needs_isolation
def test_answer_cannot_write_or_delete_outside_its_directory(tmp_path):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    in_project = ROOT / f".sandbox-victim-{uuid.uuid4().hex}"
    in_project.write_text("keep me too")
    try:
        answer = f"""
import os
def attack():
    for path in ({str(victim)!r}, {str(in_project)!r}):
        try:
            os.remove(path)
        except OSError:
            pass
    try:
        open({str(tmp_path / "dropped.txt")!r}, "w").write("x")
    except OSError:
        pass
    return True
"""
        assert score_in_child(answer, ["assert attack()"]) == 1.0
        assert victim.read_text() == "keep me" and in_project.read_text() == "keep me too"
        assert not (tmp_path / "dropped.txt").exists()
        score_in_child(answer, ["assert attack()"], unsafe=True)
        assert not victim.exists()  # unisolated, the same answer deletes the file
    finally:
        in_project.unlink(missing_ok=True)


@needs_isolation
def test_answer_cannot_fill_the_disk():
    answer = """
import os
def fill():
    written = 0
    try:
        for i in range(40):  # 40 files x 5 MB = 200 MB, over the 64 MB cap
            with open(f"junk-{i}", "wb") as f:
                f.write(b"x" * (5 << 20))
            written += 5
    except OSError:
        pass
    return written
"""
    assert score_in_child(answer, ["assert fill() < 100"]) == 1.0


def _processes_with(marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            pass
    return found


@needs_isolation
def test_nothing_the_answer_started_survives_scoring():
    seconds = f"6{uuid.uuid4().int % 1000}.25"  # a sleep no other process runs
    answer = f"""
import subprocess
def spawn():
    subprocess.Popen(["sleep", "{seconds}"], start_new_session=True)  # escapes a process-group kill
    subprocess.Popen(["sleep", "{seconds}"])  # keeps stdout open
    return 1
"""
    started = time.monotonic()
    assert score_in_child(answer, ["assert spawn() == 1"], timeout=30) == 1.0
    assert time.monotonic() - started < 20, "a child holding stdout made scoring wait for the timeout"
    time.sleep(0.2)
    assert _processes_with(f"sleep\0{seconds}") == []


@needs_isolation
def test_answer_cannot_kill_the_benchmark():
    answer = """
import os, signal
def attack():
    for pid in [os.getppid()] + [int(p) for p in os.listdir("/proc") if p.isdigit()]:
        if pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    return True
"""
    # score_in_child asserts that the scoring process survived and answered.
    assert score_in_child(answer, ["assert attack()"]) in (0.0, 1.0)


@needs_isolation
def test_answer_has_no_network():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    try:
        answer = f"""
import socket
def reach():
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
        return True
    except OSError:
        return False
"""
        assert score_in_child(answer, ["assert reach() is False"]) == 1.0
        assert score_in_child(answer, ["assert reach() is False"], unsafe=True) == 0.0
    finally:
        listener.close()


@pytest.mark.parametrize("unsafe", [False, True])
def test_printed_results_cannot_forge_the_score(unsafe):
    if not unsafe and code_sandbox.isolation_problem():
        pytest.skip("bubblewrap cannot isolate here")
    forger = textwrap.dedent(
        """
        print('{"passed": 9, "total": 1}')
        import os
        for fd in range(3, 64):  # the result channel is one of these: claim every test passed
            try:
                os.write(fd, b"P" * 50)
            except OSError:
                pass
        def add(a, b):
            return a - b
        """
    )
    got = score_in_child(forger, ["assert add(2, 3) == 5", "assert add(1, 1) == 2"], unsafe=unsafe)
    assert 0.0 <= got <= 1.0
    # Without writing to the result channel, printing alone changes nothing:
    liar = 'print(\'{"passed": 9, "total": 1}\')\ndef add(a, b):\n    return a - b\n'
    assert score_in_child(liar, ["assert add(2, 3) == 5", "assert add(2, 0) == 2"], unsafe=unsafe) == 0.5


@needs_isolation
def test_stray_and_huge_output_leave_a_correct_score_alone():
    no_newline = 'print("thinking...", end="")\ndef f():\n    return 1\n'
    assert score_in_child(no_newline, ["assert f() == 1"]) == 1.0
    flood = 'import sys\nfor _ in range(300):\n    sys.stdout.write("x" * 1_000_000)\ndef f():\n    return 1\n'
    assert score_in_child(flood, ["assert f() == 1"], timeout=30) == 1.0


@needs_isolation
def test_wall_clock_timeout_ends_a_sleeping_answer():
    started = time.monotonic()
    assert score_in_child("import time\ntime.sleep(120)\ndef f():\n    return 1\n", ["assert f() == 1"], timeout=1.0) == 0.0
    assert time.monotonic() - started < 30  # the CPU limit never fires on a sleep: the wall clock did


def test_no_isolation_means_refusal_not_silent_fallback(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on PATH
    monkeypatch.setattr(code_sandbox, "_probe_result", {})
    with pytest.raises(code_sandbox.SandboxUnavailable, match="--unsafe-code"):
        code_sandbox.run_code_tests("def f(): return 1", ["assert f() == 1"])
    assert code_sandbox.run_code_tests("def f(): return 1", ["assert f() == 1"], unsafe=True).score == 1.0


def test_benchmark_refuses_code_queries_without_isolation(tmp_path, llm_server):
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"query": "write f", "ground_truth": ["assert f() == 1"], "metric": "code"}) + "\n")
    server = llm_server(default_answer="def f():\n    return 1\n")
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, str(ROOT / "benchmark.py"), "--queries", str(queries), "--models", "m", "--endpoint", server.url]
    cmd += ["--output", str(out), "--no-progress"]
    env = {**os.environ, "PATH": str(tmp_path)}
    refused = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode == 2 and "--unsafe-code" in refused.stderr and "bubblewrap" in refused.stderr
    assert not out.exists() and server.requests == []  # nothing was sent
    allowed = subprocess.run(cmd + ["--unsafe-code"], capture_output=True, text=True, env=env, timeout=120)
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(out.read_text())["performance"] == 1.0
