"""POST /v1/messages: incoming custom channel messages (rest-api.md §5.2)."""

from __future__ import annotations

import base64

import pytest

from channels_app.custom.accounts import do_create_custom_channel
from conversations.models import Attachment, ConversationState, Location, Message
from inboxes.models import AccountKind
from tests.factories import receive


@pytest.fixture
def channel(cast):
    return do_create_custom_channel(
        cast.org, owner=cast.owner, name="Chat bridge", message_type="text", team=cast.support, shared=True
    )


def _post(api, **fields):
    return api.post("/v1/messages", {"messages": fields})


def test_a_text_message_lands_in_the_team_inbox_of_the_channel(cast, api_as, channel, tmp_storage):
    response = _post(
        api_as(cast.teammate),
        account=str(channel.id),
        body="Hello <there>\nsecond line",
        from_field={"id": "u-42", "username": "@ann", "name": "Ann"},
        to_fields=[{"id": "bot", "name": "Support bot"}],
        external_id="msg-1",
        delivered_at=1700000000,
        attachments=[{"base64_data": base64.b64encode(b"%PDF-1").decode(), "filename": "a.pdf"}],
    )
    assert response.status_code == 201, response.content
    body = response.json()["messages"]
    message = Message.objects.get(id=body["id"])
    assert str(message.conversation_id) == body["conversation"]
    assert message.account_id == channel.id and message.external_id == "msg-1"
    assert (message.from_name, message.from_address) == ("Ann", "@ann")
    assert message.to == [{"name": "Support bot", "address": "bot", "id": "bot", "username": ""}]
    assert message.body_text == "Hello <there>\nsecond line"
    assert "&lt;there&gt;" in message.body_html
    assert int(message.sent_at.timestamp()) == 1700000000
    attachment = Attachment.objects.get(message=message)
    assert (attachment.filename, attachment.content_type, attachment.file.read()) == (
        "a.pdf",
        "application/pdf",
        b"%PDF-1",
    )
    conversation = message.conversation
    assert conversation.team_id == cast.support.id and conversation.in_team_inbox
    assert ConversationState.objects.filter(conversation=conversation, user=cast.teammate).exists()


def test_the_seeds_channel_id_works_as_account(cast, api_as, channel):
    response = _post(api_as(cast.owner), channel_id=str(channel.id), body="hi", from_field={"id": "1"})
    assert response.status_code == 201
    assert Message.objects.get(id=response.json()["messages"]["id"]).account_id == channel.id


def test_an_html_message_keeps_its_html(cast, api_as):
    account = do_create_custom_channel(cast.org, owner=cast.owner, name="Alerts", message_type="html")
    response = _post(
        api_as(cast.owner), account=str(account.id), body="<p>Disk <b>full</b></p>", from_field={"name": "Monitor"}
    )
    assert response.status_code == 201
    message = Message.objects.get(id=response.json()["messages"]["id"])
    assert message.body_html == "<p>Disk <b>full</b></p>"
    assert "Disk full" in message.body_text
    # A personal channel: its owner's inbox.
    assert ConversationState.objects.get(conversation=message.conversation, user=cast.owner).location == Location.INBOX


