"""add_category_to_training_data.py against a loopback fake router (real HTTP, scripted faults),
answering /api/v1/classify/intent as the router does (decisions matched on a domain, on a keyword
only, none matched, the placeholder)."""

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


# A v0.3 router's decisions, as the fake evaluates them: a domain rule, a keyword-only rule, a
# labelled domain rule; queries of no listed domain match none.
DECISIONS = [
    {"name": "math_decision", "domains": ["math"], "model_refs": [{"model": "qwen3-8b"}]},
    {"name": "code_decision", "keywords": {"code_words": r"\bpython\b"}, "model_refs": [{"model": "base", "lora_name": "coder"}]},
    {"name": "history_decision", "domains": ["history:modern"], "model_refs": [{"model": "big"}]},
]


def test_without_decisions_every_line_gets_the_classifiers_domain_exactly(tmp_path, fake_router, capsys):
    router = fake_router()
    code, out = run(router, tmp_path)
    assert code == 0
    rows = read(out)
    assert [r["query"] for r in rows] == [r["query"] for r in ROWS]  # every line, in order
    assert [r["category"] for r in rows] == ["math", "math", "computer science", "history", "other"]
    assert [r["decision"] for r in rows] == [None] * 5
    assert [r["source_category"] for r in rows] == ["other", "other", "computer_science", None, "humour"]
    assert all(0.5 <= r["category_confidence"] <= 1.0 for r in rows)
    assert rows[4]["extra"] == [1, 2] and rows[0]["performance"] == 1.0  # the rest passes through
    # Only the intent endpoint (the batch one is another classifier), each unique query once.
    assert {path for path, _ in router.requests} == {"/api/v1/classify/intent"}
    assert sorted(body["text"] for _, body in router.requests) == sorted({r["query"] for r in ROWS})
    assert all("model" not in body for _, body in router.requests)  # not configured: not sent
    printed = capsys.readouterr().out
    # Slots: other->math, computer_science (other) -> computer science, missing (other) -> history.
    assert "Changed slot: 3 of 4 queries (75.0%)" in printed


def test_with_decisions_the_category_is_the_first_domain_rule_never_the_decision_name(tmp_path, fake_router):
    router = fake_router(decisions=DECISIONS)
    code, out = run(router, tmp_path, "--model", "MoM")
    assert code == 0
    rows = read(out)
    # math: domain rule; python: keyword only -> ""; war: labelled rule -> "history:modern"; joke: no decision.
    assert [r["category"] for r in rows] == ["math", "math", "", "history:modern", "other"]
    assert [r["decision"] for r in rows] == ["math_decision", "math_decision", "code_decision", "history_decision", None]
    assert all(body["model"] == "MoM" for _, body in router.requests)


def test_serving_category_reads_the_routers_answer_shapes():
    from router_api import serving_category

    domain = {
        "classification": {"category": "math_decision", "confidence": 0.91, "processing_time_ms": 3},
        "routing_decision": "math_decision",
        "decision_result": {
            "decision_name": "math_decision",
            "confidence": 0.91,
            "matched_rules": ["keyword:k", "domain:Math", "domain:physics"],
        },
    }
    got = serving_category(domain)
    assert (got.category, got.decision, got.confidence, got.placeholder) == ("Math", "math_decision", 0.91, False)
    no_rules = {
        "classification": {"category": "catch_all", "confidence": 0},
        "decision_result": {"decision_name": "catch_all", "matched_rules": None},
    }
    assert (serving_category(no_rules).category, serving_category(no_rules).decision) == ("", "catch_all")
    none = {"classification": {"category": "computer science", "confidence": 0.4}, "routing_decision": "low_confidence_general"}
    assert (serving_category(none).category, serving_category(none).decision) == ("computer science", None)
    placeholder = {"classification": {"category": "general", "confidence": 0.5}, "routing_decision": "placeholder_response"}
    assert serving_category(placeholder).placeholder
    for hostile in (
        {"classification": {"category": 3}},
        {"classification": {"category": "x"}, "decision_result": {"matched_rules": []}},
        {"classification": {"category": "x"}, "decision_result": {"decision_name": "d", "matched_rules": [1]}},
        [],
    ):
        with pytest.raises(ValueError):
            serving_category(hostile)


