"""A client that sends its headers and then stalls or trickles the body gets a 408 `{"type", "detail"}` after
TOOLFORGE_BODY_TIMEOUT_S and the connection is closed; a real uvicorn, raw sockets (an HTTP client would
send the whole body)."""

from __future__ import annotations

import json
import socket
import time

import pytest

TIMEOUT_S = 1.0
SERVER_ENV = {"TOOLFORGE_BODY_TIMEOUT_S": str(TIMEOUT_S)}


def _connect(server) -> socket.socket:  # type: ignore[no-untyped-def]
    host, port = server.base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _head(server, length: int, path: str = "/v1/tools") -> bytes:  # type: ignore[no-untyped-def]
    return (f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {server.keys['write']}\r\nContent-Length: {length}\r\n\r\n").encode()


def _read_response(sock: socket.socket, data: bytes = b"") -> tuple[int, dict[str, str], bytes, bool]:
    """Read (after `data`, already received) until the server closes; return status, headers, body and
    whether it closed."""
    closed = False
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            # The server closed while the client was still sending (the trickle test): its kernel answers the
            # late bytes with a reset. The connection is closed all the same.
            closed = True
            break
        if not chunk:
            closed = True
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body, closed


def _assert_timeout(status: int, headers: dict[str, str], body: bytes, closed: bool) -> None:
    assert status == 408, body
    assert headers["content-type"] == "application/json"
    error = json.loads(body)
    assert error["type"] == "request_timeout"
    assert "TOOLFORGE_BODY_TIMEOUT_S" in error["detail"]
    assert closed, "the connection must be closed after a 408"


def test_a_stalled_body_gets_a_408_after_the_timeout(server):
    with _connect(server) as sock:
        sock.sendall(_head(server, 1000) + b'{"name": "half')  # 14 of 1000 bytes, then nothing
        started = time.monotonic()
        response = _read_response(sock)
        waited = time.monotonic() - started
    _assert_timeout(*response)
    assert TIMEOUT_S * 0.9 <= waited < TIMEOUT_S + 3, waited


def test_a_trickled_body_gets_a_408_although_bytes_keep_coming(server):
    # One byte every 0.2 s never pauses long, but the whole body is not in when the timeout ends.
    with _connect(server) as sock:
        sock.sendall(_head(server, 1000))
        sock.settimeout(0.2)
        started = time.monotonic()
        first = b""
        while not first and time.monotonic() - started < TIMEOUT_S + 5:
            try:
                sock.sendall(b" ")
                first = sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        waited = time.monotonic() - started
        sock.settimeout(5)
        response = _read_response(sock, first)
    _assert_timeout(*response)
    assert TIMEOUT_S * 0.9 <= waited < TIMEOUT_S + 3, waited


@pytest.mark.parametrize("pause", [0.0, TIMEOUT_S / 2])
def test_a_whole_body_in_time_is_answered_as_usual(server, pause):
    # Sent in two parts with a pause under the timeout: the ordinary answer (here a 422 for a bad tool).
    payload = b'{"name": "x"}'
    with _connect(server) as sock:
        sock.sendall(_head(server, len(payload)) + payload[:5])
        time.sleep(pause)
        sock.sendall(payload[5:])
        sock.settimeout(5)
        data = sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 422"), data[:200]
    assert server.client.get("/healthz").status_code == 200


def test_an_upload_may_take_longer_than_the_timeout_but_not_pause_longer(server):
    # A derived-version upload (streamed to disk, up to gigabytes) is paced, not deadlined: parts every
    # 0.4 s for 2.5 timeouts keep it alive; then it stalls and gets the 408 naming the pause.
    dataset = server.ready_dataset()
    path = f"/v1/datasets/{dataset['id']}/derived?kind=rollouts&name=slow-upload"
    head = (f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/x-tar\r\n"
            f"Authorization: Bearer {server.keys['worker']}\r\nContent-Length: 100000\r\n\r\n").encode()
    with _connect(server) as sock:
        sock.sendall(head)
        sock.settimeout(0.4)
        started = time.monotonic()
        while time.monotonic() - started < 2.5 * TIMEOUT_S:
            sock.sendall(b"\0" * 100)
            last_part = time.monotonic()
            try:
                early = sock.recv(65536)
            except TimeoutError:
                continue
            pytest.fail(f"answered while the upload was still arriving: {early[:300]!r}")
        sock.settimeout(TIMEOUT_S + 5)
        response = _read_response(sock)
        waited = time.monotonic() - last_part
    _assert_timeout(*response)
    assert "next part of the upload" in json.loads(response[2])["detail"]
    assert TIMEOUT_S * 0.9 <= waited < TIMEOUT_S + 3, waited
