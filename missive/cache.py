"""Django's Redis cache, with one connection pool and one client per process.

Django keeps its cache objects in an asgiref Local that is per async context, not per process:
under ASGI each request built its own RedisCache, so its own connection pool, and opened a new
TCP connection to Redis; and each cache call built a new redis.Redis (about 170 reply callbacks).
Here every cache object of the process shares one client per server. redis-py's clients and pools
are thread-safe, and a pool opens fresh connections in a forked child (Celery's workers).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_lock = threading.Lock()
_shared: dict[str, SharedClient] = {}


class SharedClient(RedisCacheClient):
    # Django's own attributes, which django-stubs leaves out.
    _client: Any
    _get_connection_pool_index: Callable[[bool], int]
    _get_connection_pool: Callable[[bool], Any]

    def __init__(self, servers: list[str], **options: Any) -> None:
        super().__init__(servers, **options)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            with _lock:
                if index not in self._clients:
                    self._clients[index] = self._client(connection_pool=self._get_connection_pool(write))
                client = self._clients[index]
        return client


class SharedPoolRedisCache(RedisCache):
    _servers: list[str]
    _options: dict[str, Any]

    @cached_property
    def _cache(self) -> SharedClient:
        key = repr((self._servers, self._options))
        with _lock:
            if key not in _shared:
                _shared[key] = SharedClient(self._servers, **self._options)
            return _shared[key]
