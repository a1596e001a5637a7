"""What every settings page shares, in inboxes and in the other apps' settings pages."""

from __future__ import annotations

from typing import Any

from inboxes.models import Membership
from missive.htmx import AuthenticatedRequest


def settings_context(
    request: AuthenticatedRequest, membership: Membership | None, nav: str, **context: Any
) -> dict[str, Any]:
    """The context every settings page shares: the nav and the organization being viewed."""
    context["nav"] = nav
    context["nav_memberships"] = (
        Membership.objects.filter(user=request.user).select_related("organization").order_by("organization__name")
    )
    if membership is not None:
        context.update(membership=membership, organization=membership.organization, can_manage=membership.can_manage)
    return context
