"""The Activity feed in real Chromium: the bell's dot, the panel's unread styling kept until it
closes, a filter, the settings by keyboard, and following a mention to its comment."""

import re

import pytest
from playwright.sync_api import expect

from conversations.actions import do_assign_conversation, do_post_comment, do_toggle_reaction
from conversations.activity import record_activity
from conversations.models import ActivityItem
from tests.browser.conftest import ARTIFACTS, log_in, screenshot
from tests.factories import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _activity(cast):
    """For Tom: a mention, a reaction to his comment, an assignment and a task reminder."""
    contract = receive(cast.support_account, subject="Contract renewal", body="Please renew.").conversation
    for n in range(12):
        do_post_comment(contract, author=cast.owner, body=f"Earlier note {n}")
    mention = do_post_comment(contract, author=cast.owner, body="@teammate can you check the *terms* before Friday?")
    for n in range(12):
        do_post_comment(contract, author=cast.owner, body=f"Later note {n}")
    refund = receive(cast.support_account, subject="Refund for order #1042").conversation
    mine = do_post_comment(refund, author=cast.teammate, body="Refund sent, closing this")
    do_toggle_reaction(refund, str(mine.id), acting_user=cast.owner, emoji="🎉")
    do_toggle_reaction(refund, str(mine.id), acting_user=cast.observer, emoji="👍")
    printer = receive(cast.support_account, subject="Printer on 3rd floor jammed").conversation
    do_assign_conversation(printer, [cast.teammate], acting_user=cast.owner)
    record_activity(
        recipients=[cast.teammate],
        kind="task_reminder",
        conversation=refund,
        actor=None,
        data={"title": "Confirm the refund arrived"},
    )
    return contract, mention


def test_the_bell_opens_the_feed_and_a_mention_leads_to_its_comment(page, live_server, cast, page_errors):
    contract, mention = _activity(cast)
    log_in(page, live_server.url, cast.teammate.email)

    bell = page.locator("#activity-bell")
    expect(bell.locator(".activity-dot")).to_have_text("4")
    expect(bell).to_have_class(re.compile(r"tone-orange"))  # an unread reminder wins
    page.locator("#sidebar").screenshot(path=str(ARTIFACTS / "activity-bell.png"))

    bell.click()
    panel = page.locator("#activity-panel")
    items = panel.locator(".activity-item")
    expect(items).to_have_count(4)
    expect(panel.locator(".activity-item.unread")).to_have_count(4)
    expect(items.nth(0)).to_contain_text("Task reminder")
    expect(items.nth(1)).to_contain_text("Olivia Owner assigned you")
    expect(items.nth(2)).to_contain_text("Oscar Observer and Olivia Owner reacted 👍🎉 to your comment")
    expect(items.nth(3)).to_contain_text("Olivia Owner mentioned you")
    expect(items.nth(3)).to_contain_text("@teammate can you check the *terms* before Friday?")
    # Opening read everything: the dot is gone, the items keep their unread look while open.
    expect(bell.locator(".activity-dot")).to_have_count(0)
    assert not ActivityItem.objects.filter(recipient=cast.teammate, read_at__isnull=True).exists()
    screenshot(page, "activity-feed")

    panel.locator(".activity-filter").select_option("mentions")
    expect(items).to_have_count(1)
    expect(panel.locator(".activity-item.unread")).to_have_count(1)

    page.keyboard.press("Control+k")
    settings = panel.locator(".activity-settings")
    expect(settings).to_be_visible()
    expect(settings.get_by_label("Display Reactions")).to_be_checked()
    screenshot(page, "activity-settings")
    settings.get_by_role("button", name="Cancel").click()
    expect(items).to_have_count(1)

    items.first.locator(".activity-link").click()
    expect(panel).to_be_hidden()
    expect(page).to_have_url(f"{live_server.url}/m/all/{contract.id}/")
    comment = page.locator(f"#comment-{mention.id}")
    expect(comment).to_be_in_viewport()
    expect(comment).to_have_class(re.compile(r"activity-target"))
    screenshot(page, "activity-followed")

    # Reopened, nothing is new; it opens on the filter last chosen. Esc closes only the panel.
    bell.click()
    expect(panel.locator(".activity-filter")).to_have_value("mentions")
    expect(items).to_have_count(1)
    expect(panel.locator(".activity-item.unread")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(page.locator(f"#comment-{mention.id}")).to_be_visible()
    assert page_errors == []


def test_a_new_mention_lights_the_bell_after_the_next_refresh(page, live_server, cast, page_errors):
    conversation = receive(cast.support_account, subject="Broken widget").conversation
    log_in(page, live_server.url, cast.teammate.email)
    bell = page.locator("#activity-bell")
    expect(bell.locator(".activity-dot")).to_have_count(0)
    bell.click()
    expect(page.locator("#activity-panel .activity-empty")).to_contain_text("No activity here yet.")
    screenshot(page, "activity-empty")
    page.mouse.click(900, 400)  # outside the panel
    expect(page.locator("#activity-panel")).to_be_hidden()

    do_post_comment(conversation, author=cast.owner, body="@teammate have a look")
    # What the bell's poll (every 30 s) does, without the wait.
    page.evaluate("htmx.ajax('GET', '/activity/bell/', {target: '#activity-bell', swap: 'outerHTML'})")

    expect(bell.locator(".activity-dot")).to_have_text("1")
    expect(bell).to_have_class(re.compile(r"tone-blue"))
    assert page_errors == []
