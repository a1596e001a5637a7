"""The co-writing protocol of a draft's body (see conversations/cowrite.py), spoken by
static/js/editor.js and bench/cowrite.py:

    GET  drafts/<id>/sync/       {"update": <base64 state>, "version", "seed_html", "user": {name, color}}
    POST drafts/<id>/sync/       {"update": <base64>, "client": "<id>", "seed": false} -> {"version"}
                                 409 {"resend": true}: the update builds on changes the server
                                 lacks, send the whole document; a seed refused because the
                                 document was started: 409 + the state as in GET
    POST drafts/<id>/awareness/  {"update": <base64 awareness update>, "client": "<id>"} -> 204
    GET  drafts/<id>/stream/     server-sent events: {"kind": "ready"} once subscribed, then
                                 {"kind": "update" | "awareness", "update", "client", "name", ...}

A client opens the stream first and loads the state on "ready" (and again after any reconnection),
so nothing published in between is missed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import UUID

import redis
import redis.asyncio
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.http.response import HttpResponseBase, StreamingHttpResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from conversations import cowrite
from conversations.live_views import HEARTBEAT_SECONDS, _Pacer, _release_database
from conversations.models import Draft
from inboxes.models import User
from missive.htmx import AuthenticatedRequest

# Short-lived streams: each reconnection checks access again (a person removed from the
# conversation stops receiving its draft within this) and reloads the whole document.
STREAM_SECONDS = 5 * 60
RETRY_MS = 1000


def _editable_draft(user: User, draft_id: UUID) -> Draft:
    draft = cowrite.editable_drafts_for(user).filter(id=draft_id).first()
    if draft is None:
        raise Http404("No such draft.")
    return draft


def _closed_for(user: User, draft_id: UUID) -> bool:
    """Whether this is a draft of the user's conversations that was sent or discarded: its
    editors' last keystrokes and goodbyes are still in flight and get a quiet answer."""
    return Draft.objects.filter(id=draft_id, conversation__states__user=user).exists()


def _closed_answer(user: User, draft_id: UUID) -> HttpResponse:
    if _closed_for(user, draft_id):
        return JsonResponse({"closed": True})
    raise Http404("No such draft.")


def _payload(request: HttpRequest) -> tuple[dict[str, Any], bytes]:
    try:
        payload = json.loads(request.body)
        return payload, cowrite.decode(payload.get("update"))
    except (ValueError, AttributeError) as error:
        raise cowrite.InvalidUpdate(str(error)) from error


@require_http_methods(["GET", "POST"])
@login_required
def sync(request: AuthenticatedRequest, draft_id: UUID) -> HttpResponse:
    """The draft's document (GET), or one editor's update merged into it (POST). A draft that was
    just sent or discarded is answered `closed` (nothing is stored): the editor stops instead of
    reporting an error for a race the person did nothing wrong in."""
    draft = cowrite.editable_drafts_for(request.user).filter(id=draft_id).first()
    if draft is None:
        return _closed_answer(request.user, draft_id)
    if request.method == "GET":
        return JsonResponse(_state(draft, request.user))
    try:
        payload, update = _payload(request)
        draft = cowrite.do_apply_draft_update(
            draft_id,
            acting_user=request.user,
            update=update,
            client=str(payload.get("client", ""))[:64],
            seed=bool(payload.get("seed")),
        )
    except Draft.DoesNotExist:  # sent or discarded since the check above
        return _closed_answer(request.user, draft_id)
    except cowrite.InvalidUpdate:
        return HttpResponseBadRequest("Not a document update.")
    except cowrite.MissingHistory:
        return JsonResponse({"resend": True}, status=409)
    except cowrite.SeedConflict:
        return JsonResponse(_state(_editable_draft(request.user, draft_id), request.user), status=409)
    return JsonResponse({"version": draft.version})


def _state(draft: Draft, user: User) -> dict[str, Any]:
    state = bytes(draft.ydoc)
    return {
        "update": cowrite.encode(state),
        "version": draft.version,
        # The HTML the draft was created with, for the first editor to turn into the document.
        "seed_html": draft.body_html if cowrite.is_empty(state) else "",
        "user": {"name": user.display_name, "color": cowrite.colour_for(user.id)},
    }


@require_POST
@login_required
def awareness(request: AuthenticatedRequest, draft_id: UUID) -> HttpResponse:
    """Relay one editor's cursor and selection to the others (never stored). A draft that was
    just sent or discarded takes its editors' last goodbyes quietly: nobody is left to tell."""
    if not cowrite.editable_drafts_for(request.user).filter(id=draft_id).exists():
        if _closed_for(request.user, draft_id):
            return HttpResponse(status=204)
        raise Http404("No such draft.")
    try:
        payload, update = _payload(request)
    except cowrite.InvalidUpdate:
        return HttpResponseBadRequest("Not an awareness update.")
    notice = {
        "kind": "awareness",
        "update": cowrite.encode(update),
        "client": str(payload.get("client", ""))[:64],
        "user": str(request.user.id),
        "name": request.user.display_name,
    }
    cowrite.relay(draft_id, notice)
    return HttpResponse(status=204)


@require_GET
async def stream(request: HttpRequest, draft_id: UUID) -> HttpResponseBase:
    """The draft's updates and cursors from the other editors, as server-sent events."""
    user = await request.auser()
    if not user.is_authenticated:
        # Not a redirect: EventSource would follow it to the login page and retry for ever.
        return HttpResponse("Sign in to co-write.", status=403, content_type="text/plain")
    if not await sync_to_async(_check_and_release)(user, draft_id):
        # Sent or discarded as the editor opened: 204 tells EventSource to stop reconnecting.
        return HttpResponse(status=204)
    asgi = isinstance(request, ASGIRequest)
    events = _async_events(draft_id) if asgi else _sync_events(draft_id)
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _check_and_release(user: User, draft_id: UUID) -> bool:
    """Whether the draft is still open to the user (False: closed; 404: not theirs to see)."""
    if not cowrite.editable_drafts_for(user).filter(id=draft_id).exists():
        if _closed_for(user, draft_id):
            return False
        raise Http404("No such draft.")
    # A stream stays open for minutes: it must not keep a database connection.
    _release_database()
    return True


_READY = f'retry: {RETRY_MS}\ndata: {{"kind":"ready"}}\n\n'


def _frame(data: bytes | str) -> str:
    return f"data: {data.decode() if isinstance(data, bytes) else data}\n\n"


async def _async_events(draft_id: UUID) -> AsyncIterator[str]:
    connection = redis.asyncio.Redis.from_url(settings.REDIS_URL)
    pubsub = connection.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(cowrite.channel(draft_id))
        yield _READY
        pacer = _Pacer(seconds=STREAM_SECONDS, frame=_frame)
        while pacer.running():
            if (frame := pacer.frame(await pubsub.get_message(timeout=HEARTBEAT_SECONDS))) is not None:
                yield frame
    finally:
        await pubsub.aclose()
        await connection.aclose()


def _sync_events(draft_id: UUID) -> Iterator[str]:
    connection = redis.Redis.from_url(settings.REDIS_URL)
    pubsub = connection.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(cowrite.channel(draft_id))
        yield _READY
        pacer = _Pacer(seconds=STREAM_SECONDS, frame=_frame)
        while pacer.running():
            # Writing to a browser that has gone fails, which closes this generator.
            if (frame := pacer.frame(pubsub.get_message(timeout=HEARTBEAT_SECONDS))) is not None:
                yield frame
    finally:
        pubsub.close()
        connection.close()
