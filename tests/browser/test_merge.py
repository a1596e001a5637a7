"""Merging in real Chromium: the Merge... dialog from Mod+Shift+G, a batch merge of a Mod+click
selection, dropping a row on another, and moving an email out from its menu."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conversations.models import Conversation, ConversationEvent, EventKind, Message
from tests.browser.conftest import log_in, screenshot
from tests.factories import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _thread(cast, subject, body, minutes_ago, sender="customer@outside.test", name="A Customer"):
    sent_at = timezone.now() - timedelta(minutes=minutes_ago)
    return receive(
        cast.support_account, subject=subject, body=body, sender=sender, from_name=name, sent_at=sent_at
    ).conversation


def test_merge_a_conversation_found_by_search_from_the_shortcut(page, live_server, cast, page_errors):
    target = _thread(cast, "Order #1182 delayed", "Where is my parcel?", 50, "dana@outside.test", "Dana Scully")
    source = _thread(cast, "Parcel never arrived", "Still nothing, help.", 20, "dana@outside.test", "Dana Scully")
    _thread(cast, "Invoice for March", "Attached.", 10, "billing@vendor.test", "Vendor Billing")
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/m/all/{target.id}/")

    page.keyboard.press("Control+Shift+G")
    dialog = page.locator("#modal .merge-modal")
    expect(dialog.get_by_role("heading", name="Merge conversations")).to_be_visible()
    expect(page.locator("#merge-search")).to_be_focused()
    page.keyboard.type("parcel")
    candidates = dialog.locator("[data-merge-candidate]")
    expect(candidates).to_have_count(1)
    expect(candidates.first).to_contain_text("Parcel never arrived")
    screenshot(page, "merge-search")
    page.keyboard.press("Enter")

    expect(dialog.locator(".merge-card.is-target")).to_contain_text("Order #1182 delayed")
    expect(dialog.locator(".merge-card").first).to_contain_text("Parcel never arrived")
    dialog.get_by_role("textbox", name="New subject").fill("📦 Dana's parcel")
    expect(dialog.locator("input[name=subject_choice][value=new]")).to_be_checked()
    screenshot(page, "merge-confirm")
    dialog.get_by_role("button", name="Merge", exact=True).click()

    expect(page.locator("#modal .merge-modal")).to_have_count(0)
    expect(page.locator(".conv-subject")).to_have_text("📦 Dana's parcel")
    expect(page.locator("#timeline .message")).to_have_count(2)
    expect(page.locator("#timeline .event-merged")).to_contain_text("Olivia Owner merged in “Parcel never arrived”")
    expect(page.locator(f"#row-{source.id}")).to_have_count(0)
    expect(page.locator(f"#row-{target.id}")).to_be_visible()
    assert page.url.endswith(f"/m/all/{target.id}/")
    screenshot(page, "merge-done")
    assert not Conversation.objects.filter(id=source.id).exists()

    # The source's old address leads to the merged conversation.
    page.goto(f"{live_server.url}/m/all/{source.id}/")
    expect(page.locator(".conv-subject")).to_have_text("📦 Dana's parcel")
    assert page.url.endswith(f"/m/all/{target.id}/")
    assert page_errors == []


def test_batch_merge_goes_into_the_first_selected(page, live_server, cast, page_errors):
    older = _thread(cast, "Question about pricing", "How much?", 30)
    newer = _thread(cast, "Pricing, again", "Any discount?", 5)
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/m/all/")

    page.locator(f"#row-{older.id} .row-link").click(modifiers=["ControlOrMeta"])
    page.locator(f"#row-{newer.id} .row-link").click(modifiers=["ControlOrMeta"])
    merge_button = page.locator("#bulk-bar [data-merge-selected]")
    expect(merge_button).to_be_visible()
    expect(page.locator("#bulk-bar [data-action='clear-selection']")).to_be_in_viewport(ratio=1)
    screenshot(page, "merge-batch-bar")
    merge_button.click()

    dialog = page.locator("#modal .merge-modal")
    expect(dialog.get_by_role("heading")).to_have_text("Merge 2 conversations")
    expect(dialog.locator(".merge-batch-list li.is-target")).to_contain_text("Question about pricing")
    screenshot(page, "merge-batch")
    dialog.get_by_role("button", name="Merge 2 conversations").click()

    expect(page.locator(".conv-subject")).to_be_visible()
    expect(page.locator("#timeline .message")).to_have_count(2)
    expect(page.locator(f"#row-{newer.id}")).to_have_count(0)
    assert Message.objects.filter(conversation=older).count() == 2
    assert not Conversation.objects.filter(id=newer.id).exists()
    assert page_errors == []


def test_dropping_a_row_on_another_asks_to_merge_it_in(page, live_server, cast, page_errors):
    target = _thread(cast, "Login problem", "Cannot log in", 30)
    dragged = _thread(cast, "Login problem (2)", "Still cannot", 5)
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/m/all/")

    page.locator(f"#row-{dragged.id} .row-link").drag_to(page.locator(f"#row-{target.id} .row-link"))

    dialog = page.locator("#modal .merge-modal")
    expect(dialog.locator(".merge-card.is-target")).to_contain_text("Login problem")
    expect(dialog.locator(".merge-card").first).to_contain_text("Login problem (2)")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator("#modal .merge-modal")).to_have_count(0)
    assert Conversation.objects.filter(id=dragged.id).exists()
    assert page_errors == []


def test_move_an_email_out_to_a_new_conversation(page, live_server, cast, page_errors):
    conversation = _thread(cast, "Order #77", "My order is late", 30)
    stray = receive(cast.support_account, subject="Gift cards?", body="Do you sell gift cards?")
    Message.objects.filter(id=stray.id).update(conversation=conversation)
    Conversation.objects.filter(id=conversation.id).update(message_count=2)
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/m/all/{conversation.id}/")

    email = page.locator(f"#message-{stray.id}")
    email.locator(".message-menu > summary").click()
    screenshot(page, "merge-move-menu")
    email.get_by_role("button", name="New shared conversation").click()

    expect(page.locator(".conv-subject")).to_have_text("Gift cards?")
    expect(page.locator("#timeline .message")).to_have_count(1)
    event = page.locator("#timeline .event-email_moved_in")
    expect(event).to_contain_text("Olivia Owner moved this email here from “Order #77”")
    stray.refresh_from_db()
    assert stray.conversation_id != conversation.id
    assert page.url.endswith(f"/m/all/{stray.conversation_id}/")

    event.get_by_role("link", name="Open").click()
    expect(page.locator(".conv-subject")).to_have_text("Order #77")
    expect(page.locator("#timeline .message")).to_have_count(1)
    expect(page.locator("#timeline .event-email_moved_out")).to_contain_text("moved an email to “Gift cards?”")
    assert ConversationEvent.objects.filter(kind=EventKind.EMAIL_MOVED_OUT).count() == 1
    assert page_errors == []
