"""The routes' caches: bounded in entries, least recently used out first, expiring after their TTL."""

from __future__ import annotations

import pytest

from app.caches import BoundedCache, RouteCaches


def test_bound_evicts_the_least_recently_used() -> None:
    cache: BoundedCache[str, int] = BoundedCache(max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert cache.keys() == ["a", "c"] and cache.get("b") is None


def test_ttl_expires_entries() -> None:
    now = [100.0]
    cache: BoundedCache[str, str] = BoundedCache(max_entries=4, ttl_seconds=5, clock=lambda: now[0])
    cache.put("ds_1", "manifest")
    now[0] += 4.9
    assert cache.get("ds_1") == "manifest"
    now[0] += 0.2  # past the TTL: loaded again
    assert cache.get("ds_1") is None
    assert cache.get_or_load("ds_1", lambda: "fresh") == "fresh"


def test_forget_drops_a_deleted_version() -> None:
    caches = RouteCaches()
    caches.manifests.put("ds_1", {"files": {}})
    caches.summaries.put(("ds_1", "2026-01-01T00:00:00+00:00"), b"{}")
    caches.summaries.put(("ds_2", "2026-01-01T00:00:00+00:00"), b"{}")
    caches.forget("ds_1")
    assert caches.manifests.get("ds_1") is None and caches.sample_indexes.get("ds_1") is None
    assert caches.summaries.keys() == [("ds_2", "2026-01-01T00:00:00+00:00")]


def test_a_bound_is_required() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        BoundedCache(0)
