"""Settings › Rules in real Chromium: create the seed's canonical rule (Incoming email, From ends
with disney.com, Add label "Disney") with the HTMX editor, see an invalid rule's message inline,
find the rule in the list and switch it off and on."""

import pytest
from playwright.sync_api import expect

from conversations.models import Label
from rules.models import Rule
from tests.browser.conftest import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_the_canonical_rule_see_errors_inline_and_toggle_it(page, live_server, cast, page_errors):
    disney = Label.objects.create(organization=cast.org, name="Disney", color="#2563eb")
    Label.objects.create(organization=cast.org, name="Billing", color="#16a34a")
    Rule.objects.create(
        organization=cast.org,
        description="02. Close newsletters",
        trigger="incoming",
        conditions={"mode": "all", "items": [{"field": "automated", "op": "is", "value": True}]},
        actions=[{"type": "close"}],
    )
    Rule.objects.create(
        organization=cast.org,
        description="03. Notify on-call",
        trigger="incoming",
        enabled=False,
        disabled_reason="Disabled after 51 consecutive failed webhook deliveries.",
        actions=[{"type": "webhook", "url": "https://hooks.example.com/on-call"}],
    )
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/settings/orgs/{cast.org.id}/labels/")
    page.locator(".s-nav-item", has_text="Rules").click()
    expect(page.locator("h1", has_text="Rules")).to_be_visible()
    page.get_by_role("link", name="Create rule").click()

    # Incoming email by default; choosing a field re-renders its operators, then the value input.
    expect(page.locator("#rule-trigger")).to_have_value("incoming")
    expect(page.locator("#rule-channel")).to_have_value("email")
    page.locator("select[name='c.0.field']").select_option("from")
    operator = page.locator("select[name='c.0.op']")
    expect(operator).to_be_visible()
    operator.select_option("ends_with")
    page.locator("input[name='c.0.value']").fill("disney.com")
    page.locator("select[name='a.0.type']").select_option("add_labels")
    labels = page.locator("select[name='a.0.labels']")
    expect(labels).to_be_visible()
    labels.select_option(str(disney.id))

    # No description: not saved, the message shows inline and the form keeps what was entered.
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator("#rule-errors")).to_contain_text("Add a description.")
    expect(page.locator(".s-field.has-error")).to_contain_text("Add a description.")
    expect(page.locator("input[name='c.0.value']")).to_have_value("disney.com")
    expect(page.locator("select[name='c.0.op']")).to_have_value("ends_with")
    assert not Rule.objects.filter(description__icontains="disney").exists()
    # Add a second (incomplete) condition in a nested group to show the grouped editor.
    page.get_by_role("button", name="+ Add group").first.click()
    expect(page.locator(".rule-subgroup")).to_have_count(1)
    page.locator("select[name='c.1.0.field']").select_option("subject")
    expect(page.locator("select[name='c.1.0.op']")).to_be_visible()
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator(".rule-subgroup .errorlist")).to_contain_text("choose an operator.")
    expect(page.locator("#rule-errors")).to_contain_text("Condition 2 (Subject): choose an operator.")
    expect(page.locator("#rule-errors")).to_be_in_viewport()
    screenshot(page, "rules-editor")
    page.get_by_role("button", name="Remove this group").click()
    expect(page.locator(".rule-subgroup")).to_have_count(0)

    page.locator("#rule-description").fill("01. Label Disney")
    page.get_by_role("button", name="Save rule").click()
    page.wait_for_url(f"{live_server.url}/settings/orgs/{cast.org.id}/rules/")
    rows = page.locator(".rule-row")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("01. Label Disney")
    expect(rows.first).to_contain_text("Incoming Email · 1 condition · 1 action")
    expect(page.locator(".rule-row.is-disabled")).to_contain_text("Disabled after 51 consecutive failed")
    rule = Rule.objects.get(description="01. Label Disney")
    assert rule.conditions == {"mode": "all", "items": [{"field": "from", "op": "ends_with", "value": "disney.com"}]}
    assert rule.actions == [{"type": "add_labels", "labels": [str(disney.id)]}]
    screenshot(page, "rules-list")

    # The toggle switches it off (light grey) and on again.
    rows.first.locator(".s-switch-track").click()
    expect(page.locator(".rule-row").first).to_have_class("s-row rule-row is-disabled")
    rule.refresh_from_db()
    assert rule.enabled is False
    page.locator(".rule-row").first.locator(".s-switch-track").click()
    expect(page.locator(".rule-row").first).to_have_class("s-row rule-row")
    rule.refresh_from_db()
    assert rule.enabled is True

    # The ••• menu: Duplicate to Personal opens the editor with an unsaved copy.
    page.locator(".rule-row").first.locator(".rule-menu > summary").click()
    page.locator(".rule-row").first.get_by_role("button", name="Personal").click()
    expect(page.locator(".s-page-header h1")).to_have_text("New personal rule")
    expect(page.locator("#rule-description")).to_have_value("01. Label Disney")
    assert Rule.objects.count() == 3
    assert page_errors == []
