"""POST /v1/drafts and DELETE /v1/drafts/:id: drafts, sending through the real outbox to the SMTP
listener, scheduling, phone senders, attachments, and the errors clients grep for."""

from __future__ import annotations

import base64
import email
import email.policy
import time

import pytest

from channels_app.outbox import dispatch_due
from conversations.models import Draft, DraftStatus, Message, OutboxMessage, OutboxStatus
from inboxes.models import AccountKind, Alias
from tests.channels_app.test_outbox import can_send
from tests.factories import AccountFactory, receive

pytestmark = pytest.mark.usefixtures("tmp_storage")


def draft(api, **fields):
    return api.post("/v1/drafts", {"drafts": fields})


@pytest.mark.usefixtures("trust_smtp")
def test_send_true_goes_out_through_the_outbox_to_the_smtp_server(cast, api_as, smtp_server):
    can_send(cast.personal_account, smtp_server)
    response = draft(
        api_as(cast.owner),
        subject="Your quote",
        body="<p>Hello Bob</p>",
        from_field={"address": "Olivia@acme.test", "name": "Olivia"},
        to_fields=[{"address": "bob@outside.test", "name": "Bob"}],
        attachments=[{"filename": "quote.txt", "base64_data": base64.b64encode(b"42 EUR").decode()}],
        send=True,
        references=["<quote-7@acme.test>"],
    )
    assert response.status_code == 201, response.content
    body = response.json()["drafts"]
    sent = Message.objects.get(id=body["message"])
    assert str(sent.conversation_id) == body["conversation"]
    assert Draft.objects.get(id=body["id"]).status == DraftStatus.SENT

    assert dispatch_due().sent == 1, OutboxMessage.objects.get().last_error
    assert OutboxMessage.objects.get(message=sent).status == OutboxStatus.SENT
    [received] = smtp_server.received
    assert list(received.rcpt_tos) == ["bob@outside.test"]
    parsed = email.message_from_bytes(received.data, policy=email.policy.default)
    assert parsed["Subject"] == "Your quote" and "olivia@acme.test" in parsed["From"]
    [attached] = list(parsed.iter_attachments())
    assert attached.get_filename() == "quote.txt" and attached.get_content().strip() == "42 EUR"

    # The reference now threads the next draft into the same conversation.
    again = draft(api_as(cast.owner), body="More", references=["quote-7@acme.test"])
    assert again.json()["drafts"]["conversation"] == body["conversation"]


def test_a_draft_without_send_waits_in_the_conversation_and_can_be_deleted(cast, api_as):
    conversation = receive(cast.personal_account).conversation
    api = api_as(cast.owner)
    response = draft(
        api,
        conversation=str(conversation.id),
        body="Thanks!",
        quote_previous_message=True,
        from_field={"address": "olivia@acme.test"},
        to_fields=[{"address": "customer@outside.test"}],
        external_response_id="HX123",
        external_response_variables={"1": "Bob"},
    )
    assert response.status_code == 201, response.content
    stored = Draft.objects.get(id=response.json()["drafts"]["id"])
    assert stored.conversation == conversation and stored.status == DraftStatus.EDITING
    assert stored.body_html.startswith("Thanks!") and "Hi there" in stored.body_html
    assert stored.external_response_id == "HX123" and stored.external_response_variables == {"1": "Bob"}
    assert not OutboxMessage.objects.exists()

    assert api_as(cast.outsider).delete(f"/v1/drafts/{stored.id}").status_code == 404
    assert api.delete(f"/v1/drafts/{stored.id}").status_code == 204
    stored.refresh_from_db()
    assert stored.status == DraftStatus.DISCARDED
    assert api.delete(f"/v1/drafts/{stored.id}").status_code == 404


def test_send_at_schedules_and_auto_followup_drops_it_on_reply(cast, api_as):
    response = draft(
        api_as(cast.owner),
        body="Following up",
        from_field={"address": "olivia@acme.test"},
        to_fields=[{"address": "bob@outside.test"}],
        send_at=int(time.time()) + 3600,
        auto_followup=True,
    )
    assert response.status_code == 201, response.content
    stored = Draft.objects.get(id=response.json()["drafts"]["id"])
    assert stored.status == DraftStatus.SCHEDULED and stored.discard_if_reply
    assert abs(stored.scheduled_at.timestamp() - (time.time() + 3600)) < 5


