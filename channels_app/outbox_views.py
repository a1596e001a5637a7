"""An outgoing message's sending status under the message, and sending a failed one again."""

from __future__ import annotations

import contextlib
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST, require_safe

from channels_app.outbox import RetryRefused, do_retry_outbox
from conversations.mail_views import get_message_for_user
from conversations.models import Direction, Message, OutboxMessage
from missive.htmx import AuthenticatedRequest


def _outgoing_for_user(request: AuthenticatedRequest, message_id: UUID) -> Message:
    """An outbound message with an outbox row (read once, as `message.outbox`), of a
    conversation the user can access; else 404."""
    message = get_message_for_user(request, message_id)
    outbox = OutboxMessage.objects.filter(message=message).first()
    if message.direction != Direction.OUTBOUND or outbox is None:
        raise Http404("No such outgoing message.")
    outbox.message = message  # also caches it as message.outbox
    return message


def _status(request: AuthenticatedRequest, message: Message) -> HttpResponse:
    return render(request, "conversations/_outbox_status.html", {"item": message})


@require_safe
@login_required
def outbox_status(request: AuthenticatedRequest, message_id: UUID) -> HttpResponse:
    """The status line, polled while the message is on its way."""
    return _status(request, _outgoing_for_user(request, message_id))


@require_POST
@login_required
def retry_outbox(request: AuthenticatedRequest, message_id: UUID) -> HttpResponse:
    """Send a failed message again."""
    message = _outgoing_for_user(request, message_id)
    # Already on its way or sent (a double click): the status line says where it is.
    with contextlib.suppress(RetryRefused):
        do_retry_outbox(message.outbox, acting_user=request.user)
    return _status(request, message)
