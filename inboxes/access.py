"""Permission-checked lookups. Anything the user cannot see is a 404, never a 403, so other
tenants' ids cannot be probed."""

from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import Http404

from inboxes.models import Membership, Team, User


def get_membership(user: User, organization_id: UUID | str) -> Membership:
    membership = (
        Membership.objects.select_related("organization").filter(user=user, organization_id=organization_id).first()
    )
    if membership is None:
        raise Http404("No such organization.")
    return membership


def get_managed_membership(user: User, organization_id: UUID | str) -> Membership:
    """The user's membership, which must be owner or admin to manage the organization."""
    membership = get_membership(user, organization_id)
    if not membership.can_manage:
        raise PermissionDenied("Only owners and admins can change this.")
    return membership


def get_team_for_member(user: User, team_id: UUID | str) -> Team:
    """A team the user belongs to (active member or observer)."""
    team = Team.objects.filter(id=team_id, memberships__user=user).select_related("organization").first()
    if team is None:
        raise Http404("No such team.")
    return team
