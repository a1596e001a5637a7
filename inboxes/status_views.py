"""Set a status (avatar menu): emoji, message, Out of office with its schedule, and the personal
auto-responder; and Settings › Users › a member › Edit status, where admins set a coworker's
status (without the auto-responder, which belongs to the person's own accounts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from inboxes.access import get_managed_membership, get_membership
from inboxes.member_views import get_member
from inboxes.models import AutoResponderAlias, Membership
from inboxes.pages import settings_context
from inboxes.status import AutoResponder, auto_responder_choices, do_clear_status, do_set_status
from missive.htmx import AuthenticatedRequest, render_page

# The quick picks of the status dialog: (emoji, message).
SUGGESTIONS = [
    ("📅", "In a meeting"),
    ("🚌", "Commuting"),
    ("🤒", "Out sick"),
    ("🌴", "On vacation"),
    ("🏠", "Working remotely"),
]
_LOCAL = "%Y-%m-%dT%H:%M"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


class StatusForm(forms.Form):
    emoji = forms.CharField(max_length=16, required=False, label="Emoji")
    message = forms.CharField(max_length=200, required=False, label="Status message")
    out_of_office = forms.BooleanField(required=False, label="Out of office")
    out_of_office_starts_at = forms.CharField(required=False, label="Starts")
    out_of_office_ends_at = forms.CharField(required=False, label="Ends")
    tz = forms.CharField(required=False)

    def __init__(self, *args: Any, aliases: list | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.with_auto_responder = aliases is not None
        if aliases is not None:
            self.fields["auto_responder_enabled"] = forms.BooleanField(required=False, label="Reply automatically")
            self.fields["auto_responder_aliases"] = forms.TypedMultipleChoiceField(
                choices=[(str(a.id), str(a)) for a in aliases], coerce=UUID, required=False, label="Answer on"
            )
            self.fields["auto_responder_subject"] = forms.CharField(max_length=300, required=False, label="Subject")
            self.fields["auto_responder_body"] = forms.CharField(required=False, label="Message", widget=forms.Textarea)

    def _moment(self, name: str) -> datetime | None:
        value = (self.cleaned_data.get(name) or "").strip()
        if not value:
            return None
        try:
            naive = datetime.strptime(value, _LOCAL)
        except ValueError:
            raise ValidationError("Enter a date and time.") from None
        return naive.replace(tzinfo=_zone(self.cleaned_data.get("tz", "")))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("out_of_office_starts_at", "out_of_office_ends_at"):
            try:
                data[name] = self._moment(name)
            except ValidationError as error:
                self.add_error(name, error)
        if self.with_auto_responder and data.get("auto_responder_enabled"):
            if not data.get("auto_responder_aliases"):
                self.add_error("auto_responder_aliases", "Choose at least one address that answers.")
            if not (data.get("auto_responder_body") or "").strip():
                self.add_error("auto_responder_body", "Write the message senders receive.")
        return data

    def auto_responder(self) -> AutoResponder | None:
        if not self.with_auto_responder:
            return None
        data = self.cleaned_data
        return AutoResponder(
            enabled=bool(data.get("auto_responder_enabled")),
            subject=data.get("auto_responder_subject", ""),
            body=data.get("auto_responder_body", ""),
            alias_ids=frozenset(data.get("auto_responder_aliases") or []),
        )


def _initial(membership: Membership) -> dict[str, Any]:
    return {
        "emoji": membership.status_emoji,
        "message": membership.status_message,
        "out_of_office": membership.out_of_office or membership.out_of_office_starts_at is not None,
        "auto_responder_enabled": membership.auto_responder_enabled,
        "auto_responder_subject": membership.auto_responder_subject,
        "auto_responder_body": membership.auto_responder_body,
        "auto_responder_aliases": [
            str(alias_id)
            for alias_id in AutoResponderAlias.objects.filter(
                user_id=membership.user_id, alias__organization_id=membership.organization_id
            ).values_list("alias_id", flat=True)
        ],
    }


def _save(form: StatusForm, membership: Membership, acting: Membership) -> bool:
    """Validate and call the action; errors land on the form."""
    if not form.is_valid():
        return False
    data = form.cleaned_data
    try:
        do_set_status(
            membership,
            acting=acting,
            emoji=data["emoji"],
            message=data["message"],
            out_of_office=data["out_of_office"],
            starts_at=data["out_of_office_starts_at"],
            ends_at=data["out_of_office_ends_at"],
            auto_responder=form.auto_responder(),
        )
    except ValidationError as error:
        form.add_error(None, error)
        return False
    return True


# --- My status (avatar menu) ---------------------------------------------------------------------


def _render_dialog(request: AuthenticatedRequest, membership: Membership, form: StatusForm) -> HttpResponse:
    context = {
        "form": form,
        "membership": membership,
        "organization": membership.organization,
        "suggestions": SUGGESTIONS,
        "alias_count": len(form.fields["auto_responder_aliases"].choices),  # type: ignore[attr-defined]
    }
    return render(request, "inboxes/status/_dialog.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def my_status(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """Set a status: the dialog (GET) and its answer (POST)."""
    membership = get_membership(request.user, org_id)
    aliases = list(auto_responder_choices(request.user, membership.organization_id))
    if request.method != "POST":
        form = StatusForm(initial=_initial(membership), aliases=aliases)
        return _render_dialog(request, membership, form)
    form = StatusForm(request.POST, aliases=aliases)
    if not _save(form, membership, membership):
        return _render_dialog(request, membership, form)
    return _saved(request)


@require_POST
@login_required
def clear_my_status(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """Clear status, from the avatar menu or the dialog."""
    membership = get_membership(request.user, org_id)
    do_clear_status(membership, acting=membership)
    return _saved(request)


def _saved(request: AuthenticatedRequest) -> HttpResponse:
    """Avatars across the page show the status: reload it (HTMX) or go back to it."""
    if request.htmx:
        return HttpResponseClientRefresh()
    return redirect("home")


# --- A coworker's status (Settings › Users) -----------------------------------------------------


def _render_member_status(
    request: AuthenticatedRequest, acting: Membership, member: Membership, form: StatusForm | None = None
) -> HttpResponse:
    context = settings_context(
        request,
        acting,
        "users",
        member=member,
        form=form or StatusForm(initial=_initial(member)),
        suggestions=SUGGESTIONS,
    )
    return render_page(request, "inboxes/status/member_status.html", context, partials={"member-status": "status_form"})


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def member_status(request: AuthenticatedRequest, org_id: UUID, user_id: UUID) -> HttpResponse:
    """Edit status: only owners and admins change someone else's status (403 for members)."""
    acting = get_managed_membership(request.user, org_id)
    member = get_member(acting, user_id)
    if request.method != "POST":
        return _render_member_status(request, acting, member)
    if request.POST.get("clear"):
        do_clear_status(member, acting=acting)
        messages.success(request, f"{member.user.display_name}'s status is cleared.")
    else:
        form = StatusForm(request.POST)
        if not _save(form, member, acting):
            return _render_member_status(request, acting, member, form)
        messages.success(request, f"{member.user.display_name}'s status is saved.")
    if request.htmx:
        member.refresh_from_db()
        return _render_member_status(request, acting, member)
    return redirect("settings_member_status", org_id, user_id)
