"""The network actions that send or notify (rules/network.py): Send response with its throttle,
Forward message, Unsubscribe (RFC 8058 one-click, else mailto:), and Notify. Mail goes through
the outbox to a real SMTP listener on loopback; one-click POSTs to a loopback HTTP receiver."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta

import pytest
from django.utils import timezone

from channels_app.outbox import dispatch_due
from conversations.models import (
    ActivityItem,
    CannedResponse,
    CannedScope,
    Conversation,
    Direction,
    Draft,
    Message,
    OutboxMessage,
)
from rules import network
from rules.network import do_run_network_actions, notify, unsubscribe_targets
from tests.channels_app.test_outbox import can_send
from tests.factories import receive, state_of
from tests.fakes.http_receiver import http_receiver
from tests.fakes.rule_runs import make_rule, pending_run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tmp_storage", "trust_smtp")]

DAY = 24 * 3600


def _canned(cast, body="<p>Hi {{ recipient.first_name }}, thanks for writing. We answer within a day.</p>"):
    return CannedResponse.objects.create(
        organization=cast.org, scope=CannedScope.ORGANIZATION, title="Got it", subject="We got your email", body=body
    )


def _auto_replies(conversation):
    return Message.objects.filter(conversation=conversation, direction=Direction.OUTBOUND, is_auto_reply=True)


def _sent(smtp_server):
    return [email.message_from_bytes(r.data, policy=email.policy.default) for r in smtp_server.received]


def test_send_response_replies_from_the_canned_response_through_the_outbox(cast, smtp_server):
    can_send(cast.support_account, smtp_server)
    inbound = receive(
        cast.support_account,
        subject="Order 42",
        sender="ann@client.test",
        from_name="Ann Lee",
        rfc_message_id="<o42@client.test>",
    )
    rule = make_rule(cast, [{"type": "send_response", "canned_response": str(_canned(cast).id)}])
    run = pending_run(rule, inbound)

    do_run_network_actions(run.id)

    run.refresh_from_db()
    assert run.log[0]["state"] == "done" and run.log[0]["detail"] == "Sent a response to ann@client.test"
    [reply] = _auto_replies(inbound.conversation)
    assert reply.to == [{"name": "Ann Lee", "address": "ann@client.test"}]
    assert reply.from_address == "support@acme.test"
    assert "Hi Ann, thanks for writing." in reply.body_html
    assert reply.in_reply_to == "<o42@client.test>"
    # No person answered: the team inbox conversation stays unassigned and unread.
    conversation = Conversation.objects.get(id=inbound.conversation_id)
    assert conversation.in_team_inbox and not conversation.assigned
    assert state_of(conversation, cast.owner).unread
    assert dispatch_due().sent == 1
    [sent] = _sent(smtp_server)
    assert sent["Auto-Submitted"] == "auto-replied"
    assert sent["To"] == "Ann Lee <ann@client.test>"
    assert sent["In-Reply-To"] == "<o42@client.test>"


def test_send_response_at_most_once_every_24h_per_conversation(cast, smtp_server):
    """The seed's acceptance: 5 customer messages in one thread inside 24 h, only the first gets
    the reply; the next goes out once 24 h passed since the last one sent."""
    can_send(cast.support_account, smtp_server)
    rule = make_rule(cast, [{"type": "send_response", "canned_response": str(_canned(cast).id), "at_most_every": DAY}])
    start = timezone.now()
    first = receive(cast.support_account, subject="Help", sender="ann@client.test", rfc_message_id="<m0@client.test>")
    conversation = first.conversation
    messages = [first]
    for n in range(1, 5):
        messages.append(
            receive(
                cast.support_account,
                subject="Re: Help",
                sender="ann@client.test",
                rfc_message_id=f"<m{n}@client.test>",
                in_reply_to=f"<m{n - 1}@client.test>",
                references=[f"<m{n - 1}@client.test>"],
            )
        )
    assert {m.conversation_id for m in messages} == {conversation.id}

    for n, message in enumerate(messages):
        do_run_network_actions(pending_run(rule, message).id, now=start + timedelta(hours=5 * n))

    assert _auto_replies(conversation).count() == 1
    held = rule.runs.order_by("created_at")[1]
    assert held.log[0]["state"] == "done" and held.log[0]["detail"].startswith("Not sent: a response already went out")

    sixth = receive(
        cast.support_account,
        subject="Re: Help",
        sender="ann@client.test",
        rfc_message_id="<m5@client.test>",
        in_reply_to="<m4@client.test>",
        references=["<m4@client.test>"],
    )
    do_run_network_actions(pending_run(rule, sixth).id, now=start + timedelta(hours=23, minutes=59))
    assert _auto_replies(conversation).count() == 1
    seventh = receive(
        cast.support_account,
        subject="Re: Help",
        sender="ann@client.test",
        rfc_message_id="<m6@client.test>",
        in_reply_to="<m5@client.test>",
        references=["<m5@client.test>"],
    )
    do_run_network_actions(pending_run(rule, seventh).id, now=start + timedelta(hours=24))
    assert _auto_replies(conversation).count() == 2

    # Another conversation has its own window.
    other = receive(cast.support_account, subject="Other", sender="bob@client.test")
    do_run_network_actions(pending_run(rule, other).id, now=start + timedelta(hours=1))
    assert _auto_replies(other.conversation).count() == 1


def test_forward_sends_the_email_to_the_address_through_the_outbox(cast, smtp_server):
    can_send(cast.support_account, smtp_server)
    inbound = receive(cast.support_account, subject="Invoice 7", body="Please pay by Friday.", sender="ap@vendor.test")
    rule = make_rule(cast, [{"type": "forward", "address": "books@accountant.test"}])

    do_run_network_actions(pending_run(rule, inbound).id)

    [forward] = Message.objects.filter(conversation=inbound.conversation, direction=Direction.OUTBOUND)
    assert forward.to == [{"name": "", "address": "books@accountant.test"}]
    assert forward.subject == "Fwd: Invoice 7"
    assert "Please pay by Friday." in forward.body_html
    assert dispatch_due().sent == 1
    [sent] = _sent(smtp_server)
    assert smtp_server.received[0].rcpt_tos == ("books@accountant.test",)
    assert sent["Subject"] == "Fwd: Invoice 7"


def _newsletter(cast, headers: str):
    raw = (
        "From: News <news@list.test>\r\nTo: support@acme.test\r\nSubject: Weekly\r\n"
        f"{headers}Content-Type: text/plain\r\n\r\nThis week.\r\n"
    ).encode()
    return receive(cast.support_account, subject="Weekly", sender="news@list.test", raw=raw, is_bulk=True)


def test_unsubscribe_posts_one_click_when_the_list_offers_it(cast, monkeypatch, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    # RFC 8058 asks for https; the loopback receiver speaks plain http.
    monkeypatch.setattr(network, "ONE_CLICK_SCHEMES", ("https", "http"))
    with http_receiver() as receiver:
        newsletter = _newsletter(
            cast,
            f"List-Unsubscribe: <mailto:leave@list.test>, <{receiver.url}/unsub?u=9>\r\n"
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
        )
        rule = make_rule(cast, [{"type": "unsubscribe"}])
        run = pending_run(rule, newsletter)

        do_run_network_actions(run.id)

    [request] = receiver.requests
    assert request.path == "/unsub?u=9"
    assert request.body == b"List-Unsubscribe=One-Click"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    run.refresh_from_db()
    assert run.log[0]["state"] == "done" and "one-click" in run.log[0]["detail"]
    assert not OutboxMessage.objects.exists()


def test_unsubscribe_without_one_click_mails_the_mailto_address(cast, smtp_server):
    can_send(cast.support_account, smtp_server)
    newsletter = _newsletter(
        cast, "List-Unsubscribe: <https://list.test/unsub?u=9>,\r\n <mailto:leave@list.test?subject=remove%20me>\r\n"
    )
    rule = make_rule(cast, [{"type": "unsubscribe"}])

    do_run_network_actions(pending_run(rule, newsletter).id)

    assert dispatch_due().sent == 1
    assert smtp_server.received[0].rcpt_tos == ("leave@list.test",)
    assert _sent(smtp_server)[0]["Subject"] == "remove me"


def test_unsubscribe_does_nothing_without_the_header(cast):
    newsletter = _newsletter(cast, "")
    rule = make_rule(cast, [{"type": "unsubscribe"}])
    run = pending_run(rule, newsletter)

    do_run_network_actions(run.id)

    run.refresh_from_db()
    assert run.log[0] == {
        "index": 0,
        "type": "unsubscribe",
        "state": "done",
        "detail": "No List-Unsubscribe header: nothing to do",
    }
    assert unsubscribe_targets(newsletter) == ([], False)
    assert not OutboxMessage.objects.exists() and not Draft.objects.exists()


def test_notify_puts_the_text_in_the_chosen_users_activity_feeds(cast):
    inbound = receive(cast.support_account, subject="VIP")
    rule = make_rule(cast, [{"type": "notify", "users": [], "text": ""}], description="VIP watch")

    count = notify(
        rule, inbound.conversation, [str(cast.teammate.id), str(cast.outsider.id), "junk"], "A VIP wrote in."
    )

    assert count == 1
    [item] = ActivityItem.objects.all()
    assert item.recipient == cast.teammate and item.actor is None
    assert item.data == {"excerpt": "A VIP wrote in.", "rule": "VIP watch"}
