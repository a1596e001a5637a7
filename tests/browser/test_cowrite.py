"""Co-writing a draft in two real browsers: both people type at the same time, both edits
survive everywhere, and each sees the other's cursor."""

import pytest
from playwright.sync_api import Page, expect

from conversations import cowrite
from conversations.models import Draft
from tests.browser.conftest import close_page, log_in, new_page, screenshot
from tests.factories import receive

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.browser.cowrite_urls")]


def _draft(cast, body_html=""):
    conversation = receive(cast.support_account, subject="Printer jam").conversation
    return Draft.objects.create(
        organization=cast.org,
        conversation=conversation,
        creator=cast.owner,
        subject="Re: Printer jam",
        body_html=body_html,
    )


def _open(page: Page, live_server, user, draft) -> None:
    log_in(page, live_server.url, user.email)
    page.goto(f"{live_server.url}/test/drafts/{draft.id}/")
    expect(page.locator(".cowrite-content[contenteditable='true']")).to_be_visible()


# The paragraphs' text without the co-writers' caret labels drawn inside them.
_TEXTS = """() => [...document.querySelectorAll('.cowrite-content p')].map((p) => {
  const copy = p.cloneNode(true);
  copy.querySelectorAll('.collaboration-carets__caret').forEach((caret) => caret.remove());
  return copy.textContent;
})"""


def _expect_paragraphs(page: Page, expected: list[str]) -> None:
    try:
        page.wait_for_function(f"expected => JSON.stringify(({_TEXTS})()) === JSON.stringify(expected)", arg=expected)
    except Exception:
        raise AssertionError(f"{page.evaluate(_TEXTS)} != {expected}") from None


def _flush(page: Page, draft) -> None:
    page.evaluate("id => window.missive.editor.flush(id)", str(draft.id))


def test_two_people_type_at_the_same_time_and_both_edits_survive(browser, live_server, cast, page_errors):
    draft = _draft(cast, "<p>Hello Ada,</p><p>Thanks for writing.</p>")
    olivia, tom = new_page(browser, page_errors), new_page(browser, page_errors)
    try:
        _open(olivia, live_server, cast.owner, draft)
        _open(tom, live_server, cast.teammate, draft)
        for page in (olivia, tom):
            expect(page.locator(".cowrite-content p")).to_have_count(2)  # the starting text, once
        expect(olivia.locator(".cowrite-person")).to_have_text("Tom Teammate")
        expect(tom.locator(".cowrite-person")).to_have_text("Olivia Owner")

        olivia.locator(".cowrite-content p").nth(0).click()
        olivia.keyboard.press("End")
        tom.locator(".cowrite-content p").nth(1).click()
        tom.keyboard.press("End")
        # Each sees where the other will type before they start.
        expect(olivia.locator(".cowrite-content p").nth(1).locator(".collaboration-carets__caret")).to_have_count(1)
        expect(tom.locator(".cowrite-content p").nth(0).locator(".collaboration-carets__caret")).to_have_count(1)
        # Keystrokes interleaved, none waiting for the other's to arrive.
        for ours, theirs in zip(" the part ships Monday.", " Best, Tom", strict=False):
            olivia.keyboard.type(ours)
            tom.keyboard.type(theirs)
        olivia.keyboard.type(" the part ships Monday."[len(" Best, Tom") :])

        merged = ["Hello Ada, the part ships Monday.", "Thanks for writing. Best, Tom"]
        for page in (olivia, tom):
            _expect_paragraphs(page, merged)
            _flush(page, draft)
        expect(olivia.locator(".collaboration-carets__label")).to_have_text("Tom Teammate")
        expect(tom.locator(".cowrite-writing")).to_have_text("Olivia Owner is writing…")
        screenshot(olivia, "cowrite-olivia")
        screenshot(tom, "cowrite-tom")

        draft.refresh_from_db()
        expected = f"<p>{merged[0]}</p><p>{merged[1]}</p>"
        assert draft.body_html == expected
        assert cowrite.render_html(bytes(draft.ydoc)) == expected
        # The form carries the same body, whichever of them saves or sends it.
        for page in (olivia, tom):
            assert page.input_value("input[name='body_html']") == expected

        tom.reload()
        _expect_paragraphs(tom, merged)
    finally:
        close_page(olivia)
        close_page(tom)
    assert list(page_errors) == []


def test_the_toolbar_and_shortcuts_format_the_body_and_pasted_markup_is_cleaned(
    browser, live_server, cast, page_errors
):
    draft = _draft(cast)
    page = new_page(browser, page_errors)
    changes = []
    try:
        _open(page, live_server, cast.owner, draft)
        page.expose_function("sawChange", lambda detail: changes.append(detail))
        page.evaluate("document.querySelector('form').addEventListener('composer:change', e => sawChange(e.detail))")
        page.locator(".cowrite-content").click()
        page.keyboard.press("Control+b")
        page.keyboard.type("Urgent")
        page.keyboard.press("Control+b")
        page.keyboard.type(" see status")
        page.keyboard.press("Control+Shift+ArrowLeft")  # the word "status"
        page.keyboard.press("Control+k")
        page.fill(".cowrite-linkbar input", "example.com/status")
        page.keyboard.press("Enter")
        page.keyboard.press("End")
        page.keyboard.press("Enter")
        page.click("[data-tool='bulletList']")
        page.keyboard.type("first")
        expect(page.locator("[data-tool='bulletList']")).to_have_attribute("aria-pressed", "true")
        inserted = page.evaluate(
            "id => window.missive.editor.insertHTML(id, '<p>Kind <em>regards</em><script>alert(1)</script>"
            "<span onclick=alert(2)>!</span></p>')",
            str(draft.id),
        )
        assert inserted is True
        _flush(page, draft)
        html = page.evaluate("id => window.missive.editor.getHTML(id)", str(draft.id))
        assert "script" not in html and "onclick" not in html

        draft.refresh_from_db()
        assert draft.body_html.startswith(
            '<p><strong>Urgent</strong> see <a href="https://example.com/status" target="_blank" '
            'rel="noopener noreferrer nofollow">status</a></p><ul><li><p>first</p>'
        )
        assert "<p>Kind <em>regards</em>!</p>" in draft.body_html
        assert "script" not in draft.body_html and "onclick" not in draft.body_html
        assert changes and changes[-1] == {"draftId": str(draft.id), "field": "body_html"}
    finally:
        close_page(page)
    # The page's CSP refusing the inserted markup's handler is the second layer doing its job.
    assert [e for e in page_errors if "inline event handler" not in e] == []
