"""Run an LLM's answer code against test assertions, isolated from the user's machine.

The answer is hostile input. With bubblewrap (`bwrap`, unprivileged user namespaces) it runs:
- in new user, PID, network, IPC, UTS and cgroup namespaces: it sees only its own processes
  (not the benchmark's environment or command line), can signal nothing outside, and has no
  network at all;
- with a read-only view of the system's programs and libraries and the Python installation
  only (no home directory, no project files, no keys), an empty environment, and one writable
  directory: a size-capped tmpfs that disappears with it;
- under rlimits (address space, CPU seconds, file size) and a wall-clock timeout, after which
  its whole namespace is killed: nothing it started outlives the scoring.

The score is computed here, never taken from the answer's output: the harness reports one
byte per test on a private pipe, we read at most one byte per test (so the score is always
within [0, 1]) and stdout/stderr go to /dev/null (stray prints change nothing). Code that
deliberately subverts the harness from inside its own process can at most claim that its
tests passed; it cannot reach anything outside the sandbox.

Without bubblewrap or user namespaces, code scoring refuses to run unless the user passes
--unsafe-code: then the answer runs as the user, with rlimits, a clean environment, its own
session (killed afterwards) and a temporary working directory, but NOT isolated.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from errors import ToolkitError

DEFAULT_MEMORY_MB = 512
DEFAULT_DISK_MB = 64  # the writable tmpfs: a cap on what the answer can write, in total
FILE_SIZE_LIMIT = 10 << 20

_HARNESS = r"""
import json, os, sys
channel = int(sys.argv[1])
source = sys.argv[2]
solution = open(os.path.join(source, "solution.py"), encoding="utf-8", errors="replace").read()
tests = json.load(open(os.path.join(source, "tests.json"), encoding="utf-8"))
scope = {"__name__": "__solution__"}
try:
    exec(compile(solution, "solution.py", "exec"), scope)
except BaseException:
    os._exit(0)  # no byte for any test: all failed
for test in tests:
    try:
        exec(compile(test, "test", "exec"), dict(scope))
        ok = True
    except BaseException:
        ok = False
    os.write(channel, b"P" if ok else b"F")
