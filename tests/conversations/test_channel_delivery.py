"""Delivery of non-email messages: the provider's id makes a retried delivery store nothing twice,
and thread keys (an SMS pair, a custom channel's references) thread them."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from conversations.actions import ActionRefused
from conversations.delivery import Delivery, do_receive_messages
from conversations.incoming import IncomingMessage
from conversations.models import Conversation, Message, ThreadKey
from conversations.sending import normalize_phone, recipients_for_kind
from inboxes.models import AccountKind
from tests.factories import AccountFactory, receive

PAIR = "+1222333444+1555666777"


@pytest.fixture
def sms_account(cast):
    return AccountFactory(
        organization=cast.org, owner=cast.owner, kind=AccountKind.TWILIO_SMS, address="+1222333444", is_shared=False
    )


def sms(account, body, *, sid, keys=(PAIR,)):
    return receive(account, subject="", body=body, sender="+1555666777", external_id=sid, thread_keys=list(keys))


def test_the_same_external_id_twice_stores_one_message(sms_account):
    first = sms(sms_account, "Hello", sid="SM1")
    again = sms(sms_account, "Hello", sid="SM1")
    assert again.id == first.id
    assert Message.objects.filter(account=sms_account).count() == 1
    assert Conversation.objects.get(id=first.conversation_id).message_count == 1


def test_messages_sharing_a_thread_key_share_a_conversation(sms_account):
    first = sms(sms_account, "Hello", sid="SM1")
    second = sms(sms_account, "Are you there?", sid="SM2")
    other = sms(sms_account, "Different person", sid="SM3", keys=["+1222333444+1999000111"])
    assert second.conversation_id == first.conversation_id
    assert other.conversation_id != first.conversation_id
    assert ThreadKey.objects.filter(key=PAIR).count() == 1
    assert Conversation.objects.get(id=first.conversation_id).message_count == 2


def test_an_external_id_threads_later_messages_that_reference_it(sms_account):
    first = sms(sms_account, "Question", sid="chat-42-msg-1", keys=[])
    reply = sms(sms_account, "More", sid="chat-42-msg-2", keys=["chat-42-msg-1"])
    assert reply.conversation_id == first.conversation_id


def test_one_batch_threads_and_deduplicates_in_memory(sms_account):
    def incoming(body, sid):
        return IncomingMessage(
            from_address="+1555666777", subject="", body_text=body, external_id=sid, thread_keys=[PAIR]
        )

    deliveries = [Delivery(incoming("a", "SM1")), Delivery(incoming("b", "SM2")), Delivery(incoming("a", "SM1"))]
    do_receive_messages(sms_account, deliveries)
    assert [d.created for d in deliveries] == [True, True, False]
    assert deliveries[2].message.id == deliveries[0].message.id
    assert len({d.message.conversation_id for d in deliveries}) == 1


def test_keys_are_per_organization(cast, sms_account):
    outsider_sms = AccountFactory(
        organization=cast.other_org, owner=cast.outsider, kind=AccountKind.TWILIO_SMS, address="+1222333444"
    )
    mine = sms(sms_account, "Hello", sid="SM1")
    theirs = sms(outsider_sms, "Hello", sid="SM1")
    assert theirs.conversation_id != mine.conversation_id
    assert theirs.id != mine.id


@pytest.mark.django_db(transaction=True)
def test_two_racing_first_messages_of_a_pair_make_one_conversation(cast, sms_account):
    """Two webhooks of one new pair at once: the advisory lock makes the second wait and thread."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def deliver(sid):
        try:
            barrier.wait()
            sms(sms_account, "Hi", sid=sid)
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(sid,)) for sid in ("SM1", "SM2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Message.objects.filter(account=sms_account).count() == 2
    assert Message.objects.filter(account=sms_account).values("conversation_id").distinct().count() == 1


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("+1 555-123-4567", "+15551234567"), ("+44 (20) 7946.0958", "+442079460958"), ("+15551234567", "+15551234567")],
)
def test_phone_numbers_are_stored_as_e164(typed, stored):
    assert normalize_phone(typed) == stored


@pytest.mark.parametrize("typed", ["555-123-4567", "+0123456789", "+1 555", "call me", ""])
def test_a_phone_number_without_its_country_code_is_refused(typed):
    with pytest.raises(ActionRefused, match="country code"):
        normalize_phone(typed)


def test_sms_recipients_are_checked_as_phone_numbers_and_deduplicated():
    assert recipients_for_kind(
        AccountKind.TWILIO_SMS, ["+1 555 123 4567", {"name": "Sam", "address": "+15551234567"}]
    ) == [{"name": "", "address": "+15551234567"}]
    with pytest.raises(ActionRefused):
        recipients_for_kind(AccountKind.WHATSAPP, ["sam@example.com"])
