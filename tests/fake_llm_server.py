"""A loopback OpenAI-compatible chat-completions server with scripted latency and faults.

It speaks real HTTP/1.1 (keep-alive, Content-Length) on 127.0.0.1, so benchmark.py is tested
through httpx exactly as it talks to vLLM or Ollama. Behaviour per (model, user message):
`faults[model]` is a list of behaviours for successive attempts ("429", "500", "400", "timeout",
"malformed", "drop", "ok"); after the list, "ok". Answers come from `answers[model][query]`, else
`default_answer`; `overrides[model]` replaces the content or usage with any JSON value, merges
`message_extra` into the message (reasoning fields), replaces `message` (None: no message),
`finish_reason`, or the whole `body` (an error object in a 200 reply).
`POST .../embeddings` answers as OpenAI's (and vLLM's) embeddings API: one vector per `input`
text, `embedding_width` values, deterministic per text and deliberately not unit length (a
client that normalises is caught); `faults[model]` applies to it too.

    python tests/fake_llm_server.py --port 8765 --latency 0.1     # standalone, for the speed script
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
from collections import defaultdict


class FakeLLMServer:
    def __init__(
        self,
        latency: float = 0.0,
        answers: dict | None = None,
        faults: dict | None = None,
        default_answer: str = "I am not sure.",
        retry_after: str = "0",
        hang_seconds: float = 30.0,
        overrides: dict | None = None,
        responders: dict | None = None,
        embedding_width: int = 8,
    ):
        self.embedding_width = embedding_width
        self.latency = latency
        self.answers = answers or {}
        self.faults = faults or {}
        self.default_answer = default_answer
        self.retry_after = retry_after
        self.hang_seconds = hang_seconds
        # overrides[model] = {"content": <any JSON value>, "usage": <any JSON value>}: hostile payloads
        self.overrides = overrides or {}
        # responders[model](user message) -> answer text: a scripted judge that reads the prompt
        self.responders = responders or {}
        self.attempts: dict[tuple[str, str], int] = defaultdict(int)
        self.requests: list[dict] = []  # {"model", "query", "headers", "body"} per request
        self.in_flight = 0
        self.max_in_flight = 0
        self.port: int | None = None
        self._loop = None
        self._server = None
        self._thread = None

    # --- HTTP -------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                keep_open = await self._respond(method, path, headers, body, writer)
                if not keep_open:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def _send(self, writer, status: int, payload: bytes, extra: dict | None = None, content_type="application/json"):
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error"}[status]
        head = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}", f"Content-Length: {len(payload)}"]
        head += [f"{k}: {v}" for k, v in (extra or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)

    def embedding_of(self, text: str) -> list[float]:
        import hashlib

        seed = hashlib.sha256(text.encode()).digest()
        return [round((seed[i % 32] - 128) / 16.0, 4) for i in range(self.embedding_width)]

    async def _embeddings(self, headers, body, writer) -> bool:
        request = json.loads(body)
        model = request.get("model", "")
        texts = request.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        self.requests.append({"model": model, "query": None, "headers": headers, "body": request})
        attempt = self.attempts[(model, "embeddings")]
        self.attempts[(model, "embeddings")] += 1
        plan = self.faults.get(model, [])
        behaviour = plan[attempt] if attempt < len(plan) else "ok"
        if behaviour in ("429", "500"):
            self._send(writer, int(behaviour), b'{"error":{"message":"scripted"}}', {"Retry-After": self.retry_after})
        elif behaviour == "malformed":
            self._send(writer, 200, b'{"data": [ not json')
        else:
            data = [{"object": "embedding", "index": i, "embedding": self.embedding_of(t)} for i, t in enumerate(texts or [])]
            self._send(writer, 200, json.dumps({"object": "list", "model": model, "data": data}).encode())
        await writer.drain()
        return True

    async def _respond(self, method, path, headers, body, writer) -> bool:
        if method == "POST" and path.rstrip("/").endswith("/embeddings"):
            return await self._embeddings(headers, body, writer)
        if method != "POST" or not path.rstrip("/").endswith("/chat/completions"):
            self._send(writer, 404, b'{"error":"not found"}')
            await writer.drain()
            return True
        request = json.loads(body)
        model = request.get("model", "")
        user = [m["content"] for m in request.get("messages", []) if m.get("role") == "user"]
        query = user[-1] if user else ""
        self.requests.append({"model": model, "query": query, "headers": headers, "body": request})
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(model, query, headers, writer)
        finally:
            self.in_flight -= 1

    async def _answer(self, model, query, headers, writer) -> bool:
        key = (model, query)
        attempt = self.attempts[key]
        self.attempts[key] += 1
        plan = self.faults.get(model, [])
        behaviour = plan[attempt] if attempt < len(plan) else "ok"
        if self.latency:
            await asyncio.sleep(self.latency)
        if behaviour == "429":
            self._send(writer, 429, b'{"error":"rate limited"}', {"Retry-After": self.retry_after})
        elif behaviour == "500":
            self._send(writer, 500, b'{"error":"boom"}')
        elif behaviour == "400":
            # Like some real APIs, echo what was sent: the client must not copy this into its output.
            echo = {"error": "bad request", "authorization": headers.get("authorization"), "x-api-key": headers.get("x-api-key")}
            self._send(writer, 400, json.dumps(echo).encode())
        elif behaviour == "timeout":
            await asyncio.sleep(self.hang_seconds)
            return False
        elif behaviour == "drop":
            return False  # close without a response
        elif behaviour == "malformed":
            self._send(writer, 200, b'{"choices": [ this is not json')
        else:
            if model in self.responders:
                answer = self.responders[model](query)
            else:
                answer = self.answers.get(model, {}).get(query, self.default_answer)
            payload = {
                "id": f"chatcmpl-{attempt}",
                "object": "chat.completion",
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                "usage": {
                    "prompt_tokens": len(query.split()) + 5,
                    "completion_tokens": len(answer.split()),
                    "total_tokens": len(query.split()) + 5 + len(answer.split()),
                },
            }
            override = self.overrides.get(model, {})
            if "content" in override:
                payload["choices"][0]["message"]["content"] = override["content"]
            if "usage" in override:
                payload["usage"] = override["usage"]
            payload["choices"][0]["message"].update(override.get("message_extra", {}))  # reasoning_content, reasoning, ...
            if "message" in override:  # None: a choice without `message`
                if override["message"] is None:
                    del payload["choices"][0]["message"]
                else:
                    payload["choices"][0]["message"] = override["message"]
            if "finish_reason" in override:
                payload["choices"][0]["finish_reason"] = override["finish_reason"]
            if "body" in override:  # the whole reply, e.g. an error object sent with status 200
                payload = override["body"]
            self._send(writer, 200, json.dumps(payload).encode())
        await writer.drain()
        return True

    # --- lifecycle ----------------------------------------------------------------------------

    async def serve(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    def start(self) -> "FakeLLMServer":
        """Serve from a background thread; returns once the port is bound."""
        ready = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.serve())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    async def _shutdown(self) -> None:
        self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--latency", type=float, default=0.1)
    args = p.parse_args()
    server = FakeLLMServer(latency=args.latency, default_answer="42")

    async def forever():
        await server.serve(args.port)
        print(f"listening on {server.url}", flush=True)
        await asyncio.Event().wait()

    try:
        import uvloop  # noqa: F401  (optional: faster loop when installed)

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(forever())


if __name__ == "__main__":
    main()
