"""Rule actions that call the network: webhook, send response, forward, unsubscribe and the AI
actions (catalog `network=True`). The engine does not run them inside its rule pass: it leaves
`{"index": i, "type": ..., "state": "pending"}` entries in the run's log and, after commit, a
task calls `do_run_network_actions(run_id)`.

Exactly once: the run row is locked for the whole call and each entry's new state is saved in the
same transaction as what the action wrote (a message and its outbox row, a delivery row, a
comment), so a retried task finds the entry done. Each action runs in its own savepoint: one that
fails is recorded "failed" with its reason and the others still run.

Rule actions act through the rule's person (rules.actor.rule_actor: the owner of a personal rule,
else whoever created the rule, else an owner or admin of the organization with access to the
conversation, ...), and what they write is shown as the rule's doing: their timeline events are
attributed to the rule as in the rule pass, and a note is posted with `by_rule`.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone
from django.utils.html import escape, linebreaks

from conversations import templating
from conversations.actions import ActionRefused, do_post_comment
from conversations.activity import record_activity
from conversations.attribution import rule_acting
from conversations.canned import ValuesNeeded, do_insert_response
from conversations.drafts import _copy_attachments, choose_from, forwarded_block, prefixed_subject, reply_recipients
from conversations.labels import do_add_label
from conversations.models import (
    ActivityKind,
    Attachment,
    CannedResponse,
    Conversation,
    ConversationState,
    Draft,
    DraftKind,
    Label,
    Message,
    SignatureChoice,
)
from conversations.sending import do_send_draft
from conversations.task_actions import do_create_subtask
from inboxes.models import User
from rules import ai, webhooks
from rules.actor import rule_actor
from rules.models import Rule, RuleRun

logger = logging.getLogger(__name__)

# RFC 8058 one-click unsubscribe is only for https URLs.
ONE_CLICK_SCHEMES: tuple[str, ...] = ("https",)


class ActionFailed(Exception):
    """An action that could not be done; its message is the log entry's detail."""


@dataclass
class Context:
    run: RuleRun
    rule: Rule
    conversation: Conversation
    message: Message | None
    params: dict[str, Any]
    index: int
    now: datetime


def _actor(context: Context) -> User:
    message = context.message
    return rule_actor(context.rule, context.conversation, account=message.account if message is not None else None)


def _message(context: Context) -> Message:
    if context.message is None:
        raise ActionFailed("This run has no message to act on.")
    return context.message


# --- Webhook -----------------------------------------------------------------------------------


def run_webhook(context: Context) -> str:
    url = str(context.params.get("url", "")).strip()
    if not url.lower().startswith(("http://", "https://")):
        raise ActionFailed("The webhook URL must start with http:// or https://.")
    delivery = webhooks.queue_delivery(context.run, url)
    return f"Webhook queued ({delivery.id})"


# --- Send response -----------------------------------------------------------------------------


def _canned(context: Context) -> CannedResponse:
    response_id = _uuid(context.params.get("canned_response"))
    response = (
        CannedResponse.objects.filter(id=response_id, organization_id=context.rule.organization_id).first()
        if response_id
        else None
    )
    if response is None:
        raise ActionFailed("The canned response no longer exists.")
    return response


def _uuid(value: Any) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


def _last_sent(context: Context) -> datetime | None:
    """When this rule's Send response action last sent a reply in this conversation."""
    runs = RuleRun.objects.filter(
        rule=context.rule,
        conversation=context.conversation,
        log__contains=[{"index": context.index, "type": "send_response", "state": "done"}],
    ).exclude(id=context.run.id)
    latest: datetime | None = None
    for log in runs.values_list("log", flat=True):
        for entry in log:
            if entry.get("index") == context.index and entry.get("sent_at"):
                sent_at = datetime.fromisoformat(entry["sent_at"])
                latest = max(latest, sent_at) if latest else sent_at
    return latest


def run_send_response(context: Context) -> str:
    message = _message(context)
    # One reply at a time per conversation: the throttle check and the send are serialized.
    Conversation.objects.select_for_update().filter(id=context.conversation.id).first()
    every = int(context.params.get("at_most_every") or 0)
    if every > 0:
        last = _last_sent(context)
        if last is not None and context.now - last < timedelta(seconds=every):
            return f"Not sent: a response already went out at {last:%Y-%m-%d %H:%M} UTC"
    response = _canned(context)
    actor = _actor(context)
    to, _cc, _bcc = reply_recipients(message, actor, reply_all=False)
    draft = _automatic_draft(
        context,
        actor,
        kind=DraftKind.REPLY,
        to=to,
        subject=prefixed_subject("Re:", message.subject or context.conversation.subject),
    )
    try:
        inserted = do_insert_response(draft, response, acting_user=actor)
    except ValuesNeeded as needed:
        raise ActionFailed("The canned response asks for values a rule cannot fill in.") from needed
    except templating.TemplateProblem as problem:
        raise ActionFailed(f"The canned response does not render: {problem}") from problem
    Draft.objects.filter(id=draft.id).update(body_html=inserted.html)
    reply = _send(draft, actor)
    context.run.log[_position(context)]["sent_at"] = context.now.isoformat()
    return f"Sent a response to {', '.join(p['address'] for p in reply.to)}"


