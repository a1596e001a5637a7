"""Canned responses in real Chromium: the panel opens with Mod+Shift+O, searches, inserts with
Return (a form variable asked first), edits on the fly with Mod+Return, `#` in a draft's body
suggests responses, and Settings › Responses builds a variable and saves a response.

The composer is another part of the app: a stand-in `.composer` with its toolbar and a
contenteditable body is put on the conversation page, and what the panel inserts is read from
the `responses:insert` event it announces."""

import pytest
from playwright.sync_api import expect

from conversations.models import CannedResponse, CannedScope, Draft, DraftKind
from inboxes.models import Alias
from tests.browser.conftest import log_in, screenshot
from tests.factories import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STAND_IN_COMPOSER = """(draftId) => {
  const composer = document.createElement("div");
  composer.className = "composer";
  composer.innerHTML = `<div class="composer-tools" data-draft-id="${draftId}"></div>
    <div class="composer-editor" contenteditable="true" style="min-height:40px;border:1px solid #ccc"></div>`;
  document.querySelector("#conversation-pane").prepend(composer);
  window.htmx.process(composer);
  document.dispatchEvent(new CustomEvent("htmx:load", { detail: { elt: composer } }));
  window.inserted = [];
  document.addEventListener("responses:insert", (event) => window.inserted.push(event.detail));
}"""


def _wait_inserted(page, count: int) -> None:
    """Until the stand-in has seen `count` insertions (the page's CSP forbids wait_for_function)."""
    for _ in range(100):
        if page.evaluate("() => window.inserted.length") >= count:
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"{count} insertion(s) expected, saw {page.evaluate('() => window.inserted.length')}")


@pytest.fixture
def draft(cast):
    inbound = receive(cast.personal_account, subject="Where is my order?", sender="philippe@outside.test")
    return Draft.objects.create(
        organization=cast.org,
        conversation=inbound.conversation,
        kind=DraftKind.REPLY,
        replying_to=inbound,
        creator=cast.owner,
        account=cast.personal_account,
        alias=Alias.objects.get(account=cast.personal_account, is_default=True),
        to=[{"name": "Philippe Lehoux", "address": "philippe@outside.test"}],
    )


def _open_conversation(page, live_server, cast, draft):
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/m/inbox/{draft.conversation_id}/")
    page.evaluate(STAND_IN_COMPOSER, str(draft.id))


def test_open_the_panel_search_and_insert_with_return_then_fill_a_form_variable(
    page, live_server, cast, draft, page_errors
):
    CannedResponse.objects.create(
        organization=cast.org,
        scope=CannedScope.ORGANIZATION,
        title="How to be a better person?",
        body="<p>Hi {{ recipient.first_name | default: 'there' }},</p><p>Be kind.</p>",
    )
    CannedResponse.objects.create(
        organization=cast.org,
        scope=CannedScope.PERSONAL,
        owner=cast.owner,
        title="Order status",
        subject="Your order {{ order_number }}",
        body="<p>Your order {{ order_number }} has shipped.</p>",
        cc=[{"name": "", "address": "shipping@acme.test"}],
    )
    _open_conversation(page, live_server, cast, draft)

    page.keyboard.press("ControlOrMeta+Shift+O")
    panel = page.locator("[data-responses-panel]")
    expect(panel).to_be_visible()
    expect(page.locator("#responses-search")).to_be_focused()
    expect(panel.locator(".rp-result")).to_have_count(2)
    page.keyboard.type("pers better")
    expect(panel.locator(".rp-result")).to_have_count(1)
    expect(panel.locator(".rp-preview h3")).to_have_text("How to be a better person?")
    screenshot(page, "responses-panel")
    page.keyboard.press("Enter")

    expect(panel).to_have_count(0)
    _wait_inserted(page, 1)
    first = page.evaluate("() => window.inserted[0]")
    assert first["html"] == "<p>Hi Philippe,</p><p>Be kind.</p>"
    assert first["draftId"] == str(draft.id)

    # The toolbar's button opens it too; ↓ moves to the next response.
    page.locator(".composer-tools [data-responses-open]").click()
    expect(panel.locator(".rp-result")).to_have_count(2)
    page.keyboard.press("ArrowDown")
    expect(panel.locator(".rp-preview h3")).to_have_text("Order status")
    page.keyboard.press("Enter")
    field = panel.locator("input[name='var:order_number']")
    expect(field).to_be_focused()
    screenshot(page, "responses-form-variable")
    field.fill("A-42")
    page.keyboard.press("Enter")
    _wait_inserted(page, 2)
    second = page.evaluate("() => window.inserted[1]")
    assert second["html"] == "<p>Your order A-42 has shipped.</p>"
    assert second["subject"] == "Your order A-42"
    assert second["cc"] == [{"name": "", "address": "shipping@acme.test"}]
    draft.refresh_from_db()
    assert (draft.subject, draft.cc) == ("Your order A-42", [{"name": "", "address": "shipping@acme.test"}])
    assert page_errors == []


