"""The chat's markdown-like formatting (seed: "Comment formatting"), rendered to safe HTML.

Comments are written by teammates but shown to everyone with access, so the text is escaped
first and only the markup below is added: bold `*x*` or `**x**`, italic `_x_` or `__x__`,
strikethrough `~x~` or `~~x~~`, code in backticks, `[text](url)` links (http, https and mailto
only), a line starting with `>` quotes that paragraph, a line starting with `>>` quotes everything
after it, and @mentions stand out.
"""

from __future__ import annotations

import re
from html import escape

from django.utils.safestring import SafeString, mark_safe

# Applied to escaped text, so the patterns see &amp; &lt; &gt; &quot; &#x27; instead of & < > " '.
CODE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\[([^\]\n]+)\]\(((?:https?://|mailto:)[^\s()]+)\)")
STYLES = [
    (re.compile(r"(?<![\w*])\*\*(?=\S)(.+?)(?<=\S)\*\*(?![\w*])"), "strong"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), "strong"),
    (re.compile(r"(?<![\w_])__(?=\S)(.+?)(?<=\S)__(?![\w_])"), "em"),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), "em"),
    (re.compile(r"(?<![\w~])~~(?=\S)(.+?)(?<=\S)~~(?![\w~])"), "del"),
    (re.compile(r"(?<![\w~])~(?=\S)(.+?)(?<=\S)~(?![\w~])"), "del"),
]
# An @ then a handle, not after a letter, digit, dot or @: an email address is no mention.
MENTION = re.compile(r"(?<![\w@.])@([\w][\w.\-]*[\w]|[\w])")
PLACEHOLDER = "\x00{}\x00"


def format_comment(body: str) -> SafeString:
    """The comment as HTML: paragraphs and line breaks kept, quotes as <blockquote>."""
    blocks: list[str] = []
    lines = body.replace("\r\n", "\n").split("\n")
    for index, line in enumerate(lines):
        if line.startswith(">>"):
            rest = "\n".join([line[2:].lstrip(), *lines[index + 1 :]])
            blocks.append(f'<blockquote class="full-quote">{_inline_lines(rest)}</blockquote>')
            break
        if line.startswith(">"):
            blocks.append(f"<blockquote>{_inline(line[1:].lstrip())}</blockquote>")
        else:
            blocks.append(_inline(line) + "<br>")
    html = "".join(blocks)
    return mark_safe(html.removesuffix("<br>"))  # noqa: S308 - built from escaped text above


def _inline_lines(text: str) -> str:
    return "<br>".join(_inline(line) for line in text.split("\n"))


def _inline(text: str) -> str:
    """One line: escaped, then code spans (left as typed), links, styles and mentions."""
    kept: list[str] = []

    def keep(html: str) -> str:
        kept.append(html)
        return PLACEHOLDER.format(len(kept) - 1)

    html = escape(text.replace("\x00", ""))
    html = CODE.sub(lambda m: keep(f"<code>{m.group(1)}</code>"), html)
    html = LINK.sub(
        lambda m: keep(f'<a href="{m.group(2)}" target="_blank" rel="noopener noreferrer">{m.group(1)}</a>'), html
    )
    for pattern, tag in STYLES:
        html = pattern.sub(rf"<{tag}>\1</{tag}>", html)
    html = MENTION.sub(lambda m: f'<span class="mention">@{m.group(1)}</span>', html)
    return re.sub("\x00(\\d+)\x00", lambda m: kept[int(m.group(1))], html)
