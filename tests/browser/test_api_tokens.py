"""Settings › API in real Chromium: create a token (shown once, usable at once), revoke it."""

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from tests.browser.conftest import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_copy_and_revoke_a_token(page, live_server, cast):
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/settings/api/")
    page.get_by_label("Token name").fill("Zapier")
    page.get_by_role("button", name="Create a new token").click()
    shown = page.get_by_label("New token")
    expect(shown).to_have_value(re.compile(r"^missive_pat-"))
    token = shown.input_value()
    assert token.startswith("missive_pat-")
    expect(page.get_by_role("list", name="Your tokens")).to_contain_text("Zapier")
    screenshot(page, "api-token-created")
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/v1/users").status_code == 200

    page.reload()
    expect(page.get_by_label("New token")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("list", name="Your tokens")).to_contain_text("No tokens yet.")
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/v1/users").status_code == 401
