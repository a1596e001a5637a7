"""Message parts served safely: the body partial, cid: parts, the raw .eml and the image proxy."""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest
from django.urls import reverse

from conversations import mail_views
from conversations.incoming import IncomingAttachment
from conversations.models import Message
from conversations.sanitize import sign_image_url
from conversations.templatetags import mail
from tests.conftest import login
from tests.factories import receive

# The smallest valid PNG: one transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002"
    "00000500010d0a2db40000000049454e44ae426082"
)


class ImageServer:
    """A tiny HTTP server on 127.0.0.1 that stands for the outside world and counts its visitors."""

    def __init__(self, files: dict[str, tuple[str, bytes]] | None = None) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.files = files or {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                owner.requests.append((self.path, dict(self.headers)))
                if self.path.startswith("/redirect-to-file"):
                    self.send_response(302)
                    self.send_header("Location", "file:///etc/passwd")
                    self.end_headers()
                    return
                if self.path.startswith("/redirect"):
                    self.send_response(302)
                    self.send_header("Location", "/logo.png")
                    self.end_headers()
                    return
                content_type, body = {
                    **owner.files,
                    "/page.html": ("text/html", b"<script>alert(1)</script>"),
                    "/drawing.svg": ("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
                    "/huge.png": ("image/png", PNG + b"\0" * (mail_views.PROXY_MAX_BYTES + 1)),
                }.get(self.path.split("?")[0], ("image/png", PNG))
                self.send_response(404 if self.path.startswith("/missing") else 200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def __enter__(self) -> ImageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def image_server() -> Iterator[ImageServer]:
    with ImageServer() as server:
        yield server


def proxy_url(url: str) -> str:
    return reverse("image_proxy") + "?u=" + quote(sign_image_url(url), safe="")


def message_with_parts(cast, **kwargs):
    return receive(
        cast.support_account,
        subject="Your invoice",
        body_html='<p>Hi</p><img src="cid:logo@acme.test" alt="Logo">',
        attachments=[
            IncomingAttachment("logo.png", "image/png", PNG, content_id="logo@acme.test", is_inline=True),
            IncomingAttachment("page.html", "text/html", b"<script>alert(1)</script>", content_id="page"),
            IncomingAttachment("art.svg", "image/svg+xml", b"<svg onload='alert(1)'/>", content_id="<art@x>"),
        ],
        **kwargs,
    )


def srcdoc(page: str) -> str:
    match = re.search(r'srcdoc="([^"]*)"', page)
    assert match, "no message frame"
    return html.unescape(match.group(1))


# The body partial


def test_html_bodies_render_in_a_script_less_sandboxed_frame(owner_client, cast):
    message = receive(cast.support_account, body_html="<p>Hello <b>there</b></p><script>alert(1)</script>")

    page = owner_client.get(reverse("message_body", args=[message.id])).content.decode()

    frame = re.search(r"<iframe [^>]*>", page).group(0)
    assert 'sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"' in frame
    assert "allow-scripts" not in frame
    document = srcdoc(page)
    assert "<body><p>Hello <b>there</b></p></body>" in document
    assert "Content-Security-Policy" in document and "<script" not in document


def test_the_conversation_view_shows_the_frame(owner_client, cast):
    message = receive(cast.support_account, subject="Newsletter", body_html="<h1>Spring</h1>")

    page = owner_client.get(reverse("conversation", args=["all", message.conversation_id])).content.decode()

    assert "<h1>Spring</h1>" in srcdoc(page)


def test_text_bodies_are_escaped_with_links(owner_client, cast):
    message = receive(cast.support_account, body='<b>bold?</b>\nSee https://example.com/a?b=1&c=2 "now"')

    page = owner_client.get(reverse("message_body", args=[message.id])).content.decode()

    assert "&lt;b&gt;bold?&lt;/b&gt;<br>See " in page
    assert '<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer nofollow">' in page
    assert "<iframe" not in page


def test_text_without_links_is_escaped_as_the_urlizer_would():
    texts = ["<b>bold?</b> \"quoted\" & 'single'.\nThanks, Anna", "ratio 3:4, a.b and (c)", "Hi,\n\nsee you."]
    for text in texts:
        assert not mail._LINKABLE.search(text)
        body = mail.message_body(Message(body_text=text))
        assert body.text_html == mail._urlize(text, nofollow=False, autoescape=True).replace("\n", "<br>")
    for linkable in ["https://x.test", "www.example.fr", "example.org/a", "anna@acme.test", "HTTP://X.TEST"]:
        assert mail._LINKABLE.search(linkable)


def test_blocked_remote_images_offer_to_show_them(owner_client, cast):
    message = receive(
        cast.support_account,
        body_html='<img src="https://cdn.shop.test/hero.png" width="600"><img src="https://mailtrack.io/t.png">',
    )
    url = reverse("message_body", args=[message.id])

    page = owner_client.get(url).content.decode()
    with_images = owner_client.get(url + "?images=1").content.decode()

    assert "Remote images are hidden to protect your privacy." in page
    assert f'hx-get="{url}?images=1"' in page and "1 tracker blocked" in page
    assert "data-blocked-src" in srcdoc(page) and "/img-proxy/" not in srcdoc(page)
    assert "/img-proxy/?u=" in srcdoc(with_images) and "mailtrack" not in srcdoc(with_images)
    assert "Remote images are hidden" not in with_images


def test_unparseable_mail_is_shown_raw_and_escaped(owner_client, cast):
    raw = b"From: <script>alert(1)</script>\r\nSubject: broken\r\n\r\n<img src=x onerror=alert(1)> \xff\xfe"
    message = receive(cast.support_account, body="", parse_error="Headers are malformed.", raw=raw)

    page = owner_client.get(reverse("message_body", args=[message.id])).content.decode()

    assert "This message could not be read; here is its raw content." in page
    assert '<pre class="mail-raw">From: &lt;script&gt;alert(1)&lt;/script&gt;' in page
    assert "&lt;img src=x onerror=alert(1)&gt; \ufffd\ufffd</pre>" in page
    assert f'href="{reverse("message_raw", args=[message.id])}"' in page


def test_the_body_is_not_served_to_other_tenants_or_strangers(client, cast):
    message = receive(cast.support_account, body_html="<p>Secret</p>")
    url = reverse("message_body", args=[message.id])

    assert login(client, cast.outsider).get(url).status_code == 404
    client.logout()
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response.url


# Inline parts


def test_inline_image_parts_are_served_inline_with_protective_headers(owner_client, cast):
    message = message_with_parts(cast)

    response = owner_client.get(reverse("message_inline_part", args=[message.id, "logo@acme.test"]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert not response.get("Content-Disposition", "").startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("default-src 'none'")
    assert response["Cache-Control"].startswith("private")


def test_content_ids_match_whatever_their_case(owner_client, cast):
    message = message_with_parts(cast)

    response = owner_client.get(reverse("message_inline_part", args=[message.id, "LOGO@Acme.test"]))

    assert response.status_code == 200 and response["Content-Type"] == "image/png"


@pytest.mark.parametrize("content_id", ["page", "art@x"])
def test_parts_that_are_not_raster_images_are_downloads(owner_client, cast, content_id):
    message = message_with_parts(cast)

    response = owner_client.get(reverse("message_inline_part", args=[message.id, content_id]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_frame_refers_to_inline_parts_by_our_url(owner_client, cast):
    message = message_with_parts(cast)

    page = owner_client.get(reverse("message_body", args=[message.id])).content.decode()

    assert f'src="{reverse("message_inline_part", args=[message.id, "logo@acme.test"])}"' in srcdoc(page)


def test_inline_parts_are_not_served_to_other_tenants(client, cast):
    message = message_with_parts(cast)
    login(client, cast.outsider)

    response = client.get(reverse("message_inline_part", args=[message.id, "logo@acme.test"]))

    assert response.status_code == 404


def test_a_part_of_another_message_is_not_found(owner_client, cast):
    message_with_parts(cast)
    other = receive(cast.support_account, subject="Other")

    response = owner_client.get(reverse("message_inline_part", args=[other.id, "logo@acme.test"]))

    assert response.status_code == 404


# The original .eml


def test_the_original_downloads_as_an_eml_attachment(owner_client, cast):
    raw = b"From: a@b.test\r\nSubject: Hello\r\n\r\n<script>alert(1)</script>"
    message = receive(cast.support_account, subject="Quarterly report: Q1", raw=raw)

    response = owner_client.get(reverse("message_raw", args=[message.id]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == raw
    assert response["Content-Disposition"] == 'attachment; filename="quarterly-report-q1.eml"'
    assert response["Content-Type"] == "message/rfc822"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_original_is_not_served_to_other_tenants(client, cast):
    message = receive(cast.support_account, raw=b"Subject: x\r\n\r\nx")

    response = login(client, cast.outsider).get(reverse("message_raw", args=[message.id]))

    assert response.status_code == 404


def test_a_message_without_an_original_has_nothing_to_download(owner_client, cast):
    message = receive(cast.support_account)

    assert owner_client.get(reverse("message_raw", args=[message.id])).status_code == 404


# The image proxy


def test_the_proxy_needs_a_login(client, cast, image_server):
    response = client.get(proxy_url(image_server.url("/logo.png")))

    assert response.status_code == 302 and image_server.requests == []


@pytest.mark.parametrize("value", ["", "http://127.0.0.1/logo.png", "not:signed"])
def test_the_proxy_refuses_addresses_we_did_not_sign(owner_client, value):
    response = owner_client.get(reverse("image_proxy"), {"u": value})

    assert response.status_code == 404


def test_the_proxy_refuses_a_tampered_address(owner_client, image_server, settings):
    settings.IMAGE_PROXY_ALLOW_PRIVATE = True
    signed = sign_image_url(image_server.url("/logo.png"))
    payload, rest = signed.split(":", 1)
    forged = sign_image_url(image_server.url("/other.png")).split(":", 1)[0] + ":" + rest

    response = owner_client.get(reverse("image_proxy"), {"u": forged})

    assert response.status_code == 404 and image_server.requests == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_proxy_refuses_private_addresses_by_default(owner_client, image_server, host):
    response = owner_client.get(proxy_url(image_server.url("/logo.png", host=host)))

    assert response.status_code == 403
    assert image_server.requests == []


def test_the_proxy_fetches_public_images_without_our_cookies(owner_client, image_server, settings):
    settings.IMAGE_PROXY_ALLOW_PRIVATE = True  # the test server stands for a public one

    response = owner_client.get(proxy_url(image_server.url("/logo.png?id=7")))

    assert response.status_code == 200
    assert response.content == PNG
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("default-src 'none'")
    assert response["Cache-Control"].startswith("private")
    ((path, headers),) = image_server.requests
    assert path == "/logo.png?id=7"
    assert "Cookie" not in headers and "Referer" not in headers
    assert headers["User-Agent"] == "Missive image proxy"


def test_the_proxy_follows_a_redirect_to_another_image(owner_client, image_server, settings):
    settings.IMAGE_PROXY_ALLOW_PRIVATE = True

    response = owner_client.get(proxy_url(image_server.url("/redirect")))

    assert response.status_code == 200 and response.content == PNG
    assert image_server.paths() == ["/redirect", "/logo.png"]


@pytest.mark.parametrize("path", ["/page.html", "/drawing.svg", "/huge.png", "/missing.png", "/redirect-to-file"])
def test_the_proxy_passes_only_raster_images_of_bounded_size(owner_client, image_server, settings, path):
    settings.IMAGE_PROXY_ALLOW_PRIVATE = True

    response = owner_client.get(proxy_url(image_server.url(path)))

    assert response.status_code == 502
    assert response["Content-Type"].startswith("text/plain")
    assert b"<script" not in response.content


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x.png", "data:image/png;base64,AAAA"])
def test_the_proxy_fetches_only_web_addresses(owner_client, settings, url):
    settings.IMAGE_PROXY_ALLOW_PRIVATE = True

    assert owner_client.get(proxy_url(url)).status_code == 502


def test_a_public_name_resolving_to_a_private_address_is_refused(owner_client, image_server, monkeypatch):
    """A public name that answers with a private address is refused where we connect."""
    monkeypatch.setattr(
        mail_views.socket,
        "getaddrinfo",
        lambda host, port, **kw: [
            (mail_views.socket.AF_INET, mail_views.socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))
        ],
    )

    response = owner_client.get(proxy_url(image_server.url("/logo.png", host="images.example.com")))

    assert response.status_code == 403 and image_server.requests == []
