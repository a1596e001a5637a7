"""Search in real Chromium: type, submit, open a result, filter, save and reuse a search."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conversations import search_index
from conversations.incoming import IncomingAttachment
from tests.browser.conftest import log_in, screenshot
from tests.factories import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def mail(cast):
    now = timezone.now()
    pdf = IncomingAttachment("invoice-2026.pdf", "application/pdf", b"%PDF-1.4")
    receive(
        cast.personal_account,
        subject="Invoice INV-2041 is missing the VAT number",
        body="Our accountant needs the VAT number on the invoice before Friday.",
        sender="maria@lakeside.test",
        from_name="María López",
        attachments=[pdf],
        rfc_message_id="<vat@lakeside.test>",
        sent_at=now - timezone.timedelta(hours=3),
    )
    receive(
        cast.personal_account,
        subject="Re: Invoice INV-2041 is missing the VAT number",
        body="Thanks, the corrected invoice arrived.",
        sender="maria@lakeside.test",
        from_name="María López",
        in_reply_to="<vat@lakeside.test>",
        sent_at=now - timezone.timedelta(hours=1),
    )
    receive(cast.personal_account, subject="Lunch on Thursday?", body="Pizza or sushi?", sender="ben@friends.test")
    receive(cast.support_account, subject="Printer jam", body="The printer on floor 2 jams.", sender="it@acme.test")
    search_index.index_backlog()


def _subjects(page):
    return page.locator("#conversation-list .row-subject")


def test_search_open_a_result_filter_and_save(page, live_server, cast, mail, page_errors):
    log_in(page, live_server.url, cast.owner.email)

    page.keyboard.press("/")
    page.keyboard.type("invoice")
    page.keyboard.press("Enter")
    expect(_subjects(page)).to_have_count(1)
    expect(_subjects(page).first).to_have_text("Invoice INV-2041 is missing the VAT number")
    expect(page.locator(".row-snippet mark").first).to_have_text(re.compile("invoice", re.I))
    expect(page.locator("#search-bar")).to_contain_text("Results in All")
    expect(page).to_have_url(f"{live_server.url}/m/inbox/?q=invoice")
    expect(page.locator("#recent-searches")).to_contain_text("invoice")
    screenshot(page, "search-results")

    # Opening the result outlines both matching messages and starts at the latest.
    page.locator("#conversation-list .row-link").first.click()
    expect(page.locator("#timeline .message.match")).to_have_count(2)
    expect(page.locator("#timeline .message.match").last).to_be_in_viewport()
    expect(page.locator("#match-nav")).to_contain_text("2 of 2")
    page.get_by_role("button", name="Previous match").click()
    expect(page.locator("#match-nav")).to_contain_text("1 of 2")
    expect(page.locator("#timeline .message.match").first).to_have_class(re.compile(r"\bcurrent\b"))
    screenshot(page, "search-opened-result")

    # The Filters menu adds operators to the query.
    page.locator(".search-filters > summary").click()
    page.locator("select[name=f_team]").select_option("Support")
    screenshot(page, "search-filters")
    # Clearing the words and applying at once: the cleared search's request, sent after a pause
    # in typing, must not land after the filters' and undo them.
    page.locator("#search-input").fill("")
    page.get_by_role("button", name="Apply filters").click()
    expect(_subjects(page)).to_have_text(["Printer jam"])
    page.wait_for_timeout(700)  # past the typed search's 300 ms pause and its answer
    expect(_subjects(page)).to_have_text(["Printer jam"])
    expect(page).to_have_url(re.compile(r"q=team%3ASupport"))

    # A malformed query says why instead of failing.
    page.locator("#search-input").fill('"unclosed')
    page.locator("#search-input").press("Enter")
    expect(page.locator(".search-error")).to_contain_text("never closed")

    # Save a search; it sits in the sidebar and runs again from there.
    page.locator("#search-input").fill("from:lakeside has:attachment")
    page.locator("#search-input").press("Enter")
    expect(_subjects(page)).to_have_count(1)
    page.get_by_role("button", name="Save search").click()
    saved = page.locator("#saved-searches .nav-item")
    expect(saved).to_have_text("from:lakeside has:attachment")
    page.locator(".nav-item", has_text="All").first.click()
    expect(_subjects(page)).to_have_count(3)
    saved.click()
    expect(_subjects(page)).to_have_text(["Invoice INV-2041 is missing the VAT number"])
    screenshot(page, "search-saved")
    assert page_errors == []


def test_typing_suggests_places_and_picking_one_navigates(page, live_server, cast, mail, page_errors):
    log_in(page, live_server.url, cast.owner.email)

    page.keyboard.press("/")
    page.keyboard.type("lakes")
    suggestions = page.locator("#search-suggestions .suggestion")
    expect(suggestions).to_have_count(2)
    expect(suggestions.first).to_contain_text("maria@lakeside.test")
    expect(suggestions.nth(1)).to_contain_text("lakeside.test")
    screenshot(page, "search-suggestions")

    page.keyboard.press("ArrowDown")
    expect(suggestions.first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/m/all/?q=maria%40lakeside.test")
    expect(_subjects(page)).to_have_text(["Invoice INV-2041 is missing the VAT number"])
    expect(page.locator("#search-suggestions .suggestion")).to_have_count(0)

    # Escape closes the suggestions and keeps the words typed.
    page.locator("#search-input").fill("")
    page.locator("#search-input").type("snoo")
    expect(page.locator("#search-suggestions .suggestion")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(page.locator("#search-suggestions .suggestion")).to_have_count(0)
    expect(page.locator("#search-input")).to_have_value("snoo")
    assert page_errors == []


def test_search_settings_change_where_the_inbox_searches(page, live_server, cast, mail, page_errors):
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/settings/profile/")
    page.get_by_label("The Inbox only").check()
    page.get_by_label("Show recent searches").fill("2")
    screenshot(page, "search-settings")
    page.locator("#search-preferences").get_by_role("button", name="Save").click()
    expect(page.locator("body")).to_contain_text("Search preferences saved.")

    page.goto(f"{live_server.url}/m/inbox/?q=printer")
    expect(page.locator("#search-bar")).to_contain_text("No results in Inbox")
    page.locator("#search-bar").get_by_role("link", name="search everywhere").click()
    expect(_subjects(page)).to_have_text(["Printer jam"])
    assert page_errors == []
