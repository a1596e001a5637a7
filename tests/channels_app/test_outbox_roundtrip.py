"""Sending end to end with real servers: the SMTP listener acts as the recipients' mail server
(it APPENDs what it receives to their INBOX in Dovecot), each account's sync reads its mail, and
every sent message gets its copy in the sender's Sent folder. Two organizations write to each
other; the reply threads into the same conversation on both sides."""

import pytest

from channels_app.imap.accounts import ImapAccountDetails, do_connect_imap_account
from channels_app.imap.sync import sync_account
from channels_app.models import FolderRole, ImapFolder
from channels_app.outbox import append_pending_sent_copies, dispatch_due
from conversations.models import Direction, Message, OutboxMessage, OutboxStatus
from tests.outbox_factory import outgoing

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("tmp_storage", "trust_dovecot", "trust_smtp"),
]


def connect(organization, owner, imap_user, smtp_server):
    smtp_server.users[imap_user.username] = imap_user.password
    details = ImapAccountDetails(
        email=f"{imap_user.username}@mail.test",
        display_name="Box",
        imap_host=imap_user.host,
        imap_port=imap_user.port,
        imap_security="starttls",
        username=imap_user.username,
        password=imap_user.password,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_security="starttls",
        history_days=None,
    )
    account, _ = do_connect_imap_account(organization, details, owner=owner)
    sync_account(account)  # learns the folders, the Sent folder among them
    return account


def deliver_into_dovecot(dovecot, users):
    """The listener as the recipients' MTA: each RCPT TO of ours gets the bytes in its INBOX."""
    mailboxes = {f"{user.username}@mail.test": user.username for user in users}

    def deliver(received):
        for recipient in received.rcpt_tos:
            if recipient.lower() in mailboxes:
                dovecot.append(mailboxes[recipient.lower()], "INBOX", received.data)

    return deliver


def test_a_sent_message_is_copied_to_the_sent_folder_and_its_sync_adds_nothing(cast, imap_user, dovecot, smtp_server):
    account = connect(cast.org, cast.owner, imap_user, smtp_server)
    message = outgoing(account, from_name="Olivia Owner", to=["bob@outside.test"], subject="Quote")

    assert dispatch_due().sent == 1, OutboxMessage.objects.get().last_error

    message.refresh_from_db()
    outbox = OutboxMessage.objects.get(message=message)
    assert outbox.status == OutboxStatus.SENT and outbox.appended_to_sent
    [(uid, message_id)] = dovecot.fetch_message_ids(imap_user.username, "Sent").items()
    assert message_id == message.rfc_message_id
    assert "\\Seen" in dovecot.get_flags(imap_user.username, "Sent")[uid]
    assert dovecot.fetch_raw(imap_user.username, "Sent", uid) == smtp_server.received[0].data

    sync_account(account)

    assert Message.objects.filter(rfc_message_id=message.rfc_message_id).count() == 1
    assert Message.objects.filter(conversation=message.conversation).count() == 1


def test_a_failed_sent_copy_is_retried_by_itself_without_sending_again(cast, imap_user, dovecot, smtp_server):
    account = connect(cast.org, cast.owner, imap_user, smtp_server)
    message = outgoing(account)
    sent_folder = ImapFolder.objects.get(account=account, role=FolderRole.SENT)
    ImapFolder.objects.filter(id=sent_folder.id).update(name="Gone")  # APPEND fails: no such folder

    dispatch_due()

    outbox = OutboxMessage.objects.get(message=message)
    assert outbox.status == OutboxStatus.SENT and not outbox.appended_to_sent
    ImapFolder.objects.filter(id=sent_folder.id).update(name="Sent")

    assert append_pending_sent_copies() == 1

    assert OutboxMessage.objects.get(message=message).appended_to_sent
    assert len(smtp_server.received) == 1
    assert list(dovecot.fetch_message_ids(imap_user.username, "Sent").values()) == [
        Message.objects.get(id=message.id).rfc_message_id
    ]


def test_round_trip_between_two_organizations_threads_on_both_sides(cast, imap_user_factory, dovecot, smtp_server):
    box_a, box_b = imap_user_factory(), imap_user_factory()
    account_a = connect(cast.org, cast.owner, box_a, smtp_server)
    account_b = connect(cast.other_org, cast.outsider, box_b, smtp_server)
    smtp_server.deliver = deliver_into_dovecot(dovecot, [box_a, box_b])

    original = outgoing(
        account_a,
        from_name="Olivia Owner",
        to=[{"name": "Xavier", "address": account_b.address}],
        subject="Partnership",
        body_text="Shall we work together?",
    )
    assert dispatch_due().sent == 1
    original.refresh_from_db()
    sync_account(account_b)

    received = Message.objects.get(organization=cast.other_org, rfc_message_id=original.rfc_message_id)
    assert received.direction == Direction.INBOUND and received.subject == "Partnership"
    assert received.from_name == "Olivia Owner" and received.from_address == account_a.address

    reply = outgoing(
        account_b,
        conversation=received.conversation,
        from_name="Xavier Outsider",
        to=[{"name": "Olivia Owner", "address": account_a.address}],
        subject="Re: Partnership",
        body_text="Gladly.",
        in_reply_to=received.rfc_message_id,
        references=received.rfc_message_id,
    )
    assert dispatch_due().sent == 1
    reply.refresh_from_db()
    sync_account(account_a)
    sync_account(account_b)

    answer = Message.objects.get(organization=cast.org, rfc_message_id=reply.rfc_message_id)
    assert answer.direction == Direction.INBOUND and answer.body_text.strip() == "Gladly."
    assert answer.conversation_id == original.conversation_id, "A: the reply joins the sent message"
    # Dates have whole seconds: both messages may fall in the same one, so no order is asserted.
    both = {original.rfc_message_id, reply.rfc_message_id}
    a_side = Message.objects.filter(conversation=original.conversation)
    assert sorted(m.rfc_message_id for m in a_side) == sorted(both)
    b_side = Message.objects.filter(conversation=received.conversation)
    assert sorted(m.rfc_message_id for m in b_side) == sorted(both)
    assert Message.objects.filter(rfc_message_id=reply.rfc_message_id, organization=cast.other_org).count() == 1
