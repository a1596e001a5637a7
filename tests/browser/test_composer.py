"""The composer in real Chromium: reply, type, pick a recipient from the autocomplete, attach
files by the button and by dropping them, send and undo, then Send & close; a new email."""

import base64

import pytest
from playwright.sync_api import Page, expect

from conversations import search_index
from conversations.incoming import IncomingAttachment
from conversations.models import Draft, DraftStatus, Message, Status
from tests.browser.conftest import log_in, screenshot
from tests.factories import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _drop(page: Page, selector: str, name: str, mime: str, content: str) -> None:
    """A file dropped from the desktop onto an element."""
    page.evaluate(
        """([selector, name, mime, content]) => {
            const target = document.querySelector(selector);
            const data = new DataTransfer();
            data.items.add(new File([content], name, { type: mime }));
            for (const type of ["dragover", "drop"]) {
                target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: data }));
            }
        }""",
        [selector, name, mime, content],
    )


def test_reply_with_autocomplete_files_undo_then_send_and_close(page, live_server, cast, tmp_storage, page_errors):
    cast.teammate.undo_send_seconds = 10
    cast.teammate.save()
    receive(cast.support_account, subject="Logo ideas", sender="dana@design.test", from_name="Dana Designer")
    inbound = receive(
        cast.support_account, subject="Broken widget", body="It broke.", sender="carla@outside.test", from_name="Carla"
    )
    search_index.index_backlog()
    conversation = inbound.conversation
    log_in(page, live_server.url, cast.teammate.email)
    page.goto(f"{live_server.url}/m/all/{conversation.id}/")

    page.keyboard.press("r")
    composer = page.locator("form.composer")
    expect(composer).to_be_visible()
    expect(composer.locator("[data-recipients=to] .chip")).to_have_text(["Carla×"])
    expect(composer.locator(".composer-editor blockquote")).to_contain_text("It broke.")

    editor = composer.locator(".composer-editor")
    editor.click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("Thanks Carla, it is fixed now.")

    to = composer.locator("[data-recipients=to] .chip-input")
    to.click()
    to.type("dan")
    expect(composer.locator(".recipient-option")).to_have_count(1)
    expect(composer.locator(".recipient-option .option-name")).to_have_text("Dana Designer")
    to.press("Enter")
    expect(composer.locator("[data-recipients=to] .chip-label")).to_have_text(["Carla", "Dana Designer"])

    composer.locator("input[data-composer-attach]").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"some notes"}]
    )
    expect(composer.locator(".file-chip .filename")).to_have_text(["notes.txt"])
    _drop(page, "form.composer .composer-files", "figures.csv", "text/csv", "a,b\n1,2\n")
    expect(composer.locator(".file-chip .filename")).to_have_text(["notes.txt", "figures.csv"])
    _drop(page, "form.composer .composer-editor", "shot.png", "image/png", "\x89PNG")
    # Shown from its authenticated address in the editor; sent as a cid: part (asserted below).
    expect(editor.locator("img[src*='/draft-files/']")).to_have_count(1)
    expect(composer.locator("[data-saved]")).to_have_text("Saved")
    expect(page.locator("#comment-box [data-file-tray] li")).to_have_count(0)  # not the chat box's
    composer.locator(".composer-foot").scroll_into_view_if_needed()
    screenshot(page, "composer-reply")

    composer.locator(".send-main").click()
    banner = page.locator("#toast .undo-send")
    expect(banner).to_contain_text("Sending…")
    expect(page.locator("form.composer")).to_have_count(0)
    expect(page.locator("#timeline .message.outbound")).to_have_count(1)
    screenshot(page, "composer-sent-undo")
    message = Message.objects.get(conversation=conversation, direction="out")
    assert "Thanks Carla, it is fixed now." in message.body_html
    assert 'src="cid:' in message.body_html
    assert [p["address"] for p in message.to] == ["carla@outside.test", "dana@design.test"]
    assert sorted(a.filename for a in message.attachments.all()) == ["figures.csv", "notes.txt", "shot.png"]

    banner.get_by_role("button", name="Undo").click()
    composer = page.locator("form.composer")
    expect(composer).to_be_visible()
    expect(page.locator("#timeline .message.outbound")).to_have_count(0)
    expect(composer.locator("[data-recipients=to] .chip-label")).to_have_text(["Carla", "Dana Designer"])
    expect(composer.locator(".composer-editor")).to_contain_text("Thanks Carla, it is fixed now.")
    assert not Message.objects.filter(id=message.id).exists()
    assert Draft.objects.get(conversation=conversation).status == DraftStatus.EDITING

    composer.locator(".send-more").click()
    composer.get_by_role("button", name="Send & close").click()
    expect(page.locator("#timeline .message.outbound")).to_have_count(1)
    conversation.refresh_from_db()
    assert conversation.status == Status.CLOSED
    assert page_errors == []


