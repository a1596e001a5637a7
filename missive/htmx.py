"""Answering a request with the full page or the HTMX partial it asked for, or sending it on."""

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

if TYPE_CHECKING:
    from inboxes.models import User


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    partials: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render `template`, or `template#partial` when HTMX targets an element named in `partials`
    (element id -> partial name). History restores and boosted requests get the full page."""
    htmx = getattr(request, "htmx", None)
    target = htmx.target if htmx and not htmx.history_restore_request and not htmx.boosted else None
    if partials and target in partials:
        template = f"{template}#{partials[target]}"
    response = render(request, template, context, status=status)
    response.headers["Vary"] = "HX-Request, HX-Target"
    return response


def leave_page(request: HttpRequest, url: str) -> HttpResponse:
    """After a change that leaves the current page: a redirect, done by the browser for HTMX."""
    return HttpResponseClientRedirect(url) if getattr(request, "htmx", None) else redirect(url)


class AuthenticatedRequest(HttpRequest):
    """What a view behind @login_required receives (with django-htmx's middleware)."""

    user: "User"
    htmx: HtmxDetails