os._exit(0)
"""


class SandboxUnavailable(ToolkitError, RuntimeError):
    """This machine cannot isolate answer code; the message says why and what to do."""


@dataclass(frozen=True)
class CodeRun:
    passed: int
    total: int
    timed_out: bool

    @property
    def score(self) -> float:
        return self.passed / self.total if self.total else 0.0


def _python_roots() -> list[str]:
    roots = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    return sorted(r for r in roots if not r.startswith("/usr/"))


def bwrap_command(input_dir: str, disk_mb: int = DEFAULT_DISK_MB) -> list[str]:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
    cmd = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv", "--cap-drop", "ALL"]
    cmd += ["--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/sandbox", "--setenv", "PYTHONDONTWRITEBYTECODE", "1"]
    # The tmpfs mounts come first: a later mount hides what an earlier one put below it, and the
    # Python installation may itself live under /tmp (a virtualenv in a CI checkout there).
    size = str(disk_mb << 20)
    cmd += ["--size", size, "--tmpfs", "/sandbox", "--size", size, "--tmpfs", "/tmp"]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for path in ("/bin", "/lib", "/lib64", "/lib32", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives"):
        cmd += ["--ro-bind-try", path, path]
    for root in _python_roots():
        cmd += ["--ro-bind", root, root]
    cmd += ["--ro-bind", input_dir, "/input", "--proc", "/proc", "--dev", "/dev", "--chdir", "/sandbox", "--"]
    return cmd


_probe_result: dict[int, str | None] = {}


def isolation_problem() -> str | None:
    """None when bubblewrap can isolate code here, else why not (probed once per process)."""
    if 0 in _probe_result:
        return _probe_result[0]
    problem = None
    with tempfile.TemporaryDirectory(prefix="sandbox-probe-") as empty:
        try:
            done = subprocess.run(
                bwrap_command(empty) + [sys.executable, "-I", "-c", "pass"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=30,
            )
            if done.returncode != 0:
                problem = "bubblewrap cannot create its namespaces here: " + done.stderr.decode("utf-8", "replace").strip()[:300]
        except SandboxUnavailable as exc:
            problem = str(exc)
        except (OSError, subprocess.TimeoutExpired) as exc:
            problem = f"bubblewrap failed to start: {exc}"
    _probe_result[0] = problem
    return problem


HOW_TO_ALLOW = (
    "Install bubblewrap (Debian/Ubuntu: apt install bubblewrap; Fedora: dnf install bubblewrap) and allow "
    "unprivileged user namespaces (Ubuntu 24.04+: sysctl kernel.apparmor_restrict_unprivileged_userns=0, or an "
    "AppArmor profile for bwrap; Debian <= 10: sysctl kernel.unprivileged_userns_clone=1). Or pass --unsafe-code to "
    "run answer code as yourself, without isolation: only for answers you trust."
)


def require_isolation() -> None:
    problem = isolation_problem()
    if problem:
        raise SandboxUnavailable(f"cannot score code answers safely: {problem}. {HOW_TO_ALLOW}")


def _limits(memory_bytes: int, cpu_seconds: int):
    def apply():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run_code_tests(
    code: str,
    tests: list[str],
    timeout: float = 10.0,
    memory_mb: int = DEFAULT_MEMORY_MB,
    disk_mb: int = DEFAULT_DISK_MB,
    unsafe: bool = False,
) -> CodeRun:
    """Run `code`, then each test against its globals; count the tests that raise nothing.

    Isolated with bubblewrap unless `unsafe`; raises SandboxUnavailable when isolation is
    impossible and `unsafe` is not set (never a silent fallback)."""
    total = len(tests)
    if not total:
        return CodeRun(0, 0, False)
    if not unsafe:
        require_isolation()
    with tempfile.TemporaryDirectory(prefix="score-code-") as input_dir:
        # The answer's text is written as the server sent it; a lone surrogate cannot be UTF-8.
        with open(os.path.join(input_dir, "solution.py"), "w", encoding="utf-8", errors="surrogatepass") as handle:
            handle.write(code)
        with open(os.path.join(input_dir, "tests.json"), "w", encoding="utf-8") as handle:
            json.dump(tests, handle)  # ASCII-escaped: always encodable
        with open(os.path.join(input_dir, "harness.py"), "w", encoding="utf-8") as handle:
            handle.write(_HARNESS)
        read_end, write_end = os.pipe()
        if unsafe:
            work_dir = tempfile.mkdtemp(prefix="work-", dir=input_dir)
            cmd = [sys.executable, "-I", os.path.join(input_dir, "harness.py"), str(write_end), input_dir]
            env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", "HOME": work_dir}
        else:
            work_dir = None
            cmd = bwrap_command(input_dir, disk_mb) + [sys.executable, "-I", "/input/harness.py", str(write_end), "/input"]
            env = {}
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=work_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # stray prints: discarded without being buffered
                stderr=subprocess.DEVNULL,
                pass_fds=(write_end,),
                start_new_session=True,  # its own process group, killed as a whole below
                preexec_fn=_limits(memory_mb << 20, int(timeout) + 1),
            )
        finally:
            os.close(write_end)
        results, timed_out = _read_results(read_end, total, timeout)
        _kill_group(proc)
    return CodeRun(results.count(b"P"), total, timed_out)


def _read_results(fd: int, total: int, timeout: float) -> tuple[bytes, bool]:
    """At most one byte per test, until the harness is done (EOF) or the deadline passes."""
    deadline = time.monotonic() + timeout
    results = b""
    try:
        while len(results) < total:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return results, True
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return results, True
            chunk = os.read(fd, total - len(results))
            if not chunk:
                break
            results += chunk
    finally:
        os.close(fd)
    return results, False


def _kill_group(proc: subprocess.Popen) -> None:
    # With bubblewrap, killing bwrap kills its PID namespace (--die-with-parent): every process
    # the answer started goes with it. Without it, the session's process group is what we can reach.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
