"""The spec's shared objects (rest-api.md §3), built from our models. Every timestamp is epoch
seconds; every id a lower-case UUID string."""

from __future__ import annotations

from typing import Any

from inboxes.models import Organization, User


def user_json(user: User, *, me: User | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"id": str(user.id), "email": user.email, "name": user.display_name, "avatar_url": None}
    if me is not None:
        data["me"] = user.id == me.id
    return data


def organization_json(organization: Organization) -> dict[str, Any]:
    return {"id": str(organization.id), "name": organization.name}
