"""Settings pages: organization, users, teams and accounts."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe


@require_safe
@login_required
def settings_home(request: HttpRequest) -> HttpResponse:
    """The settings landing page."""
    return render(request, "inboxes/settings/home.html", {})
