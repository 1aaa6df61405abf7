"""Links the service answers (file URLs, `next`, `Location`, redirects): never built from the Host header.

A link is a path, under `TOOLFORGE_PUBLIC_URL` when the operator sets one; a client resolves a path against
the URL it called. Starlette's trailing-slash redirects are absolute URLs made from the request's Host, so
`RelativeRedirects` rewrites them the same way.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def link(public_url: str, path: str) -> str:
    """`path` under the public URL (or alone when none is set).

    >>> link("", "/v1/datasets/ds_1"), link("https://tf.example.com/api/", "/v1/datasets/ds_1")
    ('/v1/datasets/ds_1', 'https://tf.example.com/api/v1/datasets/ds_1')
    """
    return public_url.rstrip("/") + path


class RelativeRedirects:
    """Rewrites a redirect's absolute `Location` that points back at the request's own Host."""

    def __init__(self, app: ASGIApp, public_url: str):
        self.app = app
        self.public_url = public_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")

        async def rewrite(message: Message) -> None:
            if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
                message["headers"] = [(k, self._relative(v, host) if k.lower() == b"location" else v)
                                      for k, v in message.get("headers", [])]
            await send(message)

        await self.app(scope, receive, rewrite)

    def _relative(self, location: bytes, host: str) -> bytes:
        parts = urlsplit(location.decode("latin-1"))
        if not parts.netloc or parts.netloc != host:
            return location
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return link(self.public_url, path).encode("latin-1")
