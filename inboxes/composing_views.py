"""Settings › Preferences › Composing, per organization (the default sender is one's own there)."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST, require_safe

from inboxes.access import get_membership
from inboxes.composing import ComposingForm, do_set_composing_preferences
from inboxes.models import Membership
from inboxes.pages import settings_context
from missive.htmx import AuthenticatedRequest, render_page


def _render(request: AuthenticatedRequest, membership: Membership, form: ComposingForm) -> HttpResponse:
    context = settings_context(request, membership, "composing", form=form)
    return render_page(request, "inboxes/settings/composing.html", context, partials={"composing": "composing_form"})


@require_safe
@login_required
def composing_settings(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """Undo send, Send & archive, reply-all BCC, and the default sender."""
    membership = get_membership(request.user, org_id)
    return _render(request, membership, ComposingForm(membership=membership))


@require_POST
@login_required
def composing_update(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """Save the composing preferences."""
    membership = get_membership(request.user, org_id)
    form = ComposingForm(request.POST, membership=membership)
    if not form.is_valid():
        return _render(request, membership, form)
    do_set_composing_preferences(membership, **form.cleaned_data)
    messages.success(request, "Composing preferences saved.")
    return redirect("settings_composing", org_id)
