"""The access menu in real Chromium: add a teammate, then remove them."""

import pytest
from playwright.sync_api import expect

from conversations.models import ConversationState, Location
from tests.browser.conftest import log_in, screenshot
from tests.factories import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_add_and_remove_people_from_the_access_menu(page, live_server, cast, page_errors):
    conversation = receive(cast.personal_account, subject="Supplier contract").conversation
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/m/inbox/{conversation.id}/")
    expect(page.locator(".conv-access summary")).to_contain_text("Private")

    page.locator(".conv-access summary").click()
    page.locator(".conv-access").get_by_label("Tom Teammate").check()
    screenshot(page, "access-menu")
    page.get_by_role("button", name="Add", exact=True).click()

    expect(page.locator(".conv-access summary")).to_contain_text("Shared with")
    expect(page.locator(".conv-access .avatar-stack .avatar")).to_have_count(2)
    assert ConversationState.objects.get(conversation=conversation, user=cast.teammate).location == Location.INBOX

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(".conv-access summary").click()
    page.get_by_role("button", name="Remove Tom Teammate").click()
    expect(page.locator(".conv-access .avatar-stack .avatar")).to_have_count(1)
    assert not ConversationState.objects.filter(conversation=conversation, user=cast.teammate).exists()
    assert page_errors == []
