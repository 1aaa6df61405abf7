"""Strict JSON request bodies for routes whose body is a document kept as sent (tool schemas).

Python's `json.loads`, which FastAPI uses, keeps the last of duplicate keys and accepts `NaN` and
`Infinity`. A tool schema with two `"type"` keys would then be stored as something its author never
saw, and `NaN` cannot be stored in PostgreSQL's JSONB. Routes of a router built with
`route_class=StrictJSONRoute` refuse both with a 422 that names the problem.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from generators.registry import reject_duplicate_keys


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON; send a number or null")


def loads_strict(text: str) -> Any:
    """Parse JSON refusing duplicate keys and NaN/Infinity.

    Args:
        text: the JSON text.

    Returns:
        The parsed value.

    Raises:
        json.JSONDecodeError: malformed JSON, or a duplicate key or non-finite number (position 0).

    >>> loads_strict('{"a": 1, "a": 2}')
    Traceback (most recent call last):
    ...
    json.decoder.JSONDecodeError: duplicate key 'a' in one object; keep one: line 1 column 1 (char 0)
    """
    try:
        return json.loads(text, object_pairs_hook=reject_duplicate_keys, parse_constant=_no_constant)
    except json.JSONDecodeError:
        raise
    except ValueError as exc:
        # A JSONDecodeError is what FastAPI turns into a 422 (any other error becomes a bare 400).
        raise json.JSONDecodeError(str(exc), text, 0) from exc


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads_strict((await self.body()).decode("utf-8"))
        return self._json


class StrictJSONRoute(APIRoute):
    """An APIRoute whose JSON body is parsed by `loads_strict`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict
