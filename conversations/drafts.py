"""Drafts: starting one (reply, reply all, forward, new email), autosaving its fields, its files,
discarding and restoring it. Sending is conversations/sending.py.

A reply draft belongs to its conversation, so everyone with access sees it at once; a New email
gets a conversation of its own that only its creator can access until they share it (a mention
in the chat box or Add people: the existing actions), which is what makes the draft visible.
"""

from __future__ import annotations

import html
import re
import uuid
from email.utils import parseaddr
from typing import Any
from urllib.parse import unquote
from uuid import UUID

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as format_date

from conversations import cowrite, live
from conversations.actions import ActionRefused, _event
from conversations.counts import invalidate_counts_now_and_after_commit
from conversations.models import (
    AccessSource,
    Attachment,
    Conversation,
    ConversationKind,
    ConversationState,
    Direction,
    Draft,
    DraftAttachment,
    DraftKind,
    DraftStatus,
    EventKind,
    Location,
    Message,
    SearchDocument,
    SignatureChoice,
)
from conversations.sanitize import clean_outgoing_html
from inboxes import aliases
from inboxes.models import AccountKind, Alias, Membership, Organization, Signature, User

OPEN_STATUSES = (DraftStatus.EDITING, DraftStatus.SCHEDULED)
RECIPIENT_FIELDS = ("to", "cc", "bcc")
SUGGESTIONS = 8


# --- Reading -----------------------------------------------------------------------------------


def open_drafts(conversation: Conversation) -> QuerySet[Draft]:
    """The drafts being written or waiting to be sent, oldest first."""
    return Draft.objects.filter(conversation=conversation, status__in=OPEN_STATUSES).select_related(
        "creator", "updated_by", "alias"
    )


def get_draft_for_user(user: User, draft_id: UUID | str, *, statuses: tuple[str, ...] = OPEN_STATUSES) -> Draft:
    """A draft of a conversation the user can access; 404 for anything else."""
    draft = (
        Draft.objects.filter(id=draft_id, status__in=statuses, conversation__states__user=user)
        .select_related("conversation", "alias", "account", "creator", "signature")
        .first()
    )
    if draft is None:
        raise Http404("No such draft.")
    return draft


def drafts_conversation_ids(user: User, *, whose: str) -> QuerySet[Draft, Any]:
    """The conversations holding an open draft, for the Drafts mailbox: read through the drafts'
    (organization, status, updated_at) index, which holds only the few drafts in progress, and
    joined to the user's own states by the caller (so access is the user's)."""
    organization_ids = Membership.objects.filter(user=user).values("organization_id")
    drafts = Draft.objects.filter(organization_id__in=organization_ids, status__in=OPEN_STATUSES)
    if whose == "mine":
        drafts = drafts.filter(creator=user)
    elif whose == "others":
        drafts = drafts.exclude(creator=user)
    elif whose == "scheduled":
        drafts = drafts.filter(status=DraftStatus.SCHEDULED)
    return drafts.values("conversation_id")


# --- Starting a draft --------------------------------------------------------------------------


def _addresses(people: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {"name": (p.get("name") or "").strip(), "address": (p.get("address") or "").strip().lower()}
        for p in people
        if p.get("address")
    ]


def _own_addresses(organization_id: UUID) -> set[str]:
    return {a.lower() for a in Alias.objects.filter(organization_id=organization_id).values_list("address", flat=True)}


def _without(people: list[dict[str, str]], excluded: set[str]) -> list[dict[str, str]]:
    kept, seen = [], set(excluded)
    for person in people:
        if person["address"] not in seen:
            seen.add(person["address"])
            kept.append(person)
    return kept


