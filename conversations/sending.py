"""Sending: a draft becomes a Message and an outbox row in one transaction.

What happens to the conversation is the state machine's event 2 (docs/state-machine.md): assign on
reply from a team inbox, then Send & archive / close / snooze. The message is visible in the
conversation at once; the transport's dispatcher (channels_app/outbox.py) sends it when its
`send_after` comes, which is the sender's undo-send delay or, for a scheduled draft, now. Undo (and
editing a message that failed) turn the message back into its draft, which is only possible while
the outbox row is still PENDING (or FAILED): taken under a row lock, so the dispatcher and an undo
never both win.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from conversations import live, search_index, templating
from conversations.actions import (
    ActionRefused,
    _event,
    do_archive,
    do_assign_conversation,
    do_close,
    do_snooze,
)
from conversations.counts import invalidate_counts_now_and_after_commit
from conversations.cowrite import draft_body_html
from conversations.delivery import make_preview
from conversations.drafts import OPEN_STATUSES
from conversations.models import (
    Attachment,
    Conversation,
    ConversationState,
    Direction,
    Draft,
    DraftStatus,
    EventKind,
    Message,
    OutboxMessage,
    OutboxStatus,
    SendAction,
)
from conversations.sanitize import clean_outgoing_html
from conversations.signals import message_queued, message_sending
from conversations.signatures import render_signature, sender_membership
from conversations.text import html_to_text
from inboxes.aliases import EMAIL_KINDS, may_send_as
from inboxes.models import AccountKind, Alias, AliasUserSetting, User

MAX_REFERENCES = 20
# Channels whose addresses are phone numbers (E.164), and every kind a draft may be sent from: the
# dispatcher hands each to its transport (SMTP, or channels_app/transports.py).
PHONE_KINDS = frozenset({AccountKind.TWILIO_SMS, AccountKind.WHATSAPP})
SENDING_KINDS = EMAIL_KINDS | PHONE_KINDS | {AccountKind.CUSTOM}
_REFERENCE = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class Recipients:
    to: list[dict[str, str]]
    cc: list[dict[str, str]]
    bcc: list[dict[str, str]]

    @property
    def everyone(self) -> list[dict[str, str]]:
        return [*self.to, *self.cc, *self.bcc]


def clean_recipients(values: list) -> list[dict[str, str]]:
    """[{"name", "address"}] from what a draft holds (dicts, or "Name <addr>" strings), each address
    checked; raises ActionRefused naming the bad one. Duplicates are dropped, the first one kept."""
    cleaned: list[dict[str, str]] = []
    seen: set[str] = set()
    for value in values or []:
        if isinstance(value, dict):
            name, address = value.get("name") or "", value.get("address") or ""
        else:
            name, address = parseaddr(str(value))
        address = address.strip().lower()
        try:
            validate_email(address)
        except ValidationError:
            raise ActionRefused(f"“{address or value}” is not a valid email address.") from None
        if address not in seen:
            seen.add(address)
            cleaned.append({"name": name.strip(), "address": address})
    return cleaned


_PHONE = re.compile(r"\+[1-9]\d{6,14}")
_PHONE_PUNCTUATION = re.compile(r"[\s().\-]")


def normalize_phone(value: str) -> str:
    """E.164 from what people type: "+1 555-123-4567" → "+15551234567". The country code is
    required (the seed: "your number should start with a plus + sign")."""
    number = _PHONE_PUNCTUATION.sub("", value or "")
    if not _PHONE.fullmatch(number):
        raise ActionRefused(f"“{value}” is not a phone number with its country code, such as +15551234567.")
    return number


def clean_phone_recipients(values: list) -> list[dict[str, str]]:
    """As clean_recipients, for SMS and WhatsApp: each address an E.164 number."""
    cleaned: list[dict[str, str]] = []
    for value in values or []:
        name, raw = (value.get("name") or "", value.get("address") or "") if isinstance(value, dict) else ("", value)
        number = normalize_phone(str(raw))
        if all(number != seen["address"] for seen in cleaned):
            cleaned.append({"name": name.strip(), "address": number})
    return cleaned


def recipients_for_kind(kind: str, values: list) -> list[dict[str, str]]:
    """Recipients checked as the account's channel addresses people: email, phone, or a custom
    channel's own ids (checked by the channel's sender, here only required to be there)."""
    if kind in PHONE_KINDS:
        return clean_phone_recipients(values)
    if kind == AccountKind.CUSTOM:
        return clean_channel_recipients(values)
    return clean_recipients(values)


def clean_channel_recipients(values: list) -> list[dict[str, str]]:
    """A custom channel's recipients as it names them: {id, username, name} (address is the
    username, else the id, as delivery stores them). Each needs an id or a username."""
    cleaned: list[dict[str, str]] = []
    for value in values or []:
        person = value if isinstance(value, dict) else {"address": str(value)}
        entry = {key: str(person.get(key) or "").strip() for key in ("id", "username", "name")}
        entry["address"] = entry["username"] or entry["id"] or str(person.get("address") or "").strip()
        if not entry["address"]:
            raise ActionRefused("Each recipient needs an ID or a username.")
        if not (entry["id"] or entry["username"]):
            entry["username"] = entry["address"]
        if entry not in cleaned:
            cleaned.append(entry)
    return cleaned


# Per-channel checks of a draft about to be sent, registered by the channel's module (a custom
# channel's Allow replying / new messages and its maximum of recipients); each raises ActionRefused.
DRAFT_CHECKS: dict[str, Callable[[Draft, Recipients], None]] = {}


def draft_recipients(draft: Draft) -> Recipients:
    kind = draft.account.kind if draft.account is not None else AccountKind.IMAP
    recipients = Recipients(
        recipients_for_kind(kind, draft.to), recipients_for_kind(kind, draft.cc), recipients_for_kind(kind, draft.bcc)
    )
    if not recipients.everyone:
        raise ActionRefused("Add at least one recipient.")
    check = DRAFT_CHECKS.get(kind)
    if check is not None:
        check(draft, recipients)
    return recipients


def _check_sendable(draft: Draft, user: User) -> None:
    if draft.status not in OPEN_STATUSES:
        raise ActionRefused("This draft was already sent or discarded.")
    if draft.conversation.is_room:
        raise ActionRefused("Chat rooms cannot send emails.")
    if draft.alias is None or draft.account is None or draft.alias.account_id != draft.account_id:
        raise ActionRefused("Choose a From address.")
    if draft.account.kind not in SENDING_KINDS:
        raise ActionRefused("This account cannot send messages.")
    if not may_send_as(user, draft.alias):
        raise ActionRefused("You may not send from this address.")


def sender_name(draft: Draft, user: User) -> str:
    """The display name recipients see: the sender's own name on the alias, else the alias's, else
    the account's, else the sender's."""
    assert draft.alias is not None and draft.account is not None
    own = AliasUserSetting.objects.filter(alias=draft.alias, user=user).values_list("name", flat=True).first()
    return own or draft.alias.name or draft.account.display_name or user.display_name


def threading_headers(conversation: Conversation, replying_to: Message | None) -> tuple[str, str]:
    """In-Reply-To and References for a reply: the answered message, else the latest one."""
    parent = replying_to
    if parent is None:
        parent = (
            Message.objects.filter(conversation=conversation)
            .exclude(rfc_message_id="")
            .order_by("-sent_at")
            .only("rfc_message_id", "references", "in_reply_to")
            .first()
        )
    if parent is None or not parent.rfc_message_id:
        return "", ""
    # A parent without References (some clients send only In-Reply-To) still names its own parent.
    earlier = _REFERENCE.findall(parent.references) or _REFERENCE.findall(parent.in_reply_to)
    chain = [*earlier, parent.rfc_message_id]
    # The first (the thread's root) and the most recent ones, as RFC 5322 suggests when trimming.
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1) :]]
    return parent.rfc_message_id, " ".join(chain)


def new_message_id(from_address: str) -> str:
    """A Message-ID of the sender's domain, with its angle brackets (as parsing stores them)."""
    domain = from_address.rpartition("@")[2].strip().lower() or "missive.invalid"
    return f"<{uuid.uuid4().hex}@{domain}>"