def test_edit_on_the_fly_then_insert_with_mod_return_and_hash_suggestions(page, live_server, cast, draft, page_errors):
    response = CannedResponse.objects.create(
        organization=cast.org, scope=CannedScope.PERSONAL, owner=cast.owner, title="Refund policy", body="<p>Old</p>"
    )
    _open_conversation(page, live_server, cast, draft)

    page.keyboard.press("ControlOrMeta+Shift+O")
    panel = page.locator("[data-responses-panel]")
    panel.locator("[data-responses-edit]").click()
    title = panel.locator("input[name=title]")
    expect(title).to_be_focused()
    title.fill("Refund policy (2025)")
    editor = panel.locator(".rt-editor")
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("Refunds take 5 days.")
    screenshot(page, "responses-edit-on-the-fly")
    page.keyboard.press("ControlOrMeta+Enter")
    _wait_inserted(page, 1)
    assert "Refunds take 5 days." in page.evaluate("() => window.inserted[0].html")
    response.refresh_from_db()
    assert response.title == "Refund policy (2025)" and "Refunds take 5 days." in response.body

    body = page.locator(".composer-editor")
    body.click()
    page.keyboard.type("Thanks! #refu")
    suggestions = page.locator(".responses-suggest .rs-item")
    expect(suggestions).to_have_count(1)
    expect(suggestions.first).to_contain_text("Refund policy (2025)")
    page.keyboard.press("Enter")
    _wait_inserted(page, 2)
    expect(body).to_have_text("Thanks! ")
    assert page_errors == []


def test_settings_build_a_variable_and_save_a_response(page, live_server, cast, page_errors):
    log_in(page, live_server.url, cast.teammate.email)
    page.goto(f"{live_server.url}/settings/orgs/{cast.org.id}/responses/")
    form = page.locator("#response-form")
    form.locator("select[name=visibility]").select_option(label=f"Team: {cast.support}")
    form.locator("input[name=title]").fill("Shipping delay")
    editor = form.locator(".rt-editor")
    editor.click()
    page.keyboard.type("Hi ")

    form.locator("[data-variable-open]").click()
    dialog = page.locator("[data-variable-dialog]")
    dialog.locator("[data-variable-root]").select_option("form")
    dialog.locator("[data-variable-name]").fill("new date")
    dialog.locator("[data-variable-insert]").click()
    expect(dialog.locator("[data-variable-error]")).to_contain_text("no spaces")
    dialog.locator("[data-variable-name]").fill("new_date")
    expect(dialog.locator("[data-variable-preview]")).to_have_text("{{ new_date }}")
    screenshot(page, "responses-variable-builder")
    dialog.locator("[data-variable-insert]").click()
    expect(dialog).to_be_hidden()
    expect(editor).to_have_text("Hi {{ new_date }}")

    # Pasted HTML goes in as text.
    page.evaluate(
        """() => {
          const data = new DataTransfer();
          data.setData("text/plain", " <b>bold?</b>");
          data.setData("text/html", "<b>bold?</b>");
          const paste = new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true });
          document.querySelector(".rt-editor").dispatchEvent(paste);
        }"""
    )
    expect(editor.locator("b")).to_have_count(0)
    form.get_by_role("button", name="Create response").click()
    expect(page.locator("#response-form h2")).to_contain_text("Edit “Shipping delay”")
    saved = CannedResponse.objects.get(title="Shipping delay")
    assert (saved.scope, saved.team) == (CannedScope.TEAM, cast.support)
    assert "Hi {{ new_date }}" in saved.body and "&lt;b&gt;bold?&lt;/b&gt;" in saved.body
    page.goto(f"{live_server.url}/settings/orgs/{cast.org.id}/responses/")
    screenshot(page, "responses-settings")
    assert page_errors == []
