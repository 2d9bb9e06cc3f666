"""benchmark.py against a loopback OpenAI-compatible server with scripted latency and faults."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import pytest
from conftest import ROOT, write_jsonl

import benchmark
from data_loader import build_outcome_table, load_records
from llm_benchmark import ModelConfig, Redactor

FAST_RETRY = ["--retries", "3", "--backoff", "0.01", "--max-backoff", "0.05", "--no-progress"]


def read_lines(path):
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def queries_file(tmp_path, n=3, **extra):
    rows = [
        {
            "query": f"question {i}",
            "ground_truth": str(i),
            "metric": "number",
            "category": "math",
            "task_name": "t",
            "note": f"kept {i}",
            **extra,
        }
        for i in range(n)
    ]
    return write_jsonl(tmp_path / "queries.jsonl", rows)


def run(argv):
    return benchmark.main([str(a) for a in argv])


def test_answers_are_scored_and_every_field_is_written(tmp_path, llm_server):
    server = llm_server(answers={"good": {f"question {i}": f"#### {i}" for i in range(3)}})
    out = tmp_path / "out.jsonl"
    assert run(["--queries", queries_file(tmp_path), "--models", "good,bad", "--endpoint", server.url, "--output", out, *FAST_RETRY]) == 0
    lines = read_lines(out)
    assert len(lines) == 6
    for line in lines:
        assert {
            "query",
            "model_name",
            "response",
            "performance",
            "response_time",
            "attempts",
            "prompt_tokens",
            "completion_tokens",
            "category",
            "ground_truth",
            "task_name",
            "metric",
            "note",
        } <= set(line)
        assert line["performance"] == (1.0 if line["model_name"] == "good" else 0.0)
        assert line["response_time"] > 0 and line["attempts"] == 1 and "error" not in line
    table = build_outcome_table(*load_records(out))
    assert table.models == ["bad", "good"] and len(table.queries) == 3


@pytest.mark.parametrize("fault", ["429", "500", "malformed", "drop", "timeout"])
def test_retryable_faults_are_retried(tmp_path, llm_server, fault):
    server = llm_server(faults={"m": [fault, fault]}, default_answer="#### 0", hang_seconds=3)
    out = tmp_path / "out.jsonl"
    assert (
        run(
            [
                "--queries",
                queries_file(tmp_path, 1),
                "--models",
                "m",
                "--endpoint",
                server.url,
                "--output",
                out,
                "--timeout",
                "0.5",
                *FAST_RETRY,
            ]
        )
        == 0
    )
    [line] = read_lines(out)
    assert line["attempts"] == 3 and line["performance"] == 1.0 and "error" not in line
    assert line["response_time"] < 0.5  # the successful attempt's time, not the sum with the failures


def test_retry_after_is_honoured(tmp_path, llm_server):
    server = llm_server(faults={"m": ["429"]}, retry_after="1", default_answer="#### 0")
    out = tmp_path / "out.jsonl"
    started = time.monotonic()
    run(["--queries", queries_file(tmp_path, 1), "--models", "m", "--endpoint", server.url, "--output", out, *FAST_RETRY])
    assert time.monotonic() - started >= 1.0  # the backoff alone would have waited at most 0.01 s
    assert read_lines(out)[0]["attempts"] == 2


def test_client_errors_are_not_retried_and_failures_are_never_quality_zero(tmp_path, llm_server):
    server = llm_server(faults={"m": ["400"]})
    out = tmp_path / "out.jsonl"
    run(["--queries", queries_file(tmp_path, 1), "--models", "m", "--endpoint", server.url, "--output", out, *FAST_RETRY])
    [line] = read_lines(out)
    assert line["attempts"] == 1 and "HTTP 400" in line["error"]
    assert line["performance"] is None and line["response_time"] is None
    assert server.attempts[("m", "question 0")] == 1


def test_failed_pairs_are_retried_on_the_next_run_and_done_pairs_are_not(tmp_path, llm_server):
    server = llm_server(faults={"flaky": ["500"] * 4}, default_answer="#### 1")
    out = tmp_path / "out.jsonl"
    argv = ["--queries", queries_file(tmp_path, 2), "--models", "flaky,steady", "--endpoint", server.url, "--output", out, *FAST_RETRY]
    run(argv)
    first = read_lines(out)
    assert sum(1 for line in first if line.get("error")) == 2
    run(argv)
    assert server.attempts[("steady", "question 0")] == 1  # never re-sent
    records, report = load_records(out)
    table = build_outcome_table(records, report)
    assert all(set(per_model) == {"flaky", "steady"} for per_model in table.outcomes_by_query.values())
    assert report.superseded_errors == 2 and not report.duplicates


def test_resume_after_a_killed_run_loses_and_duplicates_nothing(tmp_path, llm_server):
    server = llm_server(latency=0.05, default_answer="#### 3")
    out = tmp_path / "out.jsonl"
    argv = [
        sys.executable,
        str(ROOT / "benchmark.py"),
        "--queries",
        str(queries_file(tmp_path, 40)),
        "--models",
        "a,b,c",
        "--endpoint",
        server.url,
        "--output",
        str(out),
        "--concurrency",
        "4",
        "--no-progress",
    ]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or len(out.read_bytes().splitlines()) < 20):
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = len(read_lines(out))
    assert 20 <= partial < 120
    assert subprocess.run(argv, capture_output=True).returncode == 0
    lines = read_lines(out)
    pairs = [(line["query"], line["model_name"]) for line in lines]
    assert len(pairs) == len(set(pairs)) == 120  # every pair once: none lost, none duplicated


def test_a_torn_last_line_is_cut_before_resuming(tmp_path, llm_server):
    server = llm_server(default_answer="#### 0")
    out = tmp_path / "out.jsonl"
    argv = ["--queries", queries_file(tmp_path, 2), "--models", "m", "--endpoint", server.url, "--output", out, *FAST_RETRY]
    run(argv)
    content = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(content[0] + content[1][:20])  # killed in the middle of writing line 2
    run(argv)
    assert sorted(line["query"] for line in read_lines(out)) == ["question 0", "question 1"]  # whole lines, once each


def test_requests_go_out_in_input_order_within_the_concurrency_limit(tmp_path, llm_server):
    server = llm_server(latency=0.02)
    out = tmp_path / "out.jsonl"
    run(
        [
            "--queries",
            queries_file(tmp_path, 4),
            "--models",
            "a,b",
            "--endpoint",
            server.url,
            "--output",
            out,
            "--concurrency",
            "1",
            *FAST_RETRY,
        ]
    )
    expected = [(f"question {i}", m) for i in range(4) for m in ("a", "b")]
    assert [(r["query"], r["model"]) for r in server.requests] == expected
    assert [(line["query"], line["model_name"]) for line in read_lines(out)] == expected
    busy = llm_server(latency=0.1)
    run(
        [
            "--queries",
            queries_file(tmp_path, 20),
            "--models",
            "a,b",
            "--endpoint",
            busy.url,
            "--output",
            tmp_path / "busy.jsonl",
            "--concurrency",
            "5",
            *FAST_RETRY,
        ]
    )
    assert busy.max_in_flight == 5


def test_secrets_never_reach_the_output_logs_or_errors(tmp_path, llm_server, capsys, monkeypatch):
    server = llm_server(faults={"m": ["400"], "n": ["500"] * 10})
    monkeypatch.setenv("TEAM_TOKEN", "tok-abcdef123456")
    config = tmp_path / "models.yaml"
    config.write_text(
        "models:\n"
        f"  - name: m\n    endpoint: {server.url}\n    api_key: sk-very-secret-key\n"
        f"  - name: n\n    endpoint: {server.url}\n    headers:\n      X-Api-Key: ${{TEAM_TOKEN}}\n"
    )
    out = tmp_path / "out.jsonl"
    run(["--queries", queries_file(tmp_path, 1), "--model-config", config, "--output", out, *FAST_RETRY])
    # The server did receive them ...
    assert next(r for r in server.requests if r["model"] == "m")["headers"]["authorization"] == "Bearer sk-very-secret-key"
    assert any(r["headers"].get("x-api-key") == "tok-abcdef123456" for r in server.requests)
    # ... but they are nowhere in what we wrote, even though the 400 body echoed them back.
    captured = capsys.readouterr()
    for text in (out.read_text(), captured.out, captured.err):
        assert "sk-very-secret-key" not in text and "tok-abcdef123456" not in text
    assert "***" in out.read_text()


def test_model_config_env_expansion_precedence_and_prices(tmp_path, llm_server, monkeypatch, capsys):
    server = llm_server(default_answer="#### 0 is the answer")
    config = tmp_path / "models.yaml"
    config.write_text(
        "models:\n"
        f"  - name: priced\n    endpoint: {server.url}\n    max_tokens: 77\n    temperature: 0.3\n"
        "    price_input_per_million: 1000000\n    price_output_per_million: 2000000\n"
        "    headers:\n      Authorization: Bearer ${MISSING_TOKEN_VAR}\n"
    )
    out = tmp_path / "out.jsonl"
    argv = ["--queries", queries_file(tmp_path, 1), "--model-config", config, "--output", out, *FAST_RETRY]
    assert run(argv) == 2
    assert "MISSING_TOKEN_VAR" in capsys.readouterr().err and not out.exists()
    monkeypatch.setenv("MISSING_TOKEN_VAR", "abc123xyz")
    assert run(argv) == 0
    body = server.requests[-1]["body"]
    assert (body["max_tokens"], body["temperature"]) == (77, 0.3)  # per-model settings hold ...
    [line] = read_lines(out)
    assert line["cost"] == pytest.approx(line["prompt_tokens"] * 1.0 + line["completion_tokens"] * 2.0)
    run(
        [
            "--queries",
            queries_file(tmp_path, 2),
            "--model-config",
            config,
            "--output",
            tmp_path / "o2.jsonl",
            "--max-tokens",
            "5",
            *FAST_RETRY,
        ]
    )
    assert server.requests[-1]["body"]["max_tokens"] == 5  # ... unless the flag is given


def test_training_data_as_queries_is_deduplicated_and_model_fields_dropped(tmp_path, llm_server, capsys):
    server = llm_server()
    rows = [
        {"query": "q1", "model_name": "x", "performance": 1.0, "response_time": 2.0, "category": "math", "ground_truth": "1"},
        {"query": "q1", "model_name": "y", "performance": 0.0, "category": "math", "ground_truth": "1"},
        {"query": "q2", "model_name": "x", "performance": 0.5, "ground_truth": "2"},
    ]
    out = tmp_path / "out.jsonl"
    run(
        [
            "--queries",
            write_jsonl(tmp_path / "train.jsonl", rows),
            "--models",
            "new",
            "--endpoint",
            server.url,
            "--output",
            out,
            "--concurrency",
            "1",  # this test reads the lines in input order
            *FAST_RETRY,
        ]
    )
    lines = read_lines(out)
    assert [(line["query"], line["model_name"]) for line in lines] == [("q1", "new"), ("q2", "new")]
    assert lines[0]["category"] == "math" and lines[0]["performance"] == 0.0
    assert "1 repeated queries dropped" in capsys.readouterr().out


def test_bad_query_lines_are_named_before_anything_runs(tmp_path, capsys, llm_server):
    server = llm_server()
    path = write_jsonl(tmp_path / "q.jsonl", [{"query": "ok"}, "{broken", {"query": "x", "metric": "bleu"}, {"text": "no query"}])
    assert run(["--queries", path, "--models", "m", "--endpoint", server.url, "--output", tmp_path / "o.jsonl"]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "line 3" in err and "'metric'" in err and "line 4" in err and "'query'" in err
    assert not server.requests


def test_queries_without_ground_truth_are_unscored_not_guessed(tmp_path, llm_server, capsys):
    server = llm_server()
    out = tmp_path / "out.jsonl"
    run(
        [
            "--queries",
            write_jsonl(tmp_path / "q.jsonl", [{"query": "tell me a joke"}]),
            "--models",
            "m",
            "--endpoint",
            server.url,
            "--output",
            out,
            *FAST_RETRY,
        ]
    )
    assert read_lines(out)[0]["performance"] is None
    assert "no ground_truth" in capsys.readouterr().out


def test_api_key_from_environment(tmp_path, llm_server, monkeypatch):
    server = llm_server()
    monkeypatch.setenv("LLM_API_KEY", "env-key-123456")
    run(["--queries", queries_file(tmp_path, 1), "--models", "m", "--endpoint", server.url, "--output", tmp_path / "o.jsonl", *FAST_RETRY])
    assert server.requests[0]["headers"]["authorization"] == "Bearer env-key-123456"
    assert "env-key-123456" not in (tmp_path / "o.jsonl").read_text()


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_ctrl_c_keeps_what_was_answered(tmp_path, llm_server):
    server = llm_server(latency=0.05)
    out = tmp_path / "out.jsonl"
    argv = [
        sys.executable,
        str(ROOT / "benchmark.py"),
        "--queries",
        str(queries_file(tmp_path, 50)),
        "--models",
        "a",
        "--endpoint",
        server.url,
        "--output",
        str(out),
        "--no-progress",
    ]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while not out.exists() or len(out.read_bytes().splitlines()) < 5:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130 and b"resume" in err
    assert len(read_lines(out)) >= 5  # whole lines only, none torn


def test_a_valid_last_line_without_newline_is_kept_and_a_torn_one_set_aside(tmp_path, llm_server, capsys):
    server = llm_server(default_answer="#### 0")
    out = tmp_path / "out.jsonl"
    argv = ["--queries", queries_file(tmp_path, 3), "--models", "m", "--endpoint", server.url, "--output", out, *FAST_RETRY]
    run(argv)
    first_answers = len(server.requests)
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(lines[0] + lines[1].rstrip(b"\n"))  # died between line 2 and its newline
    run(argv)
    assert len(server.requests) == first_answers + 1  # only question 2 asked again: line 2 was kept
    assert sorted(line["query"] for line in read_lines(out)) == ["question 0", "question 1", "question 2"]

    lines = out.read_bytes().splitlines(keepends=True)
    torn = lines[2][:25]
    out.write_bytes(lines[0] + lines[1] + torn)  # killed mid-write of line 3
    run(argv)
    err = capsys.readouterr().out
    assert "line 3" in err and "out.jsonl.torn" in err
    assert (tmp_path / "out.jsonl.torn").read_bytes() == torn + b"\n"  # kept, byte for byte
    assert len(read_lines(out)) == 3


@pytest.mark.parametrize(
    "override, expected_response",
    [
        ({"content": "#### 0 \ud800"}, "#### 0 \ud800"),  # lone surrogate: JSON-escaped, still scored
        ({"content": 0}, "0"),
        ({"content": [{"type": "text", "text": "#### "}, {"type": "text", "text": "0"}]}, "#### 0"),
        ({"content": {"weird": True}}, '{"weird": true}'),
        ({"content": None}, ""),
        ({"usage": {"prompt_tokens": "12", "completion_tokens": "many"}}, "#### 0"),
        ({"usage": [1, 2]}, "#### 0"),
        ({"usage": {"prompt_tokens": -3, "completion_tokens": True}}, "#### 0"),
    ],
)
def test_odd_payloads_are_recorded_never_a_traceback(tmp_path, llm_server, override, expected_response):
    server = llm_server(default_answer="#### 0", overrides={"m": override})
    config = tmp_path / "models.yaml"
    config.write_text(
        f"models:\n  - name: m\n    endpoint: {server.url}\n    price_input_per_million: 1.0\n    price_output_per_million: 2.0\n"
    )
    queries = write_jsonl(
        tmp_path / "q.jsonl",
        [
            {"query": "q0", "ground_truth": "0", "metric": "number"},
            {"query": "q1", "ground_truth": "A", "metric": "multiple_choice", "choices": ["0", "1"]},
        ],
    )
    out = tmp_path / "out.jsonl"
    assert run(["--queries", queries, "--model-config", config, "--output", out, *FAST_RETRY]) == 0
    lines = read_lines(out)
    assert len(lines) == 2 and all(line["response"] == expected_response for line in lines)
    assert all("error" not in line for line in lines)
    by_query = {line["query"]: line for line in lines}
    if "content" in override and override["content"] not in (None, {"weird": True}):
        assert by_query["q0"]["performance"] == 1.0
    if "usage" in override:
        # Unusable counts are dropped, never priced: "12" is a count, "many" and -3 are not.
        assert by_query["q0"]["completion_tokens"] is None and "cost" not in by_query["q0"]
    run(["--queries", queries, "--model-config", config, "--output", out, *FAST_RETRY])  # and resuming reads it back
    assert len(read_lines(out)) == 2


def test_keys_that_make_httpx_raise_never_reach_output_or_logs(tmp_path, llm_server, capsys):
    server = llm_server(default_answer="#### 0")
    out = tmp_path / "out.jsonl"
    for key in ("sk-line1\nline2-secret", "sk-ünïcode-secret", "sk-tab\tsecret-x"):
        out.unlink(missing_ok=True)
        code = run(
            [
                "--queries",
                queries_file(tmp_path, 1),
                "--models",
                "m",
                "--endpoint",
                server.url,
                "--api-key",
                key,
                "--output",
                out,
                *FAST_RETRY,
            ]
        )
        captured = capsys.readouterr()
        written = out.read_text(encoding="utf-8") if out.exists() else ""
        for text in (written, captured.out, captured.err):
            for form in (key, repr(key)[1:-1], repr(key.encode())[2:-1], "line2-secret", "secret-x"):
                assert form not in text, (key, text)
        assert code in (0, 2)


def test_the_user_message_sent_is_recorded_as_prompt_and_is_what_training_embeds(tmp_path, llm_server):
    server = llm_server(default_answer="A")
    rows = [
        {"query": "Which is a noble gas?", "ground_truth": "B", "metric": "multiple_choice", "choices": ["Iron", "Neon"]},
        {"query": "Which is even? A. 3 B. 4", "ground_truth": "B", "metric": "multiple_choice", "choices": ["3", "4"]},
        {"query": "2 + 2?", "ground_truth": "4", "metric": "number"},
    ]
    out = tmp_path / "out.jsonl"
    queries = write_jsonl(tmp_path / "q.jsonl", rows)
    assert run(["--queries", queries, "--models", "m", "--endpoint", server.url, "--output", out, "--concise", *FAST_RETRY]) == 0
    sent = sorted(r["body"]["messages"][-1]["content"] for r in server.requests)
    by_query = {line["query"]: line for line in read_lines(out)}
    # Written by hand: the choices are appended only when the query does not already hold them.
    assert by_query["Which is a noble gas?"]["prompt"] == "Which is a noble gas?\n\nA. Iron\nB. Neon"
    assert by_query["Which is even? A. 3 B. 4"]["prompt"] == "Which is even? A. 3 B. 4"
    assert by_query["2 + 2?"]["prompt"] == "2 + 2?"
    assert sorted(line["prompt"] for line in by_query.values()) == sent  # exactly the messages the server received
    table = build_outcome_table(*load_records(out))
    assert table.texts(["Which is a noble gas?", "2 + 2?"]) == ["Which is a noble gas?\n\nA. Iron\nB. Neon", "2 + 2?"]
    # Reused as a query file, the recorded prompt is derived again, not carried as a field.
    again = tmp_path / "again.jsonl"
    assert run(["--queries", out, "--models", "n", "--endpoint", server.url, "--output", again, *FAST_RETRY]) == 0
    assert {line["query"]: line["prompt"] for line in read_lines(again)} == {q: line["prompt"] for q, line in by_query.items()}


def test_every_configured_secret_is_redacted_from_answers_errors_and_logs(tmp_path, llm_server, capsys, monkeypatch):
    # A hostile server quotes the credentials it was sent in its answers (plain, URL-encoded) and in
    # an error body; an endpoint URL carries a password from the environment, and that endpoint
    # answers 401, so the fail-fast message names it.
    key, token, password = "sk-live/Key+9876543210", "tok-abcdef123456", "pw-0987654321"
    monkeypatch.setenv("TEAM_TOKEN", token)
    monkeypatch.setenv("URL_PASSWORD", password)
    leaky = f"The key is {key}; encoded {urllib.parse.quote(key, safe='')}; header {token}; password {password}. #### 0"
    server = llm_server(answers={"m": {"question 0": leaky}, "n": {"question 0": leaky}}, faults={"e": ["400"], "u": ["401"] * 9})
    userinfo_url = server.url.replace("http://", "http://user:${URL_PASSWORD}@")
    config = tmp_path / "models.yaml"
    config.write_text(
        "models:\n"
        f"  - name: m\n    endpoint: {server.url}\n    api_key: {key}\n"
        f"  - name: n\n    endpoint: {server.url}\n    headers:\n      X-Api-Key: ${{TEAM_TOKEN}}\n"
        f"  - name: e\n    endpoint: {server.url}\n    api_key: {key}\n"
        f"  - name: u\n    endpoint: {userinfo_url}\n"
    )
    out = tmp_path / "out.jsonl"
    argv = ["--queries", queries_file(tmp_path, 4), "--model-config", config, "--output", out, "--concurrency", "1", *FAST_RETRY]
    assert run(argv) == 1  # e and u failed
    by_model = {line["model_name"]: line for line in read_lines(out) if line["query"] == "question 0"}
    assert by_model["m"]["response"].startswith("The key is ***; encoded ***; header ***; password ***.")
    assert by_model["m"]["performance"] == 1.0 and by_model["n"]["performance"] == 1.0  # scored on the answer as sent
    assert "HTTP 400" in by_model["e"]["error"]
    said = capsys.readouterr().out
    assert "endpoint http://user:***@127.0.0.1" in said  # the fail-fast message, said once, without the password
    # The resume log of a second run quotes nothing either (a bad line holding the key).
    with out.open("a") as handle:
        handle.write(f"not json {key}\n")
    run(argv)
    captured = capsys.readouterr()
    for text in (out.read_text().replace(f"not json {key}", ""), said, captured.out, captured.err):
        for secret in (key, urllib.parse.quote(key, safe=""), token, password):
            assert secret not in text


def test_redactor_covers_every_string_of_a_record_whatever_its_fields():
    redact = Redactor(["sk-secret-123456"])
    record = {"response": "a sk-secret-123456", "reasoning": ["sk-secret-123456"], "error": {"message": "sk-secret-123456"}, "n": 1}
    assert redact.record(record) == {"response": "a ***", "reasoning": ["***"], "error": {"message": "***"}, "n": 1}
    # A password written literally into an endpoint URL is a configured secret too.
    assert "pw-literal-42" in ModelConfig("x", endpoint="https://user:pw-literal-42@llm.example/v1").secrets()


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed on exit: nothing listens there


def test_an_endpoint_whose_first_answers_are_all_401_gets_no_more_requests(tmp_path, llm_server, capsys):
    server = llm_server(faults={"bad": ["401"] * 99}, default_answer="#### 0")
    config = tmp_path / "models.yaml"
    config.write_text(
        "models:\n"
        f"  - name: bad\n    endpoint: {server.url}\n    api_key: sk-wrong-key\n"
        f"  - name: good\n    endpoint: {server.url}\n    api_key: sk-right-key\n"
    )
    out = tmp_path / "out.jsonl"
    argv = ["--queries", queries_file(tmp_path, 10), "--model-config", config, "--output", out, "--concurrency", "1", *FAST_RETRY]
    assert run(argv) == 1
    assert sum(1 for r in server.requests if r["model"] == "bad") == 3
    assert sum(1 for r in server.requests if r["model"] == "good") == 10  # the same server with another key: its own endpoint
    lines = read_lines(out)
    bad = [line for line in lines if line["model_name"] == "bad"]
    assert len(bad) == 10 and all(line["performance"] is None and line["error"] for line in bad)
    assert sum(1 for line in bad if line["error"].startswith("not sent: ")) == 7
    assert not [line for line in lines if line["model_name"] == "good" and line.get("error")]
    said = capsys.readouterr()
    assert said.out.count("HTTP 401 Unauthorized") == 1 and "models: bad)" in said.out
    assert "pairs failed" in said.err


def test_an_endpoint_that_refuses_connections_is_dropped_after_its_first_answers(tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    endpoint = f"http://127.0.0.1:{dead_port()}/v1"
    argv = ["--queries", queries_file(tmp_path, 8), "--models", "a,b", "--endpoint", endpoint, "--output", out, "--concurrency", "1"]
    assert run([*argv, *FAST_RETRY]) == 1
    lines = read_lines(out)
    assert len(lines) == 16 and all(line["error"] and line["performance"] is None for line in lines)
    assert [line["attempts"] for line in lines] == [4, 4, 4] + [0] * 13  # three tried with their retries, then none
    assert capsys.readouterr().out.count("cannot connect") == 1


def test_an_endpoint_that_answered_once_is_never_dropped(tmp_path, llm_server):
    # The key works for one model, the other is forbidden: every pair is still asked.
    server = llm_server(faults={"forbidden": ["403"] * 99}, default_answer="#### 0")
    out = tmp_path / "out.jsonl"
    argv = ["--queries", queries_file(tmp_path, 6), "--models", "allowed,forbidden", "--endpoint", server.url, "--output", out]
    assert run([*argv, "--concurrency", "1", *FAST_RETRY]) == 1
    assert sum(1 for r in server.requests if r["model"] == "forbidden") == 6
    assert not [line for line in read_lines(out) if line.get("error", "").startswith("not sent")]


def test_exit_status_is_1_while_failed_pairs_remain_and_0_once_all_are_answered(tmp_path, llm_server):
    server = llm_server(faults={"m": ["400"]}, default_answer="#### 0")
    argv = ["--queries", queries_file(tmp_path, 2), "--models", "m", "--endpoint", server.url, "--output", tmp_path / "o.jsonl"]
    assert run([*argv, *FAST_RETRY]) == 1
    assert run([*argv, *FAST_RETRY]) == 0  # the retry answered them: nothing failed remains


def test_placeholder_keys_and_request_headers_are_not_starred_out_of_answers():
    from llm_benchmark import ModelConfig, Redactor

    model = ModelConfig(
        "local",
        endpoint="http://127.0.0.1:8000/v1",
        api_key="EMPTY",
        headers={"Content-Type": "application/json", "X-Priority": "1", "X-Api-Key": "tok-abcdef123456"},
    )
    redact = Redactor(model.secrets())
    answer = "The set is EMPTY; send application/json with 1 item; token tok-abcdef123456"
    assert redact(answer) == "The set is EMPTY; send application/json with 1 item; token ***"


def test_a_scorer_that_raises_leaves_the_pair_unscored_with_its_error_and_the_next_run_scores_it(tmp_path, llm_server, monkeypatch, capsys):
    # The code scorer writes the answer to a temporary folder; here the temporary directory is gone
    # (as when /tmp is removed or unmounted mid-run): the scorer raises FileNotFoundError.
    server = llm_server(default_answer="def f():\n    return 1\n")
    queries = write_jsonl(tmp_path / "q.jsonl", [{"query": "write f", "ground_truth": ["assert f() == 1"], "metric": "code"}])
    out = tmp_path / "out.jsonl"
    argv = ["--queries", queries, "--models", "m", "--endpoint", server.url, "--output", out, "--unsafe-code", *FAST_RETRY]
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-dir"))
    assert run(argv) == 1
    [line] = read_lines(out)
    assert line["performance"] is None and line["failure"] == "setup"  # our side failed: no outcome, not quality 0
    assert line["error"].startswith("scoring failed: FileNotFoundError: ")
    assert "1 pairs failed" in capsys.readouterr().err
    monkeypatch.undo()  # the temporary directory is back: the same command scores the pair
    assert run(argv) == 0
    first, second = read_lines(out)
    assert first == line and second["performance"] == 1.0 and "error" not in second
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--code-timeout", "inf"),
        ("--code-timeout", "nan"),
        ("--code-timeout", "0"),
        ("--timeout", "-1"),
        ("--timeout", "inf"),
        ("--backoff", "nan"),
        ("--max-backoff", "-2"),
        ("--retries", "-1"),
        ("--temperature", "nan"),
        ("--temperature", "-0.5"),
        ("--max-tokens", "0"),
        ("--limit", "0"),
        ("--concurrency", "0"),
    ],
)
def test_numeric_flags_out_of_range_are_refused_before_anything_is_sent(tmp_path, capsys, flag, value):
    """Nothing listens on the endpoint: a refused flag must stop the run before its first request."""
    output = tmp_path / "out.jsonl"
    argv = ["--queries", str(queries_file(tmp_path)), "--models", "m", "--endpoint", "http://127.0.0.1:9/v1", "--output", str(output)]
    assert benchmark.main([*argv, flag, value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {flag} must be") and not output.exists()
