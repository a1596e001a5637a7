"""The web process's ASGI application (missive/asgi.py): /v1/ requests are answered whole on one
pooled thread (signals, middleware and view), the other paths by Django's async handler."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core import signals
from django.db import connection

from channels_app.api.tokens import create_token
from channels_app.custom.accounts import do_create_custom_channel
from conversations.models import Message
from missive.asgi import application

# The handler's threads use connections of their own: the test's rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def _request(method: str, path: str, *, token: str = "", body: bytes = b"", chunk: int = 0) -> dict[str, Any]:
    """One request through the ASGI application: {"status", "headers", "body"}. The body is sent
    in pieces of `chunk` bytes when given, as a server passes a large one on."""
    headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def exchange() -> dict[str, Any]:
        communicator = ApplicationCommunicator(application, scope)
        pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] if chunk and body else [body]
        for n, piece in enumerate(pieces):
            await communicator.send_input({"type": "http.request", "body": piece, "more_body": n < len(pieces) - 1})
        start = await communicator.receive_output(10)
        content = b""
        while True:
            message = await communicator.receive_output(10)
            content += message.get("body", b"")
            if not message.get("more_body"):
                break
        await communicator.wait(1)
        headers = {name.decode().lower(): value.decode() for name, value in start["headers"]}
        return {"status": start["status"], "headers": headers, "body": content}

    # On a thread of its own: the suite's browser tests may leave an event loop running here.
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, exchange()).result(timeout=30)


@pytest.fixture
def threads_seen():
    """The name of the thread each request_started and request_finished signal ran on."""
    seen: dict[str, list[str]] = {"started": [], "finished": []}

    def started(**kwargs: Any) -> None:
        seen["started"].append(threading.current_thread().name)

    def finished(**kwargs: Any) -> None:
        seen["finished"].append(threading.current_thread().name)

    signals.request_started.connect(started, weak=False)
    signals.request_finished.connect(finished, weak=False)
    yield seen
    signals.request_started.disconnect(started)
    signals.request_finished.disconnect(finished)


@pytest.fixture
def token(cast):
    return create_token(cast.owner, "asgi")[1]


def test_an_api_request_runs_whole_on_one_pooled_thread(cast, token, threads_seen):
    response = _request("GET", "/v1/organizations", token=token)

    assert response["status"] == 200
    assert [org["name"] for org in json.loads(response["body"])["organizations"]] == [cast.org.name]
    assert response["headers"]["content-type"] == "application/json; charset=utf-8"
    assert int(response["headers"]["x-ratelimit-limit"]) > 0, "the middleware ran"
    started, finished = threads_seen["started"], threads_seen["finished"]
    assert len(started) == len(finished) == 1
    assert started == finished, "the request's connection is handed back on the thread that used it"
    assert started[0].startswith("api")


def test_a_posted_body_arriving_in_pieces_reaches_the_view_whole(cast, token):
    channel = do_create_custom_channel(
        cast.org, owner=cast.owner, name="Chat", message_type="text", team=cast.support, shared=True
    )
    text = "A long message. " * 400
    body = {"messages": {"account": str(channel.id), "body": text, "from_field": {"id": "ann"}, "external_id": "e1"}}

    response = _request("POST", "/v1/messages", token=token, body=json.dumps(body).encode(), chunk=1000)

    assert response["status"] == 201, response["body"]
    created = json.loads(response["body"])["messages"]
    assert Message.objects.get(id=created["id"]).body_text == text


def test_api_errors_keep_their_status_and_json(cast, token):
    refused = _request("GET", "/v1/organizations")
    malformed = _request("POST", "/v1/messages", token=token, body=b'{"messages": {"body": 5}}')

    assert refused["status"] == 401 and json.loads(refused["body"])
    assert malformed["status"] == 400
    assert json.loads(malformed["body"])["field"] == "messages.body"


def test_other_paths_keep_djangos_async_handling(cast, threads_seen):
    response = _request("GET", "/accounts/login/")

    assert response["status"] == 200
    assert b"<form" in response["body"]
    assert not threads_seen["started"][0].startswith("api")


def _sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_api_requests_leave_no_database_connection_open(cast, token):
    before = _sessions()

    for _ in range(6):
        assert _request("GET", "/v1/organizations", token=token)["status"] == 200

    deadline = time.monotonic() + 5  # a closed connection's server process ends a moment later
    while _sessions() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _sessions() == before
