"""benchmark.py against a loopback OpenAI-compatible server with scripted latency and faults."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, write_jsonl

import benchmark
from data_loader import build_outcome_table, load_records

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
