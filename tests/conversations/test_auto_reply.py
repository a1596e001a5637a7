"""The personal auto-responder (conversations/auto_reply.py): while Out of office, mail reaching a
chosen personal alias is answered once per 24 h per (alias, sender) pair, never to robots, bulk
mail, the user's own addresses or on shared accounts."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from conversations.auto_reply import _claim, do_auto_reply
from conversations.models import AutoReplyLog, Direction, Message, OutboxMessage, OutboxStatus
from inboxes.models import Alias, AutoResponderAlias, Membership
from tests.factories import AccountFactory, receive, state_of


def _away(cast, *, aliases=None, subject="", body="Hi {{ recipient.first_name }}, I am away until Monday."):
    membership = Membership.objects.get(organization=cast.org, user=cast.owner)
    membership.out_of_office = True
    membership.auto_responder_enabled = True
    membership.auto_responder_subject = subject
    membership.auto_responder_body = body
    membership.save()
    for alias in aliases or [Alias.objects.get(account=cast.personal_account, is_default=True)]:
        AutoResponderAlias.objects.create(organization=cast.org, user=cast.owner, alias=alias)
    return membership


def _replies(conversation=None):
    replies = Message.objects.filter(direction=Direction.OUTBOUND, is_auto_reply=True)
    return replies.filter(conversation=conversation) if conversation else replies


def test_an_away_owner_answers_in_the_same_conversation_through_the_outbox(cast):
    _away(cast)
    inbound = receive(
        cast.personal_account,
        subject="Quote request",
        sender="ann@client.test",
        from_name="Ann Lee",
        rfc_message_id="<q1@client.test>",
    )

    reply = do_auto_reply(inbound)

    assert reply is not None and reply.is_auto_reply and reply.direction == Direction.OUTBOUND
    assert reply.conversation_id == inbound.conversation_id
    assert reply.to == [{"name": "Ann Lee", "address": "ann@client.test"}]
    assert reply.from_address == "olivia@acme.test" and reply.author == cast.owner
    assert reply.subject == "Re: Quote request"
    assert "Hi Ann, I am away until Monday." in reply.body_html
    assert reply.in_reply_to == "<q1@client.test>"
    outbox = OutboxMessage.objects.get(message=reply)
    assert outbox.status == OutboxStatus.PENDING and outbox.send_after <= timezone.now()
    # The away owner has not read the email the auto-responder answered.
    assert state_of(inbound.conversation, cast.owner).unread


def test_a_configured_subject_and_escaped_variables(cast):
    _away(cast, subject="Away: {{ user.first_name }}", body="Dear {{ recipient.name }}\n\nBack soon.")
    inbound = receive(cast.personal_account, sender="x@client.test", from_name="<b>Eve</b>")

    reply = do_auto_reply(inbound)

    assert reply.subject == "Away: Olivia"
    assert "&lt;b&gt;Eve&lt;/b&gt;" in reply.body_html and "<b>Eve" not in reply.body_html
    assert "<p>Back soon.</p>" in reply.body_html


def test_one_reply_per_24_hours_per_alias_and_sender_across_conversations(cast):
    _away(cast)
    first = receive(cast.personal_account, subject="One", sender="ann@client.test")
    assert do_auto_reply(first) is not None

    again = receive(cast.personal_account, subject="Two", sender="ann@client.test")
    assert again.conversation_id != first.conversation_id
    assert do_auto_reply(again) is None

    other_sender = receive(cast.personal_account, subject="Three", sender="bob@client.test")
    assert do_auto_reply(other_sender) is not None

    later = timezone.now() + timedelta(hours=24, minutes=1)
    after_a_day = receive(cast.personal_account, subject="Four", sender="ann@client.test", sent_at=later)
    assert do_auto_reply(after_a_day, now=later) is not None
    assert _replies().count() == 3
    assert AutoReplyLog.objects.get(sender_address="ann@client.test").last_sent_at == later


def test_each_alias_of_the_same_user_counts_separately(cast):
    default = Alias.objects.get(account=cast.personal_account, is_default=True)
    sales = Alias.objects.create(organization=cast.org, account=cast.personal_account, address="o.sales@acme.test")
    _away(cast, aliases=[default, sales])
    first = receive(cast.personal_account, sender="ann@client.test")
    assert do_auto_reply(first).from_address == "olivia@acme.test"

    incoming = receive(cast.personal_account, subject="To sales", sender="ann@client.test")
    incoming.to = [{"name": "", "address": "o.sales@acme.test"}]
    incoming.save()

    reply = do_auto_reply(incoming)
    assert reply is not None and reply.from_address == "o.sales@acme.test"


def test_an_alias_not_chosen_does_not_answer(cast):
    default = Alias.objects.get(account=cast.personal_account, is_default=True)
    Alias.objects.create(organization=cast.org, account=cast.personal_account, address="o.sales@acme.test")
    _away(cast, aliases=[Alias.objects.get(address="o.sales@acme.test")])
    assert default.address == "olivia@acme.test"

    assert do_auto_reply(receive(cast.personal_account, sender="ann@client.test")) is None


@pytest.mark.parametrize(
    ("fields", "sender"),
    [
        ({"is_bulk": True}, "news@shop.test"),
        ({"is_auto_reply": True}, "ann@client.test"),
        ({}, "MAILER-DAEMON@mx.client.test"),
        ({}, "postmaster@client.test"),
        ({}, "noreply@client.test"),
        ({}, "no-reply@client.test"),
        ({}, "olivia@acme.test"),
        ({}, "owner@acme.test"),
    ],
)
def test_no_reply_to_automated_or_bulk_mail_or_own_addresses(cast, fields, sender):
    _away(cast)
    inbound = receive(cast.personal_account, sender=sender, **fields)

    assert do_auto_reply(inbound) is None
    assert not _replies().exists() and not AutoReplyLog.objects.exists()


def test_no_reply_to_old_mail_being_synced(cast):
    _away(cast)
    inbound = receive(cast.personal_account, sender="ann@client.test", sent_at=timezone.now() - timedelta(days=3))

    assert do_auto_reply(inbound) is None


def test_shared_accounts_never_auto_respond(cast):
    membership = _away(cast)
    alias = Alias.objects.get(account=cast.support_account, is_default=True)
    AutoResponderAlias.objects.create(organization=cast.org, user=cast.owner, alias=alias)
    assert membership.out_of_office

    assert do_auto_reply(receive(cast.support_account, sender="ann@client.test")) is None
    assert not _replies().exists()


def test_no_reply_when_the_auto_responder_is_off(cast):
    membership = _away(cast)
    membership.auto_responder_enabled = False
    membership.save()

    assert do_auto_reply(receive(cast.personal_account, sender="ann@client.test")) is None


def test_no_reply_when_out_of_office_is_off_or_not_started_or_over(cast):
    membership = _away(cast)
    membership.out_of_office = False
    membership.save()
    assert do_auto_reply(receive(cast.personal_account, sender="a@client.test")) is None

    membership.out_of_office_starts_at = timezone.now() + timedelta(hours=1)
    membership.save()
    assert do_auto_reply(receive(cast.personal_account, sender="b@client.test")) is None

    # Started by its schedule, before beat's next run: it answers.
    membership.out_of_office_starts_at = timezone.now() - timedelta(minutes=1)
    membership.save()
    assert do_auto_reply(receive(cast.personal_account, sender="c@client.test")) is not None

    membership.out_of_office, membership.out_of_office_ends_at = True, timezone.now() - timedelta(seconds=1)
    membership.save()
    assert do_auto_reply(receive(cast.personal_account, sender="d@client.test")) is None


def test_another_users_personal_account_is_not_answered_for_the_away_user(cast):
    _away(cast)
    teammates = AccountFactory(organization=cast.org, owner=cast.teammate, address="tom@acme.test")

    assert do_auto_reply(receive(teammates, sender="ann@client.test")) is None


def test_a_broken_template_sends_nothing_and_keeps_the_pair_free(cast):
    from conversations.templating import TemplateProblem

    _away(cast, body="Hi {% if %}")
    inbound = receive(cast.personal_account, sender="ann@client.test")

    with pytest.raises(TemplateProblem):
        do_auto_reply(inbound)
    assert not _replies().exists() and not AutoReplyLog.objects.exists()


def test_delivery_queues_the_auto_reply_after_commit(cast, settings, django_capture_on_commit_callbacks):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    _away(cast)

    with django_capture_on_commit_callbacks(execute=True):
        inbound = receive(cast.personal_account, subject="Hello there", sender="ann@client.test")

    reply = _replies(inbound.conversation).get()
    assert reply.subject == "Re: Hello there"


def test_delivery_on_a_shared_account_sends_nothing(cast, settings, django_capture_on_commit_callbacks):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    _away(cast)
    AutoResponderAlias.objects.create(
        organization=cast.org, user=cast.owner, alias=Alias.objects.get(account=cast.support_account)
    )

    with django_capture_on_commit_callbacks(execute=True):
        receive(cast.support_account, sender="ann@client.test")

    assert not _replies().exists()


@pytest.mark.django_db(transaction=True)
def test_two_racing_deliveries_claim_the_pair_once(cast):
    now = timezone.now()
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def claim() -> None:
        try:
            with transaction.atomic():
                barrier.wait(timeout=5)
                results.append(_claim(cast.org.id, "olivia@acme.test", "ann@client.test", now))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert sorted(results) == [False, True]
    assert AutoReplyLog.objects.filter(sender_address="ann@client.test").count() == 1


def test_the_sent_auto_reply_says_auto_submitted_and_is_never_answered_itself(cast):
    from channels_app.email.compose import build_mime
    from channels_app.email.parsing import parse_email

    _away(cast)
    reply = do_auto_reply(receive(cast.personal_account, sender="ann@client.test"))

    raw = build_mime(reply)

    assert b"Auto-Submitted: auto-replied" in raw
    assert parse_email(raw).is_auto_reply
