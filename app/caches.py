"""Caches the routes share, behind one typed dependency (``CachesDep``), each bounded in entries.

Ready dataset versions are immutable, so their manifests and sample indexes can be kept; the manifest's
TTL bounds how long another replica may still serve a version deleted elsewhere.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Request

from app.services.sample_index import Rows, SampleIndex

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A thread-safe least-recently-used cache of at most `max_entries`, entries optionally expiring.

    Args:
        max_entries: the bound; the least recently used entry goes first.
        ttl_seconds: how long an entry is served (None: until evicted or discarded).
        clock: the monotonic clock (tests).

    >>> cache = BoundedCache[str, int](max_entries=2)
    >>> [cache.get_or_load(k, lambda: len(k)) for k in ("a", "bb", "a", "ccc")]
    [1, 2, 1, 3]
    >>> sorted(cache.keys())  # "bb" was the least recently used
    ['a', 'ccc']
    """

    def __init__(self, max_entries: int, ttl_seconds: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.max_entries, self.ttl_seconds, self._clock = max_entries, ttl_seconds, clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The cached value, or None when absent or expired."""
        with self._lock:
            hit = self._entries.get(key)
            if hit is None:
                return None
            if self.ttl_seconds is not None and hit[0] <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return hit[1]

    def put(self, key: K, value: V) -> None:
        """Store `value`, evicting the least recently used entry past the bound."""
        expires = self._clock() + self.ttl_seconds if self.ttl_seconds is not None else float("inf")
        with self._lock:
            self._entries[key] = (expires, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get_or_load(self, key: K, load: Callable[[], V]) -> V:
        """The cached value, or `load()`'s, stored (two concurrent misses may both load; the last one stays)."""
        value = self.get(key)
        if value is None:
            value = load()
            self.put(key, value)
        return value

    def discard(self, key: K) -> None:
        """Forget `key` (absent is fine)."""
        with self._lock:
            self._entries.pop(key, None)

    def keys(self) -> list[K]:
        with self._lock:
            return list(self._entries)


READY_CACHE_SECONDS = 5.0


@dataclass
class RouteCaches:
    """What the dataset routes keep between requests, per ready version."""

    manifests: BoundedCache[str, dict[str, Any]] = field(
        default_factory=lambda: BoundedCache(256, ttl_seconds=READY_CACHE_SECONDS))
    sample_indexes: BoundedCache[str, SampleIndex] = field(default_factory=lambda: BoundedCache(32))
    # A local samples file's sha256 -> its bytes, memory-mapped (content-addressed: never changes).
    sample_rows: BoundedCache[str, Rows] = field(default_factory=lambda: BoundedCache(32))
    # (id, ready_at) -> the version's list row, encoded (`datasets_service.list_summaries`).
    summaries: BoundedCache[tuple[str, str], bytes] = field(default_factory=lambda: BoundedCache(1024))

    def forget(self, dataset_id: str) -> None:
        """Drop everything kept for a version (it was deleted)."""
        self.manifests.discard(dataset_id)
        self.sample_indexes.discard(dataset_id)
        for key in [k for k in self.summaries.keys() if k[0] == dataset_id]:
            self.summaries.discard(key)


async def get_caches(request: Request) -> RouteCaches:  # async: no worker-thread hop
    return request.app.state.caches


CachesDep = Annotated[RouteCaches, Depends(get_caches)]
