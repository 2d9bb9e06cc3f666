"""Benchmark LLMs behind OpenAI-compatible endpoints: config, requests with retries, resume, summary.

benchmark.py is the command line over `run_benchmark`. The policy, stated once:
- at most `concurrency` requests in flight in total, one connection pool per endpoint;
- each attempt has `timeout` seconds; connection errors, timeouts, dropped connections, malformed
  JSON, 429 and 5xx are retried up to `retries` times with exponential backoff and full jitter
  (base `backoff` seconds, capped at `max_backoff`), and a Retry-After header is honoured;
  any other 4xx is final; an error object in a 200 reply is handled like its own status;
- a pair that still fails is written with `error`, `failure` (whose failure it is:
  data_loader.failure_kind) and `performance: null`, and is retried by the next run of the same
  command; a pair that succeeded is never re-sent; an answer the judge could not grade is
  judged again, the model not asked;
- only the final answer is scored (scoring.read_reply): the reasoning trace is kept apart, and
  `finish_reason` is recorded on every line.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import re
import ssl
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import certifi
import yaml

from data_loader import DataError, bad_lines_message, failure_kind, iter_jsonl_lines, parse_query_line
from errors import ToolkitError
from judge import judge_messages, parse_rating, rating_to_score
from scoring import Reply, canonical_metric, read_reply, score

DEFAULT_ENDPOINT = "http://localhost:8000/v1"
POOL_SHARD = 8
# What the judge adds to a line (metric judge): kept apart from the answering model's fields.
JUDGE_FIELDS = (
    "judge_model",
    "judge_rating",
    "judge_error",
    "judge_verdict",
    "judge_prompt_tokens",
    "judge_completion_tokens",
    "judge_cost",
)
MODEL_FIELDS = (
    "model_name",
    "performance",
    "response_time",
    "response",
    "error",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "attempts",
    "total_tokens",
    "finish_reason",
    "reasoning",
    "reasoning_chars",
    "reasoning_tokens",
    "answer_status",
    "failure",
    *JUDGE_FIELDS,
    "prompt",  # derived from the query and its choices each run (`user_message`)
)
REASONING_CAP = 16_000  # characters of a reasoning trace kept in the output: its end, where it concludes


class ConfigError(ToolkitError, ValueError):
    pass


# Keys that local OpenAI-compatible servers accept as "no key" (vLLM and llama.cpp docs use EMPTY,
# Ollama's docs use ollama): configured, but not credentials.
PLACEHOLDER_KEYS = frozenset(
    {"empty", "none", "null", "dummy", "ollama", "no-key", "nokey", "sk-no-key-required", "not-needed", "lm-studio"}
)
NON_SECRET_HEADERS = frozenset(
    {"content-type", "accept", "accept-encoding", "accept-language", "user-agent", "connection", "cache-control"}
)


@dataclass
class ModelConfig:
    name: str
    endpoint: str = DEFAULT_ENDPOINT
    api_key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    max_tokens: int | None = None
    temperature: float | None = None
    api_model: str | None = None  # the id sent to the API, when it differs from `name`
    price_input_per_million: float | None = None
    price_output_per_million: float | None = None
    endpoint_secrets: list[str] = field(default_factory=list)  # values of ${VAR}s written into the endpoint

    def secrets(self) -> list[str]:
        """Every configured value that may be a credential: the API key, header values, a password
        in the endpoint URL and environment values put into it (a key in its query string).

        Not secrets, so never starred out of answers: the placeholder keys local servers take
        (`EMPTY`, `ollama`, ...), values shorter than 4 characters (an `X-Priority: 1` header would
        otherwise star every digit 1 of every answer) and the values of headers that describe the
        request (`Content-Type`, `Accept`, `User-Agent`, ...)."""
        headers = [v for k, v in self.headers.items() if k.lower() not in NON_SECRET_HEADERS]
        values = [self.api_key, urllib.parse.urlsplit(self.endpoint).password, *self.endpoint_secrets] + headers
        out = []
        for v in values:
            if v and len(v) >= 4 and v.lower() not in PLACEHOLDER_KEYS:
                out.append(v)
                out.extend(part for part in v.split() if len(part) >= 6)  # "Bearer <token>" -> the token too
        return out


def check_header_values(models: list[ModelConfig]) -> None:
    """API keys and header values must be printable ASCII: anything else (a pasted newline, a
    non-ASCII character) makes httpx raise with the value in its message. Said here, before any
    request, naming the model and the field but never the value."""
    for m in models:
        fields = [("api_key", m.api_key)] + [(f"headers.{k}", v) for k, v in m.headers.items()]
        for name, value in fields:
            bad = [c for c in value or "" if not " " <= c <= "~"]
            if bad:
                what = (
                    "a newline"
                    if "\n" in bad or "\r" in bad
                    else "a control character"
                    if any(ord(c) < 32 or ord(c) == 127 for c in bad)
                    else "a non-ASCII character"
                )
                raise ConfigError(
                    f"model {m.name}: {name} contains {what}; HTTP headers allow printable ASCII only (check for a pasted line break)"
                )


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(value, where: str):
    """Expand ${VAR} anywhere in strings, recursively; an unset variable is an error naming it."""
    if isinstance(value, str):

        def sub(match):
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(f"{where}: environment variable {name} is not set")
            return os.environ[name]

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: expand_env(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


_MODEL_KEYS = {
    "name",
    "endpoint",
    "api_key",
    "headers",
    "max_tokens",
    "temperature",
    "model",
    "price_input_per_million",
    "price_output_per_million",
}


def _model_config(raw, where: str) -> ModelConfig:
    """One `models:` entry (or the `judge:` entry) of models.yaml, checked and ${VAR}-expanded."""
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise ConfigError(f"{where}: each model needs a 'name' string")
    unknown = set(raw) - _MODEL_KEYS
    if unknown:
        raise ConfigError(f"{where} ({raw['name']}): unknown field(s) {', '.join(sorted(unknown))}")
    raw = expand_env(raw, f"{where} ({raw['name']})")
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict):
        raise ConfigError(f"{where}: 'headers' must be a mapping")
    try:
        return ModelConfig(
            name=raw["name"],
            endpoint=str(raw.get("endpoint") or DEFAULT_ENDPOINT),
            api_key=raw.get("api_key") or None,
            headers={str(k): str(v) for k, v in headers.items()},
            max_tokens=None if raw.get("max_tokens") is None else int(raw["max_tokens"]),
            temperature=None if raw.get("temperature") is None else float(raw["temperature"]),
            api_model=raw.get("model"),
            price_input_per_million=None if raw.get("price_input_per_million") is None else float(raw["price_input_per_million"]),
            price_output_per_million=None if raw.get("price_output_per_million") is None else float(raw["price_output_per_million"]),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where} ({raw['name']}): {exc}") from None


def load_judge_config(path: str | Path) -> ModelConfig | None:
    """The `judge:` entry of models.yaml (the same fields as a model), or None when there is none."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None  # load_model_config reads the same file first and says what is wrong with it
    if not isinstance(data, dict) or data.get("judge") is None:
        return None
    return _model_config(data["judge"], f"{path}: judge")


