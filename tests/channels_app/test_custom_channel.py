"""Custom channels: the round trip (in through the API, a reply out through the signed webhook),
the outbox's retries and failures, the channel's sending rules, and its settings pages."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from channels_app.custom.accounts import ChannelIdentity, do_add_channel_alias, do_create_custom_channel
from channels_app.models import CustomChannelConfig
from channels_app.outbox import UNCERTAIN_REASON, dispatch_due
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


def test_a_stalled_webhook_fails_uncertain_and_is_never_resent(cast, api_as, channel, monkeypatch):
    """The request reached the receiver, which never answered in time: it may have acted on it,
    so the row fails with the reason saying so, and no later dispatch sends it again."""
    monkeypatch.setattr("channels_app.custom.sender.TIMEOUT_SECONDS", 0.3)
    conversation = _message_in(api_as, cast.owner, channel)
    with channel_webhook(SECRET) as hook:
        CustomChannelConfig.objects.filter(account=channel).update(webhook_url=hook.url)
        hook.stall = 1.5
        sent = _reply(conversation, cast.owner)
        result = dispatch_due(append=False)
        row = OutboxMessage.objects.get(message=sent)
        assert (result.failed, result.retrying, row.status) == (1, 0, OutboxStatus.FAILED)
        assert row.last_error == UNCERTAIN_REASON and "may have been sent" in row.last_error
        hook.stall = 0
        OutboxMessage.objects.filter(id=row.id).update(send_after=timezone.now())
        again = dispatch_due(append=False)
    assert (again.sent, again.failed, again.retrying) == (0, 0, 0)
    assert len(hook.hooks) == 1 and hook.hooks[0].signature_ok
    assert OutboxMessage.objects.get(message=sent).status == OutboxStatus.FAILED
    client = Client()
    client.force_login(cast.owner)
    page = client.get(reverse("outbox_status", args=[sent.id])).content.decode()
    assert "Failed:" in page and "may have been sent" in page


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


# --- Settings pages ---------------------------------------------------------------------------------


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_creating_a_shared_channel_from_settings(cast):
    client = _client(cast.owner)
    page = client.get(reverse("settings_account_add_custom", args=[cast.org.id]))
    assert page.status_code == 200 and b"Message type" in page.content
    accounts = client.get(reverse("settings_accounts", args=[cast.org.id])).content.decode()
    assert reverse("settings_account_add_custom", args=[cast.org.id]) in accounts
    response = client.post(
        reverse("settings_account_create_custom", args=[cast.org.id]),
        {"name": "Website chat", "message_type": "html", "sharing": "team_inbox", "team": str(cast.support.id)},
    )
    assert response.status_code == 302
    config = CustomChannelConfig.objects.get(account__description="Website chat")
    account = config.account
    assert (account.kind, account.organization_id, account.owner_id) == ("custom", cast.org.id, cast.owner.id)
    assert account.delivers_to_team_inbox and account.team_id == cast.support.id
    assert config.message_type == "html"
    assert response["Location"] == reverse("settings_custom_channel", args=[cast.org.id, account.id])
    settings_page = client.get(response["Location"]).content.decode()
    assert str(account.id) in settings_page and "Outgoing webhook URL" in settings_page


def test_creating_a_channel_shows_errors_inline(cast):
    response = _client(cast.owner).post(
        reverse("settings_account_create_custom", args=[cast.org.id]),
        {"name": "", "message_type": "sms", "sharing": "team_inbox"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"name", "message_type", "team"}
    assert b"Choose the team whose inbox" in response.content
    assert not CustomChannelConfig.objects.exists()


def test_a_member_creates_only_personal_channels(cast):
    client = _client(cast.teammate)
    response = client.post(
        reverse("settings_account_create_custom", args=[cast.org.id]),
        {"name": "Mine", "message_type": "text", "sharing": "team_inbox", "team": str(cast.support.id)},
    )
    assert response.status_code == 403
    response = client.post(
        reverse("settings_account_create_custom", args=[cast.org.id]),
        {"name": "Mine", "message_type": "text", "sharing": "personal"},
    )
    assert response.status_code == 302
    assert not CustomChannelConfig.objects.get(account__description="Mine").account.is_shared


def test_settings_save_everything_but_the_message_type(cast, channel):
    url = reverse("settings_custom_channel_update", args=[cast.org.id, channel.id])
    response = _client(cast.owner).post(
        url,
        {
            "name": "Renamed",
            "message_type": "email",
            "allow_new_messages": "on",
            "allow_replies": "on",
            "allow_recipient_username": "on",
            "max_recipients": "3",
            "webhook_url": "https://hooks.example.com/missive",
            "signature_secret": "new-secret",
            "bubble_color": "#e0f2fe",
        },
    )
    assert response.status_code == 302
    config = CustomChannelConfig.objects.get(account=channel)
    channel.refresh_from_db()
    assert config.message_type == "text"  # fixed at creation: the posted value is ignored
    assert (config.allow_new_messages, config.allow_replies, config.allow_edit_recipients) == (True, True, False)
    assert (config.allow_recipient_id, config.allow_recipient_username, config.max_recipients) == (False, True, 3)
    assert (config.webhook_url, config.bubble_color) == ("https://hooks.example.com/missive", "#e0f2fe")
    assert channel.description == "Renamed"
    assert channel.credentials == {"signature_secret": "new-secret"}
    assert b"new-secret" not in bytes(channel.encrypted_credentials)
    # A blank secret keeps it; "remove" removes it.
    _client(cast.owner).post(url, {"name": "Renamed", "max_recipients": "1", "webhook_url": "https://h.example.com"})
    channel.refresh_from_db()
    assert channel.credentials["signature_secret"] == "new-secret"
    _client(cast.owner).post(url, {"name": "Renamed", "max_recipients": "1", "remove_secret": "on"})
    channel.refresh_from_db()
    assert channel.credentials["signature_secret"] == ""


def test_settings_errors_are_inline_and_change_nothing(cast, channel):
    response = _client(cast.owner).post(
        reverse("settings_custom_channel_update", args=[cast.org.id, channel.id]),
        {"name": "X", "allow_replies": "on", "max_recipients": "0", "webhook_url": "", "bubble_color": "blue"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"max_recipients", "webhook_url", "bubble_color"}
    assert b"Sending needs a webhook URL" in response.content
    channel.refresh_from_db()
    assert channel.description == "Chat bridge"


def test_aliases_are_added_and_removed(cast, channel):
    client = _client(cast.owner)
    add = reverse("settings_custom_alias_add", args=[cast.org.id, channel.id])
    response = client.post(add, {"alias_name": "Only a name"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b"Give an ID or a username" in response.content
    assert client.post(add, {"alias_id": "42", "alias_name": "Sales"}).status_code == 302
    alias = channel.aliases.get(channel_id="42")
    assert (alias.address, alias.name) == ("42", "Sales")
    delete = reverse("settings_custom_alias_delete", args=[cast.org.id, channel.id, alias.id])
    assert client.post(delete).status_code == 302
    assert not channel.aliases.filter(id=alias.id).exists()
    default = channel.aliases.get(is_default=True)
    assert (
        client.post(reverse("settings_custom_alias_delete", args=[cast.org.id, channel.id, default.id])).status_code
        == 404
    )


def test_other_people_read_but_cannot_change_and_outsiders_get_404(cast, channel):
    url = reverse("settings_custom_channel", args=[cast.org.id, channel.id])
    assert _client(cast.teammate).get(url).status_code == 200
    response = _client(cast.teammate).post(
        reverse("settings_custom_channel_update", args=[cast.org.id, channel.id]),
        {"name": "Hijack", "max_recipients": "1"},
    )
    assert response.status_code == 403
    outsider = _client(cast.outsider)
    assert outsider.get(url).status_code == 404
    assert outsider.get(reverse("settings_custom_channel", args=[cast.other_org.id, channel.id])).status_code == 404
    assert (
        outsider.post(
            reverse("settings_custom_alias_add", args=[cast.other_org.id, channel.id]), {"alias_id": "1"}
        ).status_code
        == 404
    )
    # An email account has no Channel tab.
    assert (
        _client(cast.owner)
        .get(reverse("settings_custom_channel", args=[cast.org.id, cast.support_account.id]))
        .status_code
        == 404
    )


def test_the_101st_shared_custom_channel_is_refused_inline(cast):
    """Connected Accounts FAQ: at most 100 custom shared accounts per organization; personal
    channels and other kinds do not count."""
    for n in range(100):
        do_create_custom_channel(cast.org, owner=cast.owner, name=f"Bridge {n}", message_type="text", shared=True)
    client = _client(cast.owner)
    form = {"name": "One too many", "message_type": "text", "sharing": "team_inbox", "team": str(cast.support.id)}

    response = client.post(reverse("settings_account_create_custom", args=[cast.org.id]), form, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "at most 100 shared custom channels" in response.context["form"].errors["sharing"][0]
    assert "at most 100 shared custom channels" in response.content.decode()
    assert 'value="One too many"' in response.content.decode()  # what was typed is kept
    assert not CustomChannelConfig.objects.filter(account__description="One too many").exists()
    personal = client.post(
        reverse("settings_account_create_custom", args=[cast.org.id]), {**form, "sharing": "personal"}
    )
    assert personal.status_code == 302
    assert not CustomChannelConfig.objects.get(account__description="One too many").account.is_shared
    other_org = do_create_custom_channel(
        cast.other_org, owner=cast.outsider, name="Elsewhere", message_type="text", shared=True
    )
    assert other_org.is_shared  # another organization's count is its own