def test_a_placeholder_router_is_refused_loudly_and_nothing_is_written(tmp_path, fake_router, capsys):
    router = fake_router(placeholder=True)
    code, out = run(router, tmp_path)
    err = capsys.readouterr().err
    assert code == categorise.SUSPECT_EXIT and not out.exists()
    assert "placeholder_response" in err and "NOT written" in err and "--accept-suspect" in err
    progress = tmp_path / "out.jsonl.progress.jsonl"
    assert not progress.exists() or progress.read_text() == ""  # placeholders are never reused on resume
    code, out = run(router, tmp_path, "--accept-suspect")
    assert code == 0 and [r["category"] for r in read(out)] == ["general"] * 5


def test_the_same_category_at_confidence_half_for_every_text_is_refused(tmp_path, fake_router, capsys):
    router = fake_router()
    router.classification = lambda text: {"category": "general", "confidence": 0.5, "processing_time_ms": 0}
    code, out = run(router, tmp_path)
    assert code == categorise.SUSPECT_EXIT and not out.exists()
    assert "'general' at confidence 0.5" in capsys.readouterr().err


def test_categories_mostly_outside_the_slots_are_refused_and_named(tmp_path, fake_router, capsys):
    names = {"Solve the equation x + 2 = 5": "Mathematics", "Write a python function that reverses a list": "computer_science"}
    router = fake_router(categories=names)  # two of four unique queries: not most
    assert run(router, tmp_path)[0] == 0
    names["Who won the war of 1812?"] = "History"
    router = fake_router(categories=names)
    code, out = run(router, tmp_path / "..", rows=ROWS)
    err = capsys.readouterr().err
    assert code == categorise.SUSPECT_EXIT
    assert "3 of 4 categories are not among the runtime's 14 slots" in err and "'History' (1)" in err


def test_the_bearer_token_comes_from_the_flag_or_the_environment_and_is_never_echoed(tmp_path, fake_router, capsys, monkeypatch):
    router = fake_router(token="s3cret-T0KEN")
    monkeypatch.delenv("VSR_API_TOKEN", raising=False)
    code, out = run(router, tmp_path)
    err = capsys.readouterr().err
    assert code == 2 and "401" in err and "--router-token" in err and "VSR_API_TOKEN" in err
    assert len(router.requests) == 1  # refused on the first request: not once per query
    code, out = run(router, tmp_path, "--router-token", "wrong")
    err = capsys.readouterr().err
    assert code == 2 and "refused" in err and "wrong" not in err
    code, out = run(router, tmp_path, "--router-token", "s3cret-T0KEN")
    assert code == 0 and "s3cret" not in out.read_text() and "s3cret" not in capsys.readouterr().out
    monkeypatch.setenv("VSR_API_TOKEN", "s3cret-T0KEN")
    code, out = run(router, tmp_path)
    assert code == 0


def test_the_user_message_benchmark_sent_is_what_gets_classified(tmp_path, fake_router):
    router = fake_router()
    rows = [
        {"query": "Which is a gas?", "prompt": "Which is a gas?\n\nA. acid\nB. iron", "model_name": "a", "performance": 1.0},
        {"query": "Which is a gas?", "prompt": "Which is a gas?\n\nA. acid\nB. iron", "model_name": "b", "performance": 0.0},
    ]
    code, out = run(router, tmp_path, rows=rows)
    assert code == 0 and [body["text"] for _, body in router.requests] == [rows[0]["prompt"]]
    assert [r["category"] for r in read(out)] == ["chemistry", "chemistry"]  # "acid" is only in the prompt


def test_faults_are_retried(tmp_path, fake_router):
    router = fake_router(faults={"/api/v1/classify/intent": ["500", "drop", "ok", "429", "malformed"]})
    code, out = run(router, tmp_path, "--concurrency", "1")
    assert code == 0
    assert [r["category"] for r in read(out)] == ["math", "math", "computer science", "history", "other"]


def test_unclassifiable_queries_keep_their_category_are_marked_and_retried_on_resume(tmp_path, fake_router, capsys):
    router = fake_router(faults={"/api/v1/classify/intent": ["400"]})
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
    router = fake_router()
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


def test_decisions_the_router_config_lacks_are_named(tmp_path, fake_router, capsys):
    router = fake_router(decisions=DECISIONS)
    config = tmp_path / "router.yaml"
    config.write_text(
        "routing:\n  decisions:\n    - name: math_decision\n      rules: {operator: OR, conditions: [{type: domain, name: math}]}\n"
        "      modelRefs: [{model: qwen3-8b}]\n"
    )
    code, _ = run(router, tmp_path, "--router-config", str(config))
    out = capsys.readouterr().out
    assert code == 0
    assert "does not have: 'code_decision' (1), 'history_decision' (1)" in out
