"""The internal chat in real Chromium: Return posts, Shift+Return breaks the line, formatting
shows, a mention shares the conversation, and a comment is edited and deleted from its menu."""

import pytest
from playwright.sync_api import expect

from conversations.models import AccessSource, Comment, ConversationState
from tests.browser.conftest import log_in, screenshot
from tests.factories import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_post_a_comment_with_a_mention_then_edit_and_delete_it(page, live_server, cast, page_errors):
    conversation = receive(cast.personal_account, subject="Contract renewal", body="Please renew.").conversation
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/m/inbox/{conversation.id}/")

    box = page.locator("#comment-box textarea")
    box.click()
    page.keyboard.type("Can you *check* this, @teammate?")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("> Please renew.")
    page.keyboard.press("Enter")

    comment = page.locator("#timeline .comment").last
    expect(comment.locator(".comment-body strong")).to_have_text("check")
    expect(comment.locator(".comment-body .mention")).to_have_text("@teammate")
    expect(comment.locator(".comment-body blockquote")).to_have_text("Please renew.")
    expect(page.locator("#comment-box textarea")).to_be_focused()
    expect(page.locator("#comment-box textarea")).to_have_value("")
    screenshot(page, "comment-posted")
    assert ConversationState.objects.get(conversation=conversation, user=cast.teammate).access_source == (
        AccessSource.MENTION
    )

    # Return on an empty box posts nothing.
    page.keyboard.press("Enter")
    expect(page.locator("#timeline .comment")).to_have_count(1)

    comment.locator(".comment-menu > summary").click()
    comment.get_by_role("button", name="Edit").click()
    editor = comment.locator("form.comment-edit textarea")
    expect(editor).to_be_focused()
    editor.fill("Checked, all good")
    editor.press("Enter")
    comment = page.locator("#timeline .comment").last
    expect(comment.locator(".comment-body")).to_have_text("Checked, all good")
    expect(comment.locator(".comment-edited")).to_have_text("edited")

    comment.hover()
    comment.locator(".reaction-picker > summary").click()
    comment.get_by_role("button", name="React 👍").click()
    comment = page.locator("#timeline .comment").last
    expect(comment.locator(".reaction.mine")).to_have_text("👍 1")
    screenshot(page, "comment-reaction")

    page.once("dialog", lambda dialog: dialog.accept())
    comment.locator(".comment-menu > summary").click()
    comment.get_by_role("button", name="Delete").click()
    expect(page.locator("#timeline .comment")).to_have_count(0)
    assert not Comment.objects.exists()
    assert page_errors == []


def test_mention_suggestions_insert_a_handle_with_the_keyboard(page, live_server, cast, page_errors):
    conversation = receive(cast.personal_account, subject="Quote for Globex").conversation
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/m/inbox/{conversation.id}/")

    page.locator("#comment-box textarea").click()
    page.keyboard.type("Thoughts @to")
    options = page.locator("#comment-box .mention-option")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("Tom Teammate")
    screenshot(page, "comment-mention-suggestions")
    page.keyboard.press("Enter")
    expect(page.locator("#comment-box textarea")).to_have_value("Thoughts @tom-teammate ")
    expect(options).to_have_count(0)

    page.keyboard.type("and @sup")
    expect(options.first).to_contain_text("Support")
    page.keyboard.press("Escape")
    expect(options).to_have_count(0)
    expect(page.locator("#comment-box textarea")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.locator("#timeline .comment .mention")).to_have_text(["@tom-teammate", "@sup"])
    state = ConversationState.objects.get(conversation=conversation, user=cast.teammate)
    assert state.access_source == AccessSource.MENTION
    assert not ConversationState.objects.filter(conversation=conversation, user=cast.observer).exists()
    assert page_errors == []
