"""Triage in real Chromium, with the mouse and with shortcuts, watched by two users at once."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from conversations.models import ConversationState, Location, Status
from tests.browser.conftest import close_page, log_in, new_page
from tests.factories import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two(browser, live_server, cast, page_errors):
    """The owner and a teammate, each logged in in their own browser context."""
    owner, teammate = new_page(browser, page_errors), new_page(browser, page_errors)
    log_in(owner, live_server.url, cast.owner.email)
    log_in(teammate, live_server.url, cast.teammate.email)
    yield owner, teammate
    close_page(owner)
    close_page(teammate)


def rows(page: Page):
    return page.locator("#conversation-list > .row")


def visit(page: Page, base: str, path: str):
    page.goto(base + path)
    expect(page.locator(".list-title")).to_be_visible()


def team_inbox(cast):
    return f"/teams/{cast.support.id}/inbox/"


def test_claim_with_mod_d_moves_it_from_the_team_inbox_to_my_inbox(two, live_server, cast, page_errors):
    owner, teammate = two
    conversation = receive(cast.support_account, subject="Refund please").conversation
    visit(owner, live_server.url, team_inbox(cast))
    expect(rows(owner)).to_have_count(1)

    visit(teammate, live_server.url, team_inbox(cast))
    teammate.get_by_text("Refund please", exact=True).click()
    expect(teammate.locator(".conv-subject")).to_have_text("Refund please")
    teammate.keyboard.press("Control+d")
    # Claimed, it leaves the team inbox at once.
    expect(rows(teammate)).to_have_count(0)
    expect(teammate.locator(".conversation-empty")).to_be_visible()

    visit(teammate, live_server.url, "/m/inbox/")
    expect(rows(teammate).first).to_contain_text("Refund please")
    visit(owner, live_server.url, team_inbox(cast))
    expect(rows(owner)).to_have_count(0)
    visit(owner, live_server.url, "/m/assigned-others/")
    expect(rows(owner).first).to_contain_text("Refund please")
    assert list(conversation.assignments.values_list("user", flat=True)) == [cast.teammate.id]
    assert page_errors == []


def test_close_with_shift_backspace_shows_it_in_the_team_closed_mailbox(two, live_server, cast, page_errors):
    owner, teammate = two
    conversation = receive(cast.support_account, subject="Order 1234").conversation
    visit(teammate, live_server.url, team_inbox(cast))
    teammate.get_by_text("Order 1234", exact=True).click()
    expect(teammate.locator(".conv-subject")).to_have_text("Order 1234")

    teammate.keyboard.press("Shift+Backspace")

    expect(teammate.locator(".conversation-empty")).to_be_visible()
    expect(rows(teammate)).to_have_count(0)
    visit(owner, live_server.url, f"/teams/{cast.support.id}/closed/")
    expect(rows(owner).first).to_contain_text("Order 1234")
    conversation.refresh_from_db()
    assert conversation.status == Status.CLOSED
    assert page_errors == []


def test_archive_with_the_mouse_opens_the_next_one_and_leaves_the_teammate_untouched(
    two, live_server, cast, page_errors
):
    owner, teammate = two
    now = timezone.now()
    account = cast.support_account
    first = receive(account, subject="First", sent_at=now).conversation
    receive(account, subject="Second", sent_at=now - timezone.timedelta(minutes=5))
    ConversationState.objects.filter(conversation__team=cast.support).update(location=Location.INBOX)
    visit(owner, live_server.url, "/m/inbox/")
    owner.get_by_text("First", exact=True).click()
    expect(owner.locator(".conv-subject")).to_have_text("First")

    owner.locator(".toolbar [data-key='archive']").click()

    expect(owner.locator(".conv-subject")).to_have_text("Second")
    expect(rows(owner)).to_have_count(1)
    visit(owner, live_server.url, "/m/archive/")
    expect(rows(owner).first).to_contain_text("First")
    visit(teammate, live_server.url, "/m/inbox/")
    expect(teammate.locator("#conversation-list")).to_contain_text("First")
    assert ConversationState.objects.get(conversation=first, user=cast.teammate).location == Location.INBOX
    assert page_errors == []


def test_snooze_from_the_menu_and_discard_with_mod_j(two, live_server, cast, page_errors):
    owner, _ = two
    receive(cast.personal_account, subject="Call back Monday")
    visit(owner, live_server.url, "/m/inbox/")
    owner.get_by_text("Call back Monday", exact=True).click()
    expect(owner.locator(".conv-subject")).to_have_text("Call back Monday")

    owner.keyboard.press("Control+Shift+j")
    expect(owner.locator("details[data-menu='snooze']")).to_have_attribute("open", "")
    owner.locator(".snooze-panel button[value='tomorrow']").click()

    expect(rows(owner)).to_have_count(0)
    visit(owner, live_server.url, "/m/snoozed/")
    owner.get_by_text("Call back Monday", exact=True).click()
    expect(owner.locator(".conv-heading .chip-snoozed")).to_be_visible()
    owner.keyboard.press("Control+j")
    expect(owner.locator(".conv-heading .chip-snoozed")).to_have_count(0)
    visit(owner, live_server.url, "/m/inbox/")
    expect(rows(owner).first).to_contain_text("Call back Monday")
    assert page_errors == []


def test_trash_from_the_team_inbox_asks_and_trashes_for_everyone(two, live_server, cast, page_errors):
    owner, teammate = two
    conversation = receive(cast.support_account, subject="Buy cheap watches").conversation
    visit(teammate, live_server.url, team_inbox(cast))
    teammate.get_by_text("Buy cheap watches", exact=True).click()
    expect(teammate.locator(".conv-subject")).to_have_text("Buy cheap watches")
    messages = []
    teammate.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.accept()))

    teammate.keyboard.press("Control+Backspace")

    expect(rows(teammate)).to_have_count(0)
    assert "This affects all your coworkers" in messages[0]
    visit(owner, live_server.url, "/m/trash/")
    expect(rows(owner).first).to_contain_text("Buy cheap watches")
    visit(owner, live_server.url, team_inbox(cast))
    expect(rows(owner)).to_have_count(0)
    assert set(ConversationState.objects.filter(conversation=conversation).values_list("location", flat=True)) == {
        Location.TRASHED
    }
    assert page_errors == []


def test_shift_click_selection_and_backspace_archive_in_bulk(two, live_server, cast, page_errors):
    owner, _ = two
    now = timezone.now()
    for n in range(4):
        receive(cast.personal_account, subject=f"Newsletter {n}", sent_at=now - timezone.timedelta(minutes=n))
    visit(owner, live_server.url, "/m/inbox/")
    expect(rows(owner)).to_have_count(4)

    rows(owner).nth(0).hover()
    rows(owner).nth(0).locator(".row-check").click()
    rows(owner).nth(2).locator(".row-link").click(modifiers=["Shift"])
    expect(owner.locator("#bulk-count")).to_have_text("3")
    expect(rows(owner).nth(1)).to_have_class(re.compile(r"\bchecked\b"))
    # The bar's × clears the selection; select the same rows again.
    owner.get_by_role("button", name="Clear selection").click()
    expect(owner.locator("#bulk-bar")).to_be_hidden()
    expect(owner.locator(".row-check:checked")).to_have_count(0)
    rows(owner).nth(0).hover()
    rows(owner).nth(0).locator(".row-check").click()
    rows(owner).nth(2).locator(".row-link").click(modifiers=["Shift"])
    expect(owner.locator("#bulk-count")).to_have_text("3")
    owner.keyboard.press("Backspace")

    expect(rows(owner)).to_have_count(1)
    expect(rows(owner).first).to_contain_text("Newsletter 3")
    expect(owner.locator("#bulk-bar")).to_be_hidden()
    assert page_errors == []


def test_archiving_an_assigned_conversation_asks_archive_or_archive_and_close(two, live_server, cast, page_errors):
    owner, _ = two
    receive(cast.personal_account, subject="My task")
    visit(owner, live_server.url, "/m/inbox/")
    owner.get_by_text("My task", exact=True).click()
    expect(owner.locator(".conv-subject")).to_have_text("My task")
    owner.keyboard.press("Control+d")
    expect(owner.locator(".conv-assignment")).to_contain_text("Olivia Owner")

    owner.keyboard.press("Backspace")
    expect(owner.locator("#modal .modal")).to_be_visible()
    owner.locator("#modal button[value='1']").click()

    expect(owner.locator("#modal .modal")).to_have_count(0)
    expect(rows(owner)).to_have_count(0)
    visit(owner, live_server.url, "/m/closed/")
    expect(rows(owner).first).to_contain_text("My task")
    assert page_errors == []
