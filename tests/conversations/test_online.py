"""Who is online: the live stream every open app page holds marks its user, with an expiry."""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync, sync_to_async
from django.test import AsyncClient
from django.urls import reverse

from conversations import live, live_views
from tests.conftest import login


def test_an_open_stream_makes_its_user_online_for_a_limited_time(cast, client):
    login(client, cast.teammate)
    assert live.online_users([cast.teammate.id, cast.owner.id]) == set()

    response = client.get(reverse("live_stream"))
    next(iter(response.streaming_content))

    assert live.online_users([cast.teammate.id, cast.owner.id]) == {cast.teammate.id}
    assert 0 < live.client().ttl(live.online_key(cast.teammate.id)) <= live.ONLINE_SECONDS
    response.close()


def test_the_stream_refreshes_the_online_mark_at_each_heartbeat(cast, monkeypatch):
    monkeypatch.setattr(live_views, "HEARTBEAT_SECONDS", 0.2)

    async def body():
        client = AsyncClient()
        await client.aforce_login(cast.owner)
        events = aiter((await client.get(reverse("live_stream"))).streaming_content)
        await asyncio.wait_for(anext(events), 3)
        assert await sync_to_async(live.online_users)([cast.owner.id]) == {cast.owner.id}
        # The mark ran out (as it does ONLINE_SECONDS after a tab closes) ...
        await sync_to_async(live.client().delete)(live.online_key(cast.owner.id))
        assert await sync_to_async(live.online_users)([cast.owner.id]) == set()
        # ... but this stream is still open: its next heartbeat puts it back.
        assert await asyncio.wait_for(anext(events), 3) in (b": heartbeat\n\n", ": heartbeat\n\n")
        await asyncio.wait_for(anext(events), 3)
        assert await sync_to_async(live.online_users)([cast.owner.id]) == {cast.owner.id}
        await events.aclose()

    async_to_sync(body)()


def test_nobody_is_online_without_a_stream(cast):
    assert live.online_users([]) == set()
    assert live.online_users([cast.owner.id, cast.guest.id]) == set()
