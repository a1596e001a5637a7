"""Hostile mail in real Chromium: no script runs, nothing loads behind the reader's back, remote
images come only through our proxy and only when asked, tracking pixels never."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

import pytest
from django.core.signals import request_started
from playwright.sync_api import Page, expect

from conversations.incoming import IncomingAttachment
from tests.browser.conftest import log_in, screenshot
from tests.conversations.test_mail_views import PNG, ImageServer
from tests.conversations.test_sanitize import XSS_BODIES
from tests.factories import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SUBJECT = '<img src=x onerror="window.__pwned = true">Invoice <script>alert("subject")</script>'
SENDER = '"><svg onload="window.__pwned = true"><img src=x onerror=alert("name")>'
FILENAME = '<img src=x onerror="window.__pwned = true">\'.png'
# What Chromium logs when a sandboxed frame without allow-scripts is asked to run script.
SANDBOX_BLOCKED = (
    "console: Blocked script execution in 'about:srcdoc' because the document's frame is sandboxed "
    "and the 'allow-scripts' permission is not set."
)
# ... and when a javascript: link is followed there: the page's policy, inherited by the frame.
JAVASCRIPT_URL_BLOCKED = (
    "console: Running the JavaScript URL violates the following Content Security Policy directive 'script-src 'self''."
)


@pytest.fixture
def image_server() -> Iterator[ImageServer]:
    with ImageServer(files=NEWSLETTER_IMAGES) as server:
        yield server


@pytest.fixture
def server_paths() -> Iterator[list[str]]:
    """Every path the live server is asked for, seen from the server's side."""
    paths: list[str] = []

    def record(sender: object, environ: dict, **kwargs: object) -> None:
        paths.append(environ.get("PATH_INFO", ""))

    request_started.connect(record)
    yield paths
    request_started.disconnect(record)


def open_conversation(page: Page, base: str, conversation_id: object) -> None:
    page.goto(f"{base}/m/all/{conversation_id}/")
    expect(page.locator(".conv-subject")).to_be_visible()


def wait_for_frames(page: Page) -> int:
    """Scrolls each message frame into view (they load lazily) and waits for its document."""
    frames = page.locator("iframe.mail-frame")
    for index in range(frames.count()):
        frame = frames.nth(index)
        frame.scroll_into_view_if_needed()
        frame.evaluate(
            """(frame) => new Promise((resolve) => {
                const ready = () => frame.contentDocument && frame.contentDocument.URL === "about:srcdoc"
                    && frame.contentDocument.readyState === "complete";
                if (ready()) resolve();
                else frame.addEventListener("load", () => resolve(), { once: true });
            })"""
        )
    return frames.count()


def poke_everything(page: Page) -> int:
    """Hovers and clicks what a reader might: every link, summary, paragraph, cell and image."""
    poked = 0
    for frame in page.frames:
        if frame.url != "about:srcdoc":
            continue
        for element in frame.locator("a, summary, p, div, td, li, img").all():
            if element.is_visible():
                element.hover()
                element.click(modifiers=["Alt"], no_wait_after=True)  # Alt: no new tab for real links
                poked += 1
    return poked


def assert_nothing_ran(page: Page, dialogs: list[str]) -> None:
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate(
        "[...document.querySelectorAll('iframe.mail-frame')].every((f) => f.contentWindow.__pwned === undefined)"
    )
    assert dialogs == []