def reply_recipients(message: Message, user: User, *, reply_all: bool) -> tuple[list, list, list]:
    """To, Cc and Bcc of a reply: the Reply-To (else the sender), or for our own message its
    recipients; reply all adds everyone else but our own addresses (BCC only if the user asks)."""
    ours = _own_addresses(message.organization_id)
    if message.direction == Direction.OUTBOUND:
        to = _addresses(message.to)
    else:
        to = _addresses(message.reply_to) or _addresses([{"name": message.from_name, "address": message.from_address}])
    to = _without(to, ours) or to
    if not reply_all:
        return to, [], []
    others = _addresses(message.to) + _addresses(message.cc)
    if message.direction == Direction.INBOUND:
        cc = _without(others, ours | {p["address"] for p in to})
    else:
        cc = _without(_addresses(message.cc), ours | {p["address"] for p in to})
    bcc = []
    if user.reply_all_includes_bcc:
        bcc = _without(_addresses(message.bcc), ours | {p["address"] for p in to + cc})
    return to, cc, bcc


def prefixed_subject(prefix: str, subject: str) -> str:
    """ "Re: Hello", never "Re: Re: Hello"."""
    subject = subject.strip()
    if subject.lower().startswith(prefix.lower()):
        return subject
    return f"{prefix} {subject}".strip()


def _message_html(message: Message) -> str:
    if message.body_html:
        return clean_outgoing_html(message.body_html)
    return "<p>" + html.escape(message.body_text).replace("\n", "<br>") + "</p>"


def _when(message: Message) -> str:
    return format_date(timezone.localtime(message.sent_at), "D, M j, Y \\a\\t H:i")


def quoted_reply(message: Message) -> str:
    """The original below the reply: "On <date>, <name> wrote:" and the message as a quote."""
    who = html.escape(message.from_name or message.from_address)
    return (
        f'<p><br></p><div class="quote"><p>On {_when(message)}, {who} wrote:</p>'
        f"<blockquote>{_message_html(message)}</blockquote></div>"
    )


def _people_line(people: list[dict[str, str]]) -> str:
    return ", ".join(html.escape(f"{p['name']} <{p['address']}>" if p.get("name") else p["address"]) for p in people)


def forwarded_block(message: Message) -> str:
    """The forwarded header block and the original body, as mail clients write it."""
    sender = {"name": message.from_name, "address": message.from_address}
    lines = [
        "---------- Forwarded message ---------",
        f"From: {_people_line([sender])}",
        f"Date: {_when(message)}",
        f"Subject: {html.escape(message.subject)}",
        f"To: {_people_line(_addresses(message.to))}",
    ]
    if message.cc:
        lines.append(f"Cc: {_people_line(_addresses(message.cc))}")
    return f'<p><br></p><div class="forwarded"><p>{"<br>".join(lines)}</p>{_message_html(message)}</div>'


def choose_from(user: User, organization_id: UUID, *, replying_to: Message | None) -> Alias | None:
    """The draft's From: the automatic choice (inboxes.aliases.choose_alias) for the addresses the
    message came to (for our own message, its sender), else the first usable alias."""
    addresses = None
    # An SMS or WhatsApp message is answered from a number of the same channel, an email never is.
    kinds = None
    if replying_to is not None:
        addresses = [p.get("address", "") for p in [*replying_to.to, *replying_to.cc]]
        if replying_to.direction == Direction.OUTBOUND:
            addresses = [replying_to.from_address]
        if replying_to.account is not None and replying_to.account.kind in aliases.PHONE_ALIAS_KINDS:
            kinds = frozenset({replying_to.account.kind})
    chosen = aliases.choose_alias(user, organization_id, replying_to_addresses=addresses, kinds=kinds)
    usable = aliases.usable_aliases(user, organization_id)
    if kinds is not None:
        return chosen or usable.filter(account__kind__in=kinds).first()
    return chosen or usable.filter(account__kind__in=aliases.EMAIL_KINDS).first()


def _is_channel_chat(message: Message) -> bool:
    """A Text or HTML custom channel's message: its people are the channel's {id, username, name}
    (Email-type channels carry plain addresses and are answered from email accounts)."""
    if message.account is None or message.account.kind != AccountKind.CUSTOM:
        return False
    people = message.to if message.direction == Direction.OUTBOUND else message.reply_to
    return any("username" in person for person in people)


