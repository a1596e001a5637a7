"""Live updates against the real Redis: who is told about what after commit (and nobody else),
the server-sent-events stream under ASGI and WSGI, presence and typing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import transaction
from django.test import AsyncClient
from django.urls import reverse

from conversations import live, live_views
from conversations.actions import (
    do_assign_conversation,
    do_edit_comment,
    do_post_comment,
    do_remove_access,
    do_toggle_reaction,
    grant_team_access,
)
from conversations.delivery import Delivery, do_receive_messages
from conversations.incoming import IncomingMessage
from tests.conftest import login
from tests.factories import receive

pytestmark = pytest.mark.django_db


class Listener:
    """A subscription to some users' channels, as their streams would have."""

    def __init__(self, *users):
        self.pubsub = live.client().pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(*[live.user_channel(user.id) for user in users])

    def notices(self, quiet: float = 0.3) -> dict[str, list[dict]]:
        """{user id: [notice, ...]} of everything published until nothing came for `quiet` s."""
        received: dict[str, list[dict]] = defaultdict(list)
        last = time.monotonic()
        while time.monotonic() - last < quiet:
            message = self.pubsub.get_message(timeout=0.05)
            if message is None:
                continue
            seq, _, body = message["data"].decode().partition(" ")
            notice = json.loads(body)
            notice["seq"] = int(seq)
            received[message["channel"].decode().removeprefix("live:user:")].append(notice)
            last = time.monotonic()
        return dict(received)


@pytest.fixture
def listen():
    listeners = []

    def start(*users) -> Listener:
        listener = Listener(*users)
        listeners.append(listener)
        return listener

    yield start
    for listener in listeners:
        listener.pubsub.close()


def _incoming(account, subject):
    return IncomingMessage(
        from_address="customer@outside.test",
        from_name="A Customer",
        subject=subject,
        body_text="Hello",
        to=[{"name": "", "address": account.address}],
    )


# Publishing ---------------------------------------------------------------------------------------


def test_a_mention_tells_the_author_and_the_mentioned_after_commit_and_nobody_else(
    cast, listen, django_capture_on_commit_callbacks
):
    conversation = receive(cast.personal_account, subject="Contract").conversation
    listener = listen(cast.owner, cast.teammate, cast.observer, cast.outsider)

    with django_capture_on_commit_callbacks(execute=True):
        do_post_comment(conversation, author=cast.owner, body="@teammate can you check?")
        assert listener.notices(quiet=0.1) == {}, "nothing is published before the commit"

    notices = listener.notices()
    expected = {"kind": "changed", "conversations": [str(conversation.id)]}
    assert set(notices) == {str(cast.owner.id), str(cast.teammate.id)}
    for user_notices in notices.values():
        assert [{k: v for k, v in n.items() if k != "seq"} for n in user_notices] == [expected]


def test_an_assignment_tells_everyone_with_access_to_the_team_conversation(
    cast, listen, django_capture_on_commit_callbacks
):
    conversation = receive(cast.support_account, subject="Printer jam").conversation
    listener = listen(cast.owner, cast.teammate, cast.observer, cast.guest, cast.outsider)

    with django_capture_on_commit_callbacks(execute=True):
        do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)

    notices = listener.notices()
    assert set(notices) == {str(cast.owner.id), str(cast.teammate.id), str(cast.observer.id)}
    assert notices[str(cast.observer.id)][0]["conversations"] == [str(conversation.id)]


def test_a_delivery_batch_publishes_one_notice_per_person_about_their_own_conversations(
    cast, listen, django_capture_on_commit_callbacks
):
    listener = listen(cast.owner, cast.teammate, cast.observer, cast.outsider)

    with django_capture_on_commit_callbacks(execute=True):
        deliveries = [Delivery(_incoming(cast.support_account, f"Question {n}")) for n in range(3)]
        do_receive_messages(cast.support_account, deliveries)
    team_ids = sorted(str(d.message.conversation_id) for d in deliveries)
    with django_capture_on_commit_callbacks(execute=True):
        elsewhere = Delivery(_incoming(cast.outsider_account, "Globex question"))
        do_receive_messages(cast.outsider_account, [elsewhere])

    notices = listener.notices()
    for user in (cast.owner, cast.teammate, cast.observer):
        assert notices[str(user.id)] == [{"kind": "message", "conversations": team_ids, "seq": 1}]
    assert notices[str(cast.outsider.id)] == [
        {"kind": "message", "conversations": [str(elsewhere.message.conversation_id)], "seq": 1}
    ]


