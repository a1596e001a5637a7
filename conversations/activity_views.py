"""The Activity feed panel: opened from the bell, filtered, followed to a conversation, and its
settings. Everything here reads the user's own items only (activity.visible_items)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import push_url, reswap, retarget, trigger_client_event

from conversations import activity
from conversations.counts import sidebar_counts
from conversations.sidebar import ALL
from conversations.views import render_mailbox
from missive.htmx import AuthenticatedRequest

PANEL = "conversations/activity/_panel.html"
TYPE_CHOICES = [(t.key, t.label) for t in activity.TYPES]


def _filter(value: str) -> str:
    return value if value in activity.FILTERS else "all"


def _panel_context(request: AuthenticatedRequest, feed_filter: str, opened_at: datetime | None) -> dict[str, Any]:
    return {
        "items": activity.feed(request.user, feed_filter, opened_at=opened_at),
        "feed_filter": feed_filter,
        "filters": [("all", "All"), ("unread", "Unread"), *TYPE_CHOICES],
        "opened_at": opened_at.isoformat() if opened_at else "",
    }


@require_POST
@login_required
def activity_open(request: AuthenticatedRequest) -> HttpResponse:
    """Open the feed: everything in it is read now (the bell clears); the panel still shows what
    was unread until it closes."""
    opened_at = activity.do_open_activity_feed(request.user)
    context = _panel_context(request, _filter(request.POST.get("filter", "")), opened_at)
    response = render(request, f"{PANEL}#panel", context)
    return trigger_client_event(response, "counts-changed")


@require_safe
@login_required
def activity_list(request: AuthenticatedRequest) -> HttpResponse:
    """The list under another filter, while the panel stays open."""
    opened = parse_datetime(request.GET.get("opened", ""))
    context = _panel_context(request, _filter(request.GET.get("filter", "")), opened)
    return render(request, f"{PANEL}#list", context)


@require_safe
@login_required
def activity_item(request: AuthenticatedRequest, activity_id: UUID) -> HttpResponse:
    """Follow an item: its conversation opens (at its comment) in All, and the item is read."""
    item = activity.get_item_for_user(request.user, activity_id)
    if item is None:
        raise Http404("No such activity.")
    activity.do_read_activity_item(item)
    url = ALL.conversation_url(item.conversation_id)
    anchor = f"comment-{item.comment_id}" if item.comment_id else ""
    if not request.htmx:
        return redirect(f"{url}#{anchor}" if anchor else url)
    response = render_mailbox(request, ALL, item.conversation_id, partial="workspace")
    push_url(response, url)
    return trigger_client_event(response, "activity-followed", {"comment": anchor}, after="settle")


class PreferencesForm(forms.Form):
    displayed = forms.MultipleChoiceField(
        choices=TYPE_CHOICES, required=False, widget=forms.CheckboxSelectMultiple, label="Display"
    )
    counted = forms.MultipleChoiceField(
        choices=TYPE_CHOICES, required=False, widget=forms.CheckboxSelectMultiple, label="Unread"
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def activity_settings(request: AuthenticatedRequest) -> HttpResponse:
    """Per type: whether All shows it, and whether it lights the bell."""
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            activity.do_set_activity_preferences(
                request.user, displayed=form.cleaned_data["displayed"], counted=form.cleaned_data["counted"]
            )
            feed_filter = _filter(request.POST.get("filter", ""))
            context = _panel_context(request, feed_filter, parse_datetime(request.POST.get("opened", "")))
            response = render(request, f"{PANEL}#panel", context)
            return trigger_client_event(response, "counts-changed")
    else:
        saved = activity.preferences(request.user)
        form = PreferencesForm(
            initial={
                "displayed": [t.key for t in activity.TYPES if t.key not in saved["hidden"]],
                "counted": [t.key for t in activity.TYPES if t.key not in saved["not_counted"]],
            }
        )
    displayed, counted = form["displayed"].value() or [], form["counted"].value() or []
    rows = [
        {"key": key, "label": label, "displayed": key in displayed, "counted": key in counted}
        for key, label in TYPE_CHOICES
    ]
    context = {
        "form": form,
        "rows": rows,
        "feed_filter": _filter(request.GET.get("filter", "") or request.POST.get("filter", "")),
        "opened_at": request.GET.get("opened", "") or request.POST.get("opened", ""),
    }
    response = render(request, f"{PANEL}#settings", context)
    # An invalid form goes back where the settings were, not over the whole panel.
    return reswap(retarget(response, "#activity-body"), "outerHTML") if form.errors else response


@require_safe
@login_required
def activity_bell(request: AuthenticatedRequest) -> HttpResponse:
    """The bell alone, polled by the page so new activity shows without a reload."""
    return render(request, "conversations/activity/_bell.html", {"sidebar_counts": sidebar_counts(request.user)})