def template_context(
    draft: Draft,
    user: User,
    *,
    message_id: uuid.UUID,
    from_name: str,
    from_address: str,
    recipients: list[dict[str, str]] | None = None,
) -> dict:
    """The Liquid variables of a signature or a canned response in this draft: user.*,
    recipient.* (the draft's first To, else Cc, unless `recipients` are given), conversation.*
    and message.* (the email and its From)."""
    if recipients is None:
        kind = draft.account.kind if draft.account is not None else AccountKind.IMAP
        recipients = recipients_for_kind(kind, draft.to) or recipients_for_kind(kind, draft.cc)
    return {
        "user": templating.user_variables(user, sender_membership(draft, user)),
        "recipient": templating.recipient_variables(recipients),
        "conversation": {"id": str(draft.conversation_id)},
        "message": templating.message_variables(message_id=message_id, from_name=from_name, from_address=from_address),
    }


def _body_with_signature(draft: Draft, user: User, context: dict) -> str:
    first_email = not draft.conversation.has_outbound
    try:
        signature = render_signature(draft, user, first_email=first_email, context=context)
    except templating.TemplateProblem as problem:
        raise ActionRefused(f"Your signature cannot be used: {problem}") from None
    # From the co-written document, not from whichever browser saved last: what is sent holds
    # every co-writer's merged edits even if no browser is open.
    body = _inline_images_as_cid(draft, draft_body_html(draft))
    if signature:
        body += f'<div class="signature">{signature}</div>'
    return clean_outgoing_html(body)


