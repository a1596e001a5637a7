"""What the batch endpoints share: comma-separated ids in the path, one body item per id, and
our actions' refusals turned into the spec's error naming the item's field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, TypeVar
from uuid import UUID

from django.core.exceptions import ValidationError
from pydantic import AfterValidator

from channels_app.api.core import ApiError

T = TypeVar("T")


def no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL: refused here, with the field's name, instead of a 500.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# A string of a request body.
Text = Annotated[str, AfterValidator(no_nul)]


def parse_ids(value: str, *, field: str = "id") -> list[UUID]:
    """Comma-separated UUIDs from a path; a malformed one is a 400 naming the field."""
    ids = []
    for part in value.split(","):
        try:
            ids.append(UUID(part.strip()))
        except ValueError:
            raise ApiError(f"'{field}' must be one or more UUIDs separated by commas", field=field) from None
    return list(dict.fromkeys(ids))


def items_for_ids(ids: list[UUID], items: Sequence[T], *, envelope: str) -> list[tuple[UUID, T, int]]:
    """Each body item with its `id`, which must be one of the path's ids, and every id covered."""
    pairs = []
    for index, item in enumerate(items):
        item_id = getattr(item, "id", None)
        if item_id is None or item_id not in ids:
            field = f"{envelope}.{index}.id"
            raise ApiError(f"'{field}' must be one of the ids in the path", field=field)
        pairs.append((item_id, item, index))
    if {pair[0] for pair in pairs} != set(ids):
        raise ApiError(f"'{envelope}' needs one item per id in the path", field=envelope)
    return pairs


def refused(exc: ValidationError, prefix: str, *, default_field: str = "") -> ApiError:
    """An action's ValidationError (keyed by field or not) as a 400 naming `prefix.field`."""
    field = default_field
    if hasattr(exc, "error_dict"):
        field, errors = next(iter(exc.error_dict.items()))
        message = " ".join(str(message) for error in errors for message in error.messages)
    else:
        message = " ".join(exc.messages)
    name = f"{prefix}.{field}" if field else prefix
    return ApiError(message, field=name)
