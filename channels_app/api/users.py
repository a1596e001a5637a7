"""GET /v1/users and GET /v1/organizations: the caller's organizations and their people."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Router

from channels_app.api.core import api_user
from channels_app.api.pagination import offset_page
from channels_app.api.serializers import organization_json, user_json
from inboxes.access import get_membership
from inboxes.models import Membership, Organization, User

router = Router(tags=["users"])


def member_organization_ids(user: User, organization: UUID | None) -> Any:
    """The caller's organizations, or just `organization` (a 404 when they are not a member)."""
    if organization is not None:
        return [get_membership(user, organization).organization_id]
    return Membership.objects.filter(user=user).values("organization_id")


@router.get("/users")
def list_users(
    request: HttpRequest, organization: UUID | None = None, limit: int | None = None, offset: int | None = None
) -> dict[str, Any]:
    me = api_user(request)
    users = (
        User.objects.filter(memberships__organization_id__in=member_organization_ids(me, organization), is_active=True)
        .distinct()
        .order_by("email")
    )
    return {"users": [user_json(user, me=me) for user in offset_page(users, limit, offset)]}


@router.get("/organizations")
def list_organizations(request: HttpRequest, limit: int | None = None, offset: int | None = None) -> dict[str, Any]:
    me = api_user(request)
    organizations = Organization.objects.filter(memberships__user=me).order_by("name", "id")
    return {"organizations": [organization_json(org) for org in offset_page(organizations, limit, offset)]}