_DRAFT_FILE_SRC = re.compile(r'src="[^"]*/draft-files/([0-9a-f-]{36})/"')


def _inline_images_as_cid(draft: Draft, body: str) -> str:
    """The editor shows a dropped image from its address on our server; the email references the
    attached part instead (cid:), and only for this draft's own inline files."""
    content_ids = {str(a.id): a.content_id for a in draft.attachments.all() if a.is_inline and a.content_id}

    def to_cid(match: re.Match[str]) -> str:
        content_id = content_ids.get(match.group(1))
        return f'src="cid:{content_id}"' if content_id else match.group(0)

    return _DRAFT_FILE_SRC.sub(to_cid, body)


@transaction.atomic
def do_send_draft(
    draft: Draft,
    *,
    acting_user: User,
    action: str | None = None,
    snooze_until: datetime | None = None,
    delay_seconds: int | None = None,
    automatic: bool = False,
) -> Message:
    """Send the draft: write its message and outbox row, and apply the Send menu's action.

    `delay_seconds` defaults to the sender's undo-send delay. Raises ActionRefused (nothing is
    written) when the draft cannot be sent: no recipient, a bad address, a From the user may not
    use, a signature template that does not render. `automatic` marks an automatic reply (Out of
    office, a rule's Send response): the transport adds "Auto-Submitted: auto-replied"."""
    draft = (
        Draft.objects.select_for_update(of=("self",))
        .select_related("conversation", "alias", "account")
        .get(id=draft.id)
    )
    _check_sendable(draft, acting_user)
    action = action or draft.send_action
    if action == SendAction.SNOOZE and snooze_until is None:
        snooze_until = draft.snooze_until
    if action == SendAction.SNOOZE and (snooze_until is None or snooze_until <= timezone.now()):
        raise ActionRefused("Pick a time in the future to snooze until.")
    recipients = draft_recipients(draft)
    conversation = Conversation.objects.select_for_update().get(id=draft.conversation_id)
    draft.conversation = conversation
    message = _write_message(draft, acting_user, recipients, automatic=automatic)
    assert draft.account is not None  # _check_sendable
    delay = acting_user.undo_send_seconds if delay_seconds is None else delay_seconds
    outbox = OutboxMessage.objects.create(
        organization_id=draft.organization_id,
        message=message,
        account=draft.account,
        send_after=message.created_at + timedelta(seconds=delay),
    )
    draft.status, draft.sent_message, draft.updated_at = DraftStatus.SENT, message, timezone.now()
    draft.save(update_fields=["status", "sent_message", "updated_at"])
    _after_reply(
        conversation, acting_user, action, snooze_until, discard_if_reply=draft.discard_if_reply, automatic=automatic
    )
    # Outgoing rules, before the dispatcher may see the row: they can stop it or add recipients.
    # A rule's or an away person's automatic reply is not a person sending: no rules, no loops.
    if not automatic:
        message_sending.send(Message, message=message, outbox=outbox, acting_user=acting_user)
    _queue_after_commit(outbox)
    return message


