"""Live updates: small notices published on Redis after commit, presence and typing.

Every signed-in browser tab holds one server-sent-events stream (conversations/live_views.py),
subscribed to its user's channel `live:user:<user id>`. A notice says only *what* changed, never
the content, and the page re-fetches those parts with HTMX (static/js/live.js):

    {"kind": "changed", "conversations": ["<id>", ...]}   # lists, counts, the open conversation
    {"kind": "presence", "conversation": "<id>"}           # someone opened or left it
    {"kind": "typing", "conversation": "<id>", "user": "<id>", "name": "Ben"}
    {"kind": "resync"}                                      # sent by the stream after a gap

A user is only ever told about conversations they have (or, when it is removed, just had) access
to, so a notice never reveals anything of another organization.

THE ENTRY POINT for any change others must see is `publish_after_commit`:

    live.publish_after_commit(conversation_ids=[conversation.id], kind="label")

inside the action's transaction: without `user_ids`, everyone with access to each conversation is
told (looked up now, so people losing access in the same transaction are still told); the notices
go out only if the transaction commits. `actions._counts_changed` calls it, so every action that
redoes its people's counts publishes too.

Notices that change something (not presence or typing) are numbered per user (`live:seq:<user>`,
the SSE event id): a browser reconnecting with an older Last-Event-ID gets a "resync" notice and
re-fetches everything, as pub/sub does not keep what was published while it was away.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any
from uuid import UUID

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from conversations.models import ConversationState
from inboxes.models import User
from missive.middleware import live_tab

logger = logging.getLogger(__name__)

# A seq key outlives any stream: a browser away longer than this gets a resync anyway.
SEQ_SECONDS = 24 * 3600
# Past this many conversations in one notice the browser just refreshes what it shows.
MAX_IDS = 50
# A viewer who stops heartbeating (the browser sends one every 15 s) leaves after this.
PRESENCE_SECONDS = 40
# A user is online (has the app open) while one of their streams refreshes their mark, at every
# heartbeat (conversations/live_views.py): a closed tab goes offline within this.
ONLINE_SECONDS = 45

# INCR the user's sequence and publish "<seq> <json>" in one step, so that ids reach a stream in
# the order they were given.
_PUBLISH_NUMBERED = """
local seq = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[1], seq .. ' ' .. ARGV[2])
return seq
"""


@cache
def client() -> redis.Redis:
    """This process's connection pool for publishing and presence (thread-safe)."""
    return redis.Redis.from_url(settings.REDIS_URL)


def user_channel(user_id: UUID | str) -> str:
    return f"live:user:{user_id}"


def seq_key(user_id: UUID | str) -> str:
    return f"live:seq:{user_id}"


def viewers_key(conversation_id: UUID | str) -> str:
    return f"live:viewers:{conversation_id}"


def current_seq(user_id: UUID | str) -> str:
    """The id of the last numbered notice published to the user ("0" if none)."""
    return seq_text(client().get(seq_key(user_id)))


def seq_text(stored: Any) -> str:
    """A user's sequence as read from Redis (bytes, or None before any notice), as an event id."""
    return stored.decode() if isinstance(stored, bytes) else "0"


# --- Publishing -----------------------------------------------------------------------------------


def publish_after_commit(
    *, conversation_ids: Iterable[UUID] = (), user_ids: Iterable[UUID] | None = None, kind: str
) -> None:
    """Tell people, once the current transaction commits, that these conversations changed.

    `user_ids` None: everyone with access to each conversation, each about their own ones.
    Given: exactly these people (who must have, or have just lost, access to every conversation
    listed), e.g. after a team membership change with no conversation ids: "your lists changed"."""
    conversation_ids = list(conversation_ids)
    if user_ids is not None:
        ids = sorted(str(c) for c in conversation_ids)
        _publish_on_commit({user_id: ids for user_id in user_ids}, kind=kind)
        return
    pairs = ConversationState.objects.filter(conversation_id__in=conversation_ids).values_list(
        "user_id", "conversation_id"
    )
    notify_after_commit(pairs, kind=kind)


def notify_after_commit(pairs: Iterable[tuple[UUID, UUID]], *, kind: str) -> None:
    """publish_after_commit for callers that already know who sees which conversation, as
    (user id, conversation id) pairs: a delivery batch tells each person about their own ones."""
    notices: dict[UUID, set[str]] = defaultdict(set)
    for user_id, conversation_id in pairs:
        notices[user_id].add(str(conversation_id))
    _publish_on_commit({user_id: sorted(ids) for user_id, ids in notices.items()}, kind=kind)


def _publish_on_commit(notices: dict[UUID, list[str]], *, kind: str) -> None:
    """Publish when the transaction commits, one notice per person however many changes the
    transaction made (a mention is a comment, a feed item and an Inbox move: one notice)."""
    if not notices:
        return
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        _publish_robustly({user_id: (set(ids), kind) for user_id, ids in notices.items()}, live_tab.get())
        return
    pending = _pending_notices(connection)
    for user_id, ids in notices.items():
        held_ids, held_kind = pending.setdefault(user_id, (set(), kind))
        held_ids.update(ids)
        if held_kind != kind:  # several kinds of change: the browser refreshes everything it shows
            pending[user_id] = (held_ids, "changed")


Pending = dict[UUID, tuple[set[str], str]]


