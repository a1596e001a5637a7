"""Set a status in real Chromium: the avatar menu's dialog, a quick pick, Out of office, and the
status on the avatar teammates see in the sidebar."""

import pytest
from playwright.sync_api import expect

from inboxes.models import Membership
from tests.browser.conftest import close_page, log_in, new_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_set_a_status_with_an_emoji_and_teammates_see_it_on_the_avatar(page, browser, live_server, cast, page_errors):
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
    screenshot(page, "status-dialog")
    dialog.get_by_role("button", name="Save").click()

    own = page.locator(".user-menu > summary .avatar-status")
    expect(own).to_have_text("🌴")
    membership = Membership.objects.get(organization=cast.org, user=cast.teammate)
    assert membership.out_of_office and membership.status_message == "On vacation, back Tuesday"

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
