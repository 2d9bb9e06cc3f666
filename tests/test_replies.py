"""Issue 20: reasoning traces, finish_reason, odd server replies, and failures counted against the
model that caused them; benchmark.py against the loopback OpenAI-compatible server."""

import json

import pytest
from conftest import write_jsonl

import benchmark
from data_loader import Outcome, build_outcome_table, failure_kind, fit_objective, label_queries, load_records

FAST = ["--retries", "3", "--backoff", "0.01", "--max-backoff", "0.05", "--no-progress"]


def one_query(tmp_path, query="How many clips?", truth="72", metric="number"):
    return write_jsonl(tmp_path / "q.jsonl", [{"query": query, "ground_truth": truth, "metric": metric}])


def run_one(tmp_path, server, *extra):
    out = tmp_path / "out.jsonl"
    code = benchmark.main(
        ["--queries", str(one_query(tmp_path)), "--models", "m", "--endpoint", server.url, "--output", str(out), *FAST, *extra]
    )
    return code, [json.loads(line) for line in open(out, encoding="utf-8")]


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_empty_content_with_the_answer_in_the_reasoning_field_is_scored_from_it_and_marked(tmp_path, llm_server, capsys, field):
    trace = "48 / 2 = 24 in May.\n\nAltogether 48 + 24 = 72 clips."
    server = llm_server(overrides={"m": {"content": None, "message_extra": {field: trace}}})
    _, [line] = run_one(tmp_path, server)
    assert line["performance"] == 1.0 and line["answer_status"] == "from_reasoning"
    assert line["reasoning"] == trace and line["reasoning_chars"] == len(trace) and line["response"] == ""
    assert line["finish_reason"] == "stop"
    assert "1 empty answers scored from the last paragraph of their finished reasoning" in capsys.readouterr().out


def test_a_trace_sent_in_two_fields_is_kept_once(tmp_path, llm_server):
    trace = "48 + 24 = 72"
    server = llm_server(overrides={"m": {"content": "#### 72", "message_extra": {"reasoning_content": trace, "reasoning": trace}}})
    _, [line] = run_one(tmp_path, server)
    assert line["reasoning"] == trace and line["performance"] == 1.0


def test_a_reasoning_field_never_counts_as_the_answer_when_there_is_one(tmp_path, llm_server):
    server = llm_server(overrides={"m": {"content": "I think 70.", "message_extra": {"reasoning_content": "#### 72"}}})
    _, [line] = run_one(tmp_path, server)
    assert line["performance"] == 0.0 and line["answer_status"] == "answer" and line["response"] == "I think 70."


def test_inline_trace_is_moved_out_of_the_response_and_capped(tmp_path, llm_server):
    from llm_benchmark import REASONING_CAP

    trace = "x" * (REASONING_CAP + 10) + " 72"
    server = llm_server(
        overrides={"m": {"content": f"<think>{trace}</think>#### 71", "usage": {"completion_tokens_details": {"reasoning_tokens": 900}}}}
    )
    _, [line] = run_one(tmp_path, server)
    assert line["response"] == "#### 71" and line["performance"] == 0.0
    assert len(line["reasoning"]) == REASONING_CAP and line["reasoning"].endswith(" 72") and line["reasoning_chars"] == len(trace)
    assert line["reasoning_tokens"] == 900


def test_a_trace_cut_at_the_budget_is_no_final_answer_and_the_cut_is_counted(tmp_path, llm_server, capsys):
    server = llm_server(overrides={"m": {"content": "<think>48 + 24 = 72", "finish_reason": "length"}})
    code, [line] = run_one(tmp_path, server)
    assert code == 0 and "error" not in line
    assert line["performance"] == 0.0 and line["answer_status"] == "no_final_answer" and line["finish_reason"] == "length"
    out = capsys.readouterr().out
    assert "1 answers cut at the token budget (finish_reason length)" in out and "raise --max-tokens" in out
    assert "1 replies whose reasoning never reached an answer" in out


def test_a_reasoning_field_cut_at_the_budget_with_no_answer_is_no_final_answer(tmp_path, llm_server):
    server = llm_server(overrides={"m": {"content": "", "message_extra": {"reasoning_content": "48 + 24 = 72"}, "finish_reason": "length"}})
    _, [line] = run_one(tmp_path, server)
    assert line["performance"] == 0.0 and line["answer_status"] == "no_final_answer" and line["reasoning"] == "48 + 24 = 72"


