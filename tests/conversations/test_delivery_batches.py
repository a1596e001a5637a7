"""do_receive_messages delivers a batch exactly as do_receive_message does one message at a time:
threading inside the batch, the 400-message limit and every per-user change come out the same.

Each case builds the same organization twice (people, a team, the account, a history of
conversations closed, snoozed, assigned, archived, a blocked sender), delivers the same batch
to one organization message by message and to the other in one call, and compares everything
the delivery may touch.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conversations import delivery
from conversations.actions import do_archive, do_assign_conversation, do_close, do_snooze
from conversations.delivery import Delivery, do_receive_message, do_receive_messages
from conversations.incoming import IncomingAttachment, IncomingMessage
from conversations.models import (
    Attachment,
    BlockedSender,
    Conversation,
    ConversationEvent,
    ConversationState,
    Direction,
    Location,
    Message,
)
from inboxes.models import AccountAccess, DeliveryMode, NewMessages, Role, User
from tests.factories import (
    AccountFactory,
    MembershipFactory,
    OrganizationFactory,
    TeamFactory,
    UserFactory,
    add_to_team,
)

pytestmark = pytest.mark.django_db
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
SNOOZE_UNTIL = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _small_limit_and_storage(monkeypatch, tmp_storage):
    # Actions stamp activity with the time: both organizations must be built at the same instant.
    monkeypatch.setattr("django.utils.timezone.now", lambda: T0 + timedelta(days=1))
    # The 400-message limit, made reachable.
    monkeypatch.setattr(delivery, "MAX_MESSAGES_PER_CONVERSATION", 3)


def mail(mid, minute, *, reply_to=None, refs=(), sender="customer@outside.test", attachments=0, subject=None):
    return IncomingMessage(
        from_address=sender,
        from_name=sender.split("@")[0].title(),
        subject=subject or f"About {mid}",
        body_text=f"Body of {mid}.\n\n" + "Some   words\tand lines.\n" * 40,
        to=[{"name": "", "address": "box@acme.test"}],
        rfc_message_id=f"<{mid}@outside.test>" if mid else "",
        in_reply_to=f"<{reply_to}@outside.test>" if reply_to else "",
        references=[f"<{r}@outside.test>" for r in refs],
        sent_at=T0 + timedelta(minutes=minute),
        attachments=[IncomingAttachment(f"file{i}.txt", "text/plain", b"x" * (i + 1)) for i in range(attachments)],
    )


def build(name, kind):
    """An organization with people, a team and the account, and a history on it."""
    org = OrganizationFactory(name=name)
    owner, teammate, observer, other = (
        UserFactory(email=f"{who}@{name}.test") for who in ("owner", "mate", "obs", "other")
    )
    for user, role in ((owner, Role.OWNER), (teammate, Role.MEMBER), (observer, Role.MEMBER), (other, Role.MEMBER)):
        MembershipFactory(organization=org, user=user, role=role)
    team = TeamFactory(organization=org, name="Support", reply_to_assigned_goes_to_team_inbox=kind == "team")
    add_to_team(team, owner)
    add_to_team(team, teammate)
    if kind == "team":
        account = AccountFactory(
            organization=org, owner=owner, is_shared=True, team=team, delivery_mode=DeliveryMode.TEAM_INBOX
        )
    elif kind == "shared":
        account = AccountFactory(organization=org, owner=owner, is_shared=True)
        AccountAccess.objects.create(organization=org, account=account, user=other, new_messages=NewMessages.INBOX)
        AccountAccess.objects.create(
            organization=org, account=account, team=team, new_messages=NewMessages.AUTO_ARCHIVE
        )
    else:
        account = AccountFactory(organization=org, owner=owner)
    BlockedSender.objects.create(organization=org, address="spammer@bad.test")
    BlockedSender.objects.create(organization=org, user=owner, domain="junk.test")

    def history(mid, minute):
        return do_receive_message(account, mail(mid, minute)).conversation

    history("h1", 0)
    do_close(history("h2", 1), acting_user=owner)
    do_snooze(history("h3", 2), acting_user=owner, until=SNOOZE_UNTIL, for_everyone=True, discard_if_reply=True)
    do_snooze(history("h4", 3), acting_user=owner, until=SNOOZE_UNTIL, discard_if_reply=True)
    do_assign_conversation(history("h5", 4), [teammate], acting_user=owner)
    do_archive(history("h6", 5), acting_user=owner, close=False)
    full = history("f1", 6)
    do_receive_message(account, mail("f2", 7, reply_to="f1"))
    ConversationState.objects.filter(conversation=full, user=owner).update(watching=True)
    return account


def batch():
    """(incoming, seen) in delivery order."""
    return [
        (mail("n1", 100, attachments=2), False),
        (mail("n1r", 101, reply_to="n1", refs=["n1"]), False),
        (mail("h1r", 102, reply_to="h1", refs=["h1"]), False),
        (mail("h2r", 103, reply_to="h2"), True),
        (mail("h3r", 104, reply_to="h3"), False),
        (mail("h4r", 105, reply_to="h4"), False),
        (mail("h5r", 106, reply_to="h5", sender="mate@outside.test"), False),
        (mail("h6r", 107, reply_to="h6"), False),
        (mail("h1rr", 108, reply_to="h1r", refs=["h1", "h1r"]), False),
        (mail("h1", 0), False),  # the same email again
        (mail("n1", 100), False),  # and one delivered earlier in this batch
        (mail("spam1", 109, sender="spammer@bad.test"), False),
        (mail("spam2", 110, reply_to="h1", sender="someone@junk.test"), False),
        (mail("f3", 111, reply_to="f2", refs=["f1", "f2"]), False),  # fills the conversation (limit 3)
        (mail("f4", 112, reply_to="f3", refs=["f1", "f2", "f3"]), False),  # starts a new one
        (mail("old", 50, refs=["n1", "h1"]), False),  # replies to the latest of what it references
        (mail(None, 113, subject="No id"), True),
        (mail("n2", 114, attachments=1), True),
        (mail("n2r", 99, reply_to="n2"), False),  # dated before its parent
    ]


def snapshot(account):
    org = account.organization_id
    messages = Message.objects.filter(organization_id=org)

    def key(conversation_id):
        ids = sorted(m.rfc_message_id or m.subject for m in messages if m.conversation_id == conversation_id)
        return tuple(ids)

    names = {user.id: user.email.split("@")[0] for user in User.objects.all()}

    def email(user_id):
        return names[user_id]

    conversations = {
        key(c.id): (
            c.subject,
            c.status,
            c.team_id is not None,
            c.in_team_inbox,
            c.message_count,
            c.participants,
            c.preview,
            c.has_attachments,
            c.has_outbound,
            c.is_shared,
            c.is_spam,
            c.snoozed_until,
            c.snooze_discard_if_reply,
            c.created_at,
            c.last_activity_at,
        )
        for c in Conversation.objects.filter(organization_id=org)
    }
    states = {
        (key(s.conversation_id), email(s.user_id)): (
            s.access_source,
            s.location,
            s.unread,
            s.watching,
            s.starred,
            s.snoozed_until,
            s.snooze_leave_in_inbox,
            s.snooze_discard_if_reply,
            s.location_before_trash,
            s.last_activity_at,
        )
        for s in ConversationState.objects.filter(organization_id=org)
    }
    message_rows = sorted(
        (m.rfc_message_id or m.subject, key(m.conversation_id), m.direction, m.from_address, m.sent_at, m.size)
        for m in messages
    )
    events = sorted(
        (key(e.conversation_id), e.kind, sorted(e.data.items()) if e.kind == "reopened" else [], e.actor_id is not None)
        for e in ConversationEvent.objects.filter(organization_id=org)
    )
    attachments = sorted(
        (a.message.rfc_message_id, a.filename, a.size) for a in Attachment.objects.filter(organization_id=org)
    )
    return conversations, states, message_rows, events, attachments


@pytest.mark.parametrize("kind", ["personal", "team", "shared"])
@pytest.mark.parametrize(
    ("placement", "direction"),
    [
        (None, Direction.INBOUND),
        (Location.ARCHIVED, Direction.INBOUND),
        (Location.SPAM, Direction.INBOUND),
        (Location.TRASHED, Direction.INBOUND),
        (Location.NONE, Direction.OUTBOUND),
    ],
)
def test_a_batch_ends_exactly_as_one_message_at_a_time(kind, placement, direction, django_assert_max_num_queries):
    one_by_one, at_once = build("seq", kind), build("bulk", kind)
    returned = []
    for incoming, seen in batch():
        message = do_receive_message(one_by_one, incoming, placement=placement, direction=direction, seen=seen)
        returned.append(message.rfc_message_id or message.subject)

    deliveries = [Delivery(incoming, seen=seen) for incoming, seen in batch()]
    with django_assert_max_num_queries(25):
        do_receive_messages(at_once, deliveries, placement=placement, direction=direction)

    assert [d.message.rfc_message_id or d.message.subject for d in deliveries] == returned
    assert [d.created for d in deliveries].count(False) == 2, "the two copies of known emails"
    expected, got = snapshot(one_by_one), snapshot(at_once)
    for part, (want, have) in enumerate(zip(expected, got, strict=True)):
        assert have == want, f"part {part} differs"
