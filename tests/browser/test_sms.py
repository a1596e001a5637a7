"""An SMS conversation in real Chromium: a text arrives through the fake Twilio's signed webhook,
the reply is written in the composer (no subject, no Cc), sent through the outbox to the fake
Twilio, and its delivered status shows on the message."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from channels_app.outbox import dispatch_due
from channels_app.twilio.accounts import TwilioDetails, do_connect_twilio_account
from conversations.models import Message, OutboxMessage
from inboxes.models import AccountKind
from tests.browser.conftest import log_in, screenshot
from tests.fakes.fake_twilio import fake_twilio

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NUMBER, CONTACT = "+1222333444", "+1555666777"


def test_replying_to_a_text_in_the_browser(page, live_server, cast, settings, tmp_storage, page_errors):
    with fake_twilio() as twilio:
        settings.TWILIO_API_BASE_URL = twilio.base_url
        settings.SITE_URL = live_server.url
        sid, token = twilio.add_account(NUMBER)
        details = TwilioDetails(AccountKind.TWILIO_SMS, sid, token, NUMBER, display_name="Shop SMS")
        account, _ = do_connect_twilio_account(cast.org, details, owner=cast.owner)
        inbound = twilio.inbound(
            f"{live_server.url}/twilio/{account.id}/sms", account_sid=sid, from_=CONTACT, to=NUMBER, body="Open today?"
        )
        assert inbound.post_over_http().status_code == 200
        conversation = Message.objects.get(account=account).conversation

        log_in(page, live_server.url, cast.owner.email)
        page.goto(f"{live_server.url}/m/all/{conversation.id}/")
        expect(page.locator("#timeline .message")).to_contain_text("Open today?")
        page.keyboard.press("r")
        composer = page.locator("form.composer")
        expect(composer).to_be_visible()
        expect(composer.locator("[data-recipients=to] .chip-label")).to_have_text([CONTACT])
        expect(composer.locator("select.composer-from option:checked")).to_contain_text(NUMBER)
        expect(composer.locator("input[name=subject]")).to_have_count(0)
        expect(composer.locator("[data-show-row=cc]")).to_have_count(0)
        editor = composer.locator(".composer-editor [contenteditable='true']")
        expect(editor).to_be_visible(timeout=15_000)
        editor.click()
        page.keyboard.type("Yes, until 6.")
        expect(composer.locator(".composer-editor")).to_contain_text("Yes, until 6.")
        expect(composer.locator("[data-saved]")).to_have_text("Saved")
        composer.locator(".send-main").click()
        expect(page.locator("#timeline .message.outbound")).to_have_count(1)

        OutboxMessage.objects.update(send_after=timezone.now())
        assert dispatch_due().sent == 1, OutboxMessage.objects.get().last_error
        [form] = twilio.sent()
        assert (form["From"], form["To"], form["Body"]) == ([NUMBER], [CONTACT], ["Yes, until 6."])
        message = Message.objects.get(account=account, direction="out")
        assert twilio.status_callback(message.external_id, "delivered").post_over_http().status_code == 200

        page.reload()
        expect(page.locator(f"#delivery-status-{message.id}")).to_have_text("Delivered")
        screenshot(page, "sms-reply-delivered")
    assert page_errors == []