def _custom_channel_reply(message: Message, user: User, chosen: Alias | None) -> tuple[Alias | None, list]:
    """A custom channel's conversation is answered through the channel: from one of its aliases,
    to the sender as the channel names them ({id, username, name}, kept in Reply-To), or for our
    own message to its recipients; no quote (a chat message, not an email)."""
    channel_aliases = aliases.usable_aliases(user, message.organization_id).filter(account=message.account)
    alias = (
        channel_aliases.filter(address=message.from_address).first()
        if message.direction == Direction.OUTBOUND
        else None
    )
    alias = alias or channel_aliases.order_by("-is_default", "created_at").first() or chosen
    if message.direction == Direction.OUTBOUND:
        return alias, [dict(p) for p in message.to]
    return alias, [dict(p) for p in message.reply_to] or [{"name": message.from_name, "address": message.from_address}]


def _find_message(conversation: Conversation, message_id: UUID | None) -> Message | None:
    messages = Message.objects.filter(conversation=conversation)
    if message_id is not None:
        message = messages.filter(id=message_id).first()
        if message is None:
            raise ActionRefused("That email is not in this conversation.")
        return message
    return messages.order_by("-sent_at").first()


@transaction.atomic
def do_start_draft(
    conversation: Conversation, *, acting_user: User, kind: str, message_id: UUID | None = None
) -> Draft:
    """Reply, Reply all or Forward: a draft of the conversation, seen by everyone with access.
    Replying again to the same email reopens the user's own draft instead of starting another."""
    if kind not in (DraftKind.REPLY, DraftKind.REPLY_ALL, DraftKind.FORWARD):
        raise ActionRefused("Choose Reply, Reply all or Forward.")
    if conversation.is_room:
        raise ActionRefused("Chat rooms cannot send emails.")
    message = _find_message(conversation, message_id)
    if message is None:
        raise ActionRefused("There is no email to answer in this conversation.")
    existing = Draft.objects.filter(
        conversation=conversation, creator=acting_user, kind=kind, replying_to=message, status=DraftStatus.EDITING
    ).first()
    if existing is not None:
        return existing
    alias = choose_from(acting_user, conversation.organization_id, replying_to=message)
    if kind == DraftKind.FORWARD:
        to: list = []
        cc: list = []
        bcc: list = []
        subject, body = prefixed_subject("Fwd:", message.subject), forwarded_block(message)
    else:
        to, cc, bcc = reply_recipients(message, acting_user, reply_all=kind == DraftKind.REPLY_ALL)
        subject, body = prefixed_subject("Re:", message.subject or conversation.subject), quoted_reply(message)
        if alias is not None and alias.account.kind in aliases.PHONE_ALIAS_KINDS:
            subject, body = "", ""  # a text message has no subject and quotes nothing
    if kind != DraftKind.FORWARD and _is_channel_chat(message):
        alias, to = _custom_channel_reply(message, acting_user, alias)
        cc, bcc, body = [], [], ""
    now = timezone.now()
    draft = Draft.objects.create(
        organization_id=conversation.organization_id,
        conversation=conversation,
        kind=kind,
        replying_to=message,
        creator=acting_user,
        account_id=alias.account_id if alias else None,
        alias=alias,
        to=to,
        cc=cc,
        bcc=bcc,
        subject=subject,
        body_html=body,
        created_at=now,
        updated_at=now,
        updated_by=acting_user,
    )
    # A forward carries the original's files; a reply only the images its quote shows.
    originals = Attachment.objects.filter(message=message).exclude(file="")
    shown = _content_ids(body)
    if kind != DraftKind.FORWARD:
        originals = originals.filter(content_id__in=shown)
    if _copy_attachments(originals, draft, shown=shown):
        draft.body_html = _quoted_images_shown(draft, body)
        draft.save(update_fields=["body_html"])
    _drafts_changed(conversation)
    return draft