def _write_message(draft: Draft, user: User, recipients: Recipients, *, automatic: bool) -> Message:
    assert draft.alias is not None
    conversation = draft.conversation
    now = timezone.now()
    message_id = uuid.uuid4()
    from_name, from_address = sender_name(draft, user), draft.alias.address
    context = template_context(draft, user, message_id=message_id, from_name=from_name, from_address=from_address)
    body_html = _body_with_signature(draft, user, context)
    in_reply_to, references = threading_headers(conversation, draft.replying_to)
    subject = draft.subject.strip() or conversation.subject or ""
    message = Message.objects.create(
        id=message_id,
        organization_id=draft.organization_id,
        conversation=conversation,
        account_id=draft.account_id,
        direction=Direction.OUTBOUND,
        from_name=from_name,
        from_address=from_address,
        to=recipients.to,
        cc=recipients.cc,
        bcc=recipients.bcc,
        subject=subject,
        body_html=body_html,
        body_text=html_to_text(body_html),
        rfc_message_id=new_message_id(from_address),
        in_reply_to=in_reply_to,
        references=references,
        sent_at=now,
        created_at=now,
        author=user,
        is_auto_reply=automatic,
    )
    attachments = [
        Attachment(
            organization_id=draft.organization_id,
            message=message,
            filename=item.filename,
            content_type=item.content_type,
            size=item.size,
            content_id=item.content_id,
            is_inline=item.is_inline,
            file=item.file.name,
        )
        for item in draft.attachments.all()
        # An inline image taken out of the text is not sent as a hidden part.
        if not item.is_inline or f'src="cid:{item.content_id}"' in body_html
    ]
    Attachment.objects.bulk_create(attachments)
    _update_summary(conversation, message, recipients, has_attachments=bool(attachments), subject=subject)
    return message


def _update_summary(
    conversation: Conversation, message: Message, recipients: Recipients, *, has_attachments: bool, subject: str
) -> None:
    if not conversation.participants:
        conversation.participants = [*recipients.to, *recipients.cc][:10]
    if not conversation.subject and subject:
        conversation.subject = subject
    conversation.preview = make_preview(message.body_text)
    conversation.message_count += 1
    conversation.has_outbound = True
    conversation.has_attachments = conversation.has_attachments or has_attachments
    conversation.last_activity_at = message.sent_at
    conversation.save(
        update_fields=[
            "participants",
            "subject",
            "preview",
            "message_count",
            "has_outbound",
            "has_attachments",
            "last_activity_at",
        ]
    )
    ConversationState.objects.filter(conversation=conversation).update(last_activity_at=message.sent_at)
    ConversationState.objects.filter(conversation=conversation, user=message.author).update(unread=False)
    search_index.queue(conversation.organization_id, [conversation.id])