def test_comment_edits_and_reactions_tell_everyone_with_access(cast, listen, django_capture_on_commit_callbacks):
    conversation = receive(cast.support_account, subject="Printer jam").conversation
    comment = do_post_comment(conversation, author=cast.owner, body="First")
    listener = listen(cast.owner, cast.teammate, cast.outsider)

    with django_capture_on_commit_callbacks(execute=True):
        do_edit_comment(conversation, str(comment.id), acting_user=cast.owner, body="First, edited")
    with django_capture_on_commit_callbacks(execute=True):
        do_toggle_reaction(conversation, str(comment.id), acting_user=cast.teammate, emoji="👍")

    notices = listener.notices()
    assert set(notices) == {str(cast.owner.id), str(cast.teammate.id)}
    assert [n["kind"] for n in notices[str(cast.teammate.id)]] == ["comment", "comment"]
    assert [n["seq"] for n in notices[str(cast.teammate.id)]] == [1, 2], "numbered per user"
    assert live.current_seq(cast.teammate.id) == "2"


def test_someone_whose_access_is_removed_is_told_too(cast, listen, django_capture_on_commit_callbacks):
    conversation = receive(cast.personal_account, subject="Contract").conversation
    do_post_comment(conversation, author=cast.owner, body="@teammate FYI")
    listener = listen(cast.teammate)

    with django_capture_on_commit_callbacks(execute=True):
        do_remove_access(conversation, cast.teammate, acting_user=cast.owner)

    assert listener.notices()[str(cast.teammate.id)][0]["conversations"] == [str(conversation.id)]


def test_a_rolled_back_change_publishes_nothing(cast, listen, django_capture_on_commit_callbacks):
    conversation = receive(cast.support_account, subject="Printer jam").conversation
    listener = listen(cast.owner, cast.teammate)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)
        raise RuntimeError("the request failed")

    assert listener.notices() == {}


def test_the_hook_for_other_actions_looks_up_who_has_access(cast, listen, django_capture_on_commit_callbacks):
    team = receive(cast.support_account, subject="Printer jam").conversation
    private = receive(cast.personal_account, subject="Contract").conversation
    listener = listen(cast.owner, cast.teammate, cast.outsider)

    with django_capture_on_commit_callbacks(execute=True):
        live.publish_after_commit(conversation_ids=[team.id, private.id], kind="label")

    notices = listener.notices()
    assert notices[str(cast.owner.id)][0]["conversations"] == sorted([str(team.id), str(private.id)])
    assert notices[str(cast.teammate.id)][0]["conversations"] == [str(team.id)]
    assert str(cast.outsider.id) not in notices


def test_joining_a_team_tells_the_newcomer_their_lists_changed(cast, listen, django_capture_on_commit_callbacks):
    receive(cast.support_account, subject="Printer jam")
    listener = listen(cast.guest)

    with django_capture_on_commit_callbacks(execute=True):
        grant_team_access(cast.support, [cast.guest.id])

    assert listener.notices()[str(cast.guest.id)] == [{"kind": "access", "conversations": [], "seq": 1}]


# The stream -------------------------------------------------------------------------------------


def _run(coroutine_function):
    """Run an async test body in one event loop (its Redis connections belong to that loop)."""
    async_to_sync(coroutine_function)()


async def _next(iterator, timeout: float = 3.0) -> str:
    chunk = await asyncio.wait_for(anext(iterator), timeout)
    return chunk.decode() if isinstance(chunk, bytes) else chunk


async def _subscribers(user) -> int:
    channel = live.user_channel(user.id)
    return dict(await sync_to_async(live.client().pubsub_numsub)(channel))[channel.encode()]


def test_the_stream_needs_a_signed_in_user(client):
    response = client.get(reverse("live_stream"))

    assert response.status_code == 403 and not response.streaming


def test_the_stream_delivers_the_users_notices_and_only_theirs_under_asgi(cast):
    async def body():
        client = AsyncClient()
        await client.aforce_login(cast.teammate)
        response = await client.get(reverse("live_stream"))
        assert response.status_code == 200
        assert response["Content-Type"] == "text/event-stream" and response["Cache-Control"] == "no-cache"
        events = aiter(response.streaming_content)
        assert await _next(events) == f"retry: {live_views.RETRY_MS}\n\n"

        await sync_to_async(live.publish)({cast.outsider.id: ["elsewhere"]}, kind="changed")
        await sync_to_async(live.publish)({cast.teammate.id: ["c1"]}, kind="changed")
        assert await _next(events) == 'id: 1\ndata: {"kind":"changed","conversations":["c1"]}\n\n'
        await sync_to_async(live.publish_ephemeral)([cast.teammate.id], {"kind": "typing", "conversation": "c1"})
        assert await _next(events) == 'data: {"kind":"typing","conversation":"c1"}\n\n', "no id: not numbered"

        assert await _subscribers(cast.teammate) == 1
        # The browser goes away: Django cancels the response while it waits for the next notice.
        waiting = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0.1)
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        for _ in range(20):
            if await _subscribers(cast.teammate) == 0:
                break
            await asyncio.sleep(0.05)
        assert await _subscribers(cast.teammate) == 0, "unsubscribed and disconnected"

    _run(body)