def _automatic_draft(context: Context, actor: User, *, kind: str, to: list, subject: str, body: str = "") -> Draft:
    alias = choose_from(actor, context.conversation.organization_id, replying_to=context.message)
    if alias is None:
        raise ActionFailed("No address to send from.")
    return Draft.objects.create(
        organization_id=context.conversation.organization_id,
        conversation=context.conversation,
        kind=kind,
        replying_to=context.message,
        creator=actor,
        updated_by=actor,
        account_id=alias.account_id,
        alias=alias,
        to=to,
        subject=subject[:500],
        body_html=body,
        signature_choice=SignatureChoice.NONE,
    )


def _send(draft: Draft, actor: User) -> Message:
    """Send now, as an automatic message: the person the rule acts as has not read the
    conversation because the rule answered it."""
    was_unread = list(
        ConversationState.objects.filter(conversation_id=draft.conversation_id, user=actor, unread=True).values_list(
            "id", flat=True
        )
    )
    try:
        message = do_send_draft(draft, acting_user=actor, delay_seconds=0, automatic=True)
    except ActionRefused as refused:
        raise ActionFailed(str(refused)) from refused
    ConversationState.objects.filter(id__in=was_unread).update(unread=True)
    return message


def _position(context: Context) -> int:
    return next(i for i, entry in enumerate(context.run.log) if entry.get("index") == context.index)


# --- Forward -----------------------------------------------------------------------------------


def run_forward(context: Context) -> str:
    message = _message(context)
    address = str(context.params.get("address", "")).strip()
    actor = _actor(context)
    draft = _automatic_draft(
        context,
        actor,
        kind=DraftKind.FORWARD,
        to=[{"name": "", "address": address}],
        subject=prefixed_subject("Fwd:", message.subject),
        body=forwarded_block(message),
    )
    _copy_attachments(Attachment.objects.filter(message=message).exclude(file=""), draft, shown=set())
    _send(draft, actor)
    return f"Forwarded to {address}"


# --- Unsubscribe -------------------------------------------------------------------------------


def unsubscribe_targets(message: Message) -> tuple[list[str], bool]:
    """The List-Unsubscribe URIs of the stored raw message, and whether it offers one-click."""
    if not message.raw_file:
        return [], False
    with message.raw_file.open("rb") as raw:
        headers = BytesHeaderParser().parse(raw)
    value = " ".join(str(headers.get("List-Unsubscribe", "")).split())
    targets = [part.strip().strip("<>").strip() for part in value.split(",") if part.strip()]
    one_click = "one-click" in str(headers.get("List-Unsubscribe-Post", "")).lower()
    return [target for target in targets if target], one_click


def run_unsubscribe(context: Context) -> str:
    message = _message(context)
    targets, one_click = unsubscribe_targets(message)
    if not targets:
        return "No List-Unsubscribe header: nothing to do"
    if one_click:
        for url in targets:
            if urllib.parse.urlsplit(url).scheme.lower() in ONE_CLICK_SCHEMES:
                return _one_click(url)
    for target in targets:
        if target.lower().startswith("mailto:"):
            return _unsubscribe_by_mail(context, target)
    raise ActionFailed("The List-Unsubscribe header offers neither one-click nor mailto:")


def _one_click(url: str) -> str:
    error = webhooks.post(url, b"List-Unsubscribe=One-Click", {"Content-Type": "application/x-www-form-urlencoded"})
    if error:
        raise ActionFailed(f"One-click unsubscribe failed: {error}")
    return f"Unsubscribed with a one-click POST to {url}"


def _unsubscribe_by_mail(context: Context, target: str) -> str:
    parts = urllib.parse.urlsplit(target)
    address = urllib.parse.unquote(parts.path)
    query = urllib.parse.parse_qs(parts.query)
    subject = query.get("subject", ["unsubscribe"])[0]
    body = query.get("body", ["unsubscribe"])[0]
    actor = _actor(context)
    draft = _automatic_draft(
        context,
        actor,
        kind=DraftKind.NEW,
        to=[{"name": "", "address": address}],
        subject=subject,
        body=linebreaks(body, autoescape=True),
    )
    _send(draft, actor)
    return f"Unsubscribed by mail to {address}"


# --- Notify ------------------------------------------------------------------------------------


