"""Drafts (conversations/drafts.py and draft_views.py): starting a reply, reply all, forward and
new email, autosave, files, discard and restore, the Drafts mailboxes, the composer's views and
the Send menu, undo and send later."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conversations import search_index
from conversations.actions import ActionRefused, do_post_comment, do_share_conversation
from conversations.drafts import (
    do_add_draft_attachment,
    do_discard_draft,
    do_restore_draft,
    do_start_draft,
    do_start_new_email,
    do_update_draft,
    recipient_suggestions,
)
from conversations.incoming import IncomingAttachment
from conversations.mailboxes import personal_mailbox
from conversations.models import (
    ConversationEvent,
    Draft,
    DraftKind,
    DraftStatus,
    EventKind,
    Location,
    Message,
    OutboxMessage,
    OutboxStatus,
    SignatureChoice,
    Status,
)
from conversations.sending import do_send_draft
from inboxes.models import Alias, Membership, Signature
from tests.conftest import login
from tests.factories import AccountFactory, receive, state_of


def _alias(account) -> Alias:
    return Alias.objects.get(account=account, is_default=True)


@pytest.fixture
def inbound(cast) -> Message:
    return receive(
        cast.support_account,
        subject="Broken widget",
        body="It broke.\nTwice.",
        from_name="Carla Customer",
        sender="carla@outside.test",
        cc=[{"name": "Boss", "address": "boss@outside.test"}, {"name": "", "address": "support@acme.test"}],
        rfc_message_id="<first@outside.test>",
    )


def _mailbox_ids(user, key: str) -> set:
    mailbox = personal_mailbox(key)
    assert mailbox is not None
    return set(mailbox.states(user).values_list("conversation_id", flat=True))


# --- Starting drafts ---------------------------------------------------------------------------


def test_reply_goes_to_the_sender_with_re_and_the_quoted_original(cast, inbound):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)

    assert draft.to == [{"name": "Carla Customer", "address": "carla@outside.test"}]
    assert draft.cc == [] and draft.bcc == []
    assert draft.subject == "Re: Broken widget"
    assert "wrote:</p><blockquote>" in draft.body_html and "It broke.<br>Twice." in draft.body_html
    assert "Carla Customer wrote:" in draft.body_html
    assert draft.alias == _alias(cast.support_account) and draft.account == cast.support_account
    assert (draft.replying_to, draft.creator, draft.status) == (inbound, cast.teammate, DraftStatus.EDITING)


def test_reply_goes_to_the_reply_to_address_and_never_doubles_re(cast):
    message = receive(
        cast.support_account, subject="Re: Invoice", reply_to=[{"name": "Billing", "address": "billing@outside.test"}]
    )
    draft = do_start_draft(message.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    assert draft.to == [{"name": "Billing", "address": "billing@outside.test"}]
    assert draft.subject == "Re: Invoice"


def test_replying_to_our_own_email_goes_to_its_recipients(cast, inbound):
    first = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    sent = do_send_draft(first, acting_user=cast.teammate)
    draft = do_start_draft(inbound.conversation, acting_user=cast.owner, kind=DraftKind.REPLY, message_id=sent.id)
    assert draft.to == [{"name": "Carla Customer", "address": "carla@outside.test"}]


def test_reply_all_copies_everyone_but_our_own_addresses(cast, inbound):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY_ALL)
    assert [p["address"] for p in draft.to] == ["carla@outside.test"]
    assert [p["address"] for p in draft.cc] == ["boss@outside.test"]  # not support@acme.test
    assert draft.bcc == []


def test_reply_all_includes_bcc_only_when_the_user_asks(cast, inbound):
    first = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    do_update_draft(first, acting_user=cast.teammate, fields={"bcc": [{"name": "", "address": "crm@acme.test"}]})
    sent = do_send_draft(first, acting_user=cast.teammate)

    without = do_start_draft(sent.conversation, acting_user=cast.owner, kind=DraftKind.REPLY_ALL, message_id=sent.id)
    assert without.bcc == []
    cast.teammate.reply_all_includes_bcc = True
    cast.teammate.save()
    with_bcc = do_start_draft(
        sent.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY_ALL, message_id=sent.id
    )
    assert with_bcc.bcc == [{"name": "", "address": "crm@acme.test"}]


def test_replying_again_reopens_ones_own_draft(cast, inbound):
    first = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    again = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    other = do_start_draft(inbound.conversation, acting_user=cast.owner, kind=DraftKind.REPLY)
    assert again.id == first.id and other.id != first.id


def test_forward_carries_the_header_block_body_and_files(cast, tmp_storage):
    message = receive(
        cast.support_account,
        subject="Contract",
        body="See attached.",
        attachments=[
            IncomingAttachment(filename="contract.pdf", content_type="application/pdf", content=b"%PDF-1"),
            IncomingAttachment(filename="logo.png", content_type="image/png", content=b"\x89PNG", content_id="logo@x"),
        ],
    )
    draft = do_start_draft(message.conversation, acting_user=cast.teammate, kind=DraftKind.FORWARD)

    assert draft.subject == "Fwd: Contract" and draft.to == []
    assert "---------- Forwarded message ---------" in draft.body_html
    assert "Subject: Contract" in draft.body_html and "See attached." in draft.body_html
    files = {a.filename: a for a in draft.attachments.all()}
    assert set(files) == {"contract.pdf", "logo.png"}
    original = {a.filename: a for a in message.attachments.all()}
    assert files["contract.pdf"].file.name == original["contract.pdf"].file.name  # the stored file is shared
    assert files["logo.png"].content_id == original["logo.png"].content_id
    assert files["logo.png"].is_inline == original["logo.png"].is_inline


def _with_inline_logo(cast):
    return receive(
        cast.support_account,
        subject="Contract",
        body_html='<p>Our logo:</p><p><img src="cid:%3Clogo@x%3E" alt="logo"></p>',
        attachments=[
            IncomingAttachment(filename="contract.pdf", content_type="application/pdf", content=b"%PDF-1"),
            IncomingAttachment(filename="logo.png", content_type="image/png", content=b"\x89PNG", content_id="logo@x"),
        ],
    )


@pytest.mark.parametrize("kind", [DraftKind.FORWARD, DraftKind.REPLY])
def test_a_quoted_inline_image_is_shown_from_the_drafts_copy_and_sent_as_its_cid_part(cast, tmp_storage, kind):
    message = _with_inline_logo(cast)
    draft = do_start_draft(message.conversation, acting_user=cast.teammate, kind=kind)

    logo = draft.attachments.get(filename="logo.png")
    # The editor cannot load cid:, so the quote points at the draft's copy, which it can.
    assert f'<img src="{reverse("draft_attachment", args=[logo.id])}" alt="logo">' in draft.body_html
    assert "cid:" not in draft.body_html
    # A reply carries only the images its quote shows, a forward every file.
    expected = {"logo.png", "contract.pdf"} if kind == DraftKind.FORWARD else {"logo.png"}
    assert {a.filename for a in draft.attachments.all()} == expected
    draft.to = [{"name": "", "address": "dana@design.test"}]
    draft.save()

    sent = do_send_draft(draft, acting_user=cast.teammate)

    assert '<img src="cid:logo@x" alt="logo">' in sent.body_html
    part = sent.attachments.get(filename="logo.png")
    assert (part.content_id, part.is_inline, part.file.read()) == ("logo@x", True, b"\x89PNG")


def test_an_inline_image_taken_out_of_the_text_is_not_sent(cast, tmp_storage):
    message = _with_inline_logo(cast)
    draft = do_start_draft(message.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    draft.body_html = "<p>Without the picture.</p>"
    draft.to = [{"name": "", "address": "dana@design.test"}]
    draft.save()

    sent = do_send_draft(draft, acting_user=cast.teammate)

    assert not sent.attachments.exists()


def test_a_quoted_email_is_cleaned(cast):
    message = receive(cast.support_account, body_html='<p onclick="x()">Hi</p><script>alert(1)</script>')
    draft = do_start_draft(message.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    assert "<script" not in draft.body_html and "onclick" not in draft.body_html and "<p>Hi</p>" in draft.body_html


def test_a_chat_room_has_no_reply(cast):
    from conversations.rooms import do_create_organization_room

    room = do_create_organization_room(cast.org)
    with pytest.raises(ActionRefused):
        do_start_draft(room, acting_user=cast.owner, kind=DraftKind.REPLY)


def test_the_default_sender_is_the_from_of_new_emails(cast):
    membership = Membership.objects.get(organization=cast.org, user=cast.owner)
    membership.default_sender = _alias(cast.personal_account)
    membership.save()
    assert do_start_new_email(cast.org, acting_user=cast.owner).alias == _alias(cast.personal_account)


def test_always_reply_from_the_default_sender(cast, inbound):
    membership = Membership.objects.get(organization=cast.org, user=cast.owner)
    membership.default_sender = _alias(cast.personal_account)
    membership.save()
    assert do_start_draft(inbound.conversation, acting_user=cast.owner, kind="reply").alias == _alias(
        cast.support_account
    )
    cast.owner.always_reply_from_default_sender = True
    cast.owner.save()
    draft = do_start_draft(inbound.conversation, acting_user=cast.owner, kind="reply_all")
    assert draft.alias == _alias(cast.personal_account)


# --- New email and sharing ---------------------------------------------------------------------


def test_a_new_email_is_private_until_a_mention_shares_it(cast):
    draft = do_start_new_email(cast.org, acting_user=cast.owner)
    conversation = draft.conversation

    assert draft.kind == DraftKind.NEW
    assert list(conversation.states.values_list("user_id", flat=True)) == [cast.owner.id]
    assert state_of(conversation, cast.owner).location == Location.NONE
    assert conversation.id in _mailbox_ids(cast.owner, "drafts")
    assert conversation.id not in _mailbox_ids(cast.teammate, "drafts-others")

    do_post_comment(conversation, author=cast.owner, body="@tom-teammate can you check?")
    assert state_of(conversation, cast.teammate) is not None
    assert conversation.id in _mailbox_ids(cast.teammate, "drafts-others")
    assert conversation.id not in _mailbox_ids(cast.teammate, "drafts")


def test_adding_people_shares_a_new_email(cast):
    draft = do_start_new_email(cast.org, acting_user=cast.owner)
    do_share_conversation(draft.conversation, acting_user=cast.owner, users=[cast.observer], show_in_inbox=False)
    assert draft.conversation_id in _mailbox_ids(cast.observer, "drafts-others")


def test_a_new_email_needs_a_membership(cast):
    with pytest.raises(ActionRefused):
        do_start_new_email(cast.other_org, acting_user=cast.owner)


# --- Autosave ----------------------------------------------------------------------------------


def test_autosave_changes_only_the_given_fields(cast, inbound):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    do_update_draft(draft, acting_user=cast.owner, fields={"subject": "Re: Broken widget, again"})
    do_update_draft(draft, acting_user=cast.teammate, fields={"cc": [{"name": "", "address": "x@outside.test"}]})

    draft.refresh_from_db()
    assert draft.subject == "Re: Broken widget, again"  # the other person's save kept it
    assert draft.cc == [{"name": "", "address": "x@outside.test"}]
    assert (draft.version, draft.updated_by) == (2, cast.teammate)


def test_autosave_cleans_the_body_and_refuses_a_foreign_alias(cast, inbound):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    do_update_draft(draft, acting_user=cast.teammate, fields={"body_html": "<p>ok</p><script>x</script>"})
    draft.refresh_from_db()
    assert draft.body_html == "<p>ok</p>"
    with pytest.raises(ActionRefused):
        do_update_draft(draft, acting_user=cast.teammate, fields={"alias": _alias(cast.outsider_account)})


def test_a_sent_draft_no_longer_changes(cast, inbound):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    do_send_draft(draft, acting_user=cast.teammate)
    with pytest.raises(ActionRefused):
        do_update_draft(draft, acting_user=cast.teammate, fields={"subject": "late"})


# --- Files -------------------------------------------------------------------------------------


def test_files_are_limited_per_email(cast, inbound, settings, tmp_storage):
    settings.DRAFT_ATTACHMENTS_MAX_MB = 1
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    half = SimpleUploadedFile("a.bin", b"x" * 600_000, content_type="application/octet-stream")
    do_add_draft_attachment(draft, acting_user=cast.teammate, upload=half, inline=False)
    with pytest.raises(ActionRefused, match="1 MB"):
        again = SimpleUploadedFile("b.bin", b"x" * 600_000, content_type="application/octet-stream")
        do_add_draft_attachment(draft, acting_user=cast.teammate, upload=again, inline=False)
    assert draft.attachments.count() == 1


def test_an_image_dropped_into_the_text_is_inline_with_a_content_id(cast, inbound, tmp_storage):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    png = SimpleUploadedFile("shot.png", b"\x89PNG\r\n", content_type="image/png")
    image = do_add_draft_attachment(draft, acting_user=cast.teammate, upload=png, inline=True)
    text = SimpleUploadedFile("notes.txt", b"x", content_type="text/plain")
    other = do_add_draft_attachment(draft, acting_user=cast.teammate, upload=text, inline=True)
    assert image.is_inline and image.content_id.endswith("@missive")
    assert not other.is_inline and other.content_id == ""


# --- Discard and restore -----------------------------------------------------------------------


def test_discarding_leaves_an_event_and_restoring_brings_it_back(cast, inbound):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    conversation = inbound.conversation
    assert conversation.id in _mailbox_ids(cast.owner, "drafts-others")

    do_discard_draft(draft, acting_user=cast.teammate)
    draft.refresh_from_db()
    assert (draft.status, draft.discarded_by) == (DraftStatus.DISCARDED, cast.teammate)
    event = ConversationEvent.objects.get(conversation=conversation, kind=EventKind.DRAFT_DISCARDED)
    assert event.text == "Tom Teammate discarded a draft" and event.data == {"draft_id": str(draft.id)}
    assert conversation.id not in _mailbox_ids(cast.owner, "drafts-others")
    assert conversation.id not in _mailbox_ids(cast.teammate, "drafts")

    do_restore_draft(draft, acting_user=cast.owner)
    draft.refresh_from_db()
    assert draft.status == DraftStatus.EDITING and draft.discarded_at is None
    assert ConversationEvent.objects.filter(conversation=conversation, kind=EventKind.DRAFT_RESTORED).exists()
    assert conversation.id in _mailbox_ids(cast.teammate, "drafts")
    with pytest.raises(ActionRefused):
        do_restore_draft(draft, acting_user=cast.owner)


# --- Drafts mailboxes --------------------------------------------------------------------------


def test_drafts_mailboxes_list_only_conversations_the_user_can_see(cast, inbound):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    outsider_conversation = receive(cast.outsider_account).conversation
    do_start_draft(outsider_conversation, acting_user=cast.outsider, kind=DraftKind.REPLY)

    assert _mailbox_ids(cast.teammate, "drafts") == {inbound.conversation_id}
    assert _mailbox_ids(cast.owner, "drafts-others") == {inbound.conversation_id}
    assert _mailbox_ids(cast.guest, "drafts-others") == set()  # no access to the conversation
    assert _mailbox_ids(cast.outsider, "drafts") == {outsider_conversation.id}

    draft.to = [{"name": "", "address": "carla@outside.test"}]
    draft.save()
    from conversations.sending import do_schedule_draft

    do_schedule_draft(draft, acting_user=cast.teammate, at=timezone.now() + timedelta(hours=1), discard_if_reply=True)
    assert _mailbox_ids(cast.owner, "send-later") == {inbound.conversation_id}
    assert _mailbox_ids(cast.teammate, "drafts") == {inbound.conversation_id}  # still a draft


def test_the_drafts_list_is_a_few_queries(cast, inbound, owner_client):
    for _ in range(3):
        conversation = receive(cast.support_account, subject="More").conversation
        do_start_draft(conversation, acting_user=cast.owner, kind=DraftKind.REPLY)
    url = reverse("mailbox", args=["drafts"])
    owner_client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="conversation-list")
    with CaptureQueriesContext(connection) as queries:
        response = owner_client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="conversation-list")
    assert response.status_code == 200 and response.content.count(b'class="row') >= 3
    assert len(queries) <= 8


# --- Address autocomplete ----------------------------------------------------------------------


def test_autocomplete_suggests_past_correspondents_the_user_can_see(cast, inbound):
    receive(cast.outsider_account, sender="carlos@elsewhere.test", from_name="Carlos Hidden")
    search_index.index_backlog()

    by_name = recipient_suggestions(cast.teammate, cast.org.id, "car")
    assert by_name == [{"name": "Carla Customer", "address": "carla@outside.test"}]
    assert recipient_suggestions(cast.teammate, cast.org.id, "bos") == [
        {"name": "Boss", "address": "boss@outside.test"}
    ]
    assert recipient_suggestions(cast.teammate, cast.org.id, "support") == []  # our own address
    assert recipient_suggestions(cast.guest, cast.org.id, "car") == []  # no access to that conversation
    assert recipient_suggestions(cast.outsider, cast.other_org.id, "carla") == []


# --- Views -------------------------------------------------------------------------------------


@pytest.fixture
def teammate_client(client: Client, cast) -> Client:
    return login(client, cast.teammate)


def _pane_post(client: Client, url: str, data: dict | None = None, **extra):
    return client.post(url, data or {}, HTTP_HX_REQUEST="true", **extra)


def test_starting_a_reply_opens_its_composer_in_the_pane(cast, inbound, teammate_client):
    url = reverse("draft_start", args=[inbound.conversation_id])
    response = _pane_post(teammate_client, url, {"kind": "reply", "return_to": "/m/all/"})
    assert response.status_code == 200
    draft = Draft.objects.get(conversation=inbound.conversation)
    html = response.content.decode()
    assert f'id="draft-{draft.id}"' in html and 'class="composer"' in html
    sync_url = reverse("draft_sync", args=[draft.id])
    assert f'class="composer-editor" data-draft-id="{draft.id}" data-sync-url="{sync_url}"' in html
    assert 'class="composer-tools"' in html and "carla@outside.test" in html


def test_others_see_the_draft_as_a_card(cast, inbound, owner_client):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    response = owner_client.get(reverse("conversation", args=["all", inbound.conversation_id]))
    html = response.content.decode()
    assert 'class="draft-card' in html and "Reply by Tom Teammate" in html
    assert reverse("draft_composer", args=[draft.id]) in html
    opened = owner_client.get(reverse("draft_composer", args=[draft.id]))
    assert opened.status_code == 200 and b'class="composer"' in opened.content


def test_autosave_view_saves_fields_and_shows_refusals(cast, inbound, teammate_client):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    url = reverse("draft_save", args=[draft.id])
    response = teammate_client.post(
        url, {"fields": ["to", "subject"], "to": ["Ann <ann@x.test>", "bob@x.test"], "subject": "Hello"}
    )
    assert response.status_code == 200 and response.json()["version"] == 1
    draft.refresh_from_db()
    assert draft.to == [{"name": "Ann", "address": "ann@x.test"}, {"name": "", "address": "bob@x.test"}]
    assert draft.subject == "Hello"

    refused = teammate_client.post(url, {"fields": ["alias"], "alias": str(_alias(cast.outsider_account).id)})
    assert refused.status_code == 400 and "From address" in refused.json()["error"]


def test_sending_from_the_composer_then_undo(cast, inbound, teammate_client):
    cast.teammate.undo_send_seconds = 10
    cast.teammate.save()
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    response = _pane_post(
        teammate_client,
        reverse("draft_send", args=[draft.id]),
        {"send_action": "send", "fields": ["subject"], "subject": "ignored for replies", "return_to": "/m/all/"},
    )
    assert response.status_code == 200
    message = Message.objects.get(conversation=inbound.conversation, direction="out")
    assert b"Sending" in response.content and reverse("undo_send", args=[message.id]).encode() in response.content

    undo = _pane_post(teammate_client, reverse("undo_send", args=[message.id]), {"return_to": "/m/all/"})
    assert undo.status_code == 200
    draft.refresh_from_db()
    assert draft.status == DraftStatus.EDITING and not Message.objects.filter(id=message.id).exists()
    assert f'class="composer" id="draft-{draft.id}"'.encode() in undo.content


def test_a_message_that_could_not_be_sent_is_edited_as_its_draft(cast, inbound, teammate_client):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    message = do_send_draft(draft, acting_user=cast.teammate)
    OutboxMessage.objects.filter(message=message).update(status=OutboxStatus.FAILED, last_error="550 No such user")
    page = teammate_client.get(reverse("conversation", args=["all", inbound.conversation_id]))
    assert reverse("edit_failed_message", args=[message.id]).encode() in page.content
    assert b"550 No such user" in page.content

    outsider = login(Client(), cast.outsider).post(reverse("edit_failed_message", args=[message.id]))
    assert outsider.status_code == 404
    response = _pane_post(teammate_client, reverse("edit_failed_message", args=[message.id]), {"return_to": "/m/all/"})

    assert response.status_code == 200
    draft.refresh_from_db()
    assert draft.status == DraftStatus.EDITING and not Message.objects.filter(id=message.id).exists()
    assert f'class="composer" id="draft-{draft.id}"'.encode() in response.content


def test_a_refused_send_is_shown_in_the_composer_and_writes_nothing(cast, inbound, teammate_client):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    response = _pane_post(
        teammate_client, reverse("draft_send", args=[draft.id]), {"send_action": "send", "fields": ["to"]}
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == f"#draft-error-{draft.id}"
    assert b"Add at least one recipient." in response.content
    assert not OutboxMessage.objects.exists()
    draft.refresh_from_db()
    assert draft.status == DraftStatus.EDITING


def test_a_broken_signature_is_shown_in_the_composer_and_refuses_sending(cast, inbound, teammate_client):
    broken = Signature.objects.create(organization=cast.org, owner=cast.teammate, name="Mine", body="{% if %}")
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    Draft.objects.filter(id=draft.id).update(signature_choice=SignatureChoice.CHOSEN, signature=broken)
    opened = teammate_client.get(reverse("draft_composer", args=[draft.id]))
    assert b"This signature cannot be used" in opened.content
    response = _pane_post(teammate_client, reverse("draft_send", args=[draft.id]), {"send_action": "send"})
    assert b"Your signature cannot be used" in response.content and not Message.objects.filter(direction="out")


def test_the_signature_menu_changes_this_draft_only(cast, inbound, teammate_client):
    mine = Signature.objects.create(organization=cast.org, owner=cast.teammate, name="Short", body="<p>— Tom</p>")
    other = Signature.objects.create(organization=cast.org, owner=cast.owner, name="Olivia's", body="x")
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    url = reverse("draft_signature", args=[draft.id])
    response = teammate_client.post(url, {"choice": "chosen", "signature_id": str(mine.id)})
    assert b"\xe2\x80\x94 Tom" in response.content
    draft.refresh_from_db()
    assert (draft.signature_choice, draft.signature) == (SignatureChoice.CHOSEN, mine)
    refused = teammate_client.post(url, {"choice": "chosen", "signature_id": str(other.id)})
    assert b"Choose one of your signatures." in refused.content


def test_send_and_close_from_the_composer(cast, inbound, teammate_client):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    _pane_post(teammate_client, reverse("draft_send", args=[draft.id]), {"send_action": "close"})
    inbound.conversation.refresh_from_db()
    assert inbound.conversation.status == Status.CLOSED


def test_send_and_snooze_needs_a_time(cast, inbound, teammate_client):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    url = reverse("draft_send", args=[draft.id])
    refused = _pane_post(teammate_client, url, {"send_action": "snooze"})
    assert b"Choose when the conversation should come back." in refused.content
    _pane_post(teammate_client, url, {"send_action": "snooze", "preset": "next_week"})
    assert state_of(inbound.conversation, cast.teammate).snoozed_until is not None


def test_send_later_and_unschedule_from_the_composer(cast, inbound, teammate_client):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    later = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = _pane_post(
        teammate_client,
        reverse("draft_schedule", args=[draft.id]),
        {"later_at": later, "discard_if_reply": "1", "return_to": "/m/all/"},
    )
    draft.refresh_from_db()
    assert draft.status == DraftStatus.SCHEDULED and draft.discard_if_reply
    assert b"Scheduled for" in response.content and b"Unschedule" in response.content
    _pane_post(teammate_client, reverse("draft_unschedule", args=[draft.id]))
    draft.refresh_from_db()
    assert draft.status == DraftStatus.EDITING and draft.scheduled_at is None


def test_discard_and_restore_views(cast, inbound, teammate_client):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    response = _pane_post(teammate_client, reverse("draft_discard", args=[draft.id]), {"return_to": "/m/all/"})
    assert b"discarded a draft" in response.content and b"Restore draft" in response.content
    _pane_post(teammate_client, reverse("draft_restore", args=[draft.id]), {"return_to": "/m/all/"})
    draft.refresh_from_db()
    assert draft.status == DraftStatus.EDITING


def test_upload_serve_and_remove_files(cast, inbound, teammate_client, tmp_storage):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    png = SimpleUploadedFile("shot.png", b"\x89PNG\r\n", content_type="image/png")
    response = teammate_client.post(reverse("draft_upload", args=[draft.id]), {"file": png, "inline": "1"})
    body = response.json()
    assert body["inline"] and body["content_id"] and body["chip"] == ""
    served = teammate_client.get(body["url"])
    assert served["Content-Type"] == "image/png" and served["X-Content-Type-Options"] == "nosniff"

    doc = SimpleUploadedFile("a.html", b"<script>", content_type="text/html")
    chip = teammate_client.post(reverse("draft_upload", args=[draft.id]), {"file": doc}).json()
    assert "a.html" in chip["chip"]
    download = teammate_client.get(chip["url"])
    assert download["Content-Type"] == "application/octet-stream" and "attachment" in download["Content-Disposition"]
    teammate_client.post(reverse("draft_attachment_remove", args=[chip["id"]]))
    assert draft.attachments.count() == 1


def test_compose_opens_a_private_draft(cast, owner_client):
    response = owner_client.post(reverse("draft_compose", args=[cast.org.id]))
    draft = Draft.objects.get(kind=DraftKind.NEW)
    assert response.status_code == 302
    assert response["Location"] == f"/m/drafts/{draft.conversation_id}/?draft={draft.id}"
    page = owner_client.get(response["Location"])
    assert f'class="composer" id="draft-{draft.id}"'.encode() in page.content and b'name="subject"' in page.content


def test_autocomplete_view(cast, inbound, teammate_client):
    search_index.index_backlog()
    response = teammate_client.get(reverse("recipient_suggestions", args=[inbound.conversation_id]), {"q": "car"})
    assert b"Carla Customer" in response.content and b"carla@outside.test" in response.content


def test_draft_views_are_404_without_access(cast, inbound, client):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    login(client, cast.guest)  # same organization, no access to this conversation
    for name in ("draft_save", "draft_send", "draft_discard", "draft_schedule", "draft_upload", "draft_signature"):
        assert client.post(reverse(name, args=[draft.id])).status_code == 404, name
    assert client.get(reverse("draft_composer", args=[draft.id])).status_code == 404
    assert client.post(reverse("draft_start", args=[inbound.conversation_id]), {"kind": "reply"}).status_code == 404
    draft.refresh_from_db()
    assert draft.status == DraftStatus.EDITING


def test_draft_views_need_the_csrf_token(cast, inbound):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    client = login(Client(enforce_csrf_checks=True), cast.teammate)
    assert client.post(reverse("draft_save", args=[draft.id]), {"fields": ["subject"]}).status_code == 403
    assert client.post(reverse("draft_send", args=[draft.id])).status_code == 403


# --- Preferences › Composing -------------------------------------------------------------------


def test_composing_preferences(cast, owner_client):
    url = reverse("settings_composing", args=[cast.org.id])
    assert b"Undo send" in owner_client.get(url).content
    alias = _alias(cast.personal_account)
    response = owner_client.post(
        reverse("settings_composing_update", args=[cast.org.id]),
        {"undo_send_seconds": "30", "send_and_archive_by_default": "on", "default_sender": str(alias.id)},
    )
    assert response.status_code == 302
    cast.owner.refresh_from_db()
    assert (cast.owner.undo_send_seconds, cast.owner.send_and_archive_by_default) == (30, True)
    assert not cast.owner.reply_all_includes_bcc
    assert Membership.objects.get(organization=cast.org, user=cast.owner).default_sender == alias

    foreign = _alias(AccountFactory(organization=cast.org, owner=cast.teammate, address="tom@acme.test"))
    invalid = owner_client.post(
        reverse("settings_composing_update", args=[cast.org.id]),
        {"undo_send_seconds": "7", "default_sender": str(foreign.id)},
    )
    assert invalid.status_code == 200 and invalid.content.count(b"Select a valid choice") == 2


def test_beat_sends_due_drafts(cast, inbound):
    from conversations.sending import do_schedule_draft
    from conversations.tasks import send_due_drafts

    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    do_schedule_draft(
        draft, acting_user=cast.teammate, at=timezone.now() + timedelta(seconds=1), discard_if_reply=False
    )
    Draft.objects.filter(id=draft.id).update(scheduled_at=timezone.now() - timedelta(seconds=1))
    assert send_due_drafts() == 1
    draft.refresh_from_db()
    assert draft.status == DraftStatus.SENT


def test_send_and_archive_by_default_swaps_the_main_button(cast, inbound, teammate_client):
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    url = reverse("draft_composer", args=[draft.id])
    assert b'class="button primary send-main" data-send="send"' in teammate_client.get(url).content
    cast.teammate.send_and_archive_by_default = True
    cast.teammate.save()
    html = teammate_client.get(url).content.decode()
    assert 'class="button primary send-main" data-send="archive"' in html and "Send &amp; archive</button>" in html


def test_no_undo_banner_without_a_delay(cast, inbound, teammate_client):
    cast.teammate.undo_send_seconds = 0
    cast.teammate.save()
    draft = do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    response = _pane_post(teammate_client, reverse("draft_send", args=[draft.id]), {"send_action": "send"})
    assert response.status_code == 200 and b"undo-send" not in response.content
    assert OutboxMessage.objects.get().send_after <= timezone.now()


def test_the_drafts_list_shows_the_toggle_and_the_draft_token(cast, inbound, teammate_client):
    do_start_draft(inbound.conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
    html = teammate_client.get(reverse("mailbox", args=["drafts"])).content.decode()
    assert "My drafts" in html and "Others' drafts" in html
    assert '<span class="row-draft">[draft]</span>' in html
    others = teammate_client.get(reverse("mailbox", args=["drafts-others"])).content.decode()
    assert '<span class="row-draft">' not in others  # nobody else writes one
    assert teammate_client.get(reverse("mailbox", args=["send-later"])).status_code == 200