def test_no_script_in_mail_ever_runs(browser, page, live_server, cast, page_errors, server_paths):
    marker = f"{live_server.url}/__xss__"
    attachment = IncomingAttachment(FILENAME, "image/png", PNG)
    for n, body in enumerate(XSS_BODIES):
        receive(
            cast.support_account,
            subject=SUBJECT,
            from_name=SENDER,
            body_html=body.format(marker=f"{marker}/{n}"),
            rfc_message_id=f"<xss-{n}@outside.test>",
            in_reply_to="<xss-0@outside.test>" if n else "",
            attachments=[attachment] if n == 0 else [],
        )
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    browser_requests: list[str] = []
    page.context.on("request", lambda request: browser_requests.append(request.url))
    log_in(page, live_server.url, cast.owner.email)

    # Opened the way people do, through HTMX, and then as a full page.
    page.goto(f"{live_server.url}/m/all/")
    page.locator("#conversation-list .row").first.click()
    expect(page.locator(".conv-subject")).to_contain_text('Invoice <script>alert("subject")</script>')
    expect(page.locator(".message")).to_have_count(len(XSS_BODIES))
    assert wait_for_frames(page) > 20  # the others had nothing left to show but their text part
    assert poke_everything(page) > 10
    assert_nothing_ran(page, dialogs)

    page.reload()
    expect(page.locator(".sender").first).to_have_text(SENDER)
    expect(page.locator(".attachments .filename")).to_have_text(FILENAME)
    wait_for_frames(page)
    assert poke_everything(page) > 10
    page.wait_for_timeout(300)

    assert_nothing_ran(page, dialogs)
    assert [url for url in browser_requests if "__xss__" in url] == []
    assert [path for path in server_paths if path.startswith("/__xss__")] == []
    assert [p.url for p in page.context.pages if p != page] in ([], ["https://example.invalid/"])
    assert page_errors == []


def test_the_sandbox_alone_stops_script_that_got_past_the_sanitiser(page, live_server, cast, page_errors):
    """allow-same-origin is safe only without allow-scripts: raw script in a frame with our sandbox
    attribute, without the sanitiser and without the frame's own CSP, does not run."""
    message = receive(cast.support_account, body_html="<p>Hello</p>")
    log_in(page, live_server.url, cast.owner.email)
    open_conversation(page, live_server.url, message.conversation_id)
    wait_for_frames(page)

    page.evaluate(
        """() => new Promise((resolve) => {
            const ours = document.querySelector("iframe.mail-frame");
            const frame = document.createElement("iframe");
            frame.setAttribute("sandbox", ours.getAttribute("sandbox"));
            frame.srcdoc = '<body onload="parent.__pwned = 1"><script>parent.__pwned = 2<\\/script>'
                + '<img src="" onerror="parent.__pwned = 3"><a id="go" href="javascript:parent.__pwned = 4">go</a>';
            frame.addEventListener("load", () => resolve(), { once: true });
            document.body.append(frame);
        })"""
    )
    page.frames[-1].locator("#go").click()
    page.wait_for_timeout(200)

    assert page.evaluate("window.__pwned") is None
    assert SANDBOX_BLOCKED in page_errors
    unexpected = [e for e in page_errors if e != SANDBOX_BLOCKED and not e.startswith(JAVASCRIPT_URL_BLOCKED)]
    assert unexpected == []


