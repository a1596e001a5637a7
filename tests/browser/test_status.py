"""Set a status in real Chromium: the avatar menu's dialog, a quick pick, Out of office, and the
status on the avatar teammates see in the sidebar."""

import pytest
from playwright.sync_api import expect

from inboxes.models import AutoResponderAlias, Membership
from tests.browser.conftest import close_page, log_in, new_page, screenshot
from tests.factories import AccountFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_set_a_status_with_an_emoji_and_teammates_see_it_on_the_avatar(page, browser, live_server, cast, page_errors):
    AccountFactory(organization=cast.org, owner=cast.teammate, address="tom@acme.test", description="Tom's mail")
    log_in(page, live_server.url, cast.teammate.email)

    page.locator(".user-menu > summary").click()
    page.get_by_role("button", name="Set a status").click()
    dialog = page.locator("#modal .status-modal")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="On vacation").click()
    expect(dialog.locator("input[name=emoji]")).to_have_value("🌴")
    dialog.locator(".ooo-toggle").first.click()
    expect(dialog.locator("[data-status-panel='ooo']")).to_be_visible()
    dialog.locator("input[name=message]").fill("On vacation, back Tuesday")
    dialog.locator(".ooo-toggle").nth(1).click()
    dialog.get_by_label("tom@acme.test").check()
    dialog.locator("textarea[name=auto_responder_body]").fill("Hi {{ recipient.first_name }}, I am away until Tuesday.")
    screenshot(page, "status-dialog")
    dialog.get_by_role("button", name="Save").click()

    own = page.locator(".user-menu > summary .avatar-status")
    expect(own).to_have_text("🌴")
    membership = Membership.objects.get(organization=cast.org, user=cast.teammate)
    assert membership.out_of_office and membership.status_message == "On vacation, back Tuesday"
    assert membership.auto_responder_enabled
    assert AutoResponderAlias.objects.filter(user=cast.teammate, alias__address="tom@acme.test").exists()

    other = new_page(browser, page_errors)
    try:
        log_in(other, live_server.url, cast.owner.email)
        coworker = other.locator(".coworkers .avatar.has-status")
        expect(coworker).to_have_count(1)
        expect(coworker.locator(".avatar-status")).to_have_text("🌴")
        expect(coworker).to_have_attribute("title", "Tom Teammate — 🌴 Out of office · On vacation, back Tuesday")
        other.locator(".sidebar").screenshot(path=str(_artifact("status-sidebar")))
        screenshot(other, "status-sidebar-page")
    finally:
        close_page(other)

    # Clear status from the avatar menu.
    page.locator(".user-menu > summary").click()
    page.get_by_role("button", name="Clear status").click()
    expect(page.locator(".user-menu > summary .avatar-status")).to_have_count(0)
    assert not Membership.objects.get(organization=cast.org, user=cast.teammate).out_of_office
    assert page_errors == []


def _artifact(name):
    from tests.browser.conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"


def test_an_admin_edits_a_coworkers_status_from_settings(page, live_server, cast, page_errors):
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/settings/orgs/{cast.org.id}/users/{cast.teammate.id}/")
    page.get_by_role("link", name="Edit status").click()

    page.get_by_role("button", name="Working remotely").click()
    page.get_by_role("button", name="Save status").click()

    expect(page.locator("#flash")).to_contain_text("Tom Teammate's status is saved.")
    screenshot(page, "status-member-settings")
    membership = Membership.objects.get(organization=cast.org, user=cast.teammate)
    assert (membership.status_emoji, membership.status_message) == ("🏠", "Working remotely")
    assert page.locator("textarea[name=auto_responder_body]").count() == 0
    assert page_errors == []


def test_the_status_shows_on_assignee_avatars_in_rows_and_the_header(page, live_server, cast, page_errors):
    from conversations.actions import do_assign_conversation
    from inboxes.status import do_set_status
    from tests.factories import receive

    conversation = receive(cast.support_account, subject="Broken widget").conversation
    do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)
    teammate = Membership.objects.get(organization=cast.org, user=cast.teammate)
    do_set_status(teammate, acting=teammate, emoji="🤒", message="Out sick", out_of_office=True)
    log_in(page, live_server.url, cast.owner.email)

    page.goto(f"{live_server.url}/m/all/{conversation.id}/")

    row_badge = page.locator(f"#conversation-list [data-id='{conversation.id}'] .avatar-status, .row .avatar-status")
    expect(row_badge.first).to_have_text("🤒")
    header = page.locator("#conv-header .assignee .avatar.has-status")
    expect(header).to_have_attribute("title", "Tom Teammate — 🤒 Out of office · Out sick")
    screenshot(page, "status-assignee")
    assert page_errors == []