def notify(rule: Rule, conversation: Conversation, users: list[str], text: str) -> int:
    """The Notify action: an item in each chosen user's Activity feed (those with access to the
    conversation), with the rule's text. Returns how many got it. Not a network action; the
    engine calls this from its pass."""
    recipients = User.objects.filter(
        id__in=[user_id for user_id in map(_uuid, users) if user_id],
        memberships__organization_id=rule.organization_id,
    )
    return record_activity(
        recipients=list(recipients),
        kind=ActivityKind.MENTION,
        conversation=conversation,
        actor=None,
        data={"excerpt": text.strip()[:200], "rule": rule.description},
    )


# --- AI ----------------------------------------------------------------------------------------


def _ask(context: Context) -> str:
    message = _message(context)
    result = ai.answer(context.rule, message, str(context.params.get("prompt", "")))
    if result is None:
        raise ActionFailed("The AI provider did not answer.")
    if not result:
        raise ActionFailed("The AI gave an empty answer.")
    return result


def run_ai_note(context: Context) -> str:
    text = _ask(context)
    actor = _actor(context)
    do_post_comment(context.conversation, author=actor, body=f"{text}\n\n— {context.rule.description} (AI)")
    return "Added an AI note"


def run_ai_draft(context: Context) -> str:
    text = _ask(context)
    message = _message(context)
    actor = _actor(context)
    to, _cc, _bcc = reply_recipients(message, actor, reply_all=False)
    _automatic_draft(
        context,
        actor,
        kind=DraftKind.REPLY,
        to=to,
        subject=prefixed_subject("Re:", message.subject or context.conversation.subject),
        body=linebreaks(escape(text)),
    )
    return "Created an AI draft for review"


def task_lines(text: str) -> list[str]:
    """One task per line of the answer, without list markers or checkboxes."""
    titles = []
    for line in text.splitlines():
        title = line.strip().lstrip("-*•").strip()
        if title[:3] in ("[ ]", "[x]", "[X]"):
            title = title[3:].strip()
        head, dot, rest = title.partition(". ")
        if dot and head.isdigit():
            title = rest.strip()
        if title:
            titles.append(title)
    return titles


def run_ai_tasks(context: Context) -> str:
    titles = task_lines(_ask(context))
    actor = _actor(context)
    for title in titles:
        do_create_subtask(context.conversation, acting_user=actor, title=title)
    return f"Added {len(titles)} task(s)"


def run_ai_labels(context: Context) -> str:
    answer = _ask(context)
    allowed = Label.objects.filter(
        organization_id=context.rule.organization_id,
        id__in=[label_id for label_id in map(_uuid, context.params.get("labels", [])) if label_id],
    )
    picked = {part.strip().strip(".").lower() for part in answer.replace("\n", ",").split(",")}
    actor = _actor(context)
    applied = []
    for label in allowed:
        if label.name.lower() in picked:
            do_add_label(context.conversation, label, acting_user=actor)
            applied.append(label.name)
    return f"Labels applied: {', '.join(applied)}" if applied else "The AI picked none of the labels"


HANDLERS: dict[str, Callable[[Context], str]] = {
    "webhook": run_webhook,
    "send_response": run_send_response,
    "forward": run_forward,
    "unsubscribe": run_unsubscribe,
    "ai_note": run_ai_note,
    "ai_draft": run_ai_draft,
    "ai_tasks": run_ai_tasks,
    "ai_labels": run_ai_labels,
}


def do_run_network_actions(run_id: UUID | str, *, now: datetime | None = None) -> int:
    """Run each pending network action of the run once, in log order; returns how many ran."""
    now = now or timezone.now()
    ran = 0
    with transaction.atomic():
        run = (
            RuleRun.objects.select_for_update(of=("self",))
            .select_related("rule", "conversation", "message")
            .filter(id=run_id)
            .first()
        )
        if run is None:
            return 0
        for entry in run.log:
            if entry.get("state") != "pending":
                continue
            entry["state"], entry["detail"] = _run_one(run, entry, now)
            ran += 1
        run.save(update_fields=["log"])
    return ran


def _run_one(run: RuleRun, entry: dict[str, Any], now: datetime) -> tuple[str, str]:
    index = entry.get("index")
    actions = run.rule.actions or []
    if not isinstance(index, int) or not 0 <= index < len(actions) or actions[index].get("type") != entry.get("type"):
        return "failed", "The rule's actions changed since this run started."
    handler = HANDLERS.get(str(entry.get("type")))
    if handler is None:
        return "failed", f"Unknown network action: {entry.get('type')}"
    if run.conversation is None:
        return "failed", "The conversation no longer exists."
    context = Context(run, run.rule, run.conversation, run.message, actions[index], index, now)
    try:
        # What the action writes through the rule's person reads "Rule <description> …".
        with transaction.atomic(), rule_acting(run.rule.description):
            detail = handler(context)
    except (ActionFailed, ActionRefused) as problem:
        return "failed", str(problem)[:300]
    except Exception as problem:  # one broken action must not stop the others
        logger.exception("Rule %s action %s failed", run.rule_id, index)
        return "failed", f"Unexpected error: {type(problem).__name__}"
    return "done", detail[:300]
