"""Co-writing a draft's body: the Yjs document kept with pycrdt, its HTML, and the live relay.

Every open editor (static/js/editor.js) holds a Yjs document bound to its TipTap editor. Local
changes go to the server as Yjs updates (`do_apply_draft_update`): under a row lock on the draft
they are merged into `Draft.ydoc` with pycrdt, the body HTML is rendered from the merged
document (so what is sent never depends on a browser being open), and once the transaction
commits the update is published on the draft's Redis channel. Every editor of the draft holds a
server-sent-events stream of that channel (`cowrite_views.stream`) and applies what it receives.
A CRDT merge is commutative and idempotent: updates may arrive late, twice or out of order.

Awareness (each person's cursor, selection, name and colour) goes through the same channel and
is never stored.

The document is what TipTap's Collaboration extension writes: one XmlFragment named "default",
whose elements are ProseMirror nodes (paragraph, heading, bulletList, ...) and whose texts carry
the marks as formatting attributes (bold, italic, link {href}, ...).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
from typing import Any, cast
from uuid import UUID

from django.db import transaction
from django.utils import timezone
from pycrdt import Decoder, Doc, XmlElement, XmlFragment, XmlText, get_update

from conversations import live
from conversations.models import Draft, DraftStatus
from conversations.sanitize import sanitize_composed_html
from inboxes.models import User

logger = logging.getLogger(__name__)

FRAGMENT = "default"
# Only a draft being written (or waiting for its send-later time) can still be changed.
EDITABLE = (DraftStatus.EDITING, DraftStatus.SCHEDULED)
# Cursor colours, picked per person so everyone sees the same colour for the same co-writer.
COLOURS = ("#2f6fed", "#d9480f", "#2b8a3e", "#ae3ec9", "#e8590c", "#1098ad", "#c2255c", "#5f3dc4")


class InvalidUpdate(ValueError):
    """Bytes that are not a Yjs update."""


class MissingHistory(Exception):
    """An update building on changes the server never received: the client sends its whole
    document instead (what it holds, it can always send)."""


class SeedConflict(Exception):
    """Someone else started the document first: the seed is dropped, the client loads theirs."""


def editable_drafts_for(user: User) -> Any:
    """The drafts the user may co-write: of a conversation they have access to, still editable.
    (A New-email draft's conversation is shared with its creator only, until shared.)"""
    return Draft.objects.filter(conversation__states__user=user, status__in=EDITABLE)


def channel(draft_id: UUID | str) -> str:
    return f"cowrite:draft:{draft_id}"


def colour_for(user_id: UUID | str) -> str:
    return COLOURS[hashlib.sha256(str(user_id).encode()).digest()[0] % len(COLOURS)]


# --- The document ---------------------------------------------------------------------------------


def _load(state: bytes) -> Doc:
    doc: Doc = Doc()
    if state:
        doc.apply_update(state)
    return doc


def merge(state: bytes, update: bytes) -> tuple[bytes, bool]:
    """The document `state` with `update` merged in (both in the Yjs update format), and whether
    the update brought anything new (a duplicate or stale one does not)."""
    doc = _load(state)
    baseline = bytes(doc.get_update())
    try:
        doc.apply_update(update)
    except Exception as error:  # noqa: BLE001 - pycrdt raises plain exceptions for bad bytes
        raise InvalidUpdate(str(error)) from error
    # Yjs keeps an update whose history is missing aside until the history arrives; stored as
    # bytes it would be lost, so the client is asked for everything it has instead.
    # What the document still lacks of the update starts with its number of clients with
    # changes (then only deletions follow, which a state vector does not cover).
    if Decoder(get_update(update, doc.get_state())).read_var_uint() > 0:
        raise MissingHistory
    merged = bytes(doc.get_update())
    return merged, merged != baseline


def is_empty(state: bytes) -> bool:
    """No editor has written the document yet (it may still have a body_html to start from)."""
    return not state or len(_fragment(_load(state)).children) == 0


def _fragment(doc: Doc) -> XmlFragment:
    fragment: XmlFragment = doc.get(FRAGMENT, type=XmlFragment)
    return fragment


def render_html(state: bytes) -> str:
    """The body HTML of a document, sanitised as any composed HTML."""
    fragment = _fragment(_load(state))
    return sanitize_composed_html("".join(_render_node(child) for child in fragment.children))


def draft_body_html(draft: Draft) -> str:
    """What a draft's body is now: rendered from its document once an editor has written it,
    else the HTML it was created with (a reply's quote, a canned response)."""
    return draft.body_html if is_empty(bytes(draft.ydoc)) else render_html(bytes(draft.ydoc))


_LINK_SCHEMES = ("http:", "https:", "mailto:")
_IMAGE_SCHEMES = ("http:", "https:", "cid:")
_BLOCKS = {
    "paragraph": "p",
    "blockquote": "blockquote",
    "bulletList": "ul",
    "orderedList": "ol",
    "listItem": "li",
}
# Outermost first: a bold link is <a><strong>…</strong></a>.
_MARKS = (("bold", "strong"), ("italic", "em"), ("underline", "u"), ("strike", "s"), ("code", "code"))


def _render_node(node: Any) -> str:
    if isinstance(node, XmlText):
        return "".join(_render_text(text, attributes or {}) for text, attributes in node.diff())
    if not isinstance(node, XmlElement):
        return ""
    tag, attributes = node.tag, dict(cast(Any, node.attributes))  # pycrdt types it as Iterable
    inner = "".join(_render_node(child) for child in node.children)
    if tag == "paragraph" and not inner:
        return "<p><br></p>"  # a blank line stays a blank line in the recipient's client
    if tag in _BLOCKS:
        start = _number(attributes.get("start"), 1)
        opening = f'<ol start="{start}">' if tag == "orderedList" and start != 1 else f"<{_BLOCKS[tag]}>"
        return f"{opening}{inner}</{_BLOCKS[tag]}>"
    if tag == "heading":
        level = min(max(_number(attributes.get("level"), 2), 1), 6)
        return f"<h{level}>{inner}</h{level}>"
    if tag == "codeBlock":
        return f"<pre><code>{inner}</code></pre>"
    if tag == "hardBreak":
        return "<br>"
    if tag == "horizontalRule":
        return "<hr>"
    if tag == "image":
        if not str(attributes.get("src", "")).lower().startswith(_IMAGE_SCHEMES):
            return ""  # an address mail clients could not load, or ours alone
        image = {name: attributes.get(name) for name in ("src", "alt", "title")}
        shown = "".join(f' {name}="{html.escape(str(value))}"' for name, value in image.items() if value)
        return f"<img{shown}>"
    return inner  # an unknown node keeps its text


def _number(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _render_text(text: str, attributes: dict[str, Any]) -> str:
    out = html.escape(text, quote=False)
    for mark, tag in reversed(_MARKS):
        if attributes.get(mark) is not None:
            out = f"<{tag}>{out}</{tag}>"
    link = attributes.get("link")
    if isinstance(link, dict) and str(link.get("href", "")).lower().startswith(_LINK_SCHEMES):
        out = f'<a href="{html.escape(str(link["href"]))}">{out}</a>'
    return out


# --- Changing it ----------------------------------------------------------------------------------


@transaction.atomic
def do_apply_draft_update(
    draft_id: UUID, *, acting_user: User, update: bytes, client: str = "", seed: bool = False
) -> Draft:
    """Merge one editor's update into the draft's document. A seed (the first editor turning the
    draft's starting HTML into a document) is only taken while the document is still empty.

    Raises Draft.DoesNotExist for a draft the user cannot co-write, InvalidUpdate,
    MissingHistory, SeedConflict."""
    draft = editable_drafts_for(acting_user).select_for_update(of=("self",)).get(id=draft_id)
    before = bytes(draft.ydoc)
    if seed and not is_empty(before):
        raise SeedConflict
    merged, changed = merge(before, update)
    if not changed:
        return draft
    draft.ydoc = merged
    draft.body_html = render_html(merged)
    draft.version += 1
    draft.updated_by = acting_user
    draft.updated_at = timezone.now()
    draft.save(update_fields=["ydoc", "body_html", "version", "updated_by", "updated_at"])
    notice = {
        "kind": "update",
        "update": encode(update),
        "client": client,
        "user": str(acting_user.id),
        "name": acting_user.display_name,
        "version": draft.version,
    }
    transaction.on_commit(lambda: relay(draft.id, notice))
    return draft


def relay(draft_id: UUID | str, notice: dict[str, Any]) -> None:
    """Publish to the draft's open editors now. A lost notice is not a lost change: the change is
    stored, and every editor reloads the whole document when its stream reconnects."""
    try:
        live.client().publish(channel(draft_id), json.dumps(notice, separators=(",", ":")))
    except Exception:  # noqa: BLE001 - logged: the co-writers catch up on reconnection
        logger.exception("Draft update not relayed")


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode()


def decode(text: Any) -> bytes:
    if not isinstance(text, str):
        raise InvalidUpdate("Expected base64 text.")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as error:
        raise InvalidUpdate("Not base64.") from error
