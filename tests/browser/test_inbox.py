"""The four-column inbox in real Chromium: log in, navigate with HTMX and the keyboard."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from conversations import search_index
from tests.browser.conftest import close_page, log_in, new_page, screenshot
from tests.factories import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def mail(cast):
    now = timezone.now()
    older = [
        receive(
            cast.personal_account,
            subject=f"Personal {n}",
            body=f"Body of personal {n}",
            sent_at=now - timezone.timedelta(minutes=10 * (n + 1)),
        )
        for n in range(3)
    ]
    team = receive(cast.support_account, subject="Broken widget", body="The widget is broken.")
    search_index.index_backlog()  # what the worker does after each delivery
    return {"personal": [m.conversation for m in older], "team": team.conversation}


def _rows(page: Page):
    return page.locator("#conversation-list > .row")


def test_log_in_and_see_a_populated_inbox(page, live_server, cast, mail, page_errors):
    log_in(page, live_server.url, cast.owner.email)

    expect(page.locator(".list-title")).to_have_text("Inbox")
    expect(_rows(page)).to_have_count(3)
    expect(_rows(page).first).to_contain_text("Personal 0")
    expect(page.locator(".nav-item.active")).to_contain_text("Inbox")
    expect(page.locator("#sidebar")).to_contain_text("Support")
    screenshot(page, "inbox-1280")
    assert page_errors == []


def test_open_a_conversation_and_the_url_follows(page, live_server, cast, mail, page_errors):
    log_in(page, live_server.url, cast.owner.email)
    conversation = mail["personal"][1]

    page.get_by_text("Personal 1", exact=True).click()

    expect(page.locator(".conv-subject")).to_have_text("Personal 1")
    expect(page.locator(".message-body")).to_contain_text("Body of personal 1")
    expect(page).to_have_url(f"{live_server.url}/m/inbox/{conversation.id}/")
    expect(page.locator(f".row[data-id='{conversation.id}']")).to_have_class(re.compile(r"\bselected\b"))
    expect(page.locator(f".row[data-id='{conversation.id}']")).not_to_have_class(re.compile(r"\bunread\b"))
    expect(page.locator(".nav-item.active .nav-count")).to_have_text("2")

    page.reload()
    expect(page.locator(".conv-subject")).to_have_text("Personal 1")
    expect(page.locator(".details")).to_contain_text("customer@outside.test")

    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/m/inbox/")
    expect(page.locator(".conversation-empty")).to_be_visible()
    page.go_forward()
    expect(page.locator(".conv-subject")).to_have_text("Personal 1")
    assert page_errors == []


def test_sidebar_navigation_swaps_the_list(page, live_server, cast, mail, page_errors):
    log_in(page, live_server.url, cast.owner.email)

    page.locator("#sidebar .nav-item", has_text="All").first.click()
    expect(page).to_have_url(f"{live_server.url}/m/all/")
    expect(_rows(page)).to_have_count(4)
    expect(page.locator(".nav-item.active")).to_contain_text("All")

    page.locator(f"#sidebar a[data-team='{cast.support.id}']").click()
    expect(page).to_have_url(f"{live_server.url}/teams/{cast.support.id}/inbox/")
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_contain_text("Broken widget")
    assert page_errors == []


def test_keyboard_moves_opens_and_closes(page, live_server, cast, mail, page_errors):
    log_in(page, live_server.url, cast.owner.email)
    expect(_rows(page)).to_have_count(3)

    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(_rows(page).nth(1)).to_have_class(re.compile(r"\bcursor\b"))
    page.keyboard.press("k")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator(".conv-subject")).to_have_text("Personal 1")

    page.keyboard.press("j")
    # A sidebar refresh landing after the key (opening an unread conversation starts one)
    # must leave the cursor where the user put it.
    page.evaluate("document.body.dispatchEvent(new Event('counts-changed'))")
    page.wait_for_load_state("networkidle")
    expect(_rows(page).nth(2)).to_have_class(re.compile(r"\bcursor\b"))
    page.keyboard.press("Enter")
    expect(page.locator(".conv-subject")).to_have_text("Personal 2")

    page.keyboard.press("Escape")
    expect(page.locator(".conversation-empty")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/m/inbox/")

    page.keyboard.press("/")
    expect(page.locator("#search-input")).to_be_focused()
    page.keyboard.type("Personal 2")
    expect(_rows(page)).to_have_count(1)
    page.keyboard.press("Escape")

    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()

    page.keyboard.press("g")
    page.keyboard.press("a")
    expect(page).to_have_url(f"{live_server.url}/m/all/")
    assert page_errors == []


def test_layout_holds_at_both_target_sizes(browser, live_server, cast, mail, page_errors):
    for width, height in [(1280, 800), (1920, 1080)]:
        page = new_page(browser, page_errors, width, height)
        log_in(page, live_server.url, cast.owner.email)
        page.get_by_text("Personal 0", exact=True).click()
        expect(page.locator(".conv-subject")).to_have_text("Personal 0")
        page.wait_for_load_state("networkidle")  # the sidebar's count refresh has landed
        columns = [page.locator(sel).bounding_box() for sel in ("#sidebar", ".list-pane", ".conversation", ".details")]
        assert all(box and box["width"] > 150 for box in columns), columns
        lefts = [box["x"] for box in columns]
        assert lefts == sorted(lefts), "the four columns sit side by side"
        assert abs(sum(box["width"] for box in columns) - width) < 4, "they fill the window without overflow"
        screenshot(page, f"conversation-{width}")
        close_page(page)
    assert page_errors == []
