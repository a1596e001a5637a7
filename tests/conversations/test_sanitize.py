"""The email HTML sanitiser: what survives, what is rewritten, what never leaves it."""

from __future__ import annotations

import time
import uuid
from html.parser import HTMLParser
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.core import signing
from django.urls import reverse

from conversations.sanitize import (
    ATTRIBUTES,
    BLOCKED_IMAGE_CLASS,
    TAGS,
    frame_document,
    sanitize_email_html,
    unsign_image_url,
)

MESSAGE_ID = uuid.UUID("6f1c1b43-8c43-4d7e-9a0b-0a2f4f7b9c11")

# Each tries to run script, load something from {marker}, or navigate; as message bodies they are
# also opened in real Chromium by tests/browser/test_mail_safety.py. `{marker}` is a URL prefix.
XSS_BODIES = [
    "<script>window.parent.__pwned = true; alert(1)</script>",
    "<SCRIPT SRC={marker}/script.js></SCRIPT>",
    '<img src=x onerror="window.parent.__pwned = true">',
    '<img src="{marker}/img.png" onload="alert(\'loaded\')">',
    '<body onload="window.parent.__pwned = true"><p onmouseover="alert(1)">hover me</p></body>',
    '<svg onload="window.parent.__pwned = true"><script>alert(1)</script></svg>',
    '<svg><a xlink:href="javascript:alert(1)"><text x=20 y=20>click svg</text></a><animate onbegin=alert(1)>',
    '<a href="javascript:window.parent.__pwned = true">click me</a>',
    '<a href="JaVaScRiPt:alert(1)">click me</a><a href="  java&#x09;script:alert(1)">click me</a>',
    '<a href="&#106;avascript:alert(1)">click me</a><a href="vbscript:msgbox(1)">click me</a>',
    '<a href="data:text/html,<script>alert(1)</script>">click me</a>',
    '<img src="data:image/svg+xml,<svg xmlns=%22http://www.w3.org/2000/svg%22 onload=%22alert(1)%22/>">',
    '<iframe src="javascript:parent.parent.__pwned = true"></iframe>',
    '<iframe srcdoc="<script>parent.parent.__pwned = true</script>"></iframe>',
    '<object data="javascript:alert(1)"></object><embed src="{marker}/embed.swf">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<meta http-equiv="refresh" content="0;url={marker}/refresh">',
    '<base href="{marker}/"><a href="relative">click me</a>',
    '<link rel="stylesheet" href="{marker}/style.css">',
    '<form action="{marker}/form" method="post"><input name="q" value="x"><button>Send</button></form>',
    '<button formaction="{marker}/formaction">click me</button><input type="image" src="{marker}/input.png">',
    '<div style="background: url({marker}/bg.png)">css url</div>',
    '<div style="background-image: u\\72l({marker}/escaped.png)">escaped css url</div>',
    '<div style="width: expression(alert(1)); behavior: url(x.htc)">expression</div>',
    "<style>@import url({marker}/import.css); body {{ background: url({marker}/body.png) }}</style>",
    "<style>li {{ list-style-image: url({marker}/list.png) }}</style><ul><li>item</li></ul>",
    '<table background="{marker}/table.png"><tr><td background="{marker}/td.png">cell</td></tr></table>',
    '<img srcset="{marker}/srcset.png 1x"><video poster="{marker}/poster.png"><source src="{marker}/v.mp4"></video>',
    '<noscript><p title="</noscript><img src=x onerror=window.parent.__pwned=true>"></noscript>',
    "<math><mtext><table><mglyph><style><img src=x onerror=window.parent.__pwned=true></style></mglyph></table>",
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=window.parent.__pwned=true>",
    '<svg></p><style><a id="</style><img src=1 onerror=window.parent.__pwned=true>">',
    '<details open ontoggle="window.parent.__pwned = true"><summary>s</summary></details>',
    '<input autofocus onfocus="window.parent.__pwned = true"><marquee onstart="alert(1)">m</marquee>',
    '<a href="https://example.invalid/" ping="{marker}/ping" target="_top">click me</a>',
    '<img src="x` onerror=window.parent.__pwned=true">',
    "<template><img src=x onerror=alert(1)></template><textarea><img src=x onerror=alert(1)></textarea>",
    '<p title="<img src=x onerror=window.parent.__pwned=true>">attribute</p>',
]