_CID_SRC = re.compile(r'src="cid:([^"]+)"', re.IGNORECASE)


def _content_id(reference: str) -> str:
    """A cid: reference as its Content-ID: unescaped, decoded, without angle brackets."""
    return unquote(html.unescape(reference)).strip().strip("<>")


def _content_ids(body: str) -> set[str]:
    return {_content_id(reference) for reference in _CID_SRC.findall(body)}


def _quoted_images_shown(draft: Draft, body: str) -> str:
    """The quote's cid: images pointed at the draft's copies, which the editor can show; sending
    turns them back into cid: parts (sending._inline_images_as_cid)."""
    addresses = {
        a.content_id: reverse("draft_attachment", args=[a.id])
        for a in draft.attachments.filter(is_inline=True).exclude(content_id="")
    }

    def shown(match: re.Match[str]) -> str:
        address = addresses.get(_content_id(match.group(1)))
        return f'src="{address}"' if address else match.group(0)

    return _CID_SRC.sub(shown, body)


def _copy_attachments(originals: QuerySet[Attachment], draft: Draft, *, shown: set[str]) -> int:
    """The original's files and inline images, as the draft's: the stored files are shared (never
    deleted by a draft), only the rows are new. A file the body shows by its Content-ID is inline,
    whatever its sender's Content-Disposition said. Returns how many were copied."""
    copies = DraftAttachment.objects.bulk_create(
        DraftAttachment(
            organization_id=draft.organization_id,
            draft=draft,
            filename=a.filename,
            content_type=a.content_type,
            size=a.size,
            is_inline=a.is_inline or bool(a.content_id and a.content_id in shown),
            content_id=a.content_id,
            file=a.file.name,
        )
        for a in originals
    )
    return len(copies)


@transaction.atomic
def do_start_new_email(organization: Organization, *, acting_user: User) -> Draft:
    """New email: a conversation of its own that only its creator can access, and its draft."""
    if not Membership.objects.filter(organization=organization, user=acting_user).exists():
        raise ActionRefused("You are not a member of this organization.")
    now = timezone.now()
    conversation = Conversation.objects.create(
        organization=organization, kind=ConversationKind.THREAD, created_at=now, last_activity_at=now
    )
    ConversationState.objects.create(
        organization=organization,
        conversation=conversation,
        user=acting_user,
        access_source=AccessSource.CREATOR,
        location=Location.NONE,
        watching=True,
        last_activity_at=now,
    )
    alias = choose_from(acting_user, organization.id, replying_to=None)
    draft = Draft.objects.create(
        organization=organization,
        conversation=conversation,
        kind=DraftKind.NEW,
        creator=acting_user,
        account_id=alias.account_id if alias else None,
        alias=alias,
        created_at=now,
        updated_at=now,
        updated_by=acting_user,
    )
    _drafts_changed(conversation)
    return draft


# --- Autosave ----------------------------------------------------------------------------------


def parse_recipients(values: list[str]) -> list[dict[str, str]]:
    """Chips as typed ("Name <a@b>" or an address), kept even when not valid yet: Send checks."""
    people = []
    for value in values:
        name, address = parseaddr(value)
        address = (address or value).strip()
        if address:
            people.append({"name": name.strip(), "address": address.lower()})
    return people


