"""A custom channel's reply composer in real Chromium: only the To row, its recipients locked when
the channel forbids editing them, and the channel's From is kept."""

import pytest
from playwright.sync_api import expect

from channels_app.custom.accounts import ChannelIdentity, do_add_channel_alias, do_create_custom_channel
from channels_app.models import CustomChannelConfig
from conversations.drafts import do_start_draft
from conversations.models import DraftKind
from tests.browser.conftest import log_in, screenshot
from tests.factories import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_locked_custom_channel_reply_in_the_browser(page, live_server, cast, tmp_storage, page_errors):
    account = do_create_custom_channel(cast.org, owner=cast.owner, name="Chat bridge", message_type="text")
    do_add_channel_alias(account, ChannelIdentity(id="bot-1", name="Acme Bot", username="@acmebot"))
    CustomChannelConfig.objects.filter(account=account).update(allow_edit_recipients=False)
    message = receive(
        account,
        subject="",
        body="Where is my order?",
        sender="@ann",
        from_name="Ann",
        reply_to=[{"id": "u-42", "username": "@ann", "name": "Ann", "address": "@ann"}],
    )
    draft = do_start_draft(message.conversation, acting_user=cast.owner, kind=DraftKind.REPLY)

    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/m/all/{message.conversation_id}/?draft={draft.id}")
    composer = page.locator("form.composer")
    expect(composer).to_be_visible()
    expect(composer.locator("[data-recipients=to] .chip-label")).to_have_text(["Ann"])
    expect(composer.locator("[data-recipients=cc], [data-recipients=bcc], [data-show-row]")).to_have_count(0)
    expect(composer.locator(".chip-input, .chip-remove")).to_have_count(0)
    expect(composer.locator(".composer-locked")).to_contain_text("does not allow changing the recipients")
    screenshot(page, "custom-channel-locked-reply")
