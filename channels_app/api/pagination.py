"""The spec's two pagination schemes (rest-api.md §1.9).

Offset pages: `limit` (default 50, at most 200) and `offset`. Time cursors: newest first; `until`
(epoch seconds, inclusive) is the oldest timestamp of the previous page, and a page keeps every
item sharing its last timestamp, so it may hold more than `limit`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

from django.db.models import Model, QuerySet

from channels_app.api.core import ApiError

M = TypeVar("M", bound=Model)
# Past these a value overflows PostgreSQL's bigint or Python's datetime: a 400, not a 500.
MAX_OFFSET = 2**62
MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z


def epoch(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def from_epoch(value: int, *, field: str = "") -> datetime:
    """Epoch seconds as a time; one outside the years 1–9999 is a 400 naming `field`."""
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ApiError(f"'{field or 'timestamp'}' is out of range", field=field) from None


def check_limit(limit: int | None, *, default: int, maximum: int, minimum: int = 1) -> int:
    if limit is None:
        return default
    if limit < minimum:
        raise ApiError(f"min 'limit' value is {minimum}", field="limit")
    if limit > maximum:
        raise ApiError(f"max 'limit' value is {maximum}", field="limit")
    return limit


def offset_page(queryset: QuerySet[M], limit: int | None, offset: int | None) -> list[M]:
    limit = check_limit(limit, default=50, maximum=200)
    if offset is not None and offset < 0:
        raise ApiError("min 'offset' value is 0", field="offset")
    if offset is not None and offset > MAX_OFFSET:
        raise ApiError(f"max 'offset' value is {MAX_OFFSET}", field="offset")
    start = offset or 0
    return list(queryset[start : start + limit])


def time_page(queryset: QuerySet[M], field: str, *, limit: int, until: int | None) -> list[M]:
    """Newest first by `field`; items at or before `until`; the page's last second kept whole."""
    if until is not None and not 0 <= until <= MAX_EPOCH:
        raise ApiError(f"'until' must be between 0 and {MAX_EPOCH}", field="until")
    if until is not None:
        queryset = queryset.filter(**{f"{field}__lt": from_epoch(until + 1, field="until")})
    items = list(queryset.order_by(f"-{field}", "-pk")[:limit])
    if len(items) < limit:
        return items
    last = getattr(items[-1], field)
    second = last.replace(microsecond=0)
    seen: set[UUID] = {item.pk for item in items}
    rest = queryset.filter(**{f"{field}__gte": second, f"{field}__lte": last}).order_by(f"-{field}", "-pk")
    return items + [item for item in rest if item.pk not in seen]
