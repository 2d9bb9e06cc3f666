"""add_category_to_training_data.py against a loopback fake router (real HTTP, scripted faults)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, write_jsonl

import add_category_to_training_data as categorise

FAST = ["--retries", "2", "--backoff", "0.01", "--no-progress"]

ROWS = [
    {"query": "Solve the equation x + 2 = 5", "model_name": "a", "performance": 1.0, "category": "other"},
    {"query": "Solve the equation x + 2 = 5", "model_name": "b", "performance": 0.0, "category": "other"},
    {"query": "Write a python function that reverses a list", "model_name": "a", "performance": 1.0, "category": "computer_science"},
    {"query": "Who won the war of 1812?", "model_name": "a", "performance": 0.0},
    {"query": "Tell me a joke", "model_name": "a", "performance": 1.0, "category": "humour", "extra": [1, 2]},
]


def read(path):
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def run(router, tmp_path, *extra, rows=ROWS):
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    code = categorise.main(["--vsr-url", router.url, "--input", str(src), "--output", str(out), *FAST, *extra])
    return code, out


@pytest.mark.parametrize("batch_enabled", [True, False])
def test_every_line_gets_the_routers_category(tmp_path, fake_router, capsys, batch_enabled):
    router = fake_router(batch_enabled=batch_enabled)
    code, out = run(router, tmp_path, "--batch-size", "2")
    assert code == 0
    rows = read(out)
    assert [r["query"] for r in rows] == [r["query"] for r in ROWS]  # every line, in order
    assert [r["category"] for r in rows] == ["math", "math", "computer science", "history", "other"]
    assert [r["source_category"] for r in rows] == ["other", "other", "computer_science", None, "humour"]
    assert all(0.5 <= r["category_confidence"] <= 1.0 for r in rows)
    assert rows[4]["extra"] == [1, 2] and rows[0]["performance"] == 1.0  # the rest passes through
    # Each unique query classified once (the one 404 answer that reveals a missing batch endpoint aside).
    served = [(p, b) for p, b in router.requests if batch_enabled or p != "/api/v1/classify/batch"]
    assert batch_enabled or len(served) == len(router.requests) - 1
    texts = [t for path, body in served for t in body.get("texts", [body.get("text")])]
    assert sorted(texts) == sorted({r["query"] for r in ROWS})
    printed = capsys.readouterr().out
    # Changed: other->math, missing(unknown)->history; computer_science and humour map to the same slots.
    assert "Changed category: 2 of 4 queries (50.0%)" in printed
    assert ("batch endpoint" if batch_enabled else "single requests") in printed


def test_faults_are_retried_and_a_failed_batch_falls_back_to_single_requests(tmp_path, fake_router):
    router = fake_router(faults={"/api/v1/classify/batch": ["500", "drop", "ok", "short", "short", "short"]})
    code, out = run(router, tmp_path, "--batch-size", "2", "--concurrency", "1")
    assert code == 0
    assert [r["category"] for r in read(out)] == ["math", "math", "computer science", "history", "other"]
    assert any(path == "/api/v1/classify/intent" for path, _ in router.requests)  # the short batch went text by text


def test_unclassifiable_queries_keep_their_category_are_marked_and_retried_on_resume(tmp_path, fake_router, capsys):
    router = fake_router(batch_enabled=False, faults={"/api/v1/classify/intent": ["400"]})
    code, out = run(router, tmp_path, "--concurrency", "1")
    assert code == 1
    rows = read(out)
    failed = [r for r in rows if "category_error" in r]
    assert len({r["query"] for r in failed}) == 1 and "HTTP 400" in failed[0]["category_error"]
    assert failed[0]["category"] == next(r.get("category") for r in ROWS if r["query"] == failed[0]["query"])
    assert "Unclassified: 1" in capsys.readouterr().out
    asked_before = len(router.requests)
    code, out = run(router, tmp_path)
    assert code == 0 and not any("category_error" in r for r in read(out))
    again = [body["text"] for path, body in router.requests[asked_before:] if path == "/api/v1/classify/intent"]
    assert again == [failed[0]["query"]]  # only the failed query asked again
    assert not (tmp_path / "out.jsonl.progress.jsonl").exists()


def test_router_down_is_one_line_with_the_command_to_start_it(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    code = categorise.main(["--vsr-url", "http://127.0.0.1:9", "--input", str(src), "--output", str(tmp_path / "o.jsonl"), *FAST])
    err = capsys.readouterr().err
    assert code == 2 and "not reachable" in err and "make run-router" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.jsonl").exists()


def test_bad_input_lines_are_named_before_anything_is_sent(tmp_path, fake_router, capsys):
    router = fake_router()
    code, _ = run(router, tmp_path, rows=[ROWS[0], "{not json", {"query": ""}])
    err = capsys.readouterr().err
    assert code == 2 and "line 2" in err and "line 3" in err and "'query'" in err
    assert router.requests == []


def test_a_killed_run_resumes_without_asking_again(tmp_path, fake_router):
    router = fake_router(batch_enabled=False)
    original = router.classification

    def slow_classification(text):  # one request at a time, each slow: kill -9 lands part-way
        time.sleep(0.05)
        return original(text)

    router.classification = slow_classification
    rows = [{"query": f"question number {i} about gravity", "model_name": "a", "performance": 1.0} for i in range(40)]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, str(ROOT / "add_category_to_training_data.py"), "--vsr-url", router.url, "--input", str(src)]
    cmd += ["--output", str(out), "--concurrency", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    progress = tmp_path / "out.jsonl.progress.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not progress.exists() or progress.read_text().count("\n") < 10):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = progress.read_text().count("\n")
    assert 10 <= kept < 40 and not out.exists()
    asked_before = len(router.requests)
    assert categorise.main(["--vsr-url", router.url, "--input", str(src), "--output", str(out), *FAST]) == 0
    asked = [body["text"] for path, body in router.requests[asked_before:] if path == "/api/v1/classify/intent"]
    assert len(asked) == 40 - kept and len(set(asked)) == len(asked)
    assert len(read(out)) == 40 and all(r["category"] == "physics" for r in read(out))
