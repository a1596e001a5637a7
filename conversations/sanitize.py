"""Untrusted email HTML in, HTML that is safe to show in the message frame out.

Three nh3 (ammonia, Rust) passes:

1. the body through an allow-list made for email: tables and inline styles stay, scripts, forms,
   frames, SVG and MathML go, links open in a new tab, URLs are http/https/mailto (cid for images);
2. the `<style>` elements alone, each kept only when it cannot load anything;
3. after our images are rewritten (cid: parts to our authenticated URL, remote images to a
   placeholder or our signed proxy, tracking pixels removed), the body once more, now refusing
   any image that does not come from us. So whatever the rewriting does, the output is nh3's.

The result is shown in a sandboxed, script-less frame with its own strict CSP (see `frame_document`):
the sanitiser is one layer of three, not the only one.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit
from uuid import UUID

import nh3
from django.core import signing
from django.urls import reverse

from conversations.trackers import is_tracking_image

TAGS = frozenset(
    (  # noqa: SIM905 - a word list reads best as words
        "a abbr address article aside b bdi bdo big blockquote br caption center cite code col colgroup dd del "
        "details dfn div dl dt em figcaption figure font footer h1 h2 h3 h4 h5 h6 header hr i img ins kbd li main "
        "mark ol p pre q rp rt ruby s samp section small span strike strong sub summary sup table tbody td tfoot th "
        "thead time tr tt u ul var wbr"
    ).split()
)
# Removed together with everything inside them. Other unknown tags (form, button, html, body, ...)
# are removed but their text kept.
DROPPED_WITH_CONTENT = frozenset(
    (  # noqa: SIM905 - a word list reads best as words
        "script style svg math noscript template title textarea select option iframe frame frameset object embed "
        "applet noembed noframes xmp plaintext"
    ).split()
)
_TABLE_CELL = {"width", "height", "bgcolor", "colspan", "rowspan", "nowrap", "scope", "abbr"}
# No `id` or `name`: nothing to clobber in the frame document our page script measures.
ATTRIBUTES = {
    "*": {"style", "class", "dir", "lang", "title", "align", "valign"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height", "border", "hspace", "vspace"},
    "table": {"width", "height", "border", "cellpadding", "cellspacing", "bgcolor", "frame", "rules", "summary"},
    "tr": {"height", "bgcolor"},
    "td": _TABLE_CELL,
    "th": _TABLE_CELL,
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "font": {"color", "face", "size"},
    "hr": {"width", "size", "color", "noshade"},
    "ol": {"start", "type", "reversed"},
    "ul": {"type"},
    "li": {"value", "type"},
    "time": {"datetime"},
    "details": {"open"},
    "div": {"bgcolor"},
    "center": {"bgcolor"},
}
# Nothing that loads a resource (background, list-style, border-image, content, cursor, ...) and
# no `position`: mail stays in its own flow. Declarations whose value has url(), escapes and the
# like are dropped before nh3 sees them (`_clean_style`).
STYLE_PROPERTIES = frozenset(
    (  # noqa: SIM905 - a word list reads best as words
        """background-color border border-bottom border-bottom-color border-bottom-left-radius
    border-bottom-right-radius border-bottom-style border-bottom-width border-collapse border-color border-left
    border-left-color border-left-style border-left-width border-radius border-right border-right-color
    border-right-style border-right-width border-spacing border-style border-top border-top-color
    border-top-left-radius border-top-right-radius border-top-style border-top-width border-width box-sizing
    caption-side clear color direction display empty-cells float font font-family font-feature-settings
    font-size font-stretch font-style font-variant font-weight height letter-spacing line-height
    list-style-position list-style-type margin margin-bottom margin-left margin-right margin-top max-height
    max-width min-height min-width opacity outline outline-color outline-style outline-width overflow
    overflow-wrap overflow-x overflow-y padding padding-bottom padding-left padding-right padding-top
    table-layout text-align text-decoration text-decoration-color text-decoration-line text-decoration-style
    text-indent text-overflow text-transform unicode-bidi vertical-align visibility white-space width
    word-break word-spacing word-wrap"""
    ).split()
)
URL_SCHEMES = frozenset({"http", "https", "mailto", "cid"})
LINK_REL = "noopener noreferrer nofollow"
BLOCKED_IMAGE_CLASS = "missive-blocked-image"
PROXY_SALT = "conversations.image-proxy"
# A placeholder shows where its image came from only while the address is plainly a web address.
_MAX_SHOWN_URL = 2000

# Anything in CSS that can load a resource, run code in old engines, or hide such text from us.
_UNSAFE_CSS = re.compile(
    r"url\s*\(|image-set|image\s*\(|cross-fade|element\s*\(|paint\s*\(|src\s*\(|expression|javascript|"
    r"vbscript|behavior|binding|@import|@font-face|@namespace|\\|<",
    re.IGNORECASE,
)
# Inside the frame a positioned block cannot cover our page, but the policy is the same as inline.
_UNSAFE_STYLESHEET = re.compile(rf"{_UNSAFE_CSS.pattern}|position", re.IGNORECASE)
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.DOTALL)
# nh3 serialises every attribute as name="value" with <, >, & and " escaped, and text with <, >, &
# escaped, so in its output "<img" starts a real tag and its attributes are exactly these.
_IMG = re.compile(r'<img((?: [a-z-]+="[^"]*")*)>')
_ATTRIBUTE = re.compile(r'([a-z-]+)="([^"]*)"')
_STYLE_ELEMENT = re.compile(r"<style>(.*?)</style>", re.DOTALL)


@dataclass(frozen=True)
class SanitizedHtml:
    html: str
    blocked_remote_images: int = 0
    blocked_trackers: int = 0


def sanitize_email_html(html_source: str, *, message_id: UUID, allow_remote_images: bool) -> SanitizedHtml:
    """Safe HTML for the message frame, and what was held back: remote images, tracking pixels."""
    images = _ImageRewriter(message_id, allow_remote_images=allow_remote_images)
    body = _IMG.sub(images.rewrite, _BODY.clean(html_source))
    final = nh3.clean(
        body,
        tags=set(TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes=_FINAL_ATTRIBUTES,
        attribute_filter=images.final_attribute_filter,
        link_rel=LINK_REL,
        set_tag_attribute_values={"a": {"target": "_blank"}},
        url_schemes=set(URL_SCHEMES),
        filter_style_properties=set(STYLE_PROPERTIES),
        url_relative=images.our_relative_url,
    )
    return SanitizedHtml(_style_elements(html_source) + final, images.blocked_remote, images.blocked_trackers)


def sign_image_url(url: str) -> str:
    """The query value the image proxy accepts: it only fetches addresses we signed."""
    return signing.dumps(url, salt=PROXY_SALT, compress=True)


def unsign_image_url(value: str) -> str:
    """The address signed by `sign_image_url`; raises signing.BadSignature for anything else."""
    url = signing.loads(value, salt=PROXY_SALT)
    if not isinstance(url, str):
        raise signing.BadSignature("Not an image address.")
    return url


def _clean_style(value: str) -> str | None:
    """A style attribute without comments and without any declaration that could load something.
    Property names are lower-cased because nh3 compares them with the allow-list as written."""
    kept = []
    for declaration in _CSS_COMMENT.sub(" ", value).split(";"):
        name, colon, rest = declaration.partition(":")
        if colon and not _UNSAFE_CSS.search(declaration):
            kept.append(f"{name.strip().lower()}:{rest}")
    return ";".join(kept) or None


def _first_pass_filter(tag: str, attribute: str, value: str) -> str | None:
    return _clean_style(value) if attribute == "style" else value


_BODY = nh3.Cleaner(
    tags=set(TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes=ATTRIBUTES,
    attribute_filter=_first_pass_filter,
    link_rel=LINK_REL,
    set_tag_attribute_values={"a": {"target": "_blank"}},
    url_schemes=set(URL_SCHEMES),
    filter_style_properties=set(STYLE_PROPERTIES),
    url_relative="deny",  # "/x" and "//host/x" would resolve against our origin or load remotely
)
_FINAL_ATTRIBUTES = {**ATTRIBUTES, "img": ATTRIBUTES["img"] | {"data-blocked-src"}}

# <style> elements are found by their own pass (nh3 cannot filter whole stylesheets): everything
# else is removed, so its output is escaped text and bare <style> elements, and each block is
# checked as a whole. Styles inside SVG or MathML are markup, not CSS: dropped with their parent.
_STYLES = nh3.Cleaner(tags={"style"}, clean_content_tags=set(DROPPED_WITH_CONTENT - {"style"}), attributes={})


def _style_elements(html_source: str) -> str:
    if "<style" not in html_source.lower():
        return ""
    blocks = _STYLE_ELEMENT.findall(_STYLES.clean(html_source))
    return "".join(f"<style>{css}</style>" for css in blocks if css.strip() and not _UNSAFE_STYLESHEET.search(css))


class _ImageRewriter:
    """Rewrites each <img> of nh3's output, counting what it holds back."""

    def __init__(self, message_id: UUID, *, allow_remote_images: bool) -> None:
        self.allow_remote_images = allow_remote_images
        self.blocked_remote = 0
        self.blocked_trackers = 0
        self.part_prefix = reverse("message_inline_part", args=[message_id, "-"])[:-1]
        self.proxy_prefix = reverse("image_proxy") + "?u="

    def rewrite(self, match: re.Match[str]) -> str:
        attributes = {name: html.unescape(value) for name, value in _ATTRIBUTE.findall(match.group(1))}
        src = attributes.pop("src", "")
        if src.lower().startswith("cid:"):
            content_id = unquote(src[4:]).strip().strip("<>")
            if content_id and "/" not in content_id:
                attributes["src"] = self.part_prefix + quote(content_id, safe="@!$&'()*+,;=:~")
        elif src.lower().startswith(("http:", "https:")):
            if is_tracking_image({**attributes, "src": src}):
                self.blocked_trackers += 1
                return ""
            if self.allow_remote_images:
                attributes["src"] = self.proxy_prefix + quote(sign_image_url(src), safe="")
            else:
                self.blocked_remote += 1
                attributes["class"] = BLOCKED_IMAGE_CLASS
                if len(src) <= _MAX_SHOWN_URL and urlsplit(src).hostname:
                    attributes["data-blocked-src"] = src
        serialized = "".join(f' {name}="{html.escape(value)}"' for name, value in attributes.items())
        return f"<img{serialized}>"

    def our_relative_url(self, url: str) -> str | None:
        return url if url.startswith((self.part_prefix, self.proxy_prefix)) else None

    def final_attribute_filter(self, tag: str, attribute: str, value: str) -> str | None:
        if attribute == "style":
            return _clean_style(value)
        if attribute == "src":  # only images we serve, whatever happened above
            return self.our_relative_url(value)
        return value