def _after_reply(
    conversation: Conversation,
    user: User,
    action: str,
    snooze_until: datetime | None,
    *,
    discard_if_reply: bool,
    automatic: bool = False,
) -> None:
    """Event 2: a reply from the team inbox assigns it to the sender when the team says so; then
    the Send menu's action, as if the sender did it. An automatic reply (a rule's) assigns nobody:
    no person answered."""
    team = conversation.team
    if (
        team is not None
        and conversation.in_team_inbox
        and not conversation.assigned
        and team.assign_on_reply
        and not automatic
    ):
        do_assign_conversation(conversation, [user], acting_user=user)
        conversation.refresh_from_db()
    if action == SendAction.ARCHIVE:
        do_archive(conversation, acting_user=user, close=False)
    elif action == SendAction.CLOSE:
        do_close(conversation, acting_user=user)
    elif action == SendAction.SNOOZE:
        assert snooze_until is not None
        do_snooze(conversation, acting_user=user, until=snooze_until, discard_if_reply=discard_if_reply)
    _everyone_sees_it(conversation)


def _everyone_sees_it(conversation: Conversation) -> None:
    user_ids = list(ConversationState.objects.filter(conversation=conversation).values_list("user_id", flat=True))
    invalidate_counts_now_and_after_commit(user_ids)
    live.publish_after_commit(conversation_ids=[conversation.id], user_ids=user_ids, kind="message")


def _queue_after_commit(outbox: OutboxMessage) -> None:
    outbox_id, send_after = outbox.id, outbox.send_after
    transaction.on_commit(lambda: message_queued.send(OutboxMessage, outbox_id=outbox_id, send_after=send_after))


# --- Undo, and editing a message that could not be sent ------------------------------------------


@transaction.atomic
def do_undo_send(message: Message, *, acting_user: User) -> Draft:
    """Within the undo delay: the message is not sent and its draft comes back, as it was."""
    outbox = OutboxMessage.objects.select_for_update().filter(message=message).first()
    if outbox is None or outbox.status != OutboxStatus.PENDING or outbox.send_after <= timezone.now():
        raise ActionRefused("Too late to undo: the email is on its way.")
    _recall_copies(message)
    return _recall(message, outbox, acting_user)


def _recall_copies(message: Message) -> None:
    """A text sent to several numbers was split into one message per number (the copies share its
    Message-ID, see channels_app/twilio/fanout.py): Undo takes them all back. A conversation
    that only the copy made goes with it."""
    if message.account is None or message.account.kind not in PHONE_KINDS or not message.rfc_message_id:
        return
    copies = Message.objects.filter(
        organization_id=message.organization_id,
        account=message.account,
        rfc_message_id=message.rfc_message_id,
        direction=Direction.OUTBOUND,
        outbox__status=OutboxStatus.PENDING,
    ).exclude(id=message.id)
    for copy in copies:
        conversation = Conversation.objects.select_for_update().get(id=copy.conversation_id)
        copy.delete()  # its outbox row and attachment rows with it; the files are the draft's
        if not Message.objects.filter(conversation=conversation).exists():
            conversation.delete()
            continue
        _refresh_summary_without_message(conversation)
        _everyone_sees_it(conversation)


@transaction.atomic
def do_edit_failed_message(message: Message, *, acting_user: User) -> Draft:
    """A message that could not be sent goes back to being a draft, to fix and send again."""
    outbox = OutboxMessage.objects.select_for_update().filter(message=message).first()
    if outbox is None or outbox.status != OutboxStatus.FAILED:
        raise ActionRefused("Only an email that could not be sent can be edited.")
    return _recall(message, outbox, acting_user)


def _recall(message: Message, outbox: OutboxMessage, user: User) -> Draft:
    draft = Draft.objects.select_for_update().filter(sent_message=message).first()
    if draft is None:  # an automatic reply, or a message sent through the API: make one from it
        draft = _draft_from_message(message, user)
    conversation = Conversation.objects.select_for_update().get(id=message.conversation_id)
    outbox.delete()
    message.attachments.all().delete()  # the files stay: they are the draft's
    message.delete()
    draft.status, draft.sent_message, draft.updated_at = DraftStatus.EDITING, None, timezone.now()
    draft.save(update_fields=["status", "sent_message", "updated_at"])
    _refresh_summary_without_message(conversation)
    _everyone_sees_it(conversation)
    return draft


