"""The cache (missive/cache.py): one Redis client and connection pool per process, whatever the
number of cache objects Django builds (one per request context under ASGI)."""

import contextvars

from django.core.cache import caches

from conversations import live


def test_cache_objects_of_one_process_share_one_client():
    first = caches.create_connection("default")
    second = contextvars.Context().run(caches.create_connection, "default")

    assert first is not second
    assert first._cache.get_client() is second._cache.get_client(write=True)
    first.set("shared-cache-test", 41)
    assert second.incr("shared-cache-test") == 42
    second.delete("shared-cache-test")


def _connections_received() -> int:
    return live.client().info("stats")["total_connections_received"]


def test_request_contexts_one_after_another_open_no_new_connection():
    def one_request() -> None:
        caches.create_connection("default").get("shared-cache-test")

    one_request()
    opened = _connections_received()
    for _ in range(20):
        contextvars.Context().run(one_request)

    assert _connections_received() == opened