def test_the_stream_sends_heartbeats_while_nothing_happens(cast, monkeypatch):
    monkeypatch.setattr(live_views, "HEARTBEAT_SECONDS", 0.2)

    async def body():
        client = AsyncClient()
        await client.aforce_login(cast.owner)
        events = aiter((await client.get(reverse("live_stream"))).streaming_content)
        await _next(events)
        assert await _next(events) == ": heartbeat\n\n"
        await events.aclose()

    _run(body)


@pytest.mark.parametrize(("last_seen", "resync"), [("2", False), ("1", True), (None, False)])
def test_a_reconnecting_browser_that_missed_notices_is_told_to_resync(cast, last_seen, resync):
    live.publish({cast.owner.id: ["c1"]}, kind="changed")
    live.publish({cast.owner.id: ["c2"]}, kind="changed")

    async def body():
        client = AsyncClient()
        await client.aforce_login(cast.owner)
        headers = {"Last-Event-ID": last_seen} if last_seen else {}
        events = aiter((await client.get(reverse("live_stream"), headers=headers)).streaming_content)
        opening = await _next(events)
        await events.aclose()
        return opening

    opening = async_to_sync(body)()
    assert ('id: 2\ndata: {"kind":"resync"}' in opening) == resync


def test_the_page_gives_the_stream_the_last_notice_id_so_nothing_is_missed_before_it_connects(cast, client, listen):
    live.publish({cast.owner.id: ["c1"]}, kind="changed")
    login(client, cast.owner)

    page = client.get(reverse("mailbox", args=["inbox"])).content.decode()
    assert f'<meta name="live-stream" content="{reverse("live_stream")}?since=1">' in page

    response = client.get(reverse("live_stream"), {"since": "0"})
    assert 'data: {"kind":"resync"}' in next(iter(response.streaming_content)).decode()


def test_the_stream_also_works_under_wsgi(cast, client):
    login(client, cast.owner)
    response = client.get(reverse("live_stream"))
    events = iter(response.streaming_content)

    assert next(events).decode().startswith("retry:")
    live.publish({cast.owner.id: ["c1"]}, kind="message")
    assert next(events).decode() == 'id: 1\ndata: {"kind":"message","conversations":["c1"]}\n\n'
    response.close()


# Presence and typing ------------------------------------------------------------------------------


def _presence(client, conversation, **data):
    return client.post(reverse("live_presence", args=[conversation.id]), data)


def test_viewers_see_each_other_and_are_told_when_someone_arrives_or_leaves(cast, client, listen):
    conversation = receive(cast.support_account, subject="Printer jam").conversation
    teammate_client = login(type(client)(), cast.teammate)
    login(client, cast.owner)
    assert "Viewing now" not in _presence(teammate_client, conversation).content.decode()
    listener = listen(cast.teammate, cast.observer)

    html = _presence(client, conversation).content.decode()
    assert "Viewing now" in html and "Tom Teammate" in html and "Olivia Owner" not in html, "others only"
    assert listener.notices() == {
        str(cast.teammate.id): [{"kind": "presence", "conversation": str(conversation.id), "seq": 0}]
    }, "only viewers are told, and a heartbeat of someone already there tells nobody"
    _presence(client, conversation)
    assert listener.notices() == {}

    page = client.get(reverse("conversation", args=["all", conversation.id])).content.decode()
    assert "Viewing now" in page.split('id="live-viewers"')[1].split("</div>")[0], "in the header as rendered"

    assert _presence(client, conversation, leave="1").status_code == 204
    assert listener.notices()[str(cast.teammate.id)][0]["kind"] == "presence"
    assert live.viewer_ids(conversation.id) == [str(cast.teammate.id)]


