"""The files of comments (download, image preview) and the quote the chat box carries."""

from __future__ import annotations

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from conversations import quotes
from conversations.models import CommentAttachment
from conversations.views import download_response
from missive.htmx import AuthenticatedRequest


def _file_for_user(request: AuthenticatedRequest, file_id: UUID) -> CommentAttachment:
    """A comment's file in a conversation the user can access; 404 for anything else."""
    attachment = CommentAttachment.objects.filter(id=file_id, comment__conversation__states__user=request.user).first()
    if attachment is None or not attachment.file:
        raise Http404("No such file.")
    return attachment


@require_safe
@login_required
def comment_file_download(request: AuthenticatedRequest, file_id: UUID) -> FileResponse:
    """A comment's file, always as a download (never rendered by the browser)."""
    attachment = _file_for_user(request, file_id)
    return download_response(attachment.file, attachment.filename)


@require_safe
@login_required
def comment_file_preview(request: AuthenticatedRequest, file_id: UUID) -> FileResponse:
    """A comment's image, for its thumbnail: only the raster types its bytes were checked as,
    with nothing else allowed to run or load."""
    attachment = _file_for_user(request, file_id)
    if not attachment.is_image:
        raise Http404("No preview for this file.")
    response = FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)
    response.headers["Content-Disposition"] = "inline"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@require_safe
@login_required
def quote_chip(request: AuthenticatedRequest, kind: str, item_id: UUID) -> HttpResponse:
    """The quote the chat box carries until the next comment is posted, in this conversation or
    another one."""
    source = quotes.find_quotable(request.user, kind, str(item_id))
    if source is None:
        raise Http404("Nothing to quote.")
    context = {
        "kind": kind,
        "source": source,
        "author_name": quotes.author_name(source),
        "excerpt": quotes.excerpt(source),
    }
    return render(request, "conversations/_quote_chip.html", context)