def test_a_choice_without_message_is_an_answered_empty_reply_with_its_tokens(tmp_path, llm_server):
    server = llm_server(
        overrides={"m": {"message": None, "finish_reason": "length", "usage": {"prompt_tokens": 7, "completion_tokens": 1024}}}
    )
    _, [line] = run_one(tmp_path, server, "--max-tokens", "1024")
    assert line["attempts"] == 1 and "error" not in line and server.attempts[("m", "How many clips?")] == 1
    assert line["response"] == "" and line["performance"] == 0.0 and line["completion_tokens"] == 1024
    assert line["finish_reason"] == "length" and line["answer_status"] == "empty"


@pytest.mark.parametrize(
    "body, status, retried",
    [
        ({"object": "error", "message": "The model `m` does not exist.", "type": "NotFoundError", "param": None, "code": 404}, 404, False),
        ({"object": "error", "message": "The model `m` does not exist."}, 400, False),  # no status: final, never retried
        ({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}, 400, False),
        ({"error": {"message": "overloaded", "type": "server_error"}}, 500, True),
        ({"error": {"message": "slow down", "code": 429}}, 429, True),
        ({"error": "model 'm' not found, try pulling it first"}, 400, False),  # Ollama: the error is a string
    ],
)
def test_an_error_object_in_a_200_reply_is_handled_like_its_status(tmp_path, llm_server, body, status, retried):
    server = llm_server(overrides={"m": {"body": body}})
    _, [line] = run_one(tmp_path, server)
    message = body.get("message") or (body["error"] if isinstance(body["error"], str) else body["error"]["message"])
    assert line["error"].endswith(f"(HTTP {status}): {message}") and "KeyError" not in line["error"]
    assert line["performance"] is None
    assert server.attempts[("m", "How many clips?")] == (4 if retried else 1)
    assert line["failure"] == ("model" if status >= 500 else "setup")


@pytest.mark.parametrize(
    "error, kind",
    [
        ("gave up after 4 attempts: timeout after 120s (ReadTimeout)", "model"),
        ("gave up after 4 attempts: HTTP 500", "model"),
        ("gave up after 4 attempts: HTTP 503", "model"),
        ("gave up after 4 attempts: malformed response (KeyError)", "model"),
        ("gave up after 4 attempts: RemoteProtocolError: Server disconnected without sending a response.", "model"),
        ("error object in a 200 reply (HTTP 500): overloaded", "model"),
        ("HTTP 408: request timeout", "model"),
        ("gave up after 4 attempts: ConnectError: [Errno 111] Connection refused", "setup"),
        ("gave up after 4 attempts: timeout after 0.5s (ConnectTimeout)", "setup"),  # httpx's ConnectTimeout is a timeout
        ("HTTP 401: invalid key", "setup"),
        ("HTTP 403: forbidden", "setup"),
        ("HTTP 404: model not found", "setup"),
        ("HTTP 400: bad request", "setup"),
        ("gave up after 4 attempts: HTTP 429", "setup"),
        ("error object in a 200 reply (HTTP 404): The model does not exist.", "setup"),
        ("scoring failed: ValueError: x", "setup"),
        ("something nobody wrote", "setup"),
    ],
)
def test_failure_kind(error, kind):
    assert failure_kind(error) == kind