def test_remote_images_load_only_through_the_proxy_and_only_when_asked(
    page, live_server, cast, page_errors, image_server, settings
):
    settings.IMAGE_PROXY_ALLOW_PRIVATE = True  # the local server stands for the sender's
    message = receive(
        cast.support_account,
        subject="Spring sale",
        body_html=(
            '<p>Our logo: <img src="cid:logo@shop.test" alt="Logo" width="160" height="40"></p>'
            f'<p><img src="{image_server.url("/hero.png")}" width="600" height="240" alt="Spring range"></p>'
            f'<img src="{image_server.url("/open.gif?r=42")}" width="1" height="1" alt="">'
            f'<img src="{image_server.url("/beacon.png")}" style="display:none">'
        ),
        attachments=[IncomingAttachment("logo.png", "image/png", LOGO, content_id="logo@shop.test", is_inline=True)],
    )
    browser_requests: list[str] = []
    page.context.on("request", lambda request: browser_requests.append(request.url))
    log_in(page, live_server.url, cast.owner.email)
    open_conversation(page, live_server.url, message.conversation_id)
    wait_for_frames(page)
    frame = page.frame_locator("iframe.mail-frame")

    # The inline part loads from our authenticated URL; the remote image is a placeholder.
    expect(frame.locator("img[alt=Logo]")).to_have_js_property("naturalWidth", 160)
    expect(frame.locator("img[alt='Spring range']")).to_have_attribute(
        "data-blocked-src", image_server.url("/hero.png")
    )
    expect(page.locator(".mail-notice")).to_contain_text("Remote images are hidden to protect your privacy.")
    expect(page.locator(".mail-trackers")).to_have_text("2 trackers blocked")
    page.wait_for_timeout(300)
    assert image_server.requests == []

    page.get_by_role("button", name="Show images").click()
    expect(page.locator(".mail-notice .mail-show-images")).to_have_count(0)
    wait_for_frames(page)
    expect(frame.locator("img[alt='Spring range']")).to_have_js_property("naturalWidth", 600)

    assert image_server.paths() == ["/hero.png"]
    assert image_server.requests[0][1]["User-Agent"] == "Missive image proxy"
    assert [url for url in browser_requests if f":{image_server.port}/" in url] == []
    assert len([url for url in browser_requests if "/img-proxy/?u=" in url]) == 1
    assert page_errors == []


def test_a_newsletter_looks_like_its_sender_meant(page, live_server, cast, page_errors, image_server, settings):
    settings.IMAGE_PROXY_ALLOW_PRIVATE = True
    message = receive(
        cast.support_account,
        subject="Spring is here: 20% off everything green",
        from_name="Fern & Fig",
        sender="news@fernandfig.test",
        body="Spring is here",
        body_html=newsletter(image_server),
        attachments=[IncomingAttachment("logo.png", "image/png", LOGO, content_id="logo@fernandfig", is_inline=True)],
    )
    page.set_viewport_size({"width": 1440, "height": 1000})
    log_in(page, live_server.url, cast.owner.email)
    open_conversation(page, live_server.url, message.conversation_id)
    wait_for_frames(page)
    page.locator(".message-header").scroll_into_view_if_needed()
    screenshot(page, "mail-newsletter-images-blocked")

    page.get_by_role("button", name="Show images").click()
    frame = page.frame_locator("iframe.mail-frame")
    expect(frame.locator("img[alt='New in: the fern collection']")).to_have_js_property("naturalWidth", 600)
    wait_for_frames(page)
    page.locator(".message-header").scroll_into_view_if_needed()
    screenshot(page, "mail-newsletter")

    # Sized to its content: no inner scrollbar, nothing cut off.
    sizes = page.locator("iframe.mail-frame").evaluate(
        "(f) => [f.getBoundingClientRect().height, f.contentDocument.documentElement.scrollHeight]"
    )
    assert sizes[0] > 600 and abs(sizes[0] - sizes[1]) <= 1
    assert page_errors == []


# A small newsletter as mail tools write it: nested tables, inline styles, a <style> block for
# phones, a hidden preheader, images from the sender's server, a tracking pixel.


def png(width: int, height: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> bytes:
    """A vertical gradient, as PNG bytes."""
    rows = []
    for y in range(height):
        t = y / max(height - 1, 1)
        rows.append(b"\0" + bytes(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)) * width)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


LOGO = png(160, 40, (46, 125, 50), (27, 94, 32))
NEWSLETTER_IMAGES = {
    "/hero.png": ("image/png", png(600, 240, (200, 230, 201), (56, 142, 60))),
    "/fern.png": ("image/png", png(260, 160, (165, 214, 167), (67, 160, 71))),
    "/fig.png": ("image/png", png(260, 160, (206, 147, 216), (106, 27, 154))),
}


def newsletter(server: ImageServer) -> str:
    sans = "font-family:Helvetica, Arial, sans-serif"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Fern &amp; Fig</title>
