"""The issue's must-show, through the real conversation page: two people co-write one reply in
the composer, both edits survive in both browsers, and the email sent holds both."""

import pytest
from playwright.sync_api import expect

from conversations.models import Draft, DraftStatus, Message
from tests.browser.conftest import close_page, log_in, new_page, screenshot
from tests.factories import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The paragraphs' text without the co-writers' caret labels drawn inside them.
_FIRST_LINE = """() => {
  const p = document.querySelector('form.composer .cowrite-content p');
  if (!p) return '';
  const copy = p.cloneNode(true);
  copy.querySelectorAll('.collaboration-carets__caret').forEach((caret) => caret.remove());
  return copy.textContent;
}"""


def _first_line_becomes(page, text: str) -> None:
    for _ in range(100):
        if page.evaluate(_FIRST_LINE) == text:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"{page.evaluate(_FIRST_LINE)!r} != {text!r}")


def test_two_people_co_write_a_reply_and_the_sent_email_holds_both(browser, live_server, cast, page_errors):
    cast.teammate.undo_send_seconds = 0
    cast.teammate.save()
    inbound = receive(cast.support_account, subject="Printer jam", body="It jams.", sender="ada@outside.test")
    conversation = inbound.conversation
    tom, olivia = new_page(browser, page_errors), new_page(browser, page_errors)
    try:
        log_in(tom, live_server.url, cast.teammate.email)
        tom.goto(f"{live_server.url}/m/all/{conversation.id}/")
        tom.locator(".reply-bar [data-key='reply']").click()
        # The editor's bundle loads with the first composer: allow for a slow machine.
        expect(tom.locator("form.composer .cowrite-content[contenteditable='true']")).to_be_visible(timeout=15_000)
        draft = Draft.objects.get(conversation=conversation)

        # Olivia sees Tom's reply draft and opens it: the same document.
        log_in(olivia, live_server.url, cast.owner.email)
        olivia.goto(f"{live_server.url}/m/all/{conversation.id}/")
        olivia.locator(f"#draft-{draft.id} [data-open-draft]").click()
        expect(olivia.locator("form.composer .cowrite-content[contenteditable='true']")).to_be_visible(timeout=15_000)
        expect(olivia.locator(".cowrite-person")).to_have_text("Tom Teammate")

        tom.locator("form.composer .cowrite-content p").first.click()
        tom.keyboard.press("Control+Home")
        tom.keyboard.type("Hi Ada, the part ships Monday.")
        _first_line_becomes(olivia, "Hi Ada, the part ships Monday.")
        olivia.locator("form.composer .cowrite-content p").first.click()
        olivia.keyboard.press("End")
        olivia.keyboard.type(" Olivia here: I added a spare.")
        expected = "Hi Ada, the part ships Monday. Olivia here: I added a spare."
        for page in (tom, olivia):
            _first_line_becomes(page, expected)
        screenshot(olivia, "cowrite-composer")

        # The header is shared too: Olivia adds a Cc, and it appears in Tom's composer.
        olivia.locator("form.composer [data-show-row='cc']").click()
        cc = olivia.locator("form.composer [data-recipients=cc] .chip-input")
        cc.fill("Bea Buyer <bea@outside.test>")
        cc.press("Enter")
        expect(tom.locator("form.composer [data-recipients=cc] .chip-label")).to_have_text(["Bea Buyer"], timeout=5000)
        expect(tom.locator("form.composer [data-recipients=cc]")).to_be_visible()

        tom.locator("form.composer .send-main").click()
        expect(tom.locator("#timeline .message.outbound")).to_have_count(1)
        message = Message.objects.get(conversation=conversation, direction="out")
        assert expected in message.body_html
        assert "It jams." in message.body_html, "the quoted original stays below"
        assert [p["address"] for p in message.cc] == ["bea@outside.test"]
        draft.refresh_from_db()
        assert draft.status == DraftStatus.SENT
    finally:
        close_page(olivia)
        close_page(tom)
    assert list(page_errors) == []
