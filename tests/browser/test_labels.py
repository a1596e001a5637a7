"""Labels in real Chromium: the label menu of a conversation (Mod+Shift+L, search as you type,
checkboxes, create on the fly), removing a label from its chip, bulk labelling from the list,
the nested sidebar, and Settings › Labels with its inline errors."""

import pytest
from playwright.sync_api import expect

from conversations.labels import do_add_label, do_create_label
from conversations.models import ConversationEvent, ConversationLabel, EventKind, Label
from tests.browser.conftest import log_in, screenshot
from tests.factories import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _labels_on(conversation):
    return set(ConversationLabel.objects.filter(conversation=conversation).values_list("label__name", flat=True))


def test_label_a_conversation_from_its_menu_and_the_keyboard(page, live_server, cast, page_errors):
    conversation = receive(cast.support_account, subject="Dark mode, please", body="We'd love it.").conversation
    features = do_create_label(cast.org, acting_user=cast.owner, name="Features", color="#7c3aed", emoji="✨")
    for name in ("Requested", "In progress", "Completed"):
        do_create_label(cast.org, acting_user=cast.owner, name=name, parent=features, color="#7c3aed")
    do_create_label(cast.org, acting_user=cast.owner, name="Billing", color="#16a34a")
    do_create_label(cast.org, acting_user=cast.owner, name="Read later", personal=True, color="#ea580c")
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/m/all/{conversation.id}/")

    # Mod+Shift+L opens the menu with its search focused; typing filters the tree.
    page.keyboard.press("Control+Shift+L")
    search = page.locator(".conversation .label-search")
    expect(search).to_be_focused()
    expect(page.locator(".conversation .label-option:visible")).to_have_count(6)
    search.type("req")
    expect(page.locator(".conversation .label-option:visible")).to_have_count(1)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    search.fill("")
    page.locator(".conversation .label-option", has_text="Read later").click()
    screenshot(page, "labels-menu")
    search.press("Enter")

    chips = page.locator(".conv-labels > .chip")
    expect(chips).to_have_count(2)
    expect(chips.first).to_contain_text("Features/Requested")
    expect(page.locator("#timeline .event-labeled")).to_have_count(2)
    expect(page.locator("#timeline")).to_contain_text("Olivia Owner added the label Features/Requested")
    row = page.locator(f"#row-{conversation.id}")
    expect(row.locator(".chip-label")).to_have_count(2)
    assert _labels_on(conversation) == {"Requested", "Read later"}

    # Create on the fly: a typed name nobody has yet.
    page.locator(".conversation .label-add").click()
    search.type("Urgent")
    create = page.locator(".conversation .label-create")
    expect(create).to_be_visible()
    expect(create).to_contain_text("“Urgent”")
    screenshot(page, "labels-create")
    page.keyboard.press("Enter")
    expect(chips).to_have_count(3)
    assert Label.objects.get(name="Urgent").created_by == cast.owner

    # The chip's × takes a label off.
    page.get_by_role("button", name="Remove the label Urgent").click()
    expect(chips).to_have_count(2)
    expect(page.locator("#timeline")).to_contain_text("removed the label Urgent")
    screenshot(page, "labels-header")
    assert ConversationEvent.objects.filter(conversation=conversation, kind=EventKind.UNLABELED).count() == 1
    assert page_errors == []


def test_bulk_label_the_selection_and_open_a_nested_label(page, live_server, cast, page_errors):
    conversations = [receive(cast.support_account, subject=f"Invoice {n}").conversation for n in range(3)]
    features = do_create_label(cast.org, acting_user=cast.owner, name="Features", color="#7c3aed")
    requested = do_create_label(cast.org, acting_user=cast.owner, name="Requested", parent=features, color="#2563eb")
    billing = do_create_label(cast.org, acting_user=cast.owner, name="Billing", color="#16a34a")
    do_add_label(conversations[0], requested, acting_user=cast.owner)
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/m/all/")

    for conversation in conversations[:2]:
        page.locator(f"#row-{conversation.id} .row-check").click()
    expect(page.locator("#bulk-count")).to_have_text("2")
    page.keyboard.press("Control+Shift+L")
    expect(page.locator("#bulk-bar .label-search")).to_be_focused()
    page.keyboard.type("bill")
    screenshot(page, "labels-bulk")
    page.keyboard.press("Enter")

    expect(page.locator(f"#row-{conversations[0].id} .chip-label", has_text="Billing")).to_be_visible()
    expect(page.locator(f"#row-{conversations[1].id} .chip-label", has_text="Billing")).to_be_visible()
    expect(page.locator("#bulk-bar")).to_be_hidden()
    assert [_labels_on(c) for c in conversations] == [{"Requested", "Billing"}, {"Billing"}, set()]

    # The sidebar nests labels; a label mailbox lists its conversations.
    child = page.locator(f"#sidebar .nav-label-item[data-label='{requested.id}']")
    expect(child).to_have_attribute("style", "--depth: 1")
    child.click()
    expect(page.locator(".list-title")).to_have_text("Features/Requested")
    expect(page.locator("#conversation-list .row")).to_have_count(1)
    screenshot(page, "labels-sidebar")
    assert billing.id
    assert page_errors == []


def test_settings_create_edit_and_delete_labels(page, live_server, cast, page_errors):
    features = do_create_label(cast.org, acting_user=cast.owner, name="Features", color="#7c3aed", emoji="✨")
    do_create_label(cast.org, acting_user=cast.owner, name="Requested", parent=features, color="#7c3aed")
    do_create_label(cast.org, acting_user=cast.owner, name="Billing", color="#16a34a", description="Invoices")
    do_create_label(cast.org, acting_user=cast.owner, name="Read later", personal=True, color="#ea580c")
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/settings/orgs/{cast.org.id}/")
    page.locator(".s-nav-item", has_text="Labels").click()
    expect(page.locator(".s-page-header h1")).to_have_text("Labels")

    # A duplicate name is refused inline.
    form = page.locator("#label-form")
    form.get_by_label("Name").fill("billing")
    form.get_by_role("button", name="Create label").click()
    expect(form.locator(".errorlist")).to_contain_text("There is already a label named billing")
    screenshot(page, "labels-settings-error")

    # A nested label with auto-sharing.
    form.get_by_label("Name").fill("In progress")
    form.get_by_label("Nest under").select_option(label="Features")
    form.get_by_label("Admins and auto-shared users").check()
    form.get_by_label("Tom Teammate").check()
    form.get_by_role("button", name="Create label").click()
    expect(page.locator("#organization-labels .label-row", has_text="In progress")).to_have_attribute(
        "style", "--depth: 1"
    )
    created = Label.objects.get(name="In progress")
    assert (created.parent, created.visibility) == (features, "restricted")
    assert list(created.auto_share_users.all()) == [cast.teammate]
    screenshot(page, "labels-settings")

    # Edit in place.
    page.get_by_role("link", name="Edit Billing").click()
    expect(form.locator("h2")).to_contain_text("Edit label")
    expect(form.get_by_label("Name")).to_be_focused()
    form.get_by_label("Name").fill("Invoices")
    form.get_by_role("button", name="Save label").click()
    expect(page.locator("#organization-labels .s-row-title", has_text="Invoices")).to_be_visible()
    expect(form.locator("h2")).to_have_text("New label")

    # Delete a parent with its sublabels.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete Features", exact=True).click()
    expect(page.locator("#organization-labels .label-row")).to_have_count(1)
    assert set(Label.objects.filter(organization=cast.org, owner=None).values_list("name", flat=True)) == {"Invoices"}
    assert page_errors == []