@transaction.atomic
def do_update_draft(draft: Draft, *, acting_user: User, fields: dict[str, Any], client: str = "") -> Draft:
    """Autosave: only the fields given change (two people editing different fields both win; the
    same field, the last save). `alias` must be one the user may send from. The co-writers' open
    composers are told the new values; `client` names the composer that saved, which skips them."""
    draft = Draft.objects.select_for_update(of=("self",)).select_related("conversation").get(id=draft.id)
    if draft.status not in OPEN_STATUSES:
        raise ActionRefused("This draft was sent or discarded: it can no longer change.")
    changed = []
    if "alias" in fields:
        alias = fields["alias"]
        if alias is not None and not aliases.may_send_as(acting_user, alias):
            raise ActionRefused("You may not send from this address.")
        draft.alias, draft.account_id = alias, alias.account_id if alias else None
        changed += ["alias", "account"]
    for name in RECIPIENT_FIELDS:
        if name in fields:
            setattr(draft, name, fields[name])
            changed.append(name)
    if "subject" in fields:
        draft.subject = fields["subject"][:500]
        changed.append("subject")
    if "body_html" in fields:
        draft.body_html = clean_outgoing_html(fields["body_html"])
        changed.append("body_html")
    if not changed:
        return draft
    draft.version += 1
    draft.updated_at, draft.updated_by = timezone.now(), acting_user
    draft.save(update_fields=[*changed, "version", "updated_at", "updated_by"])
    shown = _shown_fields(draft, changed)
    if shown:
        notice = {"kind": "fields", "fields": shown, "client": client[:64], "name": acting_user.display_name}
        transaction.on_commit(lambda: cowrite.relay(draft.id, notice))
    return draft


def _shown_fields(draft: Draft, changed: list[str]) -> dict[str, Any]:
    """The changed header fields as the composer shows them (a recipient as "Name <address>"), for
    the co-writers' open composers. The body travels as document updates instead."""
    shown: dict[str, Any] = {}
    for name in RECIPIENT_FIELDS:
        if name in changed:
            people = getattr(draft, name)
            shown[name] = [f"{p['name']} <{p['address']}>" if p.get("name") else p["address"] for p in people]
    if "subject" in changed:
        shown["subject"] = draft.subject
    if "alias" in changed:
        shown["alias"] = str(draft.alias_id or "")
    return shown


@transaction.atomic
def do_choose_signature(draft: Draft, *, acting_user: User, choice: str, signature: Signature | None = None) -> None:
    """The Signature menu: affects this draft only."""
    if choice not in SignatureChoice.values:
        raise ActionRefused("Choose a signature.")
    if choice == SignatureChoice.CHOSEN:
        if signature is None or signature not in aliases.signature_choices(acting_user, draft.organization_id):
            raise ActionRefused("Choose one of your signatures.")
    else:
        signature = None
    Draft.objects.filter(id=draft.id).update(
        signature_choice=choice, signature=signature, updated_at=timezone.now(), updated_by=acting_user
    )


# --- Files ---------------------------------------------------------------------------------------


def max_attachment_bytes() -> int:
    return int(settings.DRAFT_ATTACHMENTS_MAX_MB) * 1024 * 1024


@transaction.atomic
def do_add_draft_attachment(draft: Draft, *, acting_user: User, upload: UploadedFile, inline: bool) -> DraftAttachment:
    """A file on the draft (button, paste or drop), within the total size an email may carry.
    An inline image gets a Content-ID for the body's <img src="cid:…">."""
    locked = Draft.objects.select_for_update().filter(id=draft.id).values_list("status", flat=True).first()
    if locked not in OPEN_STATUSES:
        raise ActionRefused("This draft was sent or discarded.")
    size = upload.size or 0
    used = sum(DraftAttachment.objects.filter(draft=draft).values_list("size", flat=True))
    if used + size > max_attachment_bytes():
        raise ActionRefused(f"Attachments are limited to {settings.DRAFT_ATTACHMENTS_MAX_MB} MB per email.")
    content_type = upload.content_type or "application/octet-stream"
    if inline and not content_type.startswith("image/"):
        inline = False
    filename = (upload.name or "file").replace("/", "_").replace("\\", "_")[:255]
    content_id = f"{uuid.uuid4().hex}@missive" if inline else ""
    attachment = DraftAttachment(
        organization_id=draft.organization_id,
        draft=draft,
        filename=filename,
        content_type=content_type[:127],
        size=size,
        is_inline=inline,
        content_id=content_id,
    )
    attachment.file.save(filename, upload, save=False)
    attachment.save()
    Draft.objects.filter(id=draft.id).update(updated_at=timezone.now(), updated_by=acting_user)
    return attachment


