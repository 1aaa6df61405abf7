"""Byte ranges and conditional requests for dataset files (immutable, so their sha256 is a strong ETag).

One range per request (`bytes=a-b`, `bytes=a-`, `bytes=-n`): enough to resume a 2 GB download. A header of
another unit, or with several ranges, is ignored (the whole file, 200), as RFC 9110 allows; a malformed or
unsatisfiable byte range is a 416.
"""

from __future__ import annotations

import re

from app.errors import RangeNotSatisfiable

_SPEC = re.compile(r"([0-9]*)\s*-\s*([0-9]*)", re.ASCII)


def etag_of(sha256: str) -> str:
    return f'"{sha256}"'


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an `If-None-Match` list names `etag` (weak comparison, as RFC 9110 asks for this header).

    >>> etag_matches('W/"ab", "cd"', '"ab"'), etag_matches("*", '"ab"'), etag_matches('"cd"', '"ab"')
    (True, True, False)
    """
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The `(first, last)` byte (inclusive) a `Range` header asks for, or None for the whole file.

    Raises:
        RangeNotSatisfiable: a malformed byte range, or one that starts past the end (416).

    >>> byte_range("bytes=0-99", 1000), byte_range("bytes=900-", 1000), byte_range("bytes=-100", 1000)
    ((0, 99), (900, 999), (900, 999))
    >>> byte_range("bytes=990-2000", 1000), byte_range("items=0-1", 1000), byte_range("bytes=0-1,5-9", 1000)
    ((990, 999), None, None)
    >>> byte_range("bytes=10-", 10)
    Traceback (most recent call last):
    ...
    app.errors.RangeNotSatisfiable: Range bytes=10- starts at or past the end of this 10-byte file; ask for bytes 0-9
    """
    if not header or not header.strip().lower().startswith("bytes="):
        return None
    spec = header.strip()[6:].strip()
    if "," in spec:
        return None
    match = _SPEC.fullmatch(spec)
    first, last = match.groups() if match else ("", "")
    problem = None
    if not (first or last):
        problem = "is not `bytes=FIRST-LAST`, `bytes=FIRST-` or `bytes=-SUFFIX`"
    elif not first:  # the last N bytes
        if int(last) == 0 or size == 0:
            problem = "asks for no bytes"
        else:
            return max(size - int(last), 0), size - 1
    elif int(first) >= size:
        problem = "starts at or past the end of this"
    elif last and int(last) < int(first):
        problem = "ends before it starts in this"
    else:
        return int(first), min(int(last), size - 1) if last else size - 1
    where = f" {size}-byte file" if problem.endswith("this") else ""
    hint = f"ask for bytes 0-{size - 1}" if size else "the file is empty: ask without Range"
    raise RangeNotSatisfiable(f"Range {header.strip()} {problem}{where}; {hint}",
                              headers={"Content-Range": f"bytes */{size}"})
