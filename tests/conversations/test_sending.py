"""The send action (conversations/sending.py): a draft becomes a message and an outbox row in one
transaction, with the state machine's event 2, undo, edit after failure and send later."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.actions import ActionRefused, do_assign_conversation
from conversations.models import (
    Draft,
    DraftKind,
    DraftStatus,
    EventKind,
    Location,
    Message,
    OutboxMessage,
    OutboxStatus,
    SendAction,
    SignatureChoice,
    Status,
)
from conversations.sending import (
    do_edit_failed_message,
    do_schedule_draft,
    do_send_draft,
    do_send_due_drafts,
    do_undo_send,
    do_unschedule_draft,
)
from inboxes.models import Alias, AliasShare, AliasUserSetting, Membership, Signature, SignatureInsert
from tests.factories import receive, state_of


def _alias(account) -> Alias:
    return Alias.objects.get(account=account, is_default=True)


def _reply_draft(cast, inbound: Message, **fields) -> Draft:
    values = {
        "organization": cast.org,
        "conversation": inbound.conversation,
        "kind": DraftKind.REPLY,
        "replying_to": inbound,
        "creator": cast.teammate,
        "account": cast.support_account,
        "alias": _alias(cast.support_account),
        "to": [{"name": "A Customer", "address": "customer@outside.test"}],
        "subject": f"Re: {inbound.subject}",
        "body_html": "<p>Thanks, on it.</p>",
    }
    values.update(fields)
    return Draft.objects.create(**values)


@pytest.fixture
def inbound(cast) -> Message:
    return receive(cast.support_account, subject="Broken widget", rfc_message_id="<first@outside.test>")


def test_sending_writes_the_message_and_an_outbox_row_held_for_the_undo_delay(cast, inbound):
    cast.teammate.undo_send_seconds = 10
    cast.teammate.save()
    draft = _reply_draft(cast, inbound)

    message = do_send_draft(draft, acting_user=cast.teammate)

    outbox = OutboxMessage.objects.get(message=message)
    assert outbox.status == OutboxStatus.PENDING
    assert outbox.send_after == message.created_at + timedelta(seconds=10)
    assert (message.direction, message.from_address, message.author) == ("out", "support@acme.test", cast.teammate)
    assert message.to == [{"name": "A Customer", "address": "customer@outside.test"}]
    draft.refresh_from_db()
    assert (draft.status, draft.sent_message) == (DraftStatus.SENT, message)
    conversation = message.conversation
    conversation.refresh_from_db()
    assert conversation.has_outbound and conversation.message_count == 2
    assert conversation.preview == "Thanks, on it."


def test_a_reply_carries_threading_headers(cast, inbound):
    parent = receive(cast.support_account, in_reply_to="<first@outside.test>", rfc_message_id="<second@outside.test>")
    parent.refresh_from_db()
    message = do_send_draft(_reply_draft(cast, parent), acting_user=cast.teammate)

    assert message.in_reply_to == "<second@outside.test>"
    assert message.references.split() == ["<first@outside.test>", "<second@outside.test>"]
    assert message.rfc_message_id.endswith("@acme.test>")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"to": []}, "Add at least one recipient."),
        ({"to": [{"name": "", "address": "not an address"}]}, "is not a valid email address"),
        ({"alias": None}, "Choose a From address."),
    ],
)
def test_a_draft_that_cannot_be_sent_writes_nothing(cast, inbound, fields, reason):
    draft = _reply_draft(cast, inbound, **fields)

    with pytest.raises(ActionRefused, match=reason):
        do_send_draft(draft, acting_user=cast.teammate)

    assert not OutboxMessage.objects.exists()
    assert Message.objects.filter(conversation=inbound.conversation).count() == 1
    draft.refresh_from_db()
    assert draft.status == DraftStatus.EDITING


def test_only_aliases_the_sender_may_use(cast, inbound):
    personal = _alias(cast.personal_account)  # Olivia's own account
    draft = _reply_draft(cast, inbound, account=cast.personal_account, alias=personal)
    with pytest.raises(ActionRefused, match="may not send from this address"):
        do_send_draft(draft, acting_user=cast.teammate)

    AliasShare.objects.create(organization=cast.org, alias=personal, user=cast.teammate)
    message = do_send_draft(draft, acting_user=cast.teammate)
    assert message.from_address == "olivia@acme.test"


def test_the_senders_own_name_on_the_alias_is_the_from_name(cast, inbound):
    alias = _alias(cast.support_account)
    alias.name = "Acme Support"
    alias.save()
    assert do_send_draft(_reply_draft(cast, inbound), acting_user=cast.teammate).from_name == "Acme Support"

    AliasUserSetting.objects.create(organization=cast.org, alias=alias, user=cast.owner, name="Olivia at Acme")
    draft = _reply_draft(cast, inbound, creator=cast.owner)
    assert do_send_draft(draft, acting_user=cast.owner).from_name == "Olivia at Acme"


def test_a_reply_from_the_team_inbox_assigns_the_sender(cast, inbound):
    conversation = inbound.conversation
    assert conversation.in_team_inbox

    do_send_draft(_reply_draft(cast, inbound), acting_user=cast.teammate)

    conversation.refresh_from_db()
    assert not conversation.in_team_inbox
    assert list(conversation.assignments.values_list("user", flat=True)) == [cast.teammate.id]
    assert state_of(conversation, cast.teammate).location == Location.INBOX


def test_no_assignment_on_reply_when_the_team_says_so(cast, inbound):
    cast.support.assign_on_reply = False
    cast.support.save()

    do_send_draft(_reply_draft(cast, inbound), acting_user=cast.teammate)

    conversation = inbound.conversation
    conversation.refresh_from_db()
    assert conversation.in_team_inbox and not conversation.assigned


def test_send_and_close_and_send_and_archive(cast, inbound):
    do_send_draft(_reply_draft(cast, inbound), acting_user=cast.teammate, action=SendAction.CLOSE)
    conversation = inbound.conversation
    conversation.refresh_from_db()
    assert conversation.status == Status.CLOSED

    other = receive(cast.support_account, subject="Second")
    do_assign_conversation(other.conversation, [cast.teammate], acting_user=cast.owner)
    do_send_draft(_reply_draft(cast, other), acting_user=cast.teammate, action=SendAction.ARCHIVE)
    other.conversation.refresh_from_db()
    assert state_of(other.conversation, cast.teammate).location == Location.ARCHIVED
    assert other.conversation.status == Status.OPEN, "Send & archive only archives"


def test_send_and_snooze(cast, inbound):
    until = timezone.now() + timedelta(days=2)
    do_send_draft(_reply_draft(cast, inbound), acting_user=cast.teammate, action=SendAction.SNOOZE, snooze_until=until)
    state = state_of(inbound.conversation, cast.teammate)
    assert (state.location, state.snoozed_until) == (Location.SNOOZED, until)


def test_undo_within_the_delay_brings_the_draft_back_and_nothing_is_sent(cast, inbound):
    draft = _reply_draft(cast, inbound)
    message = do_send_draft(draft, acting_user=cast.teammate)

    restored = do_undo_send(message, acting_user=cast.teammate)

    assert restored.id == draft.id and restored.status == DraftStatus.EDITING
    assert not Message.objects.filter(id=message.id).exists()
    assert not OutboxMessage.objects.exists()
    conversation = inbound.conversation
    conversation.refresh_from_db()
    assert (conversation.message_count, conversation.has_outbound) == (1, False)


def test_undo_is_refused_once_the_dispatcher_has_the_message(cast, inbound):
    message = do_send_draft(_reply_draft(cast, inbound), acting_user=cast.teammate)
    OutboxMessage.objects.filter(message=message).update(status=OutboxStatus.SENDING)

    with pytest.raises(ActionRefused, match="Too late"):
        do_undo_send(message, acting_user=cast.teammate)
    assert Message.objects.filter(id=message.id).exists()


def test_undo_is_refused_after_the_delay(cast, inbound):
    message = do_send_draft(_reply_draft(cast, inbound), acting_user=cast.teammate, delay_seconds=0)
    with pytest.raises(ActionRefused, match="Too late"):
        do_undo_send(message, acting_user=cast.teammate)


def test_a_failed_message_can_be_edited_as_its_draft(cast, inbound):
    draft = _reply_draft(cast, inbound)
    message = do_send_draft(draft, acting_user=cast.teammate)
    with pytest.raises(ActionRefused):
        do_edit_failed_message(message, acting_user=cast.teammate)
    OutboxMessage.objects.filter(message=message).update(status=OutboxStatus.FAILED, last_error="550 No such user")

    assert do_edit_failed_message(message, acting_user=cast.teammate).id == draft.id
    assert not Message.objects.filter(id=message.id).exists()


def test_a_scheduled_draft_is_sent_by_beat_at_its_time(cast, inbound):
    draft = _reply_draft(cast, inbound)
    at = timezone.now() + timedelta(hours=1)
    do_schedule_draft(draft, acting_user=cast.teammate, at=at, discard_if_reply=False)

    assert do_send_due_drafts(now=at - timedelta(minutes=1)) == 0
    assert do_send_due_drafts(now=at + timedelta(seconds=1)) == 1

    draft.refresh_from_db()
    assert draft.status == DraftStatus.SENT
    outbox = OutboxMessage.objects.get(message=draft.sent_message)
    assert outbox.send_after <= timezone.now(), "no undo delay for a scheduled send"


def test_unschedule(cast, inbound):
    draft = _reply_draft(cast, inbound)
    do_schedule_draft(draft, acting_user=cast.teammate, at=timezone.now() + timedelta(hours=1), discard_if_reply=False)
    do_unschedule_draft(draft, acting_user=cast.teammate)
    draft.refresh_from_db()
    assert (draft.status, draft.scheduled_at) == (DraftStatus.EDITING, None)


def test_a_reply_discards_a_follow_up_scheduled_with_discard_if_reply(cast, inbound):
    follow_up = _reply_draft(cast, inbound)
    kept = _reply_draft(cast, inbound)
    at = timezone.now() + timedelta(days=3)
    do_schedule_draft(follow_up, acting_user=cast.teammate, at=at, discard_if_reply=True)
    do_schedule_draft(kept, acting_user=cast.teammate, at=at, discard_if_reply=False)

    receive(cast.support_account, in_reply_to="<first@outside.test>")

    follow_up.refresh_from_db()
    kept.refresh_from_db()
    assert follow_up.status == DraftStatus.DISCARDED
    assert kept.status == DraftStatus.SCHEDULED
    assert do_send_due_drafts(now=at + timedelta(seconds=1)) == 1


def test_a_scheduled_draft_that_can_no_longer_be_sent_goes_back_to_editing_with_the_reason(cast, inbound):
    draft = _reply_draft(cast, inbound)
    at = timezone.now() + timedelta(hours=1)
    do_schedule_draft(draft, acting_user=cast.teammate, at=at, discard_if_reply=False)
    Draft.objects.filter(id=draft.id).update(to=["broken"])

    assert do_send_due_drafts(now=at + timedelta(seconds=1)) == 0

    draft.refresh_from_db()
    assert draft.status == DraftStatus.EDITING
    event = inbound.conversation.events.get(kind=EventKind.SEND_FAILED)
    assert "not a valid email address" in event.data["reason"]


def test_the_signature_is_rendered_for_the_sender_at_send_time(cast, inbound):
    Membership.objects.filter(user=cast.teammate, organization=cast.org).update(
        profile={"custom": {"Job Title": "Support lead"}}
    )
    signature = Signature.objects.create(
        organization=cast.org,
        name="Team",
        body="<p>{{ user.first_name }} — {{ user.custom.job_title }}</p>",
        insert_in=SignatureInsert.FIRST_THEN_ALTERNATIVE,
        alternative_body="<p>{{ user.first_name }}</p>",
    )
    alias = _alias(cast.support_account)
    alias.signature = signature
    alias.save()

    first = do_send_draft(_reply_draft(cast, inbound), acting_user=cast.teammate)
    assert '<div class="signature"><p>Tom — Support lead</p></div>' in first.body_html

    second = do_send_draft(_reply_draft(cast, inbound), acting_user=cast.teammate)
    assert '<div class="signature"><p>Tom</p></div>' in second.body_html, "replies get the alternative"

    third = do_send_draft(_reply_draft(cast, inbound, signature_choice=SignatureChoice.NONE), acting_user=cast.teammate)
    assert "signature" not in third.body_html


def test_a_broken_signature_refuses_the_send_with_the_reason(cast, inbound):
    signature = Signature.objects.create(organization=cast.org, name="Broken", body="{% if %}oops{% endif %}")
    draft = _reply_draft(cast, inbound, signature_choice=SignatureChoice.CHOSEN, signature=signature)

    with pytest.raises(ActionRefused, match="Your signature cannot be used: The template has an error"):
        do_send_draft(draft, acting_user=cast.teammate)
    assert not OutboxMessage.objects.exists()


def test_the_sent_body_is_cleaned(cast, inbound):
    draft = _reply_draft(cast, inbound, body_html='<p onclick="x()">Hi<script>alert(1)</script></p>')
    message = do_send_draft(draft, acting_user=cast.teammate)
    assert message.body_html == "<p>Hi</p>"
    assert message.body_text == "Hi"


def test_a_room_cannot_send(cast):
    from conversations.rooms import do_create_organization_room

    room = do_create_organization_room(cast.org)
    draft = Draft.objects.create(
        organization=cast.org,
        conversation=room,
        creator=cast.owner,
        account=cast.personal_account,
        alias=_alias(cast.personal_account),
        to=["someone@outside.test"],
    )
    with pytest.raises(ActionRefused, match="Chat rooms cannot send"):
        do_send_draft(draft, acting_user=cast.owner)


def test_the_sent_body_holds_every_co_writers_merged_edits(cast, inbound):
    from pycrdt import Doc, XmlElement, XmlFragment, XmlText

    from conversations.cowrite import do_apply_draft_update

    draft = _reply_draft(cast, inbound, body_html="")
    start = Doc()
    start.get("default", type=XmlFragment).children.append(XmlElement("paragraph", {}, [XmlText("Hello,")]))
    do_apply_draft_update(draft.id, acting_user=cast.teammate, update=start.get_update())
    olivia, tom = Doc(), Doc()
    for doc in (olivia, tom):
        doc.apply_update(start.get_update())
    for doc, user, text in ((olivia, cast.owner, " from Olivia"), (tom, cast.teammate, " and Tom")):
        before = doc.get_state()
        doc.get("default", type=XmlFragment).children[0].children[0].insert(6, text)
        do_apply_draft_update(draft.id, acting_user=user, update=doc.get_update(before))

    message = do_send_draft(draft, acting_user=cast.teammate)

    assert "from Olivia" in message.body_html and "and Tom" in message.body_html


def test_an_image_shown_from_the_drafts_file_is_sent_as_its_cid_part(cast, inbound, tmp_storage):
    from django.core.files.base import ContentFile

    from conversations.models import DraftAttachment

    draft = _reply_draft(cast, inbound)
    image = DraftAttachment(organization=cast.org, draft=draft, filename="shot.png", is_inline=True, content_id="s1")
    image.file.save("shot.png", ContentFile(b"\x89PNG"), save=True)
    stranger = "00000000-0000-0000-0000-000000000000"
    draft.body_html = (
        f'<p><img src="https://inbox.acme.test/draft-files/{image.id}/" alt=""></p>'
        f'<p><img src="https://inbox.acme.test/draft-files/{stranger}/" alt=""></p>'
    )
    draft.save()

    message = do_send_draft(draft, acting_user=cast.teammate)

    assert '<img src="cid:s1" alt="">' in message.body_html
    assert f"/draft-files/{stranger}/" in message.body_html, "only the draft's own files become parts"
    assert message.attachments.get().content_id == "s1"