@transaction.atomic
def do_remove_draft_attachment(attachment: DraftAttachment, *, acting_user: User) -> None:
    """The row goes; the stored file stays (a forward shares it with the original email)."""
    attachment.delete()
    Draft.objects.filter(id=attachment.draft_id).update(updated_at=timezone.now(), updated_by=acting_user)


# --- Discard and restore -------------------------------------------------------------------------


@transaction.atomic
def do_discard_draft(draft: Draft, *, acting_user: User) -> None:
    """The trash icon: gone from everyone's Drafts; the timeline's event can bring it back."""
    now = timezone.now()
    updated = Draft.objects.filter(id=draft.id, status__in=OPEN_STATUSES).update(
        status=DraftStatus.DISCARDED, discarded_at=now, discarded_by=acting_user, scheduled_at=None, updated_at=now
    )
    if not updated:
        raise ActionRefused("This draft was already sent or discarded.")
    _event(draft.conversation, EventKind.DRAFT_DISCARDED, acting_user, draft_id=str(draft.id))
    _drafts_changed(draft.conversation)


@transaction.atomic
def do_restore_draft(draft: Draft, *, acting_user: User) -> None:
    updated = Draft.objects.filter(id=draft.id, status=DraftStatus.DISCARDED).update(
        status=DraftStatus.EDITING, discarded_at=None, discarded_by=None, updated_at=timezone.now()
    )
    if not updated:
        raise ActionRefused("This draft is not discarded.")
    _event(draft.conversation, EventKind.DRAFT_RESTORED, acting_user, draft_id=str(draft.id))
    _drafts_changed(draft.conversation)


def _drafts_changed(conversation: Conversation) -> None:
    user_ids = list(ConversationState.objects.filter(conversation=conversation).values_list("user_id", flat=True))
    invalidate_counts_now_and_after_commit(user_ids)
    live.publish_after_commit(conversation_ids=[conversation.id], user_ids=user_ids, kind="draft")


# --- Address autocomplete ------------------------------------------------------------------------


def recipient_suggestions(user: User, organization_id: UUID, typed: str) -> list[dict[str, str]]:
    """Past correspondents of the organization in conversations the user can see, whose name (a
    word of it) or address starts with what was typed. The search documents' trigram indexes
    find the conversations; their messages give the people."""
    typed = typed.strip().lower()
    if len(typed) < 2:
        return []
    conversation_ids = list(
        SearchDocument.objects.filter(organization_id=organization_id, conversation__states__user=user)
        .filter(_mentions(typed))
        .order_by("-conversation__last_activity_at")
        .values_list("conversation_id", flat=True)[:40]
    )
    found: dict[str, dict[str, str]] = {}
    messages = (
        Message.objects.filter(conversation_id__in=conversation_ids)
        .order_by("-sent_at")
        .values("from_name", "from_address", "to", "cc")[:400]
    )
    ours = _own_addresses(organization_id)
    for message in messages:
        people = [{"name": message["from_name"], "address": message["from_address"]}, *message["to"], *message["cc"]]
        for person in _addresses(people):
            address = person["address"]
            if address in found or address in ours or not _matches(person, typed):
                continue
            found[address] = person
            if len(found) >= SUGGESTIONS:
                return list(found.values())
    return list(found.values())


def _mentions(typed: str) -> Q:
    return Q(senders__contains=typed) | Q(recipients__contains=typed) | Q(copied__contains=typed)


def _matches(person: dict[str, str], typed: str) -> bool:
    words = person["name"].lower().replace("-", " ").split()
    return person["address"].startswith(typed) or any(word.startswith(typed) for word in words)