def _pending_notices(connection: Any) -> Pending:
    """This transaction's notices, flushed by one on-commit callback. They are collected per
    outermost savepoint (an action called inside a request's transaction has its own), so a
    rolled-back savepoint takes its callback and notices along and the next change starts a new
    collection."""
    scope = connection.savepoint_ids[0] if connection.savepoint_ids else None
    collections: dict[Any, tuple[Pending, Any]] = connection.__dict__.setdefault("live_collections", {})
    pending, flush = collections.get(scope, (None, None))
    if pending is None or not any(entry[1] is flush for entry in connection.run_on_commit):
        pending, origin = {}, live_tab.get()

        def flush() -> None:
            if collections.get(scope, (None,))[0] is pending:  # later changes start a new collection
                del collections[scope]
            _publish_robustly(pending, origin)

        collections[scope] = (pending, flush)
        transaction.on_commit(flush)
    return pending


def _publish_robustly(pending: Pending, origin: str) -> None:
    """The change is committed: a Redis hiccup must not turn the request into an error. `origin`
    is the browser tab whose request made the change (empty for workers)."""
    by_kind: dict[str, dict[UUID, list[str]]] = defaultdict(dict)
    for user_id, (ids, kind) in pending.items():
        by_kind[kind][user_id] = sorted(ids)
    try:
        for kind, notices in by_kind.items():
            publish(notices, kind=kind, origin=origin)
    except Exception:  # noqa: BLE001 - logged: the notice is lost, the change itself is not
        logger.exception("Live update not published")


def publish(notices: Mapping[UUID, list[str]], *, kind: str, origin: str = "") -> None:
    """Publish numbered notices now, one per user, in one round trip."""
    with client().pipeline(transaction=False) as pipe:
        for user_id, ids in notices.items():
            body: dict[str, Any] = {"kind": kind, "conversations": ids if len(ids) <= MAX_IDS else None}
            if origin:
                body["origin"] = origin
            # EVAL rather than a registered script: redis-py checks a pipeline's registered
            # scripts with an extra round trip each time, and Redis caches the compiled script.
            pipe.eval(_PUBLISH_NUMBERED, 1, seq_key(user_id), user_channel(user_id), _dumps(body), SEQ_SECONDS)
        pipe.execute()


def publish_ephemeral(user_ids: Iterable[UUID | str], body: dict[str, Any]) -> None:
    """Presence and typing: unnumbered (missing one is harmless, so it never causes a resync)."""
    message = "0 " + _dumps(body)
    with client().pipeline(transaction=False) as pipe:
        for user_id in set(user_ids):
            pipe.publish(user_channel(user_id), message)
        pipe.execute()


def _dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))


# --- Presence ("viewing now") and typing ----------------------------------------------------------
# A conversation's viewers are one sorted set, `live:viewers:<id>`, of user ids scored by when
# their presence runs out; the key itself expires PRESENCE_SECONDS after the last heartbeat.


def mark_viewing(conversation_id: UUID, user_id: UUID) -> bool:
    """Record a heartbeat of the user viewing the conversation; True if they just arrived."""
    now = time.time()
    key = viewers_key(conversation_id)
    with client().pipeline(transaction=True) as pipe:
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zadd(key, {str(user_id): now + PRESENCE_SECONDS})
        pipe.expire(key, PRESENCE_SECONDS)
        _, added, _ = pipe.execute()
    return bool(added)


def mark_left(conversation_id: UUID, user_id: UUID) -> bool:
    """The user closed the conversation; True if they were viewing it."""
    return bool(client().zrem(viewers_key(conversation_id), str(user_id)))


def viewer_ids(conversation_id: UUID) -> list[str]:
    """Who is viewing the conversation now (user ids, as strings)."""
    members = client().zrangebyscore(viewers_key(conversation_id), time.time(), "+inf")
    return [member.decode() for member in members if isinstance(member, bytes)]


def other_viewers(conversation_id: UUID, *, besides: UUID) -> QuerySet[User]:
    """Who else is viewing the conversation now, among the people who still have access to it
    (anyone removed meanwhile is neither shown nor told)."""
    ids = [user_id for user_id in viewer_ids(conversation_id) if user_id != str(besides)]
    return User.objects.filter(id__in=ids, conversation_states__conversation_id=conversation_id).order_by(
        "name", "email"
    )


def announce_presence(conversation_id: UUID, *, user_id: UUID) -> None:
    """Someone arrived or left: the other viewers re-fetch who is viewing."""
    others = list(other_viewers(conversation_id, besides=user_id).values_list("id", flat=True))
    if others:
        publish_ephemeral(others, {"kind": "presence", "conversation": str(conversation_id)})


def announce_typing(conversation_id: UUID, *, user_id: UUID, name: str) -> None:
    """Someone is typing a comment: the other viewers show "<name> is typing…" for a few seconds."""
    others = list(other_viewers(conversation_id, besides=user_id).values_list("id", flat=True))
    if others:
        body = {"kind": "typing", "conversation": str(conversation_id), "user": str(user_id), "name": name}
        publish_ephemeral(others, body)


# --- Online ("has the app open") --------------------------------------------------------------------
# `live:online:<user id>` exists while one of the user's live streams is open: each stream sets it
# when it starts and at every heartbeat, and it expires ONLINE_SECONDS after the last one.


def online_key(user_id: UUID | str) -> str:
    return f"live:online:{user_id}"


def mark_online(user_id: UUID | str) -> None:
    client().set(online_key(user_id), "1", ex=ONLINE_SECONDS)


def online_users(user_ids: Iterable[UUID]) -> set[UUID]:
    """Those of the users who have the app open now (out of office or not: callers decide)."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return set()
    marks = client().mget([online_key(user_id) for user_id in ids])
    return {user_id for user_id, mark in zip(ids, marks, strict=True) if mark is not None}