class _Inspector(HTMLParser):
    """Everything a browser would see in sanitised output: tags, attributes, style text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.stylesheets: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.stylesheets.append(data)


def inspect(html: str) -> _Inspector:
    inspector = _Inspector()
    inspector.feed(html)
    inspector.close()
    return inspector


def assert_inert(html: str) -> None:
    """Only allowed tags and attributes, nothing that runs, only our images, only safe links."""
    our_images = (reverse("message_inline_part", args=[MESSAGE_ID, "-"])[:-1], reverse("image_proxy") + "?u=")
    inspector = inspect(html)
    for tag, attributes in inspector.tags:
        assert tag in TAGS or tag == "style", tag
        for name, value in attributes.items():
            allowed = ATTRIBUTES["*"] | ATTRIBUTES.get(tag, set()) | {"target", "rel", "data-blocked-src"}
            assert name in allowed, (tag, name)
            lowered = value.lower()
            assert "javascript" not in lowered and "expression" not in lowered and "url(" not in lowered
        if "src" in attributes:
            assert attributes["src"].startswith(our_images), attributes["src"]
        if "href" in attributes:
            assert urlsplit(attributes["href"]).scheme in ("http", "https", "mailto"), attributes["href"]
        if tag == "a":
            assert attributes["target"] == "_blank"
            assert attributes["rel"] == "noopener noreferrer nofollow"
    for css in inspector.stylesheets:
        assert "url(" not in css and "@import" not in css and "expression" not in css


def clean(html: str, *, allow_remote_images: bool = False) -> str:
    return sanitize_email_html(html, message_id=MESSAGE_ID, allow_remote_images=allow_remote_images).html


@pytest.mark.parametrize("body", XSS_BODIES)
@pytest.mark.parametrize("allow_remote_images", [False, True])
def test_attack_corpus_comes_out_inert(body, allow_remote_images):
    html = clean(body.format(marker="https://attacker.test"), allow_remote_images=allow_remote_images)

    assert_inert(html)


def test_newsletter_layout_survives():
    html = clean(
        '<table width="600" cellpadding="0" cellspacing="0" bgcolor="#ffffff" align="center">'
        '<tr><td style="padding: 24px; font-family: Georgia, serif; color: #333;" valign="top">'
        '<h1 style="font-size: 28px; margin: 0 0 12px">Spring news</h1><p>Read <b>all</b> about it.</p>'
        "</td></tr></table>"
    )

    assert '<table width="600" cellpadding="0" cellspacing="0" bgcolor="#ffffff" align="center">' in html
    assert '<td style="padding:24px;font-family:Georgia , serif;color:#333" valign="top">' in html
    assert '<h1 style="font-size:28px;margin:0 0 12px">Spring news</h1><p>Read <b>all</b> about it.</p>' in html


def test_inline_styles_keep_safe_properties_only():
    html = clean(
        '<p style="COLOR: red; position: fixed; top: 0; z-index: 9; background: url(https://t.test/x.png) red; '
        'background-color: #fff; list-style: url(https://t.test/y.png); cursor: url(https://t.test/c.cur), auto">x</p>'
    )

    assert html == '<p style="color:red;background-color:#fff">x</p>'


def test_css_comments_and_escapes_cannot_smuggle_a_url():
    html = clean('<p style="background-color: ur/**/l(https://t.test/a); color: u\\72l(https://t.test/b)">x</p>')

    assert "t.test" not in html and "url" not in html


def test_links_open_in_a_new_tab_without_opener_or_referrer():
    html = clean('<a href="https://example.com/offer" target="_top" rel="opener">Offer</a>')

    assert html == ('<a href="https://example.com/offer" target="_blank" rel="noopener noreferrer nofollow">Offer</a>')


def test_only_web_and_mail_links_are_kept():
    html = clean(
        '<a href="mailto:sales@example.com">mail</a><a href="/settings/">relative</a>'
        '<a href="//evil.test/">protocol-relative</a><a href="ftp://files.test/">ftp</a><a href="#top">fragment</a>'
    )

    assert 'href="mailto:sales@example.com"' in html
    assert html.count("href=") == 1


def test_cid_images_point_at_the_authenticated_part_url():
    html = clean('<img src="cid:logo%40acme.test" alt="Acme"><img src="cid:<photo.jpg@01D>">')

    part = reverse("message_inline_part", args=[MESSAGE_ID, "logo@acme.test"])
    assert f'src="{part}"' in html
    assert reverse("message_inline_part", args=[MESSAGE_ID, "photo.jpg@01D"]) in html


def test_cid_with_a_slash_is_not_turned_into_a_path():
    html = clean('<img src="cid:../../img-proxy/" alt="x">')

    assert "src=" not in html


def test_remote_images_become_placeholders_that_keep_their_size():
    result = sanitize_email_html(
        '<img src="https://cdn.shop.test/hero.jpg" width="600" height="300" alt="Our spring range">',
        message_id=MESSAGE_ID,
        allow_remote_images=False,
    )

    assert result.blocked_remote_images == 1
    assert result.html == (
        f'<img width="600" height="300" alt="Our spring range" class="{BLOCKED_IMAGE_CLASS}" '
        'data-blocked-src="https://cdn.shop.test/hero.jpg">'
    )


def test_a_placeholder_shows_its_source_only_when_it_is_a_plain_web_address():
    long_url = "https://cdn.shop.test/" + "a" * 3000

    html = clean(f'<img src="{long_url}" width="10" height="10">')

    assert "data-blocked-src" not in html and BLOCKED_IMAGE_CLASS in html


def test_allowed_remote_images_load_through_our_signed_proxy():
    result = sanitize_email_html(
        '<img src="https://cdn.shop.test/hero.jpg?size=2&amp;v=1" width="600">',
        message_id=MESSAGE_ID,
        allow_remote_images=True,
    )

    src = inspect(result.html).tags[0][1]["src"]
    path, query = src.split("?", 1)
    assert path == reverse("image_proxy")
    assert unsign_image_url(parse_qs(query)["u"][0]) == "https://cdn.shop.test/hero.jpg?size=2&v=1"
    assert result.blocked_remote_images == 0


def test_a_tampered_proxy_address_does_not_verify():
    src = inspect(clean('<img src="https://cdn.shop.test/a.png">', allow_remote_images=True)).tags[0][1]["src"]
    signed = unquote(src.split("u=", 1)[1])

    with pytest.raises(signing.BadSignature):
        unsign_image_url(signed[:-1] + ("B" if signed.endswith("A") else "A"))
    with pytest.raises(signing.BadSignature):
        unsign_image_url(signing.dumps("https://elsewhere.test/x.png"))  # signed, but not for the proxy


@pytest.mark.parametrize(
    "pixel",
    [
        '<img src="https://news.shop.test/open/abc.gif" width="1" height="1">',
        '<img src="https://news.shop.test/open/abc.gif" width="0" height="0" alt="">',
        '<img src="https://news.shop.test/o.gif" style="width:1px;height:1px">',
        '<img src="https://news.shop.test/o.gif" style="display: none" width="300">',
        '<img src="https://news.shop.test/o.gif" style="visibility:hidden">',
        '<img src="https://mailtrack.io/trace/mail/abc.png" width="40" height="40">',
        '<img src="https://us5.list-manage.com/track/open.php?u=1&amp;id=2">',
        '<img src="https://pixel.shop.test/p.png">',
    ],
)
@pytest.mark.parametrize("allow_remote_images", [False, True])
def test_tracking_pixels_are_always_removed_and_never_proxied(pixel, allow_remote_images):
    result = sanitize_email_html(f"<p>Hello</p>{pixel}", message_id=MESSAGE_ID, allow_remote_images=allow_remote_images)

    assert result.html == "<p>Hello</p>"
    assert result.blocked_trackers == 1
    assert result.blocked_remote_images == 0


def test_inline_pixels_are_not_trackers():
    result = sanitize_email_html(
        '<img src="cid:spacer" width="1" height="1">', message_id=MESSAGE_ID, allow_remote_images=False
    )

    assert result.blocked_trackers == 0 and "/cid/spacer" in result.html


def test_harmless_style_elements_are_kept():
    html = clean(
        "<html><head><style>@media (max-width: 600px) { .col { width: 100% !important } } "
        'a > b { color: red }</style></head><body><p class="col">x</p></body></html>'
    )

    assert html == (
        "<style>@media (max-width: 600px) { .col { width: 100% !important } } a > b { color: red }</style>"
        '<p class="col">x</p>'
    )


@pytest.mark.parametrize(
    "css",
    [
        "body { background: url(https://t.test/a.png) }",
        "@import 'https://t.test/a.css';",
        "p { width: expression(alert(1)) }",
        "p { background: u\\72l(https://t.test/a.png) }",
        "@font-face { font-family: x; src: local(x) }",
        "div { position: fixed; inset: 0 }",
    ],
)
def test_style_elements_that_load_or_escape_are_removed(css):
    assert clean(f"<style>{css}</style><p>x</p>") == "<p>x</p>"


def test_styles_inside_svg_and_math_are_not_css():
    assert clean("<svg><style>p { color: red }</style></svg><math><style>p{}</style></math><p>x</p>") == "<p>x</p>"


def test_text_markup_inside_attributes_stays_text():
    html = clean('<p title="<img src=https://t.test/x.png>">x</p>', allow_remote_images=True)

    assert html == '<p title="&lt;img src=https://t.test/x.png&gt;">x</p>'


def test_frame_document_declares_its_policy_before_any_content():
    document = frame_document("<p>Hello</p>")

    head = document.split("<body>", 1)[0]
    assert "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src 'self';" in head
    assert "form-action 'none'; base-uri 'none'" in head
    assert document.endswith("<body><p>Hello</p></body></html>")


def test_a_large_newsletter_sanitises_quickly():
    block = (
        '<table width="100%"><tr><td style="padding:8px;color:#333"><img src="https://cdn.shop.test/p{n}.jpg" '
        'width="120" height="80" alt="Product {n}"><a href="https://shop.test/p/{n}">Product {n}</a> '
        '<span style="font-weight:bold">$19.99</span></td></tr></table>'
    )
    html = "".join(block.format(n=n) for n in range(2000))  # about 600 kB
    started = time.perf_counter()

    result = sanitize_email_html(html, message_id=MESSAGE_ID, allow_remote_images=True)

    assert time.perf_counter() - started < 1.5
    assert result.html.count("/img-proxy/?u=") == 2000
