"""Settings › Rules in real Chromium: create the seed's canonical rule (Incoming email, From ends
with disney.com, Add label "Disney") with the HTMX editor, see an invalid rule's message inline,
find the rule in the list and switch it off and on."""

import pytest
from playwright.sync_api import expect

from conversations.models import Label
from rules.models import Rule, RuleRun, RunStatus
from tests.browser.conftest import log_in, screenshot
from tests.factories import receive

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
    disney_chip = page.locator(".rule-action label.rule-chip", has_text="Disney")
    expect(disney_chip).to_be_visible()
    disney_chip.click()

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

    # The ••• menu: the run log.
    RuleRun.objects.create(
        organization=cast.org,
        rule=rule,
        trigger_key="msg:1",
        conversation=receive(cast.support_account, subject="Your Disney+ receipt").conversation,
        status=RunStatus.MATCHED,
        log=[{"index": 0, "type": "add_labels", "state": "done", "detail": "Disney"}],
    )
    page.locator(".rule-row").first.locator(".rule-menu > summary").click()
    page.get_by_role("link", name="Run log").click()
    expect(page.locator(".rule-run")).to_contain_text("Your Disney+ receipt")
    expect(page.locator(".rule-run")).to_contain_text("Add label(s) · done · Disney")
    screenshot(page, "rules-runs")
    page.go_back()

    # Opening the rule shows it as saved, with a link to its run log.
    page.get_by_role("link", name="01. Label Disney").click()
    expect(page.locator("input[name='c.0.value']")).to_have_value("disney.com")
    expect(page.locator(".rule-chip input:checked")).to_have_count(1)
    expect(page.get_by_role("link", name="Run log")).to_be_visible()
    screenshot(page, "rules-editor-saved")
    page.go_back()

    # The ••• menu: Duplicate to Personal opens the editor with an unsaved copy.
    page.locator(".rule-row").first.locator(".rule-menu > summary").click()
    page.locator(".rule-row").first.get_by_role("button", name="Personal").click()
    expect(page.locator(".s-page-header h1")).to_have_text("New personal rule")
    expect(page.locator("#rule-description")).to_have_value("01. Label Disney")
    assert Rule.objects.count() == 3
    assert page_errors == []


def test_changing_the_type_re_renders_the_options_and_delay_greys_out_the_timers(page, live_server, cast, page_errors):
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/settings/orgs/{cast.org.id}/rules/new/")
    field = page.locator("select[name='c.0.field']")
    field.select_option("delay")
    page.locator("input[name='c.0.amount']").fill("5")
    page.get_by_role("button", name="+ Add condition").first.click()
    second = page.locator("select[name='c.1.field']")
    expect(second.locator("option[value='unreplied']")).to_be_disabled()
    expect(second.locator("option[value='subject']")).to_be_enabled()
    expect(page.locator("input[name='c.0.amount']")).to_have_value("5")

    # User actions: the message fields go, the action fields come.
    page.locator("#rule-trigger").select_option("user_action")
    page.locator("#rule-user-action").select_option("assignee_changed")
    expect(second.locator("option[value='added_assignee']")).to_have_count(1)
    expect(second.locator("option[value='subject']")).to_have_count(0)
    second.select_option("added_assignee")
    page.locator("select[name='c.1.op']").select_option("is")
    page.locator("select[name='c.1.value']").select_option(label="Tom Teammate")

    page.locator("select[name='a.0.type']").select_option("assign_users")
    expect(page.locator("select[name='a.0.strategy']")).to_be_visible()
    page.locator(".rule-action label.rule-chip", has_text="Tom Teammate").click()
    page.locator(".rule-action label.rule-chip", has_text="Online").click()
    page.locator("select[name='a.0.strategy']").select_option("least_busy")
    page.get_by_role("button", name="+ Add action").click()
    page.locator("select[name='a.1.type']").select_option("add_note")
    page.locator("textarea[name='a.1.text']").fill("Picked up by the rule.")
    page.get_by_role("button", name="Move action 2 up").click()
    expect(page.locator("select[name='a.0.type']")).to_have_value("add_note")
    expect(page.locator("select[name='a.1.strategy']")).to_have_value("least_busy")
    page.locator(".rule-actions").scroll_into_view_if_needed()
    screenshot(page, "rules-editor-actions")

    page.locator("#rule-description").fill("Note reassignments")
    page.get_by_role("button", name="Save rule").click()
    page.wait_for_url(f"{live_server.url}/settings/orgs/{cast.org.id}/rules/")
    rule = Rule.objects.get()
    assert (rule.trigger, rule.user_action) == ("user_action", "assignee_changed")
    assert rule.actions == [
        {"type": "add_note", "text": "Picked up by the rule."},
        {"type": "assign_users", "users": [str(cast.teammate.id)], "strategy": "least_busy", "filters": ["online"]},
    ]
    assert rule.conditions["items"][0] == {"field": "delay", "seconds": 300}
    assert page_errors == []
