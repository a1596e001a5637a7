"""do_run_network_actions (rules/network.py): each pending network action of a run runs once,
records "done" or "failed" with a detail, and a retried task runs nothing again."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from conversations.models import CannedResponse, CannedScope, Direction, Message
from rules.models import WebhookDelivery
from rules.network import do_run_network_actions
from tests.factories import receive
from tests.fakes.rule_runs import make_rule, pending_run


def test_each_pending_action_runs_once_in_order_and_a_retry_runs_nothing(cast):
    message = receive(cast.support_account)
    rule = make_rule(
        cast,
        [
            {"type": "webhook", "url": "http://127.0.0.1:9/a"},
            {"type": "add_labels", "labels": []},
            {"type": "webhook", "url": "http://127.0.0.1:9/b"},
        ],
    )
    run = pending_run(rule, message)

    assert do_run_network_actions(run.id) == 2
    assert do_run_network_actions(str(run.id)) == 0

    run.refresh_from_db()
    assert [(entry["type"], entry["state"]) for entry in run.log] == [
        ("webhook", "done"),
        ("add_labels", "done"),
        ("webhook", "done"),
    ]
    assert "detail" not in run.log[1]  # the engine's own entry is left alone
    assert sorted(WebhookDelivery.objects.filter(run=run).values_list("url", flat=True)) == [
        "http://127.0.0.1:9/a",
        "http://127.0.0.1:9/b",
    ]


def test_a_failing_action_is_recorded_and_the_next_one_still_runs(cast):
    message = receive(cast.support_account)
    rule = make_rule(
        cast,
        [{"type": "send_response", "canned_response": "not-a-uuid"}, {"type": "webhook", "url": "http://127.0.0.1:9/"}],
    )
    run = pending_run(rule, message)

    do_run_network_actions(run.id)

    run.refresh_from_db()
    assert run.log[0]["state"] == "failed" and run.log[0]["detail"] == "The canned response no longer exists."
    assert run.log[1]["state"] == "done"
    assert WebhookDelivery.objects.filter(run=run).count() == 1


def test_an_action_removed_from_the_rule_since_the_run_is_not_run(cast):
    message = receive(cast.support_account)
    rule = make_rule(cast, [{"type": "webhook", "url": "http://127.0.0.1:9/"}])
    run = pending_run(rule, message)
    rule.actions = [{"type": "close"}]
    rule.save()

    do_run_network_actions(run.id)

    run.refresh_from_db()
    assert run.log[0]["state"] == "failed" and "changed" in run.log[0]["detail"]
    assert not WebhookDelivery.objects.exists()


def test_an_unknown_run_does_nothing(db):
    assert do_run_network_actions("00000000-0000-0000-0000-000000000000") == 0


@pytest.mark.django_db(transaction=True)
def test_two_tasks_racing_on_one_run_run_its_actions_once(cast):
    message = receive(cast.support_account)
    rule = make_rule(cast, [{"type": "webhook", "url": "http://127.0.0.1:9/"}])
    run = pending_run(rule, message)
    barrier = threading.Barrier(2)
    ran: list[int] = []

    def task() -> None:
        try:
            barrier.wait()
            ran.append(do_run_network_actions(run.id))
        finally:
            connection.close()

    threads = [threading.Thread(target=task) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(ran) == [0, 1]
    assert WebhookDelivery.objects.filter(run=run).count() == 1


def test_an_organization_rule_without_a_creator_acts_as_an_owner_with_access(cast):
    message = receive(cast.support_account, sender="ann@client.test")
    response = CannedResponse.objects.create(
        organization=cast.org, scope=CannedScope.ORGANIZATION, title="Ack", body="<p>Thanks.</p>"
    )
    rule = make_rule(cast, [{"type": "send_response", "canned_response": str(response.id)}], created_by=None)

    do_run_network_actions(pending_run(rule, message).id)

    reply = Message.objects.get(conversation=message.conversation, direction=Direction.OUTBOUND)
    assert reply.author == cast.owner


def test_another_organizations_canned_response_is_never_used(cast):
    foreign = CannedResponse.objects.create(
        organization=cast.other_org, scope=CannedScope.ORGANIZATION, title="Theirs", body="<p>Globex says hi.</p>"
    )
    message = receive(cast.support_account)
    rule = make_rule(cast, [{"type": "send_response", "canned_response": str(foreign.id)}])
    run = pending_run(rule, message)

    do_run_network_actions(run.id)

    run.refresh_from_db()
    assert run.log[0]["state"] == "failed" and run.log[0]["detail"] == "The canned response no longer exists."
    assert Message.objects.filter(conversation=message.conversation).count() == 1
