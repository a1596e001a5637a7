"""The chat box's extras in real Chromium: files from the clip button, paste and drop, with the
size limit's inline error; a quote carried from one conversation to another; Mod+↑ to edit my
last comment and Escape to cancel; and @mention groups, set in Settings › Users and suggested
after @."""

import struct
import zlib

import pytest
from playwright.sync_api import expect

from conversations.actions import do_post_comment
from conversations.models import AccessSource, Comment, CommentAttachment, CommentQuote, ConversationState
from inboxes.mention_groups import do_add_to_mention_group
from inboxes.models import Membership, MentionGroup
from tests.browser.conftest import log_in, screenshot
from tests.factories import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _png(width: int = 48, height: int = 32) -> bytes:
    """A real PNG (a blue-to-green gradient), so the thumbnail decodes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\x00" + b"".join(bytes((40, 90 + x * 3, 235 - y * 4)) for x in range(width)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PASTE = """([name, text]) => {
  const transfer = new DataTransfer();
  transfer.items.add(new File([text], name, { type: "text/plain" }));
  const area = document.querySelector("#comment-box textarea");
  area.dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true }));
}"""

DROP = """([name, text]) => {
  const transfer = new DataTransfer();
  transfer.items.add(new File([text], name, { type: "text/plain" }));
  const timeline = document.querySelector("#timeline");
  timeline.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
  timeline.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
}"""


def test_attach_files_by_button_paste_and_drop_then_post_them_alone(
    page, live_server, cast, page_errors, settings, tmp_storage
):
    settings.COMMENT_ATTACHMENTS_MAX_MB = 1
    conversation = receive(cast.support_account, subject="Broken printer", body="It jams.").conversation
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/m/all/{conversation.id}/")

    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach files").click()
    chooser.value.set_files([{"name": "jam.png", "mimeType": "image/png", "buffer": _png()}])
    page.evaluate(PASTE, ["pasted <notes>.txt", "from the clipboard"])
    page.evaluate(DROP, ["dropped.log", "line 1"])

    tray = page.locator("#comment-box .comment-file-pending")
    expect(tray).to_have_count(3)
    expect(tray.locator(".filename")).to_have_text(["jam.png", "pasted <notes>.txt", "dropped.log"])

    # Too heavy: an inline error, and the files chosen so far stay.
    page.locator("#comment-box [data-file-input]").set_input_files(
        [{"name": "huge.bin", "mimeType": "application/octet-stream", "buffer": b"x" * (1024 * 1024 + 10)}]
    )
    error = page.locator("#comment-box .comment-files-error")
    expect(error).to_have_text("These files weigh more than 1.0 MB: a comment's files can weigh 1.0 MB at most.")
    expect(tray).to_have_count(3)
    screenshot(page, "comment-files-tray")

    # One comes off again; the error goes with the next change.
    page.get_by_role("button", name="Remove dropped.log").click()
    expect(tray).to_have_count(2)
    expect(error).to_be_empty()

    page.locator("#comment-box textarea").press("Enter")  # no text: the files alone are the comment

    comment = page.locator("#timeline .comment").last
    expect(comment.locator(".comment-files li")).to_have_count(2)
    expect(comment.locator(".comment-image .filename")).to_have_text("jam.png")
    expect(comment.locator(".attachment .filename")).to_have_text("pasted <notes>.txt")
    expect(page.locator("#comment-box .comment-file-pending")).to_have_count(0)
    thumbnail = comment.locator(".comment-image img")
    expect(thumbnail).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth === 48", arg=thumbnail.element_handle())
    screenshot(page, "comment-files-posted")

    saved = Comment.objects.get()
    assert saved.body == ""
    assert sorted(CommentAttachment.objects.values_list("filename", flat=True)) == ["jam.png", "pasted <notes>.txt"]
    with page.expect_download() as download:
        comment.locator(".attachment").click()
    assert "notes" in download.value.suggested_filename
    assert page_errors == []


def test_a_quote_follows_the_chat_box_to_another_conversation(page, live_server, cast, page_errors):
    source = receive(cast.support_account, subject="Printer jam", body="It jams again.").conversation
    target = receive(cast.support_account, subject="Office supplies", body="Order list").conversation
    do_post_comment(source, author=cast.teammate, body="The *fuser* is worn out")
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/m/all/{source.id}/")

    comment = page.locator("#timeline .comment").last
    comment.locator(".comment-menu > summary").click()
    comment.get_by_role("button", name="Quote").click()
    chip = page.locator("#comment-box .quote-chip")
    expect(chip).to_contain_text("Quoting Tom Teammate")
    expect(chip).to_contain_text("The *fuser* is worn out")
    expect(page.locator("#comment-box textarea")).to_be_focused()

    # Moving to another conversation: the quote stays with the chat box.
    page.locator(f"#conversation-list .row[data-id='{target.id}'] .row-link").click()
    expect(page.locator("#conversation-pane .conv-subject")).to_have_text("Office supplies")
    expect(chip).to_contain_text("Quoting Tom Teammate")
    expect(chip).to_contain_text("Printer jam")
    screenshot(page, "comment-quote-carried")
    page.locator("#comment-box textarea").fill("Let's order a spare fuser too")
    page.locator("#comment-box textarea").press("Enter")

    posted = page.locator("#timeline .comment").last
    expect(posted.locator(".comment-quote-author")).to_have_text("Tom Teammate")
    expect(posted.locator(".comment-quote-text strong")).to_have_text("fuser")
    expect(posted.locator(".comment-quote-link")).to_have_text("in Printer jam")
    expect(posted.locator(".comment-body")).to_have_text("Let's order a spare fuser too")
    expect(page.locator("#comment-box .quote-chip")).to_have_count(0)
    screenshot(page, "comment-quote-posted")
    quote = CommentQuote.objects.get()
    assert quote.comment.conversation_id == target.id and quote.source_conversation_id == source.id

    # The link leads back to the original comment.
    posted.locator(".comment-quote-link").click()
    page.wait_for_url(f"**/{source.id}/#comment-*")
    expect(page.locator("#comment-box .quote-chip")).to_have_count(0)

    # A quote can also be dropped before posting; a message can be quoted too.
    page.locator(".message .message-quote").first.click()
    expect(chip).to_contain_text("Quoting A Customer")
    chip.get_by_role("button", name="Remove the quote").click()
    expect(page.locator("#comment-box .quote-chip")).to_have_count(0)
    page.reload()
    expect(page.locator("#comment-box .quote-chip")).to_have_count(0)
    assert page_errors == []


def test_mod_up_edits_my_last_comment_and_escape_cancels(page, live_server, cast, page_errors):
    conversation = receive(cast.support_account, subject="Printer jam").conversation
    do_post_comment(conversation, author=cast.owner, body="First of mine")
    do_post_comment(conversation, author=cast.owner, body="Second of mine")
    do_post_comment(conversation, author=cast.teammate, body="Tom's, not mine")
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/m/inbox/{conversation.id}/")
    comments = page.locator("#timeline .comment")
    box = page.locator("#comment-box textarea")

    # With text, the first press goes to the start of it; the next one edits.
    box.click()
    page.keyboard.type("draft")
    page.keyboard.press("ControlOrMeta+ArrowUp")
    assert box.evaluate("area => area.selectionStart") == 0
    expect(comments.nth(1).locator("form.comment-edit")).to_be_hidden()
    page.keyboard.press("ControlOrMeta+ArrowUp")

    second = comments.nth(1).locator("form.comment-edit textarea")
    expect(second).to_be_visible()
    expect(second).to_be_focused()
    expect(comments.nth(1).locator(".comment-body")).to_be_hidden()

    # Escape cancels: nothing changes and the chat box (with its draft) has the focus again.
    page.keyboard.type(" (changed)")
    page.keyboard.press("Escape")
    expect(second).to_be_hidden()
    expect(comments.nth(1).locator(".comment-body")).to_have_text("Second of mine")
    expect(box).to_be_focused()
    expect(box).to_have_value("draft")

    # Mod+Alt+↑ goes straight to it; from there, Mod+↑ steps to my comment before.
    page.keyboard.press("ControlOrMeta+Alt+ArrowUp")
    expect(second).to_be_focused()
    page.keyboard.press("Home")
    page.keyboard.press("ControlOrMeta+Home")
    page.keyboard.press("ControlOrMeta+ArrowUp")
    first = comments.nth(0).locator("form.comment-edit textarea")
    expect(first).to_be_focused()
    expect(second).to_be_hidden()
    first.fill("First, edited")
    first.press("Enter")
    expect(page.locator("#timeline .comment").nth(0).locator(".comment-body")).to_have_text("First, edited")
    assert list(Comment.objects.order_by("created_at").values_list("body", flat=True)) == [
        "First, edited",
        "Second of mine",
        "Tom's, not mine",
    ]
    assert page_errors == []


def test_set_a_mention_group_in_settings_then_mention_it(page, live_server, cast, page_errors):
    do_add_to_mention_group(
        Membership.objects.select_related("user").get(organization=cast.org, user=cast.guest), name="design-leads"
    )
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/settings/orgs/{cast.org.id}/users/")
    page.get_by_role("link", name="Tom Teammate").click()
    expect(page.get_by_role("heading", name="@mention groups")).to_be_visible()

    page.get_by_role("combobox", name="@mention group").fill("design leads")
    page.get_by_role("button", name="Add to group").click()
    expect(page.locator("#mention-groups .errorlist")).to_contain_text("Use letters, digits, hyphens and underscores")
    screenshot(page, "mention-group-error")
    page.get_by_role("combobox", name="@mention group").fill("Design-Leads")
    page.get_by_role("button", name="Add to group").click()
    expect(page.locator("#mention-groups .s-group-chip")).to_have_text(["@design-leads×"])
    page.get_by_role("combobox", name="@mention group").fill("Stockholm")
    page.get_by_role("button", name="Add to group").click()
    expect(page.locator("#mention-groups .s-group-chip")).to_have_count(2)
    screenshot(page, "mention-group-settings")
    assert MentionGroup.objects.get(name="design-leads").memberships.count() == 2

    conversation = receive(cast.personal_account, subject="New logo").conversation
    page.goto(f"{live_server.url}/m/inbox/{conversation.id}/")
    page.locator("#comment-box textarea").click()
    page.keyboard.type("Which one, @desi")
    option = page.locator("#comment-box .mention-option").first
    expect(option).to_contain_text("@design-leads")
    expect(option).to_contain_text("2 people")
    screenshot(page, "mention-group-suggestion")
    page.keyboard.press("Enter")
    expect(page.locator("#comment-box textarea")).to_have_value("Which one, @design-leads ")
    page.keyboard.press("Enter")

    expect(page.locator("#timeline .comment .mention")).to_have_text("@design-leads")
    for user in (cast.teammate, cast.guest):
        assert ConversationState.objects.get(conversation=conversation, user=user).access_source == AccessSource.MENTION
    assert page_errors == []
