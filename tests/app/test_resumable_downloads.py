"""Downloads through a real server: HEAD, one byte range (206 + Content-Range; 416 for a bad one), and
ETag (the file's sha256) with If-None-Match -> 304 and If-Range."""

from __future__ import annotations

import hashlib

import pytest


@pytest.fixture(scope="module")
def jsonl(server) -> tuple[str, bytes, str]:
    """The samples file of a ready version: its URL, its bytes and its sha256."""
    dataset = server.ready_dataset(n=60)
    entry = next(f for f in dataset["files"] if f["name"] == "samples.jsonl")
    whole = server.client.get(entry["url"])
    assert whole.status_code == 200 and hashlib.sha256(whole.content).hexdigest() == entry["sha256"]
    return entry["url"], whole.content, entry["sha256"]


def test_whole_file_carries_its_etag_and_accepts_ranges(server, jsonl):
    url, body, sha = jsonl
    response = server.client.get(url)
    assert response.headers["etag"] == f'"{sha}"' and response.headers["accept-ranges"] == "bytes"
    assert int(response.headers["content-length"]) == len(body)


def test_head_answers_the_headers_without_the_body(server, jsonl):
    url, body, sha = jsonl
    head = server.client.head(url)
    # before: 405 (GET only)
    assert head.status_code == 200, head.text
    assert head.content == b"" and int(head.headers["content-length"]) == len(body)
    assert head.headers["etag"] == f'"{sha}"' and head.headers["content-type"] == "application/x-ndjson"
    assert server.client.head(url, headers={"Range": "bytes=0-9"}).headers["content-range"] == \
        f"bytes 0-9/{len(body)}"


@pytest.mark.parametrize(("header", "first", "last"), [
    ("bytes=0-99", 0, 99),  # a first chunk
    ("bytes=100-", 100, None),  # resume from byte 100
    ("bytes=-50", -50, None),  # the last 50 bytes
    ("bytes=10-99999999", 10, None),  # a last byte past the end is the end
])
def test_a_range_is_a_206_with_exactly_those_bytes(server, jsonl, header, first, last):
    url, body, _ = jsonl
    response = server.client.get(url, headers={"Range": header})
    expected = body[first:None if last is None else last + 1]
    assert response.status_code == 206, response.text
    assert response.content == expected and int(response.headers["content-length"]) == len(expected)
    start = first if first >= 0 else len(body) + first
    assert response.headers["content-range"] == f"bytes {start}-{start + len(expected) - 1}/{len(body)}"


def test_a_download_resumed_in_chunks_is_the_file(server, jsonl):
    url, body, sha = jsonl
    got, chunk = b"", 4096
    while len(got) < len(body):
        got += server.client.get(url, headers={"Range": f"bytes={len(got)}-{len(got) + chunk - 1}"}).content
    assert hashlib.sha256(got).hexdigest() == sha


@pytest.mark.parametrize("header", [
    "bytes=999999999-",  # starts past the end
    "bytes=50-10",  # ends before it starts
    "bytes=abc",  # not a range
    "bytes=-0",  # no bytes
])
def test_a_bad_range_is_a_416_saying_the_size(server, jsonl, header):
    url, body, _ = jsonl
    response = server.client.get(url, headers={"Range": header})
    assert response.status_code == 416, response.text
    assert response.headers["content-range"] == f"bytes */{len(body)}"
    assert response.json()["type"] == "range_not_satisfiable" and "bytes 0-" in response.json()["detail"]


def test_other_units_and_several_ranges_get_the_whole_file(server, jsonl):
    url, body, _ = jsonl
    for header in ("items=0-5", "bytes=0-5,10-20"):
        response = server.client.get(url, headers={"Range": header})
        assert response.status_code == 200 and response.content == body


def test_if_none_match_with_the_etag_is_a_304(server, jsonl):
    url, _, sha = jsonl
    for held in (f'"{sha}"', f'W/"{sha}"', f'"other", "{sha}"', "*"):
        response = server.client.get(url, headers={"If-None-Match": held})
        # before: 200 with the whole file again
        assert response.status_code == 304 and response.content == b"", held
        assert response.headers["etag"] == f'"{sha}"'
    assert server.client.get(url, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_if_range_honours_the_range_only_for_the_same_file(server, jsonl):
    url, body, sha = jsonl
    same = server.client.get(url, headers={"Range": "bytes=0-9", "If-Range": f'"{sha}"'})
    assert same.status_code == 206 and same.content == body[:10]
    changed = server.client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"something-else"'})
    assert changed.status_code == 200 and changed.content == body
