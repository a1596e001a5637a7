"""Live updates in real Chromium, two people in two browser contexts: a mention brings the
conversation into the other's Inbox and the comment into their open conversation without a reload;
each sees the other viewing it, and "… is typing" while the other writes a comment."""

import re

import pytest
from playwright.sync_api import expect

from conversations.actions import do_post_comment
from inboxes.models import Role
from tests.browser.conftest import close_page, log_in, new_page, screenshot
from tests.factories import MembershipFactory, UserFactory, receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Live updates arrive well within a second (see `make bench`); this leaves room for a busy machine.
LIVE_MS = 3000


def _connected(page):
    expect(page.locator("html")).to_have_attribute("data-live", "open")


def test_a_mention_and_a_comment_reach_the_other_browser_live(browser, live_server, cast, page_errors):
    ben = UserFactory(email="ben@acme.test", name="Ben Baker")
    MembershipFactory(organization=cast.org, user=ben, role=Role.MEMBER)
    conversation = receive(cast.personal_account, subject="Contract renewal", body="Please renew.").conversation
    anna = new_page(browser, page_errors)
    ben_page = new_page(browser, page_errors)
    log_in(anna, live_server.url, cast.owner.email)
    log_in(ben_page, live_server.url, ben.email)
    expect(ben_page.locator("#conversation-list .row")).to_have_count(0)
    ben_page.evaluate("window.notReloaded = true")
    _connected(ben_page)

    anna.goto(f"{live_server.url}/m/inbox/{conversation.id}/")
    anna.locator("#comment-box textarea").fill("@ben can you take a look?")
    anna.keyboard.press("Enter")
    expect(anna.locator("#timeline .comment")).to_have_count(1)

    row = ben_page.locator(f"#row-{conversation.id}")
    expect(row).to_be_visible(timeout=LIVE_MS)
    expect(row).to_have_class(re.compile(r"\bunread\b"))
    expect(ben_page.locator(".nav-item[data-mailbox='inbox'] .nav-count")).to_have_text("1", timeout=LIVE_MS)

    row.locator(".row-link").click()
    expect(ben_page.locator("#timeline .comment")).to_have_count(1)
    # Each sees the other viewing the conversation, in the header.
    expect(anna.locator("#live-viewers .avatar")).to_have_attribute("title", "Ben Baker", timeout=LIVE_MS)
    expect(ben_page.locator("#live-viewers .avatar")).to_have_attribute("title", "Olivia Owner", timeout=LIVE_MS)

    ben_page.locator("#comment-box textarea").fill("Half-written reply")
    anna.locator("#comment-box textarea").click()
    anna.keyboard.type("Renewal is due on Friday")
    expect(ben_page.locator("#typing-indicator")).to_have_text("Olivia Owner is typing…", timeout=LIVE_MS)
    screenshot(ben_page, "live-viewing-and-typing")
    anna.keyboard.press("Enter")

    comments = ben_page.locator("#timeline .comment .comment-body")
    expect(comments).to_have_text(["@ben can you take a look?", "Renewal is due on Friday"], timeout=LIVE_MS)
    expect(ben_page.locator("#typing-indicator")).to_be_hidden()
    expect(ben_page.locator("#comment-box textarea")).to_have_value("Half-written reply")
    expect(row).to_have_class(re.compile(r"\bselected\b"), timeout=LIVE_MS)
    expect(row).not_to_have_class(re.compile(r"\bunread\b")), "refreshed, the open row stays selected and read"
    assert ben_page.evaluate("window.notReloaded") is True, "no reload"
    screenshot(ben_page, "live-comment-arrived")

    # Ben leaves: Anna's header no longer shows him.
    ben_page.locator("#close-conversation").click()
    expect(anna.locator("#live-viewers")).to_be_hidden(timeout=LIVE_MS)
    assert page_errors == []
    close_page(anna)
    close_page(ben_page)


def test_a_change_by_someone_else_updates_the_list_in_place(browser, live_server, cast, page_errors):
    first = receive(cast.support_account, subject="Printer jam").conversation
    second = receive(cast.support_account, subject="Toner order").conversation
    anna = new_page(browser, page_errors)
    tom = new_page(browser, page_errors)
    log_in(anna, live_server.url, cast.owner.email)
    log_in(tom, live_server.url, cast.teammate.email)
    tom.goto(f"{live_server.url}/teams/{cast.support.id}/inbox/")
    expect(tom.locator("#conversation-list .row")).to_have_count(2)
    tom.locator(f"#row-{first.id} .row-check").check()
    _connected(tom)

    anna.goto(f"{live_server.url}/teams/{cast.support.id}/inbox/{second.id}/")
    expect(anna.locator("#timeline")).to_be_visible()
    anna.keyboard.press("Control+Shift+D")  # add me to the assignees

    # Assigned, the conversation leaves the team inbox for Tom too; his selection stays.
    expect(tom.locator(f"#row-{second.id}")).to_have_count(0, timeout=LIVE_MS)
    expect(tom.locator(f"#row-{first.id} .row-check")).to_be_checked()
    expect(tom.locator("#bulk-count")).to_have_text("1")
    assert page_errors == []
    close_page(anna)
    close_page(tom)


def test_an_open_reply_keeps_its_text_and_caret_when_a_teammates_comment_arrives(page, live_server, cast, page_errors):
    conversation = receive(cast.support_account, subject="Broken widget", body="It broke.").conversation
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/m/all/{conversation.id}/")
    _connected(page)
    page.keyboard.press("r")
    body = page.locator("form.composer .cowrite-content[contenteditable='true']")
    body.click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("Half of my answer")

    do_post_comment(conversation, author=cast.teammate, body="Careful, this customer is on the old plan.")
    expect(page.locator("#timeline .comment .comment-body")).to_have_text(
        ["Careful, this customer is on the old plan."], timeout=LIVE_MS
    )
    # The same composer, not a fresh one or the draft's card: typing goes on where it was.
    page.keyboard.type(", and the rest.")
    expect(page.locator("form.composer .cowrite-content p").first).to_have_text("Half of my answer, and the rest.")
    expect(page.locator("#timeline .draft-card")).to_have_count(0)
    assert page_errors == []
