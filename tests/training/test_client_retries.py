"""The service client retries refused connections and 5xx answers; the worker waits out an outage."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import httpx
import pytest

from training.client import RetryTransport, ServiceClient, ServiceError
from training.worker.loop import StopSignal, WorkerOptions, run_worker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Script:
    """A MockTransport handler answering a list of statuses (or raising ConnectError for None), then 200."""

    def __init__(self, *answers: int | None):
        self.answers = list(answers)
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.method)
        answer = self.answers.pop(0) if self.answers else 200
        if answer is None:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(answer, json={"type": "x", "detail": f"status {answer}"})


def _http(script: Script, attempts: int = 4) -> tuple[httpx.Client, list[float]]:
    waits: list[float] = []
    transport = RetryTransport(httpx.MockTransport(script), attempts=attempts, backoff=0.5, sleep=waits.append)
    return httpx.Client(base_url="http://svc", transport=transport), waits


@pytest.mark.parametrize(("method", "answers", "status", "tries"), [
    # refused twice, then served: retried for any method, the answer is the service's
    ("POST", (None, None), 200, 3),
    # a gateway answering 503/502 has not handled the POST: retried
    ("POST", (503, 502), 200, 3),
    # a 500 to a POST may have been handled: not retried
    ("POST", (500,), 500, 1),
    # a 500 to a GET is retried
    ("GET", (500, 500), 200, 3),
    # a client error is the caller's to fix: never retried
    ("GET", (404,), 404, 1),
    # still failing after every try: the last answer comes back
    ("GET", (503, 503, 503, 503), 503, 4),
])
def test_retry_transport_table(method, answers, status, tries):
    script = Script(*answers)
    http, waits = _http(script)
    assert http.request(method, "/x", json={"a": 1}).status_code == status
    assert len(script.calls) == tries
    assert waits == [0.5, 1.0, 2.0][: tries - 1]  # exponential backoff


def test_a_one_shot_stream_is_not_sent_twice():
    # a generator body is consumed by the first try; a 503 then comes back as it is
    script = Script(503)
    http, waits = _http(script)
    assert http.post("/x", content=iter([b"abc"])).status_code == 503
    assert len(script.calls) == 1 and waits == []


def test_refused_connection_on_a_real_port_becomes_a_transient_service_error():
    client = ServiceClient(f"http://127.0.0.1:{_free_port()}", "tf_key", retries=2, backoff=0.01)
    with pytest.raises(ServiceError) as info:
        client.claim("w")
    assert info.value.status is None and info.value.transient


def test_a_4xx_is_not_transient():
    client = ServiceClient("http://svc", "tf_key", transport=httpx.MockTransport(Script(401)), retries=3)
    with pytest.raises(ServiceError) as info:
        client.claim("w")
    assert info.value.status == 401 and not info.value.transient


def _opts(tmp_path: Path, idle: float) -> WorkerOptions:
    return WorkerOptions(url="http://svc", api_key="tf_key", artifacts=str(tmp_path / "a"), work_dir=tmp_path / "w",
                         state_dir=tmp_path / "s", poll_wait=0.05, once=True, idle_timeout=idle)


def _feed(script: Script):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/events":
            return httpx.Response(200, json={"data": [], "count": 0, "next_cursor": 0})
        response = script(request)
        return httpx.Response(204) if response.status_code == 200 else response
    return handler


def test_worker_waits_for_the_service_to_come_back(tmp_path, caplog):
    # two refused claims (the service is restarting), then an empty queue: the worker keeps going
    caplog.set_level(logging.INFO, logger="toolforge.worker")
    script = Script(None, None)
    client = ServiceClient("http://svc", "k", transport=httpx.MockTransport(_feed(script)), retries=1)
    assert run_worker(_opts(tmp_path, idle=4.0), client=client, stop=StopSignal()) == 0
    assert len(script.calls) >= 3
    assert "service reachable again after 2 failed attempt(s)" in caplog.text


def test_worker_gives_up_after_its_idle_timeout_when_never_reached(tmp_path, caplog):
    client = ServiceClient(f"http://127.0.0.1:{_free_port()}", "k", retries=1)
    assert run_worker(_opts(tmp_path, idle=1.0), client=client, stop=StopSignal()) == 1
    assert "could not reach the service" in caplog.text


def test_worker_stops_at_once_on_a_refused_key(tmp_path, caplog):
    script = Script(403)
    client = ServiceClient("http://svc", "k", transport=httpx.MockTransport(_feed(script)), retries=3)
    assert run_worker(_opts(tmp_path, idle=30.0), client=client, stop=StopSignal()) == 1
    assert len(script.calls) == 1 and "refused the worker" in caplog.text
