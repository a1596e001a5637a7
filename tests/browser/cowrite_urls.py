"""The product's URLs plus a bare page around one draft's editor, for the co-writing browser tests
(the composer renders the same partial, `conversations/_draft_editor.html`, inside its form)."""

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.template import engines
from django.urls import path

from conversations import cowrite
from missive.htmx import AuthenticatedRequest
from missive.urls import urlpatterns as product

PAGE = engines["django"].from_string(
    """{% extends "base.html" %}{% block title %}{{ draft }} · Missive{% endblock %}
{% block body %}
<main style="max-width: 760px; margin: 40px auto; padding: 0 24px;">
  <form class="composer" style="display: grid; gap: 12px;">
    <div style="display: flex; gap: 8px; align-items: baseline;">
      <span class="muted small" style="width: 56px;">To</span><strong>ada@client.test</strong>
    </div>
    <div style="display: flex; gap: 8px; align-items: baseline;">
      <span class="muted small" style="width: 56px;">Subject</span><span>{{ draft.subject }}</span>
    </div>
    {% include "conversations/_draft_editor.html" %}
  </form>
</main>
{% endblock %}"""
)


@login_required
def draft_page(request: AuthenticatedRequest, draft_id: UUID) -> HttpResponse:
    """One draft's editor on a page of its own."""
    draft = cowrite.editable_drafts_for(request.user).filter(id=draft_id).first()
    if draft is None:
        raise Http404("No such draft.")
    return HttpResponse(PAGE.render({"draft": draft}, request))


urlpatterns = [*product, path("test/drafts/<uuid:draft_id>/", draft_page)]