def test_presence_runs_out_without_heartbeats(cast, monkeypatch):
    conversation = receive(cast.support_account, subject="Printer jam").conversation
    monkeypatch.setattr(live, "PRESENCE_SECONDS", 1)
    live.mark_viewing(conversation.id, cast.teammate.id)

    assert live.viewer_ids(conversation.id) == [str(cast.teammate.id)]
    assert 0 < live.client().ttl(live.viewers_key(conversation.id)) <= 1
    time.sleep(1.1)
    assert live.viewer_ids(conversation.id) == []


def test_typing_is_shown_to_the_other_viewers_only(cast, client, listen):
    conversation = receive(cast.support_account, subject="Printer jam").conversation
    live.mark_viewing(conversation.id, cast.teammate.id)
    live.mark_viewing(conversation.id, cast.owner.id)
    listener = listen(cast.owner, cast.teammate, cast.observer)
    login(client, cast.owner)

    response = client.post(reverse("live_typing", args=[conversation.id]))

    assert response.status_code == 204
    assert listener.notices() == {
        str(cast.teammate.id): [
            {
                "kind": "typing",
                "conversation": str(conversation.id),
                "user": str(cast.owner.id),
                "name": "Olivia Owner",
                "seq": 0,
            }
        ]
    }


def test_a_viewer_who_lost_access_is_not_told(cast, client, listen):
    conversation = receive(cast.personal_account, subject="Contract").conversation
    live.mark_viewing(conversation.id, cast.teammate.id)  # e.g. removed while it was open
    listener = listen(cast.teammate)
    login(client, cast.owner)

    client.post(reverse("live_typing", args=[conversation.id]))
    html = _presence(client, conversation).content.decode()

    assert listener.notices() == {}
    assert "Tom Teammate" not in html


@pytest.mark.parametrize("name", ["live_presence", "live_typing"])
def test_presence_and_typing_are_404_for_people_without_access(cast, client, listen, name):
    conversation = receive(cast.support_account, subject="Printer jam").conversation
    live.mark_viewing(conversation.id, cast.teammate.id)
    listener = listen(cast.teammate)
    login(client, cast.outsider)

    assert client.post(reverse(name, args=[conversation.id])).status_code == 404
    assert client.get(reverse(name, args=[conversation.id])).status_code == 405
    assert listener.notices() == {}
    assert live.viewer_ids(conversation.id) == [str(cast.teammate.id)]


def test_one_transaction_makes_one_notice_per_person(cast, listen, django_capture_on_commit_callbacks):
    first = receive(cast.support_account, subject="Printer jam").conversation
    second = receive(cast.support_account, subject="Toner").conversation
    listener = listen(cast.owner)

    with django_capture_on_commit_callbacks(execute=True):
        live.publish_after_commit(conversation_ids=[first.id], user_ids=[cast.owner.id], kind="label")
        live.publish_after_commit(conversation_ids=[first.id], user_ids=[cast.owner.id], kind="label")
    assert [n["kind"] for n in listener.notices()[str(cast.owner.id)]] == ["label"]

    with django_capture_on_commit_callbacks(execute=True):
        live.publish_after_commit(conversation_ids=[first.id], user_ids=[cast.owner.id], kind="label")
        live.publish_after_commit(conversation_ids=[second.id], user_ids=[cast.owner.id], kind="task")
    [notice] = listener.notices()[str(cast.owner.id)]
    assert (notice["kind"], notice["conversations"]) == ("changed", sorted([str(first.id), str(second.id)]))


def test_a_rolled_back_change_does_not_hold_back_the_next_one(cast, listen, django_capture_on_commit_callbacks):
    conversation = receive(cast.support_account, subject="Printer jam").conversation
    listener = listen(cast.owner)

    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            live.publish_after_commit(conversation_ids=[conversation.id], user_ids=[cast.owner.id], kind="label")
            raise RuntimeError("the request failed")
        live.publish_after_commit(conversation_ids=[conversation.id], user_ids=[cast.owner.id], kind="task")

    assert [n["kind"] for n in listener.notices()[str(cast.owner.id)]] == ["task"]


def test_a_notice_names_the_browser_tab_whose_request_made_the_change(
    client, cast, listen, django_capture_on_commit_callbacks
):
    conversation = receive(cast.support_account, subject="Printer jam").conversation
    login(client, cast.owner)
    listener = listen(cast.owner, cast.teammate)

    url = reverse("conversation_action", args=[conversation.id, "comment"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"body": "On it"}, HTTP_HX_REQUEST="true", HTTP_X_LIVE_TAB="tab-1")
    assert response.status_code == 200

    notices = listener.notices()
    assert {user: [n.get("origin") for n in got] for user, got in notices.items()} == {
        str(cast.owner.id): ["tab-1"],
        str(cast.teammate.id): ["tab-1"],
    }
