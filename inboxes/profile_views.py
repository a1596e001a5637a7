"""Settings › Users › a person › Profile: the fields signatures read (custom fields, phones,
avatar). Members edit their own; owners and admins anyone's (403 otherwise)."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from inboxes.access import get_membership
from inboxes.member_views import get_member
from inboxes.pages import settings_context
from inboxes.profiles import clean_profile, do_update_member_profile, may_edit_profile, profile_context
from missive.htmx import AuthenticatedRequest, render_page


@require_POST
@login_required
def update_member_profile(request: AuthenticatedRequest, org_id: UUID, user_id: UUID) -> HttpResponse:
    """Save the profile's custom fields, phone numbers and avatar URL, or show what is wrong."""
    acting = get_membership(request.user, org_id)
    member = get_member(acting, user_id)
    if not may_edit_profile(acting, member):
        raise PermissionDenied("Only owners and admins can edit other people's profiles.")
    profile, errors = clean_profile(request.POST)
    if not errors:
        do_update_member_profile(member, profile=profile)
        messages.success(request, "Profile saved.")
        if not request.htmx:
            return redirect("settings_member", org_id, user_id)
        member.refresh_from_db()
    context = settings_context(
        request,
        acting,
        "users",
        member=member,
        profile_errors=errors,
        **profile_context(acting, member, profile if errors else None),
    )
    return render_page(request, "inboxes/settings/_member_profile.html", context, status=400 if errors else 200)
