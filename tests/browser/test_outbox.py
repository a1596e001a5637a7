"""An outgoing message's sending status in real Chromium: a failure shows the server's reason,
Retry sends it, and the line goes away once it is sent."""

import pytest
from playwright.sync_api import expect

from channels_app.models import ImapConfig
from conversations.models import OutboxMessage, OutboxStatus
from tests.browser.conftest import log_in, screenshot
from tests.factories import receive
from tests.outbox_factory import outgoing

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_failed_message_shows_why_and_retry_sends_it(page, live_server, cast, page_errors, smtp_server, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    account = cast.personal_account
    smtp_server.users["olivia"] = "smtp-secret"
    ImapConfig.objects.create(
        organization=cast.org,
        account=account,
        imap_host="127.0.0.1",
        imap_username="olivia",
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.ssl_port,
        smtp_security="ssl",
        smtp_username="olivia",
    )
    account.credentials = {"imap_password": "unused", "smtp_password": "smtp-secret"}
    account.save()
    assert smtp_server.cert_path is not None
    settings.IMAP_EXTRA_CA_FILE = str(smtp_server.cert_path)
    original = receive(account, subject="Refund request", body="Could I get a refund?")
    reply = outgoing(
        account,
        conversation=original.conversation,
        to=[{"name": "A Customer", "address": "customer@outside.test"}],
        subject="Re: Refund request",
        body_text="Of course, it is on its way.",
        in_reply_to=original.rfc_message_id,
    )
    OutboxMessage.objects.filter(message=reply).update(
        status=OutboxStatus.FAILED,
        last_error="The server refused the recipient customer@outside.test (550 5.1.1 Mailbox <unknown>).",
    )
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/m/all/{original.conversation_id}/")

    status = page.locator(f"#outbox-status-{reply.id}")
    expect(status).to_contain_text("Failed: The server refused the recipient customer@outside.test")
    expect(status).to_contain_text("Mailbox <unknown>")
    screenshot(page, "outbox-failed")

    status.get_by_role("button", name="Retry").click()

    expect(page.locator(f"#outbox-status-{reply.id}")).to_have_count(0)
    assert OutboxMessage.objects.get(message=reply).status == OutboxStatus.SENT
    assert [r.rcpt_tos for r in smtp_server.received] == [("customer@outside.test",)]
    assert page_errors == []
