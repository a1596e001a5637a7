"""Opening chat rooms. The rooms themselves open in the Rooms mailbox like any conversation
(/m/rooms/<id>/); only a 1-1 room needs a view of its own, as it is created on first opening."""

from __future__ import annotations

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HttpResponseLocation

from conversations.rooms import do_open_direct_room, room_url
from inboxes.access import get_membership
from inboxes.models import Membership
from missive.htmx import AuthenticatedRequest


@require_POST
@login_required
def open_direct_room(request: AuthenticatedRequest, org_id: UUID, user_id: UUID) -> HttpResponse:
    """Open the 1-1 room with a coworker (their avatar in the sidebar), creating it the first time."""
    membership = get_membership(request.user, org_id)
    coworker = (
        Membership.objects.filter(organization_id=org_id, user_id=user_id)
        .exclude(user=request.user)
        .select_related("user")
        .first()
    )
    if coworker is None:
        raise Http404("No such coworker.")
    room = do_open_direct_room(membership.organization, acting_user=request.user, coworker=coworker.user)
    url = room_url(room.id)
    if request.htmx:
        return HttpResponseLocation(url, target="#workspace")
    return redirect(url)


@require_safe
@login_required
def coworkers(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """Everyone in the organization to open a 1-1 room with, past the avatars the sidebar shows."""
    membership = get_membership(request.user, org_id)
    people = [
        m.user
        for m in Membership.objects.filter(organization_id=org_id)
        .exclude(user=request.user)
        .select_related("user")
        .order_by("user__name", "user__email")
    ]
    context = {"organization": membership.organization, "people": people}
    return render(request, "conversations/rooms/_coworkers.html", context)
