"""Chat rooms in real Chromium: the organization's room and a team's room from the sidebar, a 1-1
room opened from a coworker's avatar, its unread dot on the other side, and a selection holding a
room offering no Close."""

import pytest
from playwright.sync_api import expect

from conversations.actions import do_post_comment
from conversations.models import ConversationKind, ConversationState, Location
from conversations.rooms import do_create_organization_room, room_url
from inboxes.actions import do_update_team
from tests.browser.conftest import close_page, log_in, new_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _rooms(cast):
    general = do_create_organization_room(cast.org)
    team = cast.support
    do_update_team(
        team,
        name=team.name,
        emoji=team.emoji,
        color=team.color,
        has_inbox=True,
        has_chat_room=True,
        show_team_space=True,
        mention_adds_observers=False,
        assign_on_reply=True,
        reply_to_assigned_goes_to_team_inbox=False,
        inactivity_period=None,
    )
    return general


def test_chat_in_the_organization_room_then_open_a_1_1_from_an_avatar(page, live_server, cast, page_errors):
    general = _rooms(cast)
    do_post_comment(general, author=cast.teammate, body="Morning all! Coffee is on the *second* floor.")
    log_in(page, live_server.url, cast.owner.email)

    sidebar = page.locator("#sidebar")
    expect(sidebar.locator('[data-room="general"] .nav-dot')).to_be_visible()
    sidebar.locator('[data-room="general"]').click()
    page.wait_for_url(f"{live_server.url}{room_url(general.id)}")
    header = page.locator("#conv-header.room-header")
    expect(header.locator(".conv-subject")).to_have_text("General")
    expect(header.locator(".room-about")).to_contain_text("Everyone at Acme")
    expect(page.locator('[data-menu="assign"]')).to_have_count(0)
    expect(sidebar.locator('[data-room="general"] .nav-dot')).to_have_count(0)

    box = page.locator("#comment-box textarea")
    box.click()
    page.keyboard.type("Thanks @tom-teammate, on my way")
    page.keyboard.press("Enter")
    last = page.locator("#timeline .comment").last
    expect(last.locator(".comment-body .mention")).to_have_text("@tom-teammate")
    expect(page.locator("#timeline .comment")).to_have_count(2)
    screenshot(page, "rooms-organization-room")

    # The team's room sits in its team space.
    sidebar.locator(f'[data-team="{cast.support.id}"]').click()
    sidebar.locator('[data-room="team"]').click()
    expect(page.locator("#conv-header .conv-subject")).to_have_text("Support")
    expect(page.locator("#conv-header .room-about")).to_contain_text("Team room")

    # A coworker's avatar opens (and creates) the 1-1 room.
    sidebar.get_by_role("button", name="Chat with Tom Teammate").click()
    expect(page.locator("#conv-header .conv-subject")).to_have_text("Tom Teammate")
    expect(page.locator("#conv-header .room-about")).to_contain_text("Only you and Tom Teammate")
    page.locator("#comment-box textarea").click()
    page.keyboard.type("Lunch at noon?")
    page.keyboard.press("Enter")
    expect(page.locator("#timeline .comment .comment-body")).to_have_text("Lunch at noon?")
    expect(sidebar.locator('[data-room="direct"]')).to_contain_text("Tom Teammate")
    screenshot(page, "rooms-direct-chat")
    direct = ConversationState.objects.get(user=cast.teammate, conversation__kind=ConversationKind.DIRECT)
    assert direct.location == Location.INBOX and direct.unread

    # On the other side: an unread dot, gone once read.
    other = new_page(page.context.browser, page_errors)
    log_in(other, live_server.url, cast.teammate.email)
    chat = other.locator('#sidebar [data-room="direct"]')
    expect(chat).to_contain_text("Olivia Owner")
    expect(chat.locator(".nav-dot")).to_be_visible()
    chat.click()
    expect(other.locator("#timeline .comment .comment-body")).to_have_text("Lunch at noon?")
    expect(other.locator('#sidebar [data-room="direct"] .nav-dot')).to_have_count(0)
    close_page(other)
    assert page_errors == []


def test_a_selection_with_a_room_offers_no_close(page, live_server, cast, page_errors):
    _rooms(cast)
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/m/rooms/")

    rows = page.locator("#conversation-list .row.room")
    expect(rows).to_have_count(2)
    rows.first.hover()
    rows.first.locator(".row-check").check()
    bar = page.locator("#bulk-bar")
    expect(bar).to_be_visible()
    expect(bar.locator('[data-bulk-key="archive"]')).to_be_visible()
    expect(bar.locator('[data-bulk-key="close"]')).to_be_hidden()
    expect(bar.locator('[data-bulk-key="assign-me-add"]')).to_be_hidden()
    screenshot(page, "rooms-mailbox-selection")
    assert page_errors == []
