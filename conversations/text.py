"""Plain text from HTML: previews, search, and the text part of outgoing mail.

No Django here: the email parser processes import it."""

from __future__ import annotations

import html
import re

_SPACES = re.compile(r"\s+")
# A tag's attributes: quoted values may hold ">", nothing may hold "<". So a match that starts at
# one "<" never scans past the next, which keeps the scan linear on broken markup.
_ATTRIBUTES = r"""([^<>"']*(?:(?:"[^"<]*"|'[^'<]*')[^<>"']*)*)"""
_TAG = re.compile(r"<!--.*?(?:-->|\Z)|<(/?)([a-zA-Z][a-zA-Z0-9]*)" + _ATTRIBUTES + r">|<[!?][^<>]*>", re.DOTALL)
_SKIPPED_UNTIL_END = {
    name: re.compile(rf"</{name}\b[^>]*>", re.IGNORECASE) for name in ("script", "style", "title", "template")
}
_LINE_BREAKING = frozenset(
    (  # noqa: SIM905 - a word list reads best as words
        "address article aside blockquote br div dl dt dd footer form h1 h2 h3 h4 h5 h6 header hr "
        "ol p pre section table tr ul"
    ).split()
)
_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(html_source: str) -> str:
    """Readable text from HTML, for previews and search: tags gone, blocks and <br> as line breaks,
    entities decoded, scripts and styles dropped."""
    pieces: list[str] = []
    preformatted = False
    position = 0
    while (tag := _TAG.search(html_source, position)) is not None:
        _add_text(pieces, html_source[position : tag.start()], preformatted)
        position = tag.end()
        name = (tag.group(2) or "").lower()
        closing = bool(tag.group(1))
        if name in _SKIPPED_UNTIL_END and not closing:
            # Their content is not markup ("if (a<b)"): jump straight to the end tag.
            end = _SKIPPED_UNTIL_END[name].search(html_source, position)
            position = end.end() if end else len(html_source)
        elif name == "li":
            pieces.append("" if closing else "\n- ")
        elif name in _LINE_BREAKING:
            pieces.append("\n")
            if name == "pre":
                preformatted = not closing
        elif name in ("td", "th") and not closing:
            pieces.append(" ")
    _add_text(pieces, html_source[position:], preformatted)
    lines = (line.strip() for line in "".join(pieces).split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _add_text(pieces: list[str], text: str, preformatted: bool) -> None:
    if text:
        if not preformatted:
            text = _SPACES.sub(" ", text)
        pieces.append(html.unescape(text).replace("\xa0", " "))
