"""The POST /v1/messages benchmark at a tiny size: the real web process (uvicorn) on loopback, a
real token, every request (paced and saturated) answered 201 and threaded into its chat."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from bench.api_messages import report, run_benchmark
from conversations.models import Conversation, Message
from inboxes.models import Account

# The web process is another process: it must see the committed rows, in the test database.
pytestmark = pytest.mark.django_db(transaction=True)


def test_the_benchmark_posts_every_message_and_reports_the_figures(settings):
    database = urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + connection.settings_dict["NAME"])
    web_env = {**os.environ, "DATABASE_URL": urlunsplit(database), "REDIS_URL": settings.REDIS_URL}

    figures = run_benchmark(
        requests=30, concurrency=4, conversations=5, web_env=web_env, rate=60, say=lambda line: None
    )

    assert figures.failures == [] and len(figures.latencies) == 30
    assert 0 < figures.percentile(50) <= figures.percentile(95) <= figures.percentile(100)
    paced = figures.paced
    assert paced is not None and paced.failures == [] and len(paced.latencies) == 30
    # The 30th request leaves 29/60 s after the first, answered or not: the run takes at least that.
    assert paced.seconds >= 29 / 60
    account = Account.objects.get(organization__name="API bench")
    # 30 saturated and 30 paced messages plus the warm-up's, in 5 chats per run.
    assert Message.objects.filter(account=account).count() == 30 + 30 + 30
    assert Conversation.objects.filter(messages__account=account).distinct().count() == 15
    lines = report(figures)
    assert lines[0] == "POST /v1/messages: 5 conversations, 0 failed"
    assert lines[1] == "Paced: 30 requests offered at 60/s (open loop)"
    assert "Latency p95 (target < 50 ms)" in lines[3]
    assert lines[6] == "Saturated: 30 requests, 4 concurrent (closed loop)"
    assert "Requests/s (target >= 200)" in lines[7]
    # For scale: the same number of the lightest authenticated GET, all answered.
    assert figures.floor is not None and figures.floor.failures == [] and len(figures.floor.latencies) == 30
    assert lines[10] == "Same stack, saturated, GET /v1/organizations (token + one query): 0 failed"