def test_an_sms_draft_goes_from_the_phone_accounts_number(cast, api_as):
    # Its default alias is the number, as for every phone account (ensure_default_alias).
    phone = AccountFactory(organization=cast.org, owner=cast.owner, kind=AccountKind.TWILIO_SMS, address="+15550001111")
    assert Alias.objects.get(account=phone, is_default=True).address == "+15550001111"
    api = api_as(cast.owner)
    response = draft(
        api,
        body="Your table is ready",
        from_field={"phone_number": "+1 555 000 1111"},
        to_fields=[{"phone_number": "+15552223333"}],
        send=True,
    )
    assert response.status_code == 201, response.content
    sent = Message.objects.get(id=response.json()["drafts"]["message"])
    assert sent.account == phone and sent.to == [{"name": "", "address": "+15552223333"}]
    two = draft(
        api,
        from_field={"phone_number": "+15550001111"},
        to_fields=[{"phone_number": "+15552223333"}, {"phone_number": "+15552224444"}],
    )
    assert two.status_code == 400 and two.json()["field"] == "drafts.to_fields"
    unknown = draft(api, from_field={"phone_number": "+15559999999"}, to_fields=[{"phone_number": "+15552223333"}])
    assert unknown.status_code == 400 and unknown.json()["field"] == "drafts.from_field.phone_number"


def test_draft_validation_errors_name_the_field_and_write_nothing(cast, api_as):
    api = api_as(cast.owner)
    to = [{"address": "bob@outside.test"}]
    not_mine = draft(api, from_field={"address": "someone@else.test"}, to_fields=to)
    assert not_mine.status_code == 400
    assert not_mine.json()["errors"] == "'from_field' does not match an available sender"
    both = draft(api, from_field={"address": "olivia@acme.test"}, to_fields=to, send=True, send_at=2000000000)
    assert both.status_code == 400 and both.json()["field"] == "drafts.send_at"
    bad_to = draft(api, from_field={"address": "olivia@acme.test"}, to_fields=[{"address": "not an address"}])
    assert bad_to.status_code == 400 and bad_to.json()["field"] == "drafts.to_fields"
    files = [{"filename": "a.txt", "base64_data": "aGk="}] * 26
    too_many = draft(api, from_field={"address": "olivia@acme.test"}, to_fields=to, attachments=files)
    assert too_many.status_code == 400 and too_many.json()["field"] == "drafts.attachments"
    bad_file = draft(api, to_fields=to, attachments=[{"filename": "a.txt", "base64_data": "%%%"}])
    assert bad_file.status_code == 400 and bad_file.json()["field"] == "drafts.attachments.0.base64_data"
    no_recipient = draft(api, from_field={"address": "olivia@acme.test"}, send=True)
    assert no_recipient.status_code == 400 and no_recipient.json()["field"] == "drafts.send"
    missing_name = draft(api, to_fields=to, attachments=[{"base64_data": "aGk="}])
    assert missing_name.status_code == 400 and missing_name.json()["field"] == "drafts.attachments.0.filename"
    assert not Draft.objects.exists()


def test_another_organizations_sender_account_or_conversation_is_refused(cast, api_as):
    api = api_as(cast.owner)
    to = [{"address": "bob@outside.test"}]
    theirs = draft(api, from_field={"address": "help@globex.test"}, to_fields=to)
    assert theirs.status_code == 400 and theirs.json()["field"] == "drafts.from_field"
    assert draft(api, account=str(cast.outsider_account.id), to_fields=to).status_code == 404
    conversation = receive(cast.outsider_account).conversation
    assert draft(api, conversation=str(conversation.id), to_fields=to).status_code == 404
    assert not Draft.objects.exists()


def test_a_custom_channel_draft_keeps_its_account_and_recipients(cast, api_as):
    channel = AccountFactory(organization=cast.org, owner=cast.owner, kind=AccountKind.CUSTOM, address="bridge")
    response = draft(
        api_as(cast.owner),
        account=str(channel.id),
        body="Hi from Missive",
        to_fields=[{"id": "12345", "name": "Ann", "username": "@ann"}],
    )
    assert response.status_code == 201, response.content
    stored = Draft.objects.get(id=response.json()["drafts"]["id"])
    assert stored.account == channel
    assert stored.to == [{"id": "12345", "name": "Ann", "username": "@ann"}]


def test_without_from_field_a_reply_goes_from_the_address_the_message_came_to(cast, api_as):
    conversation = receive(cast.personal_account).conversation
    response = draft(
        api_as(cast.owner), conversation=str(conversation.id), body="On it", to_fields=[{"address": "c@x.test"}]
    )
    assert response.status_code == 201, response.content
    stored = Draft.objects.get(id=response.json()["drafts"]["id"])
    assert stored.alias is not None and stored.alias.address == "olivia@acme.test"
