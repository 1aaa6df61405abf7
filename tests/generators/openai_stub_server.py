"""A scripted OpenAI-compatible chat-completions server on loopback, for the paraphrasing tests.

It is a real HTTP server (stdlib `ThreadingHTTPServer` in a background thread), so the `openai`
backend's connection handling, timeouts and retries are exercised for real, and a generation child
process of the REST service can reach it. What it answers depends on the requested `model`:

- ``stub-good``: every variant keeps the request word for word and adds a greeting or a thank-you;
- ``stub-mixed``: a seeded mix of good variants and bad ones (values dropped, a new number, leaked
  JSON, a preamble), so the verifier has work to do;
- ``stub-bad``: every variant drops the second half of the request and adds a number;
- ``stub-flaky``: like ``stub-good``, but the first attempt of each request gets HTTP 500;
- ``stub-slow``: like ``stub-good``, but the first attempt of each request sleeps `slow_s` first;
- ``stub-down``: always HTTP 503;
- ``stub-garbage``: replies that are neither JSON nor lines of text;
- ``stub-writer``: for a call brief (mode ``write``: a JSON object with ``give``), requests written from
  the brief's values (their ``means`` for choices), with a few words of the task; other texts as
  ``stub-good``;
- ``stub-writer-leaky``: like ``stub-writer``, but every variant copies the task's wording.

Replies are JSON ``{"variants": [...]}`` when the request has ``response_format`` (structured output),
numbered lines otherwise. Variant choice is seeded by the request's ``seed`` and text, so a rerun gives
the same replies. Run it standalone with ``python tests/generators/openai_stub_server.py [PORT]``.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GOOD = (
    lambda t: f"Hi there! {t}",
    lambda t: f"{_end(t)} Thanks a lot!",
    lambda t: f"Could you help me with this? {t}",
    lambda t: f"{_end(t)} Cheers.",
)
BAD = (
    lambda t: " ".join(t.split()[: max(1, len(t.split()) // 2)]),  # drops the second half: values lost
    lambda t: f"{_end(t)} Make it for 977 people.",  # a new number
    lambda t: f'{{"name": "do_it"}} {t}',  # leaked JSON
    lambda t: f"Sure! Here is the rewrite: {t}",  # a preamble
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default backlog of 5 resets connections under concurrency

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out closed its end: expected in the timeout tests, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _end(text: str) -> str:
    text = text.rstrip()
    return text if text[-1:] in ".!?" else text + "."


def _said(value: Any) -> str:
    if isinstance(value, list):
        parts = [_said(v) for v in value]
        return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)
    if isinstance(value, dict):
        return _said(list(value.values()))
    return str(value)


def _written(model: str, brief: dict[str, Any], n: int, rng: random.Random) -> list[str]:
    # A request from the call brief: a few words of the task, then each given value (as it means).
    topic = " ".join(brief["task"].rstrip(".").split()[:3]).lower()
    values = [item.get("means") or _said(item["value"]) for item in brief["give"]]
    said = ", ".join(values[:-1]) + " and " + values[-1] if len(values) > 1 else "".join(values)
    if model == "stub-writer-leaky":
        return [f"Please {brief['task'].rstrip('.').lower()} with {said}.", f"{brief['task']} {said}"][:n]
    with_values = f" with {said}" if said else ""
    forms = [f"hey, can you help me {topic}{with_values}?", f"I want to {topic}{with_values}, thanks",
             f"Could you {topic} for me{with_values}?", f"need to {topic}{with_values}"]
    return rng.sample(forms, min(n, len(forms)))


def _variants(model: str, text: str, n: int, seed: int) -> list[str]:
    rng = random.Random(hashlib.sha256(f"{seed}\0{text}".encode()).digest())
    if model.startswith("stub-writer"):
        try:
            brief = json.loads(text)
        except ValueError:
            brief = None
        if isinstance(brief, dict) and "give" in brief:
            return _written(model, brief, n, rng)
    if model == "stub-bad":
        return [BAD[1](BAD[0](text))] * n
    if model == "stub-mixed":
        makers = [rng.choice(GOOD) if rng.random() < 0.5 else rng.choice(BAD) for _ in range(n)]
    else:
        makers = rng.sample(GOOD, min(n, len(GOOD)))
    return [m(text) for m in makers]


class StubServer:
    """The stub on a free loopback port; use as a context manager.

    Args:
        slow_s: how long a ``stub-slow`` first attempt sleeps.
    """

    def __init__(self, slow_s: float = 2.0):
        self.slow_s = slow_s
        self.requests: list[dict[str, Any]] = []  # every request body, in arrival order
        self.authorizations: set[str] = set()  # every Authorization header received
        self.attempts: Counter[str] = Counter()  # per (model, user text)
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="openai-stub", daemon=True)

    @property
    def base_url(self) -> str:
        """The API root to configure the backend with."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                pass

            def _send(self, status: int, doc: dict[str, Any]) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                with stub._lock:
                    stub.requests.append(body)
                    stub.authorizations.add(self.headers.get("Authorization", ""))
                    stub.in_flight += 1
                    stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
                try:
                    stub._answer(self, body)
                finally:
                    with stub._lock:
                        stub.in_flight -= 1

        return Handler

    def _answer(self, handler: Any, body: dict[str, Any]) -> None:
        model = body.get("model", "")
        text = body["messages"][-1]["content"]
        with self._lock:
            self.attempts[f"{model}\0{text}"] += 1
            attempt = self.attempts[f"{model}\0{text}"]
        if model == "stub-down" or (model == "stub-flaky" and attempt == 1):
            handler._send(503 if model == "stub-down" else 500, {"error": {"message": "scripted failure"}})
            return
        if model == "stub-slow" and attempt == 1:
            time.sleep(self.slow_s)
        structured = "response_format" in body
        schema = body.get("response_format", {}).get("json_schema", {}).get("schema", {})
        n = int(schema.get("properties", {}).get("variants", {}).get("maxItems", 3)) if structured else 3
        variants = _variants(model, text, n, int(body.get("seed") or 0))
        if model == "stub-garbage":
            content = "{{{ not json"
        elif structured:
            content = json.dumps({"variants": variants})
        else:
            content = "\n".join(f"{i + 1}. {v}" for i, v in enumerate(variants))
        words = sum(len(re.findall(r"\S+", m["content"])) for m in body["messages"])
        handler._send(200, {
            "id": "chatcmpl-stub", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": words, "completion_tokens": len(content.split()),
                      "total_tokens": words + len(content.split())},
        })


if __name__ == "__main__":
    stub = StubServer()
    if len(sys.argv) > 1:
        stub._httpd.server_close()
        stub._httpd = _Server(("127.0.0.1", int(sys.argv[1])), stub._handler())
        stub._thread = threading.Thread(target=stub._httpd.serve_forever, daemon=True)
    with stub:
        print(stub.base_url, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