def test_failures_count_against_the_model_that_caused_them(tmp_path, capsys):
    rows = []
    for i in range(10):
        q = f"q{i}"
        # flaky is right whenever it answers but times out on 3 queries in 10; steady is right on 8.
        if i < 3:
            rows.append({"query": q, "model_name": "flaky", "error": "gave up after 4 attempts: timeout after 120s (ReadTimeout)"})
        else:
            rows.append({"query": q, "model_name": "flaky", "performance": 1.0, "response_time": 1.0})
        rows.append({"query": q, "model_name": "steady", "performance": float(i not in (3, 4)), "response_time": 1.0})
        rows.append({"query": q, "model_name": "keyless", "error": "HTTP 401: invalid key"})
    rows.append({"query": "q10", "model_name": "flaky", "error": "gave up after 4 attempts: HTTP 500", "failure": "model"})
    rows.append({"query": "q10", "model_name": "steady", "error": "gave up after 4 attempts: HTTP 503"})
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    records, report = load_records(path)
    table = build_outcome_table(records, report)
    assert table.outcomes_by_query["q0"]["flaky"] == Outcome(0.0, None, None, failed=True)
    assert "keyless" not in table.models  # our side: no outcome at all
    assert report.failures_counted == {"flaky": 4, "steady": 1} and report.failures_excluded == {"keyless": 10}
    assert report.all_failed_queries == 1
    objective = fit_objective(table, 0.9, "latency")
    labels = label_queries(table, objective)
    assert "q10" not in labels.queries  # every model failed: nothing can be learned there
    assert dict(zip(labels.queries, labels.best))["q0"] == "steady"
    assert labels.ranking[0][0] == "steady"  # 8/10 served beats 7/7 served out of 10
    lines = report.summary_lines()
    assert "    flaky: 4 counted as quality 0, 0 left out" in lines and "    keyless: 0 counted as quality 0, 10 left out" in lines


def test_a_failed_call_is_never_best_even_against_a_slow_wrong_answer():
    from data_loader import Objective, best_model

    per_model = {"failed": Outcome(0.0, None, None, failed=True), "slow_wrong": Outcome(0.0, 1000.0, None)}
    for objective in (Objective(0.9, "latency", 1.0), Objective(1.0, "none", 1.0)):
        assert best_model(per_model, objective, {"failed": 0, "slow_wrong": 1}) == "slow_wrong"
        # In every mean (rankings, KNN neighbourhoods) a failure weighs as the worst possible outcome.
        assert objective.score(per_model["failed"]) == 0.0


def test_an_unknown_failure_field_is_a_bad_line(tmp_path):
    from data_loader import DataError, _parse_line

    with pytest.raises(DataError, match="field 'failure' must be one of model, setup, got 'whose'"):
        _parse_line(json.dumps({"query": "q", "model_name": "m", "error": "x", "failure": "whose"}), 1)


def test_train_load_report_gives_both_failure_counts_per_model(tmp_path, capsys):
    import train

    rows = [
        {"query": "q1", "model_name": "a", "performance": 1.0},
        {"query": "q1", "model_name": "b", "error": "gave up after 4 attempts: timeout after 120s (ReadTimeout)"},
        {"query": "q1", "model_name": "c", "error": "HTTP 401: bad key"},
    ]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    # A missing embedding model stops the run right after the load report, before any training.
    train.main(["--data-file", str(path), "--output-dir", str(tmp_path / "out"), "--embedding-model", str(tmp_path / "no-model")])
    out = capsys.readouterr().out
    assert "    b: 1 counted as quality 0, 0 left out" in out and "    c: 0 counted as quality 0, 1 left out" in out
    assert "models: 2" in out  # a (answered) and b (its timeout is an outcome); c has none


def test_every_row_of_the_issue_table_through_benchmark_py(tmp_path, llm_server):
    """The issue's table, each answer sent by the loopback server and scored by benchmark.py."""
    from conformance_table import ROWS

    rows = [row for row in ROWS if row[4].startswith("issue")]
    queries = [{"query": f"question {i}", "ground_truth": truth, "metric": metric} for i, (_, truth, metric, _, _) in enumerate(rows)]
    server = llm_server(answers={"m": {f"question {i}": row[0] for i, row in enumerate(rows)}})
    out = tmp_path / "out.jsonl"
    argv = ["--queries", str(write_jsonl(tmp_path / "q.jsonl", queries)), "--models", "m", "--endpoint", server.url, "--output", str(out)]
    assert benchmark.main([*argv, *FAST]) == 0
    got = {line["query"]: line for line in map(json.loads, open(out, encoding="utf-8"))}
    for i, (_, _, _, expected, note) in enumerate(rows):
        assert got[f"question {i}"]["performance"] == pytest.approx(expected), note
    unclosed = got[f"question {[r[4] for r in rows].index('issue')}"]
    assert unclosed["answer_status"] == "no_final_answer" and unclosed["reasoning"].startswith("sunlight")
