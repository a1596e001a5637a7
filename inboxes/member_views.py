"""Settings › Users › a member's profile: who they are and their @mention groups."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST, require_safe

from inboxes.access import get_managed_membership, get_membership
from inboxes.mention_groups import (
    MentionGroupForm,
    do_add_to_mention_group,
    do_remove_from_mention_group,
    groups_of,
)
from inboxes.models import Membership, MentionGroup
from inboxes.pages import settings_context
from inboxes.profiles import profile_context
from missive.htmx import AuthenticatedRequest, render_page


def get_member(acting: Membership, user_id: UUID) -> Membership:
    """A member of the acting person's organization, or 404."""
    return get_object_or_404(
        Membership.objects.select_related("user", "organization"),
        organization_id=acting.organization_id,
        user_id=user_id,
    )


def _render_member(
    request: AuthenticatedRequest, acting: Membership, member: Membership, *, form: MentionGroupForm | None = None
) -> HttpResponse:
    context = settings_context(
        request,
        acting,
        "users",
        member=member,
        groups=groups_of(member.organization_id, [member.user_id])[member.user_id],
        all_groups=MentionGroup.objects.filter(organization_id=member.organization_id),
        form=form or MentionGroupForm(organization_id=member.organization_id),
        **profile_context(acting, member),
    )
    return render_page(request, "inboxes/settings/member.html", context, partials={"mention-groups": "mention_groups"})


@require_safe
@login_required
def member_settings(request: AuthenticatedRequest, org_id: UUID, user_id: UUID) -> HttpResponse:
    """One member's profile and @mention groups."""
    acting = get_membership(request.user, org_id)
    return _render_member(request, acting, get_member(acting, user_id))


@require_POST
@login_required
def add_mention_group(request: AuthenticatedRequest, org_id: UUID, user_id: UUID) -> HttpResponse:
    """Put the member in an @mention group (created if new)."""
    acting = get_managed_membership(request.user, org_id)
    member = get_member(acting, user_id)
    form = MentionGroupForm(request.POST, organization_id=member.organization_id)
    if form.is_valid():
        try:
            group = do_add_to_mention_group(member, name=form.cleaned_data["group"])
        except ValidationError as error:
            form.add_error("group", error)
        else:
            messages.success(request, f"{member.user.display_name} is now in @{group.name}.")
            if request.htmx:
                return _render_member(request, acting, member)
            return redirect("settings_member", org_id, user_id)
    return _render_member(request, acting, member, form=form)


@require_POST
@login_required
def remove_mention_group(request: AuthenticatedRequest, org_id: UUID, user_id: UUID, group_id: UUID) -> HttpResponse:
    """Take the member out of an @mention group."""
    acting = get_managed_membership(request.user, org_id)
    member = get_member(acting, user_id)
    group = get_object_or_404(MentionGroup, organization_id=acting.organization_id, id=group_id)
    do_remove_from_mention_group(member, group)
    messages.success(request, f"{member.user.display_name} left @{group.name}.")
    if request.htmx:
        return _render_member(request, acting, member)
    return redirect("settings_member", org_id, user_id)