def load_model_config(path: str | Path) -> list[ModelConfig]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list) or not data["models"]:
        raise ConfigError(f"{path}: expected a top-level 'models:' list")
    models = [_model_config(raw, f"{path}: models[{i}]") for i, raw in enumerate(data["models"])]
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: duplicate model names")
    for raw, model in zip(data["models"], models):  # environment values written into an endpoint: a key in its URL
        model.endpoint_secrets = [os.environ[v] for v in _VAR.findall(str(raw.get("endpoint") or "")) if os.environ.get(v)]
    return models


@dataclass
class Query:
    query: str
    fields: dict  # everything from the input line except model fields, passed through
    line_number: int


def load_queries(path: str | Path, limit: int | None = None) -> tuple[list[Query], dict]:
    """Queries from JSONL. Existing training data is accepted: model fields are dropped and queries
    deduplicated (first occurrence wins). Every bad line is listed, by number, before anything runs."""
    path = Path(path)
    queries, seen, problems = [], set(), []
    stats = {"lines": 0, "duplicates": 0}
    try:
        lines = list(iter_jsonl_lines(path))
    except DataError as exc:
        raise ConfigError(str(exc)) from None
    for line_number, raw in lines:
        stats["lines"] += 1
        obj, problem = parse_query_line(raw, line_number)
        if problem:
            problems.append(problem)
            continue
        try:
            canonical_metric(obj.get("metric"))
        except ValueError as exc:
            problems.append(f"line {line_number}: field 'metric': {exc}")
            continue
        if obj.get("choices") is not None and not isinstance(obj["choices"], list):
            problems.append(f"line {line_number}: field 'choices' must be a list")
            continue
        if obj["query"] in seen:
            stats["duplicates"] += 1
            continue
        seen.add(obj["query"])
        fields = {k: v for k, v in obj.items() if k not in MODEL_FIELDS and k != "query"}
        queries.append(Query(obj["query"], fields, line_number))
    if problems:
        raise ConfigError(bad_lines_message(path, problems, "nothing was sent"))
    if not queries:
        raise ConfigError(f"{path}: no queries")
    if limit is not None:
        queries = queries[:limit]
    return queries, stats


def user_message(q: Query) -> str:
    """The user message sent for a query: the query, with its choices appended when they are stored
    apart. Recorded as `prompt`: it is the text the router will embed and classify."""
    content = q.query
    choices = q.fields.get("choices")
    if choices and not all(str(c) in q.query for c in choices):
        content += "\n\n" + "\n".join(f"{chr(65 + i)}. {c}" for i, c in enumerate(choices))
    return content


def build_messages(q: Query, concise: bool) -> list[dict]:
    content = user_message(q)
    messages = []
    if concise:
        metric = canonical_metric(q.fields.get("metric"))
        instruction = {
            "multiple_choice": "Answer with the letter of the correct option only.",
            "number": "Give the final numeric answer after '####'.",
            "math": "Put the final answer in \\boxed{}.",
            "code": "Reply with one Python code block only.",
        }.get(metric, "Answer concisely, with the answer only.")
        messages.append({"role": "system", "content": instruction})
    messages.append({"role": "user", "content": content})
    return messages


