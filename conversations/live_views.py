"""The live-updates stream (server-sent events), presence heartbeats and typing pings.

The stream is an async view: under ASGI (uvicorn, the web process) each open stream is a
coroutine waiting on its own Redis subscription, with no thread and no database connection held.
Under WSGI (`runserver`, the browser tests' live server) the same view streams from a generator
that blocks its worker thread, which those servers give each request anyway.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from uuid import UUID

import redis
import redis.asyncio
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from conversations import live
from conversations.views import get_state_for_user
from missive.htmx import AuthenticatedRequest

# A comment line this often keeps proxies from closing an idle stream and notices a gone browser.
HEARTBEAT_SECONDS = 15.0
# Streams end after this (the browser reconnects at once, with its Last-Event-ID): no connection
# lives for ever behind load balancers, and a user removed from the organization is cut off.
STREAM_SECONDS = 30 * 60
# How long the browser waits before reconnecting after the stream ends or breaks.
RETRY_MS = 2000
# Streams that may be reading their session (a database connection each) at the same time.
DATABASE_SLOTS = 10


@require_GET
async def stream(request: HttpRequest) -> HttpResponseBase:
    """The signed-in user's live notices, as server-sent events."""
    # Every browser reconnects at once after a restart: a few at a time read their session, so
    # the herd does not open more database connections than the server allows.
    async with _database_slots():
        user = await request.auser()
        # A stream may stay open for half an hour: it must not keep its database connection.
        await sync_to_async(_release_database)()
    if not user.is_authenticated:
        # Not a redirect: EventSource would follow it to the login page and retry for ever.
        return HttpResponse("Sign in to receive live updates.", status=403, content_type="text/plain")
    since = request.headers.get("Last-Event-ID") or request.GET.get("since") or None
    asgi = isinstance(request, ASGIRequest)
    events: Iterator[str] | AsyncIterator[str] = _async_events(user.pk, since) if asgi else _sync_events(user.pk, since)
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _database_slots() -> asyncio.Semaphore:
    """The web process's limit on streams reading their session at the same time (one per event
    loop: a semaphore belongs to the loop it is used in)."""
    return _slots.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(DATABASE_SLOTS))


def _release_database() -> None:
    for connection in connections.all(initialized_only=True):
        # Inside an atomic block (a test's transaction) closing would break the block.
        if not connection.in_atomic_block:
            connection.close()


def _opening(stored_seq: Any, since: str | None) -> str:
    """The first events: the reconnection delay, and a resync if notices were missed since the
    id the browser last saw (pub/sub keeps nothing for absent subscribers)."""
    current = live.seq_text(stored_seq)
    opening = f"retry: {RETRY_MS}\n\n"
    if since is not None and since != current:
        opening += f'id: {current}\ndata: {{"kind":"resync"}}\n\n'
    return opening


def _frame(message: bytes) -> str:
    """A published "<seq> <json>" as an event; seq 0 (presence, typing) leaves the id as it was."""
    seq, _, body = message.decode().partition(" ")
    return (f"id: {seq}\n" if seq != "0" else "") + f"data: {body}\n\n"


async def _async_events(user_id: UUID, since: str | None) -> AsyncIterator[str]:
    connection = redis.asyncio.Redis.from_url(settings.REDIS_URL)
    pubsub = connection.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(live.user_channel(user_id))
        await connection.set(live.online_key(user_id), "1", ex=live.ONLINE_SECONDS)
        # Read after subscribing: a notice published in between is both counted and received.
        yield _opening(await connection.get(live.seq_key(user_id)), since)
        pacer = _Pacer()
        while pacer.running():
            if (frame := pacer.frame(await pubsub.get_message(timeout=HEARTBEAT_SECONDS))) is not None:
                yield frame
            if pacer.online_due():
                await connection.set(live.online_key(user_id), "1", ex=live.ONLINE_SECONDS)
    finally:
        # Reached when the browser goes (Django cancels the response) or the stream times out.
        await pubsub.aclose()
        await connection.aclose()


class _Pacer:
    """A stream's clock, the same under ASGI and WSGI: when it ends (the browser reconnects), and
    when a quiet stream owes the browser a heartbeat."""

    def __init__(self, *, seconds: float = STREAM_SECONDS, frame: Callable[[Any], str] = _frame) -> None:
        self.seconds, self.framing = seconds, frame
        self.started = self.last_sent = self.last_online = time.monotonic()

    def running(self) -> bool:
        return time.monotonic() - self.started < self.seconds

    def online_due(self) -> bool:
        """Whether the user's online mark needs refreshing (once a heartbeat, however busy the
        stream), so that it outlives the stream by no more than live.ONLINE_SECONDS."""
        if time.monotonic() - self.last_online < HEARTBEAT_SECONDS:
            return False
        self.last_online = time.monotonic()
        return True

    def frame(self, message: dict[str, Any] | None) -> str | None:
        """What to send after waiting for a message: the notice, a heartbeat, or nothing."""
        if message is not None:
            self.last_sent = time.monotonic()
            return self.framing(message["data"])
        if time.monotonic() - self.last_sent >= HEARTBEAT_SECONDS:
            self.last_sent = time.monotonic()
            return ": heartbeat\n\n"
        return None


def _sync_events(user_id: UUID, since: str | None) -> Iterator[str]:
    connection = redis.Redis.from_url(settings.REDIS_URL)
    pubsub = connection.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(live.user_channel(user_id))
        live.mark_online(user_id)
        yield _opening(connection.get(live.seq_key(user_id)), since)
        pacer = _Pacer()
        while pacer.running():
            # Writing to a browser that has gone fails, which closes this generator.
            if (frame := pacer.frame(pubsub.get_message(timeout=HEARTBEAT_SECONDS))) is not None:
                yield frame
            if pacer.online_due():
                live.mark_online(user_id)
    finally:
        pubsub.close()
        connection.close()


@require_POST
@login_required
def presence(request: AuthenticatedRequest, conversation_id: UUID) -> HttpResponse:
    """Heartbeat of the open conversation ("leave" when it closes); answers with who else is
    viewing it, for the header."""
    if request.POST.get("leave"):
        # No access check: leaving only takes one's own id out (the conversation may be gone, merged
        # or no longer shared), and the announcement goes only to viewers with access.
        if live.mark_left(conversation_id, request.user.id):
            live.announce_presence(conversation_id, user_id=request.user.id)
        return HttpResponse(status=204)
    state = get_state_for_user(request, conversation_id)
    if live.mark_viewing(conversation_id, request.user.id):
        live.announce_presence(conversation_id, user_id=request.user.id)
    viewers = live.other_viewers(conversation_id, besides=request.user.id)
    context = {"conversation": state.conversation, "viewers": viewers}
    return render(request, "conversations/live/_viewers.html", context)


@require_POST
@login_required
def typing(request: AuthenticatedRequest, conversation_id: UUID) -> HttpResponse:
    """The user is typing an internal comment (the browser pings every few seconds while they do)."""
    get_state_for_user(request, conversation_id)
    live.announce_typing(conversation_id, user_id=request.user.id, name=request.user.display_name)
    return HttpResponse(status=204)
