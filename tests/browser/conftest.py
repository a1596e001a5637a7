"""Real Chromium (Debian's, installed by `make test`) driven by Playwright against live_server."""

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.factories import PASSWORD

# Playwright's sync API keeps an event loop running in this thread; Django refuses ORM calls
# from a thread with a running loop unless told this is intended.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _chromium() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Chromium is not installed; `make test` installs Debian's chromium package.")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=_chromium(),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


class BrowserErrors(list):
    """Console errors and uncaught exceptions seen by a page (CSP violations show up here too)."""


@pytest.fixture
def page_errors() -> BrowserErrors:
    return BrowserErrors()


def new_page(browser: Browser, errors: BrowserErrors, width: int = 1280, height: int = 800) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.on(
        "console",
        lambda msg: (
            errors.append(f"console: {msg.text}")
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    return page


@pytest.fixture
def page(browser: Browser, page_errors: BrowserErrors) -> Iterator[Page]:
    page = new_page(browser, page_errors)
    yield page
    close_page(page)


def close_page(page: Page) -> None:
    """Close the browser, then let the server finish what the page had asked of it (a live
    update's re-fetch, a presence heartbeat): the test database is flushed next, and a request
    still inside a query would deadlock with the flush's TRUNCATE."""
    page.context.close()
    wait_for_server_queries()


def wait_for_server_queries(timeout: float = 5.0, quiet: float = 0.3) -> None:
    """Until no other connection has been inside a query for `quiet` seconds: a closing page's
    last requests (the editor's keepalive goodbye) reach the server a moment after it closes."""
    from django.db import connection

    deadline = time.monotonic() + timeout
    idle_since = time.monotonic()
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND (state = 'active' OR state LIKE 'idle in transaction%%')"
            )
            (busy,) = cursor.fetchone()
        if busy:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= quiet:
            return
        time.sleep(0.05)


def log_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/m/inbox/")


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