# The frame's own policy. Images come only from our origin (inline parts and the proxy); no
# scripts, fonts, frames, forms or <base>. The page's policy applies in the frame as well.
FRAME_CSP = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; font-src 'none'; "
    "form-action 'none'; base-uri 'none'"
)
# Mail is written for a white page; this gives it a readable default without overriding its own styles.
FRAME_STYLESHEET = """
html { color-scheme: light; background: #fff; }
body { margin: 0; display: flow-root; font: 14px/1.55 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto,
  "Helvetica Neue", Arial, sans-serif; color: #1f2430; overflow-wrap: anywhere; }
img { max-width: 100%; height: auto; }
table { max-width: 100%; }
td, th { overflow-wrap: normal; }
a { color: #2f6fed; }
pre { white-space: pre-wrap; }
blockquote { margin: 0.6em 0 0.6em 0.4em; padding-left: 0.9em; border-left: 3px solid #d8dce6; color: #4b5263; }
img.missive-blocked-image { display: inline-block; min-width: 24px; min-height: 24px; vertical-align: middle;
  background: #eef0f5 linear-gradient(135deg, #eef0f5 25%, #e4e7ee 25%, #e4e7ee 50%, #eef0f5 50%, #eef0f5 75%,
  #e4e7ee 75%) 0 0 / 16px 16px; outline: 1px dashed #c3c9d6; outline-offset: -1px; font-size: 12px;
  color: #6b7385; }
""".strip()


def frame_document(body_html: str) -> str:
    """The whole document of a message frame (its `srcdoc`), around sanitised HTML."""
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{FRAME_CSP}">'
        '<meta name="referrer" content="no-referrer">'
        f"<style>{FRAME_STYLESHEET}</style></head><body>{body_html}</body></html>"
    )


# What we send: the same allowlist as what we show, without our own image rewriting (remote
# images in a signature stay remote: the recipient's client decides), and no rel/target changes.
_OUTGOING = nh3.Cleaner(
    tags=set(TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes=ATTRIBUTES,
    url_schemes=set(URL_SCHEMES),
    filter_style_properties=set(STYLE_PROPERTIES),
    link_rel=None,
)


def clean_outgoing_html(html_source: str) -> str:
    """Clean HTML for an outgoing email: drafts, signatures and canned responses are user HTML."""
    return _OUTGOING.clean(html_source)


def sanitize_composed_html(html_source: str) -> str:
    """HTML written in our composer, before it is stored or sent: the same allow-list as mail we
    receive (pasted markup, a co-writer's crafted update), images only from web or cid: URLs."""
    return _BODY.clean(html_source)
