"""The API's rate limits (rest-api.md §1.8), per token, in Redis: at most N requests at once, per
minute and per 15 minutes. A middleware, so a refused request never reaches the database.

Windows are fixed (the current minute, the current quarter hour), counted with one Lua script
per request. Every /v1 answer carries X-RateLimit-Limit / -Remaining / -Reset of the window closest
to running out; a refused one is a 429 with Retry-After as well.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from channels_app.api.tokens import digest
from conversations.live import client

PATH_PREFIX = "/v1/"
# A concurrency slot a crashed process never gave back lapses after this long.
SLOT_SECONDS = 60

# KEYS: concurrency, minute, quarter. ARGV: concurrency limit, slot ttl, minute ttl, quarter ttl.
# Returns {running, minute count, quarter count}; the slot is only taken when under the limit.
_TAKE = """
local running = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
if running > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return {running, -1, -1}
end
local minute = redis.call('INCR', KEYS[2])
if minute == 1 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
local quarter = redis.call('INCR', KEYS[3])
if quarter == 1 then redis.call('EXPIRE', KEYS[3], ARGV[4]) end
return {running, minute, quarter}
"""


class ApiRateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.take = client().register_script(_TAKE)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _bearer(request) if request.path.startswith(PATH_PREFIX) else ""
        if not token:
            return self.get_response(request)
        key = f"ratelimit:{digest(token)}"
        now = time.time()
        minute_end = math.floor(now / 60) * 60 + 60
        quarter_end = math.floor(now / 900) * 900 + 900
        running, minute, quarter = self.take(
            keys=[f"{key}:running", f"{key}:m:{minute_end}", f"{key}:q:{quarter_end}"],
            args=[settings.API_RATE_LIMIT_CONCURRENT, SLOT_SECONDS, 61, 901],
        )
        if minute < 0:
            return _refused("Too many concurrent requests.", settings.API_RATE_LIMIT_CONCURRENT, 0, int(now) + 1, 1)
        windows = [
            (settings.API_RATE_LIMIT_PER_MINUTE, minute, minute_end),
            (settings.API_RATE_LIMIT_PER_15_MINUTES, quarter, quarter_end),
        ]
        try:
            over = [(limit, reset) for limit, count, reset in windows if count > limit]
            if over:
                limit, reset = max(over, key=lambda window: window[1])
                return _refused("Rate limit exceeded.", limit, 0, reset, max(1, math.ceil(reset - now)))
            limit, count, reset = min(windows, key=lambda window: window[0] - window[1])
            response = self.get_response(request)
            _headers(response, limit, limit - count, reset)
            return response
        finally:
            client().decr(f"{key}:running")


def _bearer(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _headers(response: HttpResponse, limit: int, remaining: int, reset: int) -> None:
    response["X-RateLimit-Limit"] = str(limit)
    response["X-RateLimit-Remaining"] = str(max(remaining, 0))
    response["X-RateLimit-Reset"] = str(reset)


def _refused(message: str, limit: int, remaining: int, reset: int, retry_after: int) -> HttpResponse:
    response = HttpResponse(
        json.dumps({"errors": message, "message": message}), status=429, content_type="application/json"
    )
    response["Retry-After"] = str(retry_after)
    _headers(response, limit, remaining, reset)
    return response
