"""Webhook actions (rules/webhooks.py): a signed POST of the conversation and its message to a
loopback receiver, retried 30 s, 1, 2 and 4 min after failures (5 attempts), and the rule
disabled at its 51st consecutive failure."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.actions import do_close
from conversations.labels import do_add_label
from conversations.models import ConversationEvent, Label
from missive.celery import app
from rules import webhooks
from rules.models import DeliveryState, Rule, Trigger, UserAction, WebhookDelivery
from rules.network import do_run_network_actions
from tests.factories import receive
from tests.fakes.http_receiver import http_receiver
from tests.fakes.rule_runs import make_rule, pending_run


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    """The receivers listen on loopback, which production refuses by default (tested below)."""
    settings.WEBHOOKS_ALLOW_PRIVATE = True


def _queued(cast, url, *, subject="Where is my order?"):
    message = receive(cast.support_account, subject=subject, body="It has been two weeks.", sender="ann@client.test")
    rule = make_rule(cast, [{"type": "webhook", "url": url}], description="01. Tell the shop")
    run = pending_run(rule, message)
    do_run_network_actions(run.id)
    return rule, run, message


def test_the_secret_is_generated_per_rule_and_stored_encrypted(cast):
    first = make_rule(cast, [])
    second = make_rule(cast, [])

    assert len(first.webhook_secret) >= 32 and first.webhook_secret != second.webhook_secret
    assert first.webhook_secret.encode() not in bytes(Rule.objects.get(id=first.id).encrypted_webhook_secret)


def test_a_webhook_posts_the_conversation_signed_with_the_rules_secret(cast):
    label = Label.objects.create(organization=cast.org, name="Orders")
    with http_receiver() as receiver:
        rule, run, message = _queued(cast, f"{receiver.url}/hook")
        do_add_label(message.conversation, label, acting_user=cast.owner)
        delivery = WebhookDelivery.objects.get(run=run)
        # The payload is taken when the action runs; refresh it to see the label too.
        delivery.payload = webhooks.build_payload(run)
        delivery.save()

        assert webhooks.attempt(delivery.id) == DeliveryState.DELIVERED

    [request] = receiver.requests
    assert request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    expected = webhooks.signature(rule.webhook_secret, request.body)
    assert request.headers["x-hook-signature"] == expected == request.headers["x-missive-signature"]
    assert expected.startswith("sha256=") and len(expected) == len("sha256=") + 64
    body = json.loads(request.body)
    assert body["rule"] == {"id": str(rule.id), "description": "01. Tell the shop", "type": "incoming_email"}
    assert body["conversation"]["id"] == str(message.conversation_id)
    assert body["conversation"]["subject"] == "Where is my order?"
    assert body["conversation"]["shared_labels"] == [{"id": str(label.id), "name": "Orders"}]
    assert body["conversation"]["team"]["name"] == "Support"
    assert body["latest_message"] == body["message"]
    assert body["latest_message"]["from_field"] == {"name": "A Customer", "address": "ann@client.test"}
    assert body["latest_message"]["preview"] == "It has been two weeks."
    assert body["latest_message"]["subject"] == "Where is my order?"
    assert body["latest_message"]["delivered_at"] == int(message.sent_at.timestamp())
    assert body["contact"] == {"name": "A Customer", "address": "ann@client.test"}
    assert run.__class__.objects.get(id=run.id).log[0]["state"] == "done"


def test_a_user_action_webhook_names_the_team_member_who_triggered_it(cast):
    message = receive(cast.support_account, subject="Refund")
    do_close(message.conversation, acting_user=cast.teammate)
    event = ConversationEvent.objects.filter(conversation=message.conversation).latest("id")
    rule = make_rule(
        cast,
        [{"type": "webhook", "url": "http://127.0.0.1:9/"}],
        trigger=Trigger.USER_ACTION,
        user_action=UserAction.CLOSED,
    )
    run = pending_run(rule, message, key=f"evt:{event.id}")

    payload = webhooks.build_payload(run)

    assert payload["rule"]["type"] == "closed"
    assert payload["triggered_by"] == {
        "id": str(cast.teammate.id),
        "name": cast.teammate.display_name,
        "email": "teammate@acme.test",
    }


def test_failures_are_retried_after_30s_1_2_and_4_minutes_then_given_up(cast):
    with http_receiver() as receiver:
        receiver.statuses = [500, 502, 503, 404, 500]
        rule, run, _ = _queued(cast, receiver.url)
        delivery = WebhookDelivery.objects.get(run=run)
        start = timezone.now()
        assert webhooks.attempt(delivery.id, now=start) == DeliveryState.PENDING
        waits = []
        moment = start
        for _ in range(4):
            delivery.refresh_from_db()
            waits.append(delivery.next_attempt_at - moment)
            # Not due a second early.
            assert webhooks.do_deliver_due_webhooks(now=delivery.next_attempt_at - timedelta(seconds=1)) == 0
            moment = delivery.next_attempt_at
            assert webhooks.do_deliver_due_webhooks(now=moment) == 1

    delivery.refresh_from_db()
    assert waits == [timedelta(seconds=30), timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == 5
    assert delivery.last_error == "HTTP 500"
    assert moment - start == timedelta(minutes=7, seconds=30)
    assert len(receiver.requests) == 5
    rule.refresh_from_db()
    assert rule.consecutive_failures == 5 and rule.enabled


def test_a_network_error_is_a_failure_and_a_later_success_resets_the_count(cast):
    rule, run, _ = _queued(cast, "http://127.0.0.1:9/closed-port")
    delivery = WebhookDelivery.objects.get(run=run)
    now = timezone.now()

    assert webhooks.attempt(delivery.id, now=now) == DeliveryState.PENDING
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("Network error")
    rule.refresh_from_db()
    assert rule.consecutive_failures == 1

    with http_receiver() as receiver:
        WebhookDelivery.objects.filter(id=delivery.id).update(url=receiver.url)
        assert webhooks.attempt(delivery.id, now=now + timedelta(seconds=30)) == DeliveryState.DELIVERED
    rule.refresh_from_db()
    assert rule.consecutive_failures == 0


def test_the_51st_consecutive_failure_disables_the_rule_with_a_reason(cast):
    with http_receiver() as receiver:
        receiver.statuses = [500] * 60
        rule, run, message = _queued(cast, receiver.url)
        Rule.objects.filter(id=rule.id).update(consecutive_failures=49)
        delivery = WebhookDelivery.objects.get(run=run)
        now = timezone.now()

        webhooks.attempt(delivery.id, now=now)  # the 50th
        rule.refresh_from_db()
        assert rule.enabled and rule.consecutive_failures == 50

        webhooks.attempt(delivery.id, now=now + timedelta(seconds=30))  # the 51st
    rule.refresh_from_db()
    assert not rule.enabled and rule.consecutive_failures == 51
    assert "failed more than 50 times in a row" in rule.disabled_reason


def test_a_delivery_is_queued_once_even_when_the_task_runs_twice(cast):
    rule, run, _ = _queued(cast, "http://127.0.0.1:9/")

    assert do_run_network_actions(run.id) == 0
    assert WebhookDelivery.objects.filter(run=run).count() == 1


def test_a_non_http_url_fails_the_action_without_a_delivery(cast):
    message = receive(cast.support_account)
    rule = make_rule(cast, [{"type": "webhook", "url": "file:///etc/passwd"}])
    run = pending_run(rule, message)

    do_run_network_actions(run.id)

    run.refresh_from_db()
    assert run.log[0]["state"] == "failed" and "http" in run.log[0]["detail"]
    assert not WebhookDelivery.objects.exists()


def test_beat_runs_the_due_deliveries_task_often_enough_for_30s_retries(cast, settings):
    with http_receiver() as receiver:
        receiver.statuses = [500]
        _, run, _ = _queued(cast, receiver.url)
        delivery = WebhookDelivery.objects.get(run=run)
        webhooks.attempt(delivery.id)
        WebhookDelivery.objects.filter(id=delivery.id).update(next_attempt_at=timezone.now())

        webhooks.deliver_due_webhooks()

    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 2
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == webhooks.deliver_due_webhooks.name)
    assert entry["schedule"] <= 30
    assert webhooks.deliver_due_webhooks.name in app.tasks


def test_private_and_loopback_addresses_are_refused_unless_allowed(cast, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    with http_receiver() as receiver:
        rule, run, _ = _queued(cast, receiver.url)
        delivery = WebhookDelivery.objects.get(run=run)

        assert webhooks.attempt(delivery.id) == DeliveryState.PENDING

    assert receiver.requests == []
    delivery.refresh_from_db()
    assert "not a public address" in delivery.last_error


def test_a_redirect_is_a_failure_not_followed(cast):
    with http_receiver() as receiver:
        receiver.statuses = [307]
        _, run, _ = _queued(cast, receiver.url)
        delivery = WebhookDelivery.objects.get(run=run)

        assert webhooks.attempt(delivery.id) == DeliveryState.PENDING

    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.last_error == "HTTP 307"
