"""Custom channels: the round trip (in through the API, a reply out through the signed webhook),
the outbox's retries and failures, the channel's sending rules, and its settings pages."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from channels_app.custom.accounts import ChannelIdentity, do_add_channel_alias, do_create_custom_channel
from channels_app.models import CustomChannelConfig
from channels_app.outbox import dispatch_due
from conversations.actions import ActionRefused
from conversations.drafts import do_start_draft, do_update_draft
from conversations.models import Conversation, DraftKind, Message, OutboxMessage, OutboxStatus
from conversations.sending import do_send_draft
from tests.api.conftest import ApiClient
from tests.fakes.channel_webhook import channel_webhook

SECRET = "s3cret-key"


@pytest.fixture
def api_as():
    return ApiClient


@pytest.fixture
def channel(cast, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True  # the receiver listens on loopback
    account = do_create_custom_channel(
        cast.org, owner=cast.owner, name="Chat bridge", message_type="text", team=cast.support, shared=True
    )
    account.credentials = {"signature_secret": SECRET}
    account.save(update_fields=["encrypted_credentials"])
    do_add_channel_alias(account, ChannelIdentity(id="bot-1", name="Acme Bot", username="@acmebot"))
    return account


def _message_in(api_as, user, channel, **fields):
    response = api_as(user).post(
        "/v1/messages",
        {
            "messages": {
                "account": str(channel.id),
                "body": "My order is late",
                "from_field": {"id": "u-42", "username": "@ann", "name": "Ann"},
                "external_id": "chat-msg-1",
                "references": ["chat-42"],
                **fields,
            }
        },
    )
    assert response.status_code == 201, response.content
    return Conversation.objects.get(id=response.json()["messages"]["conversation"])


def _reply(conversation, user, text="We are on it"):
    draft = do_start_draft(conversation, acting_user=user, kind=DraftKind.REPLY)
    do_update_draft(draft, acting_user=user, fields={"body_html": f"<p>{text}</p>"})
    return do_send_draft(draft, acting_user=user, delay_seconds=0)


def test_round_trip_message_in_reply_out_signed_webhook(cast, api_as, channel):
    CustomChannelConfig.objects.filter(account=channel).update(webhook_url="placeholder")
    conversation = _message_in(api_as, cast.teammate, channel)
    with channel_webhook(SECRET) as hook:
        CustomChannelConfig.objects.filter(account=channel).update(webhook_url=hook.url)
        draft = do_start_draft(conversation, acting_user=cast.teammate, kind=DraftKind.REPLY)
        # The composer's defaults: From the channel, To the sender as the channel names them.
        assert draft.alias.account_id == channel.id
        assert draft.to == [{"name": "Ann", "address": "@ann", "id": "u-42", "username": "@ann"}]
        alias = channel.aliases.get(channel_id="bot-1")
        do_update_draft(draft, acting_user=cast.teammate, fields={"body_html": "<p>We are on it</p>", "alias": alias})
        sent = do_send_draft(draft, acting_user=cast.teammate, delay_seconds=0)
        result = dispatch_due(append=False)
    assert result.sent == 1
    assert OutboxMessage.objects.get(message=sent).status == OutboxStatus.SENT
    [received] = hook.hooks
    assert received.signature_ok
    assert received.headers["content-type"] == "application/json"
    payload = received.json
    message = payload["message"]
    assert message["id"] == str(sent.id)
    assert message["type"] == "custom_text"
    assert message["body"].strip() == "We are on it"
    assert message["to_fields"] == [{"id": "u-42", "name": "Ann", "username": "@ann"}]
    assert message["from_field"] == {"id": "bot-1", "name": "Acme Bot", "username": "@acmebot"}
    assert message["author"]["email"] == cast.teammate.email
    assert payload["conversation"]["id"] == str(conversation.id)
    # The integration's next message lands in the same conversation.
    again = _message_in(api_as, cast.teammate, channel, external_id="chat-msg-2")
    assert again.id == conversation.id


def test_no_secret_no_signature_header(cast, api_as, channel):
    channel.credentials = {}
    channel.save(update_fields=["encrypted_credentials"])
    conversation = _message_in(api_as, cast.owner, channel)
    with channel_webhook(SECRET) as hook:
        CustomChannelConfig.objects.filter(account=channel).update(webhook_url=hook.url)
        _reply(conversation, cast.owner)
        dispatch_due(append=False)
    [received] = hook.hooks
    assert "x-hook-signature" not in received.headers and "x-missive-signature" not in received.headers


def test_a_500_is_retried_then_sent(cast, api_as, channel):
    conversation = _message_in(api_as, cast.owner, channel)
    with channel_webhook(SECRET) as hook:
        CustomChannelConfig.objects.filter(account=channel).update(webhook_url=hook.url)
        hook.answers = [(500, "busy")]
        sent = _reply(conversation, cast.owner)
        first = dispatch_due(append=False)
        row = OutboxMessage.objects.get(message=sent)
        assert (first.retrying, row.status, row.attempts) == (1, OutboxStatus.PENDING, 1)
        assert "HTTP 500" in row.last_error
        OutboxMessage.objects.filter(id=row.id).update(send_after=timezone.now())  # the backoff passed
        second = dispatch_due(append=False)
    assert second.sent == 1
    assert OutboxMessage.objects.get(message=sent).status == OutboxStatus.SENT
    assert len(hook.hooks) == 2 and all(h.signature_ok for h in hook.hooks)


def test_a_400_fails_and_shows_in_the_conversation(cast, api_as, channel):
    conversation = _message_in(api_as, cast.owner, channel)
    with channel_webhook(SECRET) as hook:
        CustomChannelConfig.objects.filter(account=channel).update(webhook_url=hook.url)
        hook.answers = [(400, "unknown recipient u-42")]
        sent = _reply(conversation, cast.owner)
        result = dispatch_due(append=False)
    assert result.failed == 1
    row = OutboxMessage.objects.get(message=sent)
    assert row.status == OutboxStatus.FAILED
    assert row.last_error == "The channel's webhook answered HTTP 400: unknown recipient u-42"
    client = Client()
    client.force_login(cast.owner)
    page = client.get(reverse("outbox_status", args=[sent.id])).content.decode()
    assert "Failed:" in page and "HTTP 400: unknown recipient u-42" in page


def test_an_unreachable_webhook_is_retried(cast, api_as, channel):
    conversation = _message_in(api_as, cast.owner, channel)
    CustomChannelConfig.objects.filter(account=channel).update(webhook_url="http://127.0.0.1:9/hook")
    sent = _reply(conversation, cast.owner)
    result = dispatch_due(append=False)
    row = OutboxMessage.objects.get(message=sent)
    assert (result.retrying, row.status) == (1, OutboxStatus.PENDING)
    assert "Could not reach" in row.last_error


def test_replies_follow_the_channels_settings(cast, api_as, channel):
    conversation = _message_in(api_as, cast.owner, channel)
    CustomChannelConfig.objects.filter(account=channel).update(allow_replies=False)
    with pytest.raises(ActionRefused, match="does not allow replies"):
        _reply(conversation, cast.owner)
    CustomChannelConfig.objects.filter(account=channel).update(allow_replies=True, allow_edit_recipients=False)
    draft = do_start_draft(conversation, acting_user=cast.owner, kind=DraftKind.REPLY)
    do_update_draft(draft, acting_user=cast.owner, fields={"to": [{"address": "someone-else", "id": "someone-else"}]})
    with pytest.raises(ActionRefused, match="changing the recipients"):
        do_send_draft(draft, acting_user=cast.owner, delay_seconds=0)
    CustomChannelConfig.objects.filter(account=channel).update(allow_edit_recipients=True, max_recipients=1)
    do_update_draft(
        draft, acting_user=cast.owner, fields={"to": [{"address": "a", "id": "a"}, {"address": "@b", "username": "@b"}]}
    )
    with pytest.raises(ActionRefused, match="at most 1 recipient"):
        do_send_draft(draft, acting_user=cast.owner, delay_seconds=0)
    assert not Message.objects.filter(conversation=conversation, direction="out").exists()


def test_an_email_type_channel_is_answered_from_email_accounts(cast, api_as):
    account = do_create_custom_channel(cast.org, owner=cast.owner, name="Tickets", message_type="email")
    response = api_as(cast.owner).post(
        "/v1/messages",
        {"messages": {"account": str(account.id), "body": "x", "from_field": {"address": "a@shop.test"}}},
    )
    conversation = Conversation.objects.get(id=response.json()["messages"]["conversation"])
    draft = do_start_draft(conversation, acting_user=cast.owner, kind=DraftKind.REPLY)
    assert not account.aliases.exists()
    assert draft.alias.account.kind == "imap"
    assert draft.to == [{"name": "", "address": "a@shop.test"}]