<style>
  @media (max-width: 620px) {{
    .container {{ width: 100% !important; }} .col {{ display: block !important; width: 100% !important; }}
  }}
  .button:hover {{ background-color: #1b5e20 !important; }}
</style></head>
<body style="margin:0; background-color:#f1f4ef">
<span style="display:none; max-height:0; overflow:hidden">Twenty percent off every plant until Sunday.</span>
<table width="100%" cellpadding="0" cellspacing="0" bgcolor="#f1f4ef"><tr><td align="center" style="padding:24px 12px">
  <table class="container" width="600" cellpadding="0" cellspacing="0"
    style="background-color:#ffffff; border-radius:10px; overflow:hidden; border:1px solid #e3e8df">
    <tr><td style="padding:20px 28px; border-bottom:1px solid #eef1ec">
      <img src="cid:logo@fernandfig" width="160" height="40" alt="Fern &amp; Fig" style="display:block">
    </td></tr>
    <tr><td><img src="{server.url("/hero.png")}" width="600" height="240" alt="New in: the fern collection"
      style="display:block; width:100%"></td></tr>
    <tr><td style="padding:28px 28px 8px; font-family:Georgia, 'Times New Roman', serif; color:#1b2a1c">
      <h1 style="margin:0 0 12px; font-size:28px; line-height:1.2; font-weight:normal">
        Spring is here, and so are the ferns</h1>
      <p style="margin:0 0 16px; {sans}; font-size:15px; line-height:1.6; color:#3d4a3e">
        Hello Olivia, the greenhouse is full again. For one week, everything green in the shop is
        <strong>20% off</strong>, including the maidenhair ferns you asked about.</p>
      <table cellpadding="0" cellspacing="0"><tr><td style="border-radius:6px; background-color:#2e7d32">
        <a class="button" href="https://fernandfig.test/sale" style="display:inline-block; padding:12px 22px;
          {sans}; font-size:15px; font-weight:bold; color:#ffffff; text-decoration:none; border-radius:6px;
          background-color:#2e7d32">Shop the sale</a>
      </td></tr></table>
    </td></tr>
    <tr><td style="padding:20px 16px 8px">
      <table width="100%" cellpadding="0" cellspacing="0"><tr>
        <td class="col" width="50%" valign="top" style="padding:0 12px 16px; {sans}">
          <img src="{server.url("/fern.png")}" width="260" height="160" alt="Maidenhair fern"
            style="display:block; border-radius:6px">
          <p style="margin:10px 0 2px; font-size:15px; font-weight:bold; color:#1b2a1c">Maidenhair fern</p>
          <p style="margin:0; font-size:14px; color:#5b6b5c"><s style="color:#9aa59b">€24</s> €19.20</p>
        </td>
        <td class="col" width="50%" valign="top" style="padding:0 12px 16px; {sans}">
          <img src="{server.url("/fig.png")}" width="260" height="160" alt="Fiddle-leaf fig"
            style="display:block; border-radius:6px">
          <p style="margin:10px 0 2px; font-size:15px; font-weight:bold; color:#1b2a1c">Fiddle-leaf fig</p>
          <p style="margin:0; font-size:14px; color:#5b6b5c"><s style="color:#9aa59b">€45</s> €36.00</p>
        </td>
      </tr></table>
    </td></tr>
    <tr><td style="padding:18px 28px 24px; background-color:#f7f9f6; {sans}; font-size:12px; line-height:1.5;
      color:#7b867c">
      Fern &amp; Fig · 12 Greenhouse Lane · Bristol<br>
      You receive this because you bought from us.
      <a href="https://fernandfig.test/unsubscribe" style="color:#7b867c">Unsubscribe</a>
    </td></tr>
  </table>
</td></tr></table>
<img src="{server.url("/open.gif?id=olivia")}" width="1" height="1" alt="">
</body></html>"""
