"""Settings › API: personal tokens (created with a name, shown once, listed by prefix, revoked)
and the Resource IDs screen that API users copy ids from (rest-api.md §1.2, §1.5)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST, require_safe

from channels_app.api.files import file_for_signature
from channels_app.api.tokens import create_token, revoke_token
from channels_app.models import ApiToken
from conversations.labels import labels_visible_to_user_q
from conversations.models import Label
from conversations.views import download_response
from inboxes.models import Account, Membership, Team, User
from inboxes.pages import settings_context
from missive.htmx import AuthenticatedRequest, render_page


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, label="Token name", widget=forms.TextInput(attrs={"placeholder": "Zapier, my script…"})
    )


def _render(request: AuthenticatedRequest, *, form: TokenForm | None = None, new_token: str = "") -> HttpResponse:
    tokens = ApiToken.objects.filter(user=request.user, revoked_at__isnull=True).order_by("-created_at")
    context = settings_context(request, None, "api", form=form or TokenForm(), tokens=tokens, new_token=new_token)
    status = 400 if form is not None and form.errors else 200
    return render_page(
        request, "channels_app/api_settings.html", context, partials={"api-tokens": "tokens"}, status=status
    )


@require_safe
@login_required
def api_settings(request: AuthenticatedRequest) -> HttpResponse:
    """The user's API tokens and the form that creates one."""
    return _render(request)


@require_POST
@login_required
def create_api_token(request: AuthenticatedRequest) -> HttpResponse:
    """Create a token and show it this once: it is stored only as a digest."""
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _render(request, form=form)
    _, token = create_token(request.user, form.cleaned_data["name"])
    return _render(request, new_token=token)


@require_POST
@login_required
def revoke_api_token(request: AuthenticatedRequest, token_id: UUID) -> HttpResponse:
    """Revoke one of the user's tokens; anybody else's is a 404."""
    if not revoke_token(request.user, token_id):
        raise Http404("No such token.")
    messages.success(request, "Token revoked.")
    if not request.htmx:
        return redirect("settings_api")
    return _render(request)


@require_safe
@login_required
def resource_ids(request: AuthenticatedRequest) -> HttpResponse:
    """The ids of the user's organizations and what is in them, to copy into API calls."""
    memberships = list(Membership.objects.filter(user=request.user).select_related("organization"))
    groups: list[dict[str, Any]] = []
    for membership in sorted(memberships, key=lambda m: m.organization.name.lower()):
        org_id = membership.organization_id
        accounts = Account.objects.usable_by(request.user).filter(organization_id=org_id)
        people = User.objects.filter(memberships__organization_id=org_id, is_active=True)
        groups.append(
            {
                "organization": membership.organization,
                "teams": Team.objects.filter(organization_id=org_id).order_by("name"),
                "accounts": accounts.order_by("description"),
                "labels": Label.objects.filter(
                    labels_visible_to_user_q(request.user.id, memberships), organization_id=org_id, owner__isnull=True
                ).order_by("name"),
                "users": people.order_by("name", "email"),
            }
        )
    context = settings_context(request, None, "api", groups=groups)
    return render_page(request, "channels_app/api_resource_ids.html", context)


@require_safe
def api_file(request: HttpRequest, signed: str) -> FileResponse:
    """An attachment by the signed link an API object gave: no session, no token."""
    attachment = file_for_signature(signed)
    if attachment is None or not attachment.file:
        raise Http404("No such file.")
    return download_response(attachment.file, attachment.filename)