def _draft_from_message(message: Message, user: User) -> Draft:
    alias = Alias.objects.filter(account=message.account, address=message.from_address).first()
    return Draft.objects.create(
        organization_id=message.organization_id,
        conversation_id=message.conversation_id,
        creator=user,
        account_id=message.account_id,
        alias=alias,
        to=message.to,
        cc=message.cc,
        bcc=message.bcc,
        subject=message.subject,
        body_html=message.body_html,
    )


def _refresh_summary_without_message(conversation: Conversation) -> None:
    messages = Message.objects.filter(conversation=conversation)
    latest = messages.order_by("-sent_at").only("body_text", "sent_at").first()
    conversation.message_count = messages.count()
    conversation.has_outbound = messages.filter(direction=Direction.OUTBOUND).exists()
    conversation.preview = make_preview(latest.body_text) if latest else ""
    conversation.save(update_fields=["message_count", "has_outbound", "preview"])
    search_index.queue(conversation.organization_id, [conversation.id])


# --- Send later ------------------------------------------------------------------------------------


@transaction.atomic
def do_schedule_draft(
    draft: Draft, *, acting_user: User, at: datetime, discard_if_reply: bool, action: str = SendAction.SEND
) -> None:
    """Send later: beat sends the draft at `at` (do_send_due_drafts); editing it stays possible."""
    draft = (
        Draft.objects.select_for_update(of=("self",))
        .select_related("conversation", "alias", "account")
        .get(id=draft.id)
    )
    _check_sendable(draft, acting_user)
    draft_recipients(draft)
    if at <= timezone.now():
        raise ActionRefused("Pick a time in the future.")
    draft.status, draft.scheduled_at, draft.discard_if_reply = DraftStatus.SCHEDULED, at, discard_if_reply
    draft.send_action, draft.updated_by, draft.updated_at = action, acting_user, timezone.now()
    draft.save(update_fields=["status", "scheduled_at", "discard_if_reply", "send_action", "updated_by", "updated_at"])
    _everyone_sees_it(draft.conversation)


@transaction.atomic
def do_unschedule_draft(draft: Draft, *, acting_user: User) -> None:
    updated = Draft.objects.filter(id=draft.id, status=DraftStatus.SCHEDULED).update(
        status=DraftStatus.EDITING, scheduled_at=None, updated_by=acting_user, updated_at=timezone.now()
    )
    if not updated:
        raise ActionRefused("This draft is not scheduled.")
    _everyone_sees_it(draft.conversation)


def do_send_due_drafts(*, now: datetime | None = None, limit: int = 200) -> int:
    """Beat: send the scheduled drafts whose time came, each in its own transaction, as the person
    who scheduled it. One that cannot be sent any more goes back to editing with the reason."""
    now = now or timezone.now()
    due = list(
        Draft.objects.filter(status=DraftStatus.SCHEDULED, scheduled_at__lte=now)
        .select_related("updated_by", "creator")
        .order_by("scheduled_at")[:limit]
    )
    sent = 0
    for draft in due:
        user = draft.updated_by or draft.creator
        if user is None:
            continue
        try:
            do_send_draft(draft, acting_user=user, delay_seconds=0)
            sent += 1
        except ActionRefused as refusal:
            _schedule_failed(draft, user, "; ".join(refusal.messages))
    return sent


@transaction.atomic
def _schedule_failed(draft: Draft, user: User, reason: str) -> None:
    if Draft.objects.filter(id=draft.id, status=DraftStatus.SCHEDULED).update(status=DraftStatus.EDITING):
        _event(draft.conversation, EventKind.SEND_FAILED, user, reason=reason)
        _everyone_sees_it(draft.conversation)