def test_an_email_type_message_has_subject_and_addresses(cast, api_as):
    account = do_create_custom_channel(cast.org, owner=cast.owner, name="Tickets", message_type="email")
    response = _post(
        api_as(cast.owner),
        account=str(account.id),
        subject="Order 12",
        body="<p>Where is it?</p>",
        from_field={"address": "Buyer@Shop.test", "name": "Buyer"},
        to_fields=[{"address": "sales@acme.test"}],
        cc_fields=[{"address": "boss@shop.test", "name": "Boss"}],
    )
    assert response.status_code == 201, response.content
    message = Message.objects.get(id=response.json()["messages"]["id"])
    assert (message.subject, message.from_address) == ("Order 12", "buyer@shop.test")
    assert message.cc == [{"name": "Boss", "address": "boss@shop.test"}]
    assert message.conversation.subject == "Order 12"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"body": "x", "from_field": {"id": "1"}}, "messages.account"),
        ({"account": "not-a-uuid", "body": "x", "from_field": {"id": "1"}}, "messages.account"),
        ({"body": "x"}, "messages.from_field"),
        ({"body": "x", "from_field": {}}, "messages.from_field"),
        ({"body": "x", "from_field": {"address": "a@b.test"}}, "messages.from_field.address"),
        ({"body": "x", "from_field": {"id": "1"}, "to_fields": [{"id": "2"}, {}]}, "messages.to_fields.1"),
        ({"body": "x", "from_field": {"id": "1"}, "cc_fields": [{"id": "2"}]}, "messages.cc_fields"),
        (
            {"body": "x", "from_field": {"id": "1"}, "attachments": [{"filename": "a"}]},
            "messages.attachments.0.base64_data",
        ),
        (
            {"body": "x", "from_field": {"id": "1"}, "attachments": [{"filename": "a", "base64_data": "!!"}]},
            "messages.attachments.0.base64_data",
        ),
        ({"body": "x", "from_field": {"id": "1"}, "conversation_color": "pink"}, "messages.conversation_color"),
        (
            {"body": "x", "from_field": {"id": "1"}, "add_assignees": ["5b0e1c43-4a62-4bb5-8e4e-8e7e8c1bd5a3"]},
            "messages.organization",
        ),
        ({"body": "x", "from_field": {"id": "1"}, "delivered_at": "yesterday"}, "messages.delivered_at"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(cast, api_as, channel, fields, field):
    if "account" not in fields and field != "messages.account":
        fields = {"account": str(channel.id), **fields}
    response = _post(api_as(cast.owner), **fields)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert not Message.objects.filter(account=channel).exists()


def test_an_email_type_channel_refuses_a_bad_address(cast, api_as):
    account = do_create_custom_channel(cast.org, owner=cast.owner, name="Tickets", message_type="email")
    response = _post(api_as(cast.owner), account=str(account.id), body="x", from_field={"address": "nope"})
    assert response.status_code == 400
    assert response.json()["field"] == "messages.from_field.address"


def test_another_organizations_channel_is_a_404(cast, api_as, channel):
    response = _post(api_as(cast.outsider), account=str(channel.id), body="x", from_field={"id": "1"})
    assert response.status_code == 404
    assert not Message.objects.filter(account=channel).exists()


def test_a_channel_not_shared_with_the_user_is_a_404_and_an_email_account_too(cast, api_as):
    personal = do_create_custom_channel(cast.org, owner=cast.owner, name="Mine", message_type="text")
    assert _post(api_as(cast.teammate), account=str(personal.id), body="x", from_field={"id": "1"}).status_code == 404
    email = cast.personal_account
    assert email.kind != AccountKind.CUSTOM
    assert _post(api_as(email.owner), account=str(email.id), body="x", from_field={"id": "1"}).status_code == 404


def test_the_same_external_id_again_returns_the_same_message(cast, api_as, channel):
    api = api_as(cast.owner)
    first = _post(api, account=str(channel.id), body="once", from_field={"id": "1"}, external_id="ext-7")
    again = _post(api, account=str(channel.id), body="once", from_field={"id": "1"}, external_id="ext-7")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert Message.objects.filter(account=channel).count() == 1


def test_references_thread_messages_into_one_conversation(cast, api_as, channel):
    api = api_as(cast.owner)
    first = _post(
        api, account=str(channel.id), body="a", from_field={"id": "1"}, references=["chat-9"], external_id="m1"
    )
    second = _post(api, account=str(channel.id), body="b", from_field={"id": "1"}, references=["chat-9"])
    by_id = _post(api, account=str(channel.id), body="c", from_field={"id": "1"}, references=["m1"])
    other = _post(api, account=str(channel.id), body="d", from_field={"id": "1"}, references=["chat-10"])
    conversation = first.json()["messages"]["conversation"]
    assert second.json()["messages"]["conversation"] == conversation
    assert by_id.json()["messages"]["conversation"] == conversation
    assert other.json()["messages"]["conversation"] != conversation


def test_conversation_appends_to_that_conversation(cast, api_as, channel):
    api = api_as(cast.owner)
    email = receive(cast.support_account, subject="Started by email")
    response = _post(
        api, account=str(channel.id), body="more", from_field={"id": "1"}, conversation=str(email.conversation_id)
    )
    assert response.status_code == 201
    assert response.json()["messages"]["conversation"] == str(email.conversation_id)
    again = _post(
        api, account=str(channel.id), body="more", from_field={"id": "1"}, conversation=str(email.conversation_id)
    )
    assert again.json()["messages"]["conversation"] == str(email.conversation_id)


def test_conversation_of_another_organization_is_a_404(cast, api_as, channel):
    theirs = receive(cast.outsider_account)
    response = _post(
        api_as(cast.owner),
        account=str(channel.id),
        body="x",
        from_field={"id": "1"},
        conversation=str(theirs.conversation_id),
    )
    assert response.status_code == 404
    assert not Message.objects.filter(account=channel).exists()


def test_the_conversation_options_apply_once_to_a_new_message(cast, api_as, channel):
    from conversations.models import Assignment, ConversationLabel, Status
    from tests.factories import LabelFactory

    label = LabelFactory(organization=cast.org, name="Chat")
    fields = dict(
        account=str(channel.id),
        body="hi",
        from_field={"id": "1"},
        external_id="opt-1",
        organization=str(cast.org.id),
        add_assignees=[str(cast.teammate.id)],
        add_shared_labels=[str(label.id)],
        conversation_color="warning",
        close=True,
    )
    response = _post(api_as(cast.owner), **fields)
    assert response.status_code == 201, response.content
    conversation = Message.objects.get(id=response.json()["messages"]["id"]).conversation
    assert list(Assignment.objects.filter(conversation=conversation).values_list("user_id", flat=True)) == [
        cast.teammate.id
    ]
    assert ConversationLabel.objects.filter(conversation=conversation, label=label).exists()
    assert (conversation.color, conversation.status) == ("#ecb22e", Status.CLOSED)
    # Reopened by someone; the integration retries its call: nothing is applied a second time.
    from conversations.actions import do_reopen

    do_reopen(conversation, acting_user=cast.owner)
    assert _post(api_as(cast.owner), **fields).status_code == 200
    conversation.refresh_from_db()
    assert conversation.status == Status.OPEN
