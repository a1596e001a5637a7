"""Signatures, aliases and profiles in real Chromium: the rich-text signature editor with its
inline Liquid error and its "Preview as" menu, a member's profile, and an account's Aliases tab."""

import re

import pytest
from playwright.sync_api import expect

from inboxes.models import Alias, AliasShare, Membership, Signature
from tests.browser.conftest import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_writes_an_organization_signature_and_previews_it_for_a_member(page, live_server, cast, page_errors):
    Membership.objects.filter(user=cast.teammate).update(
        profile={"custom": {"job_title": "Support lead"}, "phones": [{"label": "work", "number": "+1 555 0100"}]}
    )
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/settings/orgs/{cast.org.id}/signatures/")
    page.get_by_role("link", name="New organization signature").click()

    page.fill("input[name=name]", "Acme team")
    editor = page.locator(".sg-content .sg-rich")
    expect(editor).to_be_visible()
    expect(page.locator("textarea[name=body]")).to_be_hidden()
    editor.click()
    page.keyboard.press("Control+b")
    page.keyboard.type("{{ user.first_name }} {{ user.last_name }}")
    page.keyboard.press("Control+b")
    page.keyboard.press("Enter")
    page.keyboard.type("{{ user.custom.job_title }} · {{ user.work.phone_number }}")
    # The HTML editor shows what the rich one wrote; a broken template is refused inline.
    page.get_by_role("radio", name="HTML").check()
    body = page.locator("textarea[name=body]")
    expect(body).to_be_visible()
    expect(body).to_have_value(re.compile(r"<b>\{\{ user.first_name \}\} \{\{ user.last_name \}\}</b>"))
    body.fill(body.input_value() + "{% if %}")
    expect(page.locator(".sg-alternative")).to_be_hidden()
    page.get_by_text("First email sent, then the following signature").click()
    expect(page.locator(".sg-alternative .sg-rich")).to_be_visible()
    screenshot(page, "signatures-editor")
    page.get_by_role("button", name="Create signature").click()
    expect(page.locator(".sg-content .errorlist")).to_contain_text("The template has an error")
    assert not Signature.objects.exists()

    body = page.locator("textarea[name=body]")
    body.fill(body.input_value().replace("{% if %}", ""))
    page.get_by_role("radio", name="Rich text").check()
    page.get_by_role("button", name="Create signature").click()
    page.wait_for_url(f"{live_server.url}/settings/orgs/{cast.org.id}/signatures/*/")
    signature = Signature.objects.get()
    assert signature.owner is None and "<b>{{ user.first_name }} {{ user.last_name }}</b>" in signature.body

    preview = page.frame_locator("#signature-preview iframe")
    expect(preview.locator("body")).to_contain_text("Olivia Owner")
    page.get_by_label("Preview as").select_option(label="Tom Teammate")
    expect(preview.locator("body")).to_contain_text("Tom Teammate")
    expect(preview.locator("body")).to_contain_text("Support lead · +1 555 0100")
    page.locator("#signature-preview").scroll_into_view_if_needed()
    screenshot(page, "signatures-preview")
    assert page_errors == []


def test_a_member_fills_in_their_profile(page, live_server, cast, page_errors):
    log_in(page, live_server.url, cast.teammate.email)
    page.goto(f"{live_server.url}/settings/orgs/{cast.org.id}/users/{cast.teammate.id}/")
    rows = page.locator("#member-profile .pf-row")
    rows.nth(0).locator("input[name=phone_label]").fill("work")
    rows.nth(0).locator("input[name=phone_number]").fill("+1 555 0100")
    custom = page.locator("#member-profile [aria-label='Custom fields'] .pf-row")
    custom.nth(0).locator("input[name=custom_label]").fill("Job title")
    custom.nth(0).locator("input[name=custom_value]").fill("Support lead")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#member-profile")).to_contain_text("{{ user.custom.job_title }}")
    expect(page.locator("#member-profile")).to_contain_text("{{ user.work.phone_number }}")
    expect(page.locator("#flash")).to_contain_text("Profile saved.")
    screenshot(page, "signatures-profile")
    profile = Membership.objects.get(user=cast.teammate, organization=cast.org).profile
    assert profile["custom"] == {"job_title": "Support lead"}
    assert page_errors == []


def test_the_owner_adds_and_shares_an_alias_from_the_aliases_tab(page, live_server, cast, page_errors):
    Signature.objects.create(organization=cast.org, owner=cast.owner, name="Olivia full")
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/settings/orgs/{cast.org.id}/accounts/{cast.personal_account.id}/")
    page.get_by_role("link", name="Aliases").click()
    expect(page.locator(".al-aliases .s-row")).to_have_count(1)

    form = page.locator("#alias-add")
    form.get_by_role("textbox", name="Address").fill("not an address")
    form.get_by_role("button", name="Add alias").click()
    expect(page.locator("#alias-add .errorlist")).to_contain_text("Enter a valid email address.")
    form.get_by_role("textbox", name="Address").fill("sales@acme.test")
    form.get_by_role("textbox", name="Name").fill("Acme Sales")
    form.get_by_label("Description").fill("Sales desk")
    form.get_by_label("Signature").select_option(label="Olivia full")
    form.get_by_text("Never automatically select").click()
    form.get_by_label("Tom Teammate").check()
    form.get_by_role("button", name="Add alias").click()

    expect(page.locator(".al-aliases .s-row")).to_have_count(2)
    row = page.locator(".al-aliases .s-row", has_text="sales@acme.test")
    expect(row).to_contain_text("Sales desk")
    expect(row).to_contain_text("Shared with 1")
    expect(row).to_contain_text("Manual only")
    screenshot(page, "aliases-tab")
    alias = Alias.objects.get(address="sales@acme.test")
    assert alias.never_auto_select and alias.signature.name == "Olivia full"
    assert AliasShare.objects.filter(alias=alias, user=cast.teammate).exists()

    row.get_by_role("link", name="Edit").click()
    expect(page.locator("#alias-own")).to_contain_text("Your name and signature")
    screenshot(page, "aliases-edit")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete alias").click()
    expect(page.locator(".al-aliases .s-row")).to_have_count(1)
    assert not Alias.objects.filter(address="sales@acme.test").exists()
    assert page_errors == []