class Redactor:
    """Removes every secret (API keys, header values) from text before it is written or printed."""

    def __init__(self, secrets):
        # Each secret also as the escaped forms an error message may quote it in: httpx rejects a
        # header holding a newline or non-ASCII text with "Illegal header value b'Bearer <key>'".
        variants = set()
        for s in secrets:
            if s:
                variants.update(
                    {
                        s,
                        repr(s)[1:-1],
                        repr(s.encode("utf-8", "surrogatepass"))[2:-1],
                        json.dumps(s)[1:-1],
                        urllib.parse.quote(s, safe=""),
                    }
                )
        self.secrets = sorted((v for v in variants if v), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def record(self, value):
        """`value` (an output record: dicts, lists, strings, numbers) with every string, keys
        included, redacted: answers, reasoning and errors alike, whatever fields a record grows."""
        if not self.secrets:
            return value
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self(k) if isinstance(k, str) else k: self.record(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.record(v) for v in value]
        return value


@dataclass
class RetryPolicy:
    timeout: float = 120.0
    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 120.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        return random.uniform(0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def answer_text(content) -> str | None:
    """A message's content as text. Servers send a string, null, or (newer APIs) a list of parts;
    anything else (a number, an object) is kept as its JSON text rather than crashing a scorer."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") if isinstance(p, dict) else p for p in content]
        return "".join(p if isinstance(p, str) else json.dumps(p) for p in parts if p is not None)
    return json.dumps(content)


def token_count(value) -> int | None:
    """A usage count we can price: a non-negative integer (or its decimal string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and 0 <= value < 10**12 else None


# ErrorReply and RetryableError are control flow inside post_json (caught there, never reaching a main):
# plain Exceptions, not errors.ToolkitError, so a main's `except ToolkitError` can never swallow one.
class ErrorReply(Exception):
    """An error object in a 200 reply (`{"object": "error", ...}` from vLLM, `{"error": {...}}`
    from OpenAI-style gateways): handled like the same body under its own HTTP status."""

    # Error types without a numeric code, by the status their APIs send them with.
    STATUS_BY_TYPE = {
        "badrequesterror": 400,
        "invalid_request_error": 400,
        "authenticationerror": 401,
        "authentication_error": 401,
        "permissiondeniederror": 403,
        "permission_error": 403,
        "notfounderror": 404,
        "not_found_error": 404,
        "model_not_found": 404,
        "ratelimiterror": 429,
        "rate_limit_error": 429,
        "rate_limit_exceeded": 429,
        "insufficient_quota": 429,
        "internalservererror": 500,
        "server_error": 500,
        "api_error": 500,
        "overloaded_error": 503,
        "serviceunavailableerror": 503,
        "timeout": 504,
    }

    def __init__(self, body: dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        message = inner.get("message") if isinstance(inner.get("message"), str) else None
        if message is None and isinstance(body.get("error"), str):
            message = body["error"]
        self.message = (message or json.dumps(body)[:200])[:300]
        self.status = None
        for key in ("code", "status", "status_code"):
            code = inner.get(key)
            if isinstance(code, str) and code.isdigit():
                code = int(code)
            if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
                self.status = code
                break
        if self.status is None:
            for key in ("type", "code"):
                kind = inner.get(key)
                if isinstance(kind, str) and kind.lower() in self.STATUS_BY_TYPE:
                    self.status = self.STATUS_BY_TYPE[kind.lower()]
                    break
        super().__init__(self.message)

    @staticmethod
    def present(body) -> bool:
        return isinstance(body, dict) and (body.get("object") == "error" or ("error" in body and body["error"] and not body.get("choices")))


class RetryableError(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class CallResult:
    response: str | None
    seconds: float | None  # wall time of the successful attempt
    attempts: int
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    endpoint_failure: str | None = None  # set when the failure says no request to this endpoint can succeed
    error: str | None = None
    reasoning: str | None = None  # the server's reasoning field (reasoning_content / reasoning), or thinking parts
    finish_reason: str | None = None
    reasoning_tokens: int | None = None


@dataclass
class PostResult:
    value: object  # what `parse` returned; None on failure
    seconds: float | None  # wall time of the successful attempt
    attempts: int
    error: str | None = None
    status: int | None = None  # the HTTP status of a final (non-retried) failure
    unreachable: bool = False  # the last attempt could not connect (refused, unknown host, connect timeout)


async def post_json(client, url: str, payload: bytes, headers: dict, policy: RetryPolicy, parse, redact=None) -> PostResult:
    """POST `payload` until `parse(decoded JSON body)` succeeds, under `policy` (see the module
    docstring). `parse` raising ValueError, KeyError, IndexError, TypeError or AttributeError means
    a malformed answer, retried like a 5xx. An error object in a 200 reply is handled like its
    body under its own status (`ErrorReply`): 429/5xx retried, anything else final, the server's
    message kept. Errors are passed through `redact` before anyone sees them."""
    import httpx

    redact = redact or (lambda text: text)
    attempt, last_error, unreachable = 0, "no attempt", False
    while attempt <= policy.retries:
        attempt += 1
        started = time.perf_counter()
        unreachable = False
        try:
            response = await client.post(url, content=payload, headers=headers, timeout=policy.timeout)
            elapsed = time.perf_counter() - started
            if response.status_code == 429 or response.status_code >= 500:
                raise RetryableError(f"HTTP {response.status_code}", parse_retry_after(response.headers.get("retry-after")))
            if response.status_code >= 400:
                body = response.content[:200].decode("utf-8", "replace")
                return PostResult(None, None, attempt, redact(f"HTTP {response.status_code}: {body}"), response.status_code)
            try:
                body = json.loads(response.content)
                if ErrorReply.present(body):
                    raise ErrorReply(body)
                value = parse(body)
            except ErrorReply as exc:
                # An unknown status is final: retrying a "model does not exist" costs four requests.
                status = exc.status or 400
                message = f"error object in a {response.status_code} reply (HTTP {status}): {exc.message}"
                if status == 429 or status >= 500:
                    raise RetryableError(message) from None
                return PostResult(None, None, attempt, redact(message), status)
            except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
                raise RetryableError(f"malformed response ({type(exc).__name__})") from None
            return PostResult(value, elapsed, attempt)
        except RetryableError as exc:
            last_error, retry_after = str(exc), exc.retry_after
        except httpx.TimeoutException as exc:
            last_error, retry_after = f"timeout after {policy.timeout:g}s ({type(exc).__name__})", None
            unreachable = isinstance(exc, httpx.ConnectTimeout)
        except httpx.TransportError as exc:
            last_error, retry_after = f"{type(exc).__name__}: {exc}", None
            unreachable = isinstance(exc, httpx.ConnectError)
        if attempt <= policy.retries:
            await asyncio.sleep(policy.delay(attempt, retry_after))
    return PostResult(None, None, attempt, redact(f"gave up after {attempt} attempts: {last_error}"), unreachable=unreachable)


_REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking")  # DeepSeek / SGLang, vLLM / OpenRouter / Ollama, others
_REASONING_PART_TYPES = {"thinking", "reasoning", "reasoning_content"}  # Magistral-style content parts


def _reasoning_text(value) -> str | None:
    if isinstance(value, list):  # parts, possibly nested: [{"type": "text", "text": ...}]
        return "".join(_reasoning_text(v) or "" for v in value) or None
    if isinstance(value, dict):
        for key in ("text", "thinking", "reasoning", "content"):
            if key in value:
                return _reasoning_text(value[key])
        return None
    return answer_text(value)


def _parse_chat_completion(data) -> CallResult:
    """One chat completion. A choice without `message` (a model that spent its budget reasoning)
    is an answered, empty reply with its token counts, not a malformed one."""
    choice = data["choices"][0]
    if not isinstance(choice, dict):
        raise TypeError("choice is not an object")
    message = choice.get("message")
    message = message if isinstance(message, dict) else {}
    content = message.get("content")
    # The first field present: servers that send two (vLLM's reasoning_content beside reasoning) send the same text.
    reasoning = [_reasoning_text(message[key]) for key in _REASONING_FIELDS if message.get(key)][:1]
    if isinstance(content, list):
        thinking = [p for p in content if isinstance(p, dict) and p.get("type") in _REASONING_PART_TYPES]
        reasoning += [_reasoning_text(p) for p in thinking]
        content = [p for p in content if not (isinstance(p, dict) and p.get("type") in _REASONING_PART_TYPES)]
    text = answer_text(content)
    if text is None:
        text = answer_text(choice.get("text")) or ""
    finish = choice.get("finish_reason")
    usage = data.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("completion_tokens_details")
    reasoning_tokens = token_count(details.get("reasoning_tokens")) if isinstance(details, dict) else None
    if reasoning_tokens is None:
        reasoning_tokens = token_count(usage.get("reasoning_tokens"))
    return CallResult(
        text,
        None,
        0,
        token_count(usage.get("prompt_tokens")),
        token_count(usage.get("completion_tokens")),
        reasoning="\n\n".join(r for r in reasoning if r) or None,
        finish_reason=finish[:40] if isinstance(finish, str) else None,
        reasoning_tokens=reasoning_tokens,
    )


async def call_model(
    client, model: ModelConfig, messages: list[dict], max_tokens: int, temperature: float, policy: RetryPolicy, redact: Redactor
) -> CallResult:
    headers = {"Content-Type": "application/json", **model.headers}
    if model.api_key:
        headers.setdefault("Authorization", f"Bearer {model.api_key}")
    body = {"model": model.api_model or model.name, "messages": messages, "max_tokens": max_tokens, "temperature": temperature}
    url = model.endpoint.rstrip("/") + "/chat/completions"
    payload = json.dumps(body).encode()  # once, not per attempt; httpx's own json= path costs more CPU
    posted = await post_json(client, url, payload, headers, policy, _parse_chat_completion, redact)
    if posted.error is not None:
        return CallResult(None, None, posted.attempts, error=posted.error, endpoint_failure=endpoint_failure(posted))
    result = posted.value
    result.seconds, result.attempts = posted.seconds, posted.attempts
    return result


# Final answers that say every request to an endpoint (with these credentials) will fail alike.
ENDPOINT_FAILURES = {
    401: "HTTP 401 Unauthorized: the API key is wrong or missing",
    403: "HTTP 403 Forbidden: the API key is not allowed to use it",
    407: "HTTP 407 Proxy Authentication Required: the proxy refuses these credentials",
}
UNREACHABLE = "cannot connect (connection refused, unknown host or connect timeout): is the server running at this address?"
FAIL_FAST_AFTER = 3


def endpoint_failure(posted: PostResult) -> str | None:
    """Why no request to this endpoint can succeed, when this failed request says so; else None."""
    if posted.status in ENDPOINT_FAILURES:
        return ENDPOINT_FAILURES[posted.status]
    return UNREACHABLE if posted.unreachable else None


class EndpointGate:
    """Fail fast per endpoint: when the first `after` answers of an endpoint (its URL with its
    credentials: two keys on one server are two endpoints) all say that no request can succeed
    (401, 403, 407, or no connection after the retries), nothing more is sent to it; `log` says
    why, once. One answer of any other kind proves the endpoint, and it is never closed after that."""

    def __init__(self, log, models: list[ModelConfig], after: int = FAIL_FAST_AFTER):
        self.log, self.models, self.after = log, models, after
        self.failures: dict[tuple, list[str]] = {}
        self.proven: set[tuple] = set()
        self.closed: dict[tuple, str] = {}

    @staticmethod
    def key(model: ModelConfig) -> tuple:
        return (model.endpoint.rstrip("/"), model.api_key, tuple(sorted(model.headers.items())))

    def closed_reason(self, model: ModelConfig) -> str | None:
        return self.closed.get(self.key(model))

    async def send(self, call, client, model: ModelConfig, *args) -> CallResult:
        """`await call(client, model, *args)`, observed; a failure `not sent: <why>` when the model's
        endpoint is closed."""
        closed = self.closed_reason(model)
        if closed is not None:
            return CallResult(None, None, 0, error=f"not sent: {closed}")
        result = await call(client, model, *args)
        self.observe(model, result)
        return result

    def observe(self, model: ModelConfig, result: CallResult) -> None:
        key = self.key(model)
        if key in self.proven or key in self.closed:
            return
        if result.endpoint_failure is None:
            self.proven.add(key)
            return
        seen = self.failures.setdefault(key, [])
        seen.append(result.endpoint_failure)
        if len(seen) >= self.after:
            reasons = sorted(set(seen))
            self.closed[key] = (
                f"endpoint {model.endpoint} stopped after its first {len(seen)} answers: {'; '.join(reasons)}"
                if len(reasons) > 1
                else f"endpoint {model.endpoint} stopped after its first {len(seen)} answers were all {reasons[0]}"
            )
            names = ", ".join(m.name for m in self.models if self.key(m) == key)
            self.log(
                f"error: {self.closed[key]}. No more requests go to it (models: {names}); "
                "their pairs are recorded as failed: fix it and run the same command again."
            )


def _parse_output_line(raw: bytes) -> dict | None:
    try:
        obj = json.loads(raw.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError included
        return None
    return obj if isinstance(obj, dict) and isinstance(obj.get("query"), str) and isinstance(obj.get("model_name"), str) else None


@dataclass
class ResumeState:
    done: set[tuple[str, str]] = field(default_factory=set)
    failed: int = 0
    bad_lines: list[int] = field(default_factory=list)  # line numbers left in place, not counted as done
    torn_line: int | None = None  # a cut-off last line, moved to the side file
    side_file: Path | None = None
    rejudge: dict[tuple[str, str], dict] = field(default_factory=dict)  # answered, but the judge failed: judge again only


def read_completed(output: Path) -> ResumeState:
    """Pairs already answered in `output` (lines without `error`).

    A last line without its newline is kept when it parses (the run died between the line and
    its newline) and completed with one; when it does not parse (killed mid-write), it is moved,
    byte for byte, to `<output>.torn` and reported. Other lines that do not parse are reported by
    number and left where they are; their pairs are asked again."""
    state = ResumeState()
    if not output.exists():
        return state
    data = output.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        tail = data[cut:]
        if _parse_output_line(tail) is not None:
            with output.open("ab") as handle:
                handle.write(b"\n")
            data += b"\n"
        else:
            state.torn_line = data.count(b"\n") + 1
            state.side_file = output.with_name(output.name + ".torn")
            with state.side_file.open("ab") as side:
                side.write(tail + b"\n")
                side.flush()
                os.fsync(side.fileno())  # the bytes are safe elsewhere before we cut them here
            with output.open("r+b") as handle:
                handle.truncate(cut)
            data = data[:cut]
    for line_number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        obj = _parse_output_line(raw)
        if obj is None:
            state.bad_lines.append(line_number)
        elif obj.get("error"):
            state.failed += 1
        elif obj.get("judge_error"):
            state.rejudge[(obj["query"], obj["model_name"])] = obj
        else:
            state.done.add((obj["query"], obj["model_name"]))
            state.rejudge.pop((obj["query"], obj["model_name"]), None)
    return state


@dataclass
class BenchmarkSettings:
    concurrency: int = 4
    max_tokens: int | None = None  # None: the model's own, else 1024
    temperature: float | None = None  # None: the model's own, else 0.0
    concise: bool = False
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    progress: bool = True
    code_timeout: float = 10.0
    unsafe_code: bool = False  # run code answers unisolated (only when bubblewrap cannot run)
    judge: ModelConfig | None = None  # the LLM judge of `metric: judge` queries (judge.py)


@dataclass
class ModelSummary:
    count: int = 0
    errors: int = 0
    unscored: int = 0
    qualities: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    attempts: int = 0
    cost: float = 0.0
    has_cost: bool = False
    truncated: int = 0  # answers cut at the token budget (finish_reason "length")
    from_reasoning: int = 0  # empty answers scored from their finished trace (the README's rule)
    no_final_answer: int = 0  # traces that never reached an answer, scored 0
    failures_counted: int = 0  # failed calls that count as quality 0 (data_loader.failure_kind "model")
    judge_failed: int = 0  # answers the judge could not grade (unscored until judged again)
    judge_cost: float = 0.0  # what judging this model's answers cost: the judge's, not the model's


def _cost(model: ModelConfig, result: CallResult) -> float | None:
    if model.price_input_per_million is None and model.price_output_per_million is None:
        return None
    if result.prompt_tokens is None or result.completion_tokens is None:
        return None
    return (
        result.prompt_tokens * (model.price_input_per_million or 0.0) + result.completion_tokens * (model.price_output_per_million or 0.0)
    ) / 1e6


async def _call_now(fn, *args):
    return fn(*args)


def output_record(q: Query, m: ModelConfig, result: CallResult, quality: float | None, reply: Reply | None = None) -> dict:
    """One output line: the pair, the answer and its score (or the error), tokens, cost, and the
    query's own fields passed through. A failure has `error`, `failure` ("model": counted as
    quality 0 in training, "setup": no outcome; data_loader.failure_kind) and `performance: null`.

    An answer's `response` is its final answer, with any reasoning trace moved to `reasoning`
    (its last REASONING_CAP characters; `reasoning_chars` is the full length); `answer_status`
    says how it was read (scoring.Reply) and `finish_reason` is the server's ("length": cut off
    at the token budget, scored as it stands). `prompt` is the user message exactly as sent."""
    record = {"query": q.query, "prompt": user_message(q), "model_name": m.name, "response": result.response}
    if result.error is None:
        record["performance"] = quality
        record["response_time"] = round(result.seconds, 6)
        record["finish_reason"] = result.finish_reason
        if reply is not None:
            record["response"] = reply.final
            record["answer_status"] = reply.status
            if reply.trace:
                record["reasoning"] = reply.trace[-REASONING_CAP:]
                record["reasoning_chars"] = len(reply.trace)
        if result.reasoning_tokens is not None:
            record["reasoning_tokens"] = result.reasoning_tokens
    else:
        record.update(performance=None, response_time=None, error=result.error, failure=failure_kind(result.error))
    record.update(attempts=result.attempts, prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens)
    cost = _cost(m, result)
    if cost is not None:
        record["cost"] = cost
    for key, value in q.fields.items():
        record.setdefault(key, value)
    return record


def record_line(record: dict) -> str:
    """One JSONL line. Text a server sent may hold a lone surrogate, which UTF-8 cannot encode:
    such a line is written with ASCII escapes (valid JSON, read back to the same text)."""
    line = json.dumps(record, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(record, ensure_ascii=True)
    return line + "\n"


JUDGE_VERDICT_CAP = 4000  # characters of the judge's reply kept in the output


async def judge_answer(client, judge: ModelConfig, q: Query, answer: str, policy: RetryPolicy, redact) -> tuple[float | None, dict]:
    """(score in [0, 1] or None on a judge failure, the judge_* fields of the output line).

    The judge's tokens and cost are its own fields, never added to the answering model's. A failed
    call or a reply without a valid `[[rating]]` sets `judge_error`: the pair stays unscored and the
    next run of the same command asks the judge again (not the model)."""
    truth = q.fields.get("ground_truth")
    reference = None if truth is None else truth if isinstance(truth, str) else json.dumps(truth, ensure_ascii=False)
    headers = {"Content-Type": "application/json", **judge.headers}
    if judge.api_key:
        headers.setdefault("Authorization", f"Bearer {judge.api_key}")
    messages = judge_messages(q.query, answer, reference)
    body = {
        "model": judge.api_model or judge.name,
        "messages": messages,
        "max_tokens": judge.max_tokens or 2048,
        "temperature": judge.temperature if judge.temperature is not None else 0.0,
    }
    url = judge.endpoint.rstrip("/") + "/chat/completions"
    posted = await post_json(client, url, json.dumps(body).encode(), headers, policy, _parse_chat_completion, redact)
    fields: dict = {"judge_model": judge.name}
    if posted.error is not None:
        fields["judge_error"] = posted.error
        return None, fields
    result = posted.value
    verdict = read_reply(result.response, result.reasoning, result.finish_reason).final  # a reasoning judge's trace is not its verdict
    fields.update(judge_verdict=redact(verdict[-JUDGE_VERDICT_CAP:]), judge_prompt_tokens=result.prompt_tokens)
    fields["judge_completion_tokens"] = result.completion_tokens
    cost = _cost(judge, result)
    if cost is not None:
        fields["judge_cost"] = cost
    rating = parse_rating(verdict, quoted_from=messages[-1]["content"])  # nothing copied from the prompt counts
    if rating is None:
        fields["judge_error"] = "no verdict in the judge's reply: expected one [[rating]] from 1 to 10"
        return None, fields
    fields["judge_rating"] = rating
    return rating_to_score(rating), fields


async def _run(queries: list[Query], models: list[ModelConfig], output: Path, settings: BenchmarkSettings, log) -> None:
    """Ask every (query, model) pair not yet answered in `output` and append one line per pair:
    check the configuration, plan the pairs left, open the clients, send them all, close."""
    configured = models + ([settings.judge] if settings.judge else [])
    check_header_values(configured)
    redact = Redactor(s for m in configured for s in m.secrets())
    resume = read_completed(output)
    log = _redacted_log(log, redact)
    gate = EndpointGate(log, models)
    _warn_of_unread_lines(output, resume, log)
    has_judge = _check_judge_configured(queries, settings)
    jobs = _plan_pairs(queries, models, output, resume, log)
    if not jobs:
        return
    n_workers = min(settings.concurrency, len(jobs))
    clients, n_shards = _open_clients(models + ([settings.judge] if settings.judge is not None and has_judge else []), n_workers, settings)
    queue: asyncio.Queue = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    bar = None
    if settings.progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc="requests", unit="req")
    output.parent.mkdir(parents=True, exist_ok=True)

    with output.open("a", encoding="utf-8") as output_file:
        sink = RedactingSink(output_file, redact)  # answers are scored as sent, written redacted
        sender = _PairSender(settings, redact, gate, clients, n_shards, sink, bar)
        try:
            await asyncio.gather(*(sender.work(queue, i) for i in range(n_workers)))
        finally:
            await sender.close()


def _warn_of_unread_lines(output: Path, resume: ResumeState, log) -> None:
    """Say which lines of `output` the resume could not read (a torn last line, lines that are not
    records): their pairs are asked again."""
    if resume.torn_line is not None:
        log(f"warning: {output}, line {resume.torn_line}: cut off mid-write (a killed run); moved to {resume.side_file}, pair asked again")
    if resume.bad_lines:
        shown = ", ".join(map(str, resume.bad_lines[:10])) + (" ..." if len(resume.bad_lines) > 10 else "")
        log(f"warning: {output}: {len(resume.bad_lines)} line(s) are not output records (lines {shown}): left in place, pairs asked again")


def _check_judge_configured(queries: list[Query], settings: BenchmarkSettings) -> bool:
    """Whether any query is graded by the judge; ConfigError when one is and no judge is configured."""
    has_judge = any(canonical_metric(q.fields.get("metric")) == "judge" for q in queries)
    if has_judge and settings.judge is None:
        raise ConfigError(
            "queries use metric 'judge' but no judge is configured: "
            "give --judge-model (and --judge-endpoint) or a judge: entry in models.yaml"
        )
    return has_judge


def _plan_pairs(queries: list[Query], models: list[ModelConfig], output: Path, resume: ResumeState, log) -> list[tuple]:
    """The (query, model, earlier line or None) jobs left: every pair not answered yet, in query
    order; `earlier` is the answered line whose judge failed (judged again, the model not asked)."""
    jobs = [(q, m, resume.rejudge.get((q.query, m.name))) for q in queries for m in models if (q.query, m.name) not in resume.done]
    skipped = len(queries) * len(models) - len(jobs)
    rejudged = sum(1 for job in jobs if job[2] is not None)
    if skipped or resume.failed or rejudged:
        log(
            f"Resuming {output}: {skipped} pairs already done, {resume.failed} earlier failures to retry, {rejudged} answers to judge again"
        )
    return jobs


def _open_clients(models: list[ModelConfig], n_workers: int, settings: BenchmarkSettings) -> tuple[dict[str, list], int]:
    """({endpoint: its shards of httpx.AsyncClient}, number of shards per endpoint) for `n_workers` workers."""
    import httpx

    # One connection pool per endpoint, split into shards of at most POOL_SHARD connections:
    # httpcore matches queued requests to connections in time quadratic in the pool size, which
    # at 128 connections costs more CPU than the requests themselves. Worker i uses shard i.
    n_shards = -(-n_workers // POOL_SHARD)
    per_shard = -(-n_workers // n_shards)
    limits = httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard)
    # One TLS context for every client: building one per client (loading the CA bundle) costs
    # ~50 ms each, which is startup time a short run feels.
    tls = ssl.create_default_context(cafile=certifi.where())
    clients: dict[str, list] = {}
    for m in models:
        if m.endpoint not in clients:
            clients[m.endpoint] = [httpx.AsyncClient(limits=limits, timeout=settings.policy.timeout, verify=tls) for _ in range(n_shards)]
    return clients, n_shards


@dataclass
class _PairSender:
    """What the workers share: each takes the next job from the queue, asks the model (or only the
    judge again), scores the answer and writes its line, until the queue is empty."""

    settings: BenchmarkSettings
    redact: Redactor
    gate: EndpointGate
    clients: dict[str, list]
    n_shards: int
    sink: RedactingSink
    bar: object | None  # tqdm progress bar

    def client(self, model: ModelConfig, index: int):
        return self.clients[model.endpoint][index % self.n_shards]

    async def work(self, queue: asyncio.Queue, index: int) -> None:
        while True:
            try:
                q, m, earlier = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if earlier is not None:  # answered before, the judge failed: judge again, the model is not asked
                record = await self.judge_again(index, q, earlier)
            else:
                record = await self.answer(index, q, m)
            self.sink.write(record_line(record))
            self.sink.flush()  # line by line: a crash or Ctrl-C loses nothing already answered
            if self.bar is not None:
                self.bar.update(1)

    async def judge_again(self, index: int, q: Query, earlier: dict) -> dict:
        """The earlier line with the judge's new fields in place of its failed ones."""
        judge = self.settings.judge
        quality, fields = await judge_answer(
            self.client(judge, index), judge, q, earlier.get("response") or "", self.settings.policy, self.redact
        )
        record = {k: v for k, v in earlier.items() if k not in JUDGE_FIELDS}
        record.update(performance=quality, **fields)
        return record

    async def answer(self, index: int, q: Query, m: ModelConfig) -> dict:
        """Ask model `m` query `q` (through the endpoint gate) and score its reply: the output line."""
        settings = self.settings
        max_tokens = settings.max_tokens if settings.max_tokens is not None else (m.max_tokens or 1024)
        temperature = settings.temperature if settings.temperature is not None else (m.temperature if m.temperature is not None else 0.0)
        result = await self.gate.send(
            call_model,
            self.client(m, index),
            m,
            build_messages(q, settings.concise),
            max_tokens,
            temperature,
            settings.policy,
            self.redact,
        )
        reply = read_reply(result.response, result.reasoning, result.finish_reason) if result.error is None else None
        quality, judge_fields = (None, {}) if reply is None else await self.grade(index, q, result, reply)
        record = output_record(q, m, result, quality, reply)
        record.update(judge_fields)
        return record

    async def grade(self, index: int, q: Query, result: CallResult, reply: Reply) -> tuple[float | None, dict]:
        """(quality or None, the judge's fields): by the judge for `metric: judge`, else by the
        query's metric against its ground truth (None without one). A scorer that raises makes
        `result.error`, that pair's failure."""
        truth, metric = q.fields.get("ground_truth"), q.fields.get("metric")
        if canonical_metric(metric) == "judge":
            if not reply.scored_text:
                return 0.0, {}  # no final answer to grade
            judge = self.settings.judge  # a reference is optional: the judge grades open questions without one
            return await judge_answer(self.client(judge, index), judge, q, reply.scored_text, self.settings.policy, self.redact)
        if truth is None:
            return None, {}
        # Code runs in a subprocess that may take seconds: off the event loop.
        scorer = asyncio.to_thread if canonical_metric(metric) == "code" else _call_now
        try:
            quality = await scorer(
                score, reply.scored_text, truth, metric, q.fields.get("choices"), self.settings.code_timeout, self.settings.unsafe_code
            )
        except Exception as exc:  # an answer no scorer foresaw: that pair's error, not the run's end
            result.error = self.redact(f"scoring failed: {type(exc).__name__}: {exc}")[:500]
            return None, {}
        return quality, {}

    async def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        for shards in self.clients.values():
            for client in shards:
                await client.aclose()


class RedactingSink:
    """The output file as the benchmark writes it: every line (one JSON record) is written with
    every string in it redacted (`Redactor.record`), whichever code built the record."""

    def __init__(self, handle, redact: Redactor):
        self.handle, self.redact = handle, redact

    def write(self, line: str) -> None:
        if self.redact.secrets:
            line = record_line(self.redact.record(json.loads(line)))
        self.handle.write(line)

    def flush(self) -> None:
        self.handle.flush()


def _redacted_log(log, redact: Redactor):
    return lambda text: log(redact(text))


def run_benchmark(
    queries: list[Query], models: list[ModelConfig], output: str | Path, settings: BenchmarkSettings, log=print
) -> dict[str, "ModelSummary"]:
    """Run every missing (query, model) pair, appending to `output`; return the summary of the file."""
    asyncio.run(_run(queries, models, Path(output), settings, log))
    return summarise_output(output, [m.name for m in models])


def summarise_output(output: str | Path, model_names: list[str]) -> dict[str, "ModelSummary"]:
    """Per-model summary of the whole output file, resumed runs included: for each pair its last
    line counts (a success after a failure is a success)."""
    latest: dict[tuple[str, str], dict] = {}
    with open(output, "rb") as handle:
        lines = [obj for obj in map(_parse_output_line, handle) if obj is not None]  # bad lines: reported at the start
    for obj in lines:
        key = (obj["query"], obj["model_name"])
        if not (obj.get("error") and key in latest and not latest[key].get("error")):
            latest[key] = obj
    summaries = {name: ModelSummary() for name in model_names}
    for (_, name), obj in latest.items():
        s = summaries.setdefault(name, ModelSummary())
        s.count += 1
        s.attempts += int(obj.get("attempts") or 0)
        if obj.get("error"):
            s.errors += 1
            s.failures_counted += (obj.get("failure") or failure_kind(obj["error"])) == "model"
            continue
        s.judge_failed += bool(obj.get("judge_error"))
        s.judge_cost += float(obj.get("judge_cost") or 0.0)
        s.truncated += obj.get("finish_reason") == "length"
        s.from_reasoning += obj.get("answer_status") == "from_reasoning"
        s.no_final_answer += obj.get("answer_status") == "no_final_answer"
        s.times.append(float(obj["response_time"]))
        if obj.get("performance") is None:
            s.unscored += 1
        else:
            s.qualities.append(float(obj["performance"]))
        if obj.get("cost") is not None:
            s.cost += float(obj["cost"])
            s.has_cost = True
    return summaries


def format_summary(summaries: dict[str, ModelSummary]) -> str:
    import numpy as np

    width = max([5] + [len(n) for n in summaries]) + 2
    lines = [f"{'Model':<{width}}{'Count':>7}{'Quality':>9}{'Mean time':>11}{'p95 time':>10}{'Errors':>8}{'Unscored':>10}{'Cost USD':>11}"]
    for name, s in summaries.items():
        quality = f"{np.mean(s.qualities):.3f}" if s.qualities else "n/a"
        mean_t = f"{np.mean(s.times):.2f}s" if s.times else "n/a"
        p95 = f"{np.percentile(s.times, 95):.2f}s" if s.times else "n/a"
        cost = f"{s.cost:.4f}" if s.has_cost else "n/a"
        lines.append(f"{name:<{width}}{s.count:>7}{quality:>9}{mean_t:>11}{p95:>10}{s.errors:>8}{s.unscored:>10}{cost:>11}")
    for name, s in summaries.items():
        if s.truncated:
            lines.append(
                f"{name}: {s.truncated} answers cut at the token budget (finish_reason length), scored as they stand: raise --max-tokens"
            )
        if s.from_reasoning:
            lines.append(f"{name}: {s.from_reasoning} empty answers scored from the last paragraph of their finished reasoning")
        if s.no_final_answer:
            lines.append(f"{name}: {s.no_final_answer} replies whose reasoning never reached an answer (scored 0)")
        if s.judge_failed:
            lines.append(f"{name}: {s.judge_failed} answers the judge could not grade (judge_error, unscored): run again to judge them")
        if s.judge_cost:
            lines.append(f"{name}: judging its answers cost {s.judge_cost:.4f} USD (the judge's tokens, not counted in Cost USD)")
        if s.errors:
            lines.append(
                f"{name}: {s.errors} failed calls: {s.failures_counted} count against the model in training (quality 0), "
                f"{s.errors - s.failures_counted} are ours to fix (no outcome)"
            )
    return "\n".join(lines)