def test_a_new_email_and_a_refused_send(page, live_server, cast, page_errors):
    log_in(page, live_server.url, cast.owner.email)
    page.locator("[data-compose]").click()
    composer = page.locator("form.composer")
    expect(composer).to_be_visible()
    expect(composer.locator("[data-recipients=to] .chip-input")).to_be_focused()

    composer.locator(".send-main").click()
    expect(composer.locator(".composer-error")).to_have_text("Add at least one recipient.")

    composer.locator("[data-recipients=to] .chip-input").type("partner@example.org,")
    composer.locator("[name=subject]").fill("Proposal")
    composer.locator(".composer-editor").click()
    page.keyboard.type("Here is our proposal.")
    expect(composer.locator("[data-saved]")).to_have_text("Saved")
    screenshot(page, "composer-new-email")
    page.keyboard.press("Control+Enter")
    # Sent, it leaves the Drafts list (and the pane) with a chance to undo.
    expect(page.locator("#toast .undo-send")).to_contain_text("Sending…")
    expect(page.locator("form.composer")).to_have_count(0)
    expect(page.locator("#conversation-list .row")).to_have_count(0)
    message = Message.objects.get(direction="out")
    assert message.subject == "Proposal" and message.to == [{"name": "", "address": "partner@example.org"}]
    assert page_errors == []


def test_a_teammates_draft_discard_restore_and_send_later(page, live_server, cast, page_errors):
    from conversations.drafts import do_start_draft

    inbound = receive(cast.support_account, subject="Refund", body="Please refund.", sender="carla@outside.test")
    do_start_draft(inbound.conversation, acting_user=cast.teammate, kind="reply")
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/m/all/{inbound.conversation_id}/")

    card = page.locator(".draft-card")
    expect(card).to_contain_text("Reply by Tom Teammate")
    screenshot(page, "composer-draft-card")
    card.get_by_role("button", name="Open").click()
    composer = page.locator("form.composer")
    expect(composer.locator("[data-recipients=to] .chip-label")).to_have_text(["A Customer"])

    composer.get_by_role("button", name="Discard draft").click()
    expect(page.locator("form.composer")).to_have_count(0)
    event = page.locator("#timeline .event-draft_discarded")
    expect(event).to_contain_text("Olivia Owner discarded a draft")
    event.get_by_role("button", name="Restore draft").click()
    composer = page.locator("form.composer")
    expect(composer).to_be_visible()

    # Into the body once the co-writing editor has mounted on the restored composer.
    composer.locator(".composer-editor .cowrite-content[contenteditable='true']").click()
    page.keyboard.press("Control+j")
    later = composer.locator(".later-panel")
    expect(later).to_be_visible()
    later.locator("[name=later_at]").fill("2031-05-04T09:30")
    later.get_by_text("Discard draft if someone replies").click()
    later.get_by_role("button", name="Schedule").click()
    expect(page.locator("form.composer .composer-scheduled")).to_contain_text("Scheduled for")
    screenshot(page, "composer-scheduled")
    draft = Draft.objects.get(conversation=inbound.conversation)
    assert draft.status == DraftStatus.SCHEDULED and draft.discard_if_reply
    assert draft.scheduled_at.year == 2031

    page.locator("form.composer .composer-scheduled").get_by_role("button", name="Unschedule").click()
    expect(page.locator("form.composer .composer-scheduled")).to_have_count(0)
    assert page_errors == []


# A real 1×1 PNG: the browser must decode it for the image to count as shown.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_a_forwarded_inline_image_shows_in_the_editor(page, live_server, cast, tmp_storage, page_errors):
    inbound = receive(
        cast.support_account,
        subject="Our new logo",
        body_html='<p>Here it is:</p><p><img src="cid:logo@x" alt="the logo"></p>',
        attachments=[
            IncomingAttachment(filename="logo.png", content_type="image/png", content=PIXEL, content_id="logo@x")
        ],
    )
    log_in(page, live_server.url, cast.teammate.email)
    page.goto(f"{live_server.url}/m/all/{inbound.conversation.id}/")
    page.keyboard.press("f")
    image = page.locator("form.composer .cowrite-content img[alt='the logo']")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") == 1, "loaded, not a broken cid: image"
    assert page_errors == []
