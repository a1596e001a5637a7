"""The composer: start a reply, forward or new email, autosave, files, signature, send and its
menu, send later, undo, discard and restore. Every view starts from a permission-checked fetch
(a draft of a conversation the user can access), so anything else is a 404."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from uuid import UUID

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from conversations import composer_rules, drafts, snooze
from conversations.action_views import _after_action, _next_conversation_id, mailbox_for_path
from conversations.actions import ActionRefused
from conversations.mailboxes import personal_mailbox
from conversations.models import (
    Conversation,
    Draft,
    DraftAttachment,
    DraftKind,
    DraftStatus,
    Message,
    SendAction,
)
from conversations.sending import (
    PHONE_KINDS,
    do_edit_failed_message,
    do_schedule_draft,
    do_send_draft,
    do_undo_send,
    do_unschedule_draft,
    sender_name,
    template_context,
)
from conversations.signatures import render_signature, signature_of
from conversations.templating import TemplateProblem
from conversations.views import download_response, get_state_for_user, toast
from inboxes.access import get_membership
from inboxes.aliases import signature_choices, usable_aliases
from inboxes.models import Alias, Signature
from missive.htmx import AuthenticatedRequest
from missive.ids import is_uuid


def _pane(request: AuthenticatedRequest, conversation: Conversation, *, open_draft: UUID | None = None) -> HttpResponse:
    """The conversation pane again, as after a triage action, with this draft's composer open."""
    if open_draft is not None:
        request.open_draft_id = open_draft  # type: ignore[attr-defined]  # read by {% drafts_of %}
    mailbox = mailbox_for_path(request, request.POST.get("return_to", ""))
    state = get_state_for_user(request, conversation.id)
    if not request.htmx:
        url = mailbox.conversation_url(conversation.id)
        return redirect(f"{url}?draft={open_draft}" if open_draft else url)
    if open_draft is not None and not mailbox.states(request.user).filter(conversation_id=conversation.id).exists():
        # The conversation left the list the user is in (Send & archive, then Undo): open it in All.
        everything = personal_mailbox("all")
        assert everything is not None
        return HttpResponseClientRedirect(f"{everything.conversation_url(conversation.id)}?draft={open_draft}")
    following = _next_conversation_id(request, mailbox, [state])
    return _after_action(request, mailbox, [state], conversation.id, following)


def _composer_error(draft_id: UUID, message: str) -> HttpResponse:
    response = HttpResponse(render_to_string("conversations/composer/_error.html", {"message": message}))
    return retarget(reswap(response, "innerHTML"), f"#draft-error-{draft_id}")


def _refusal(refusal: ActionRefused) -> str:
    return " ".join(refusal.messages)


@require_POST
@login_required
def start_draft(request: AuthenticatedRequest, conversation_id: UUID) -> HttpResponse:
    """Reply, Reply all or Forward, from the toolbar or an email's own buttons."""
    conversation = get_state_for_user(request, conversation_id).conversation
    message_id = request.POST.get("message_id", "")
    try:
        draft = drafts.do_start_draft(
            conversation,
            acting_user=request.user,
            kind=request.POST.get("kind", DraftKind.REPLY),
            message_id=UUID(message_id) if is_uuid(message_id) else None,
        )
    except ActionRefused as refusal:
        return toast(request, _refusal(refusal))
    return _pane(request, conversation, open_draft=draft.id)


@require_POST
@login_required
def compose(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """New email: a private conversation and its draft, opened in the Drafts mailbox."""
    membership = get_membership(request.user, org_id)
    draft = drafts.do_start_new_email(membership.organization, acting_user=request.user)
    mailbox = personal_mailbox("drafts")
    assert mailbox is not None
    url = f"{mailbox.conversation_url(draft.conversation_id)}?draft={draft.id}"
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_safe
@login_required
def open_composer(request: AuthenticatedRequest, draft_id: UUID) -> HttpResponse:
    """A draft's composer, in place of its collapsed card."""
    draft = drafts.get_draft_for_user(request.user, draft_id)
    context = {"draft": draft, "composer": composer_context(request, draft)}
    return render(request, "conversations/composer/_composer.html", context)


def composer_context(request: AuthenticatedRequest, draft: Draft) -> dict:
    """What the composer shows: its fields, From choices, files, signature preview, send menu."""
    user = request.user
    attachments = list(draft.attachments.all())
    # A text message has no subject (channels_app gives it one recipient row, and WhatsApp templates).
    phone_kind = draft.account.kind if draft.account is not None and draft.account.kind in PHONE_KINDS else ""
    rules = composer_rules.rules_for(draft)
    choices = alias_choices(request, draft.organization_id)
    if composer_rules.is_new_conversation(draft):
        closed = composer_rules.accounts_without_new_conversations(draft.organization_id)
        choices = [(alias, label) for alias, label in choices if alias.account_id not in closed]
    return {
        "draft": draft,
        "phone_kind": phone_kind,
        "conversation": draft.conversation,
        "alias_choices": choices,
        **_signature_context(request, draft),
        "recipient_rows": [
            (field, label, getattr(draft, field))
            for field, label in composer_rules.RECIPIENT_ROWS
            if field in rules.fields
        ],
        "recipients_locked": rules.locked,
        "recipient_placeholder": rules.placeholder,
        "files": [a for a in attachments if not a.is_inline],
        "sync_url": reverse("draft_sync", args=[draft.id]),
        "shows_subject": draft.kind in (DraftKind.NEW, DraftKind.FORWARD) and not phone_kind,
        "snooze_presets": snooze.presets(timezone.now(), snooze.zone(request.COOKIES.get("tz", ""))),
        "archive_by_default": user.send_and_archive_by_default,
        "max_mb": settings.DRAFT_ATTACHMENTS_MAX_MB,
        "inline_map": json.dumps(
            {a.content_id: reverse("draft_attachment", args=[a.id]) for a in attachments if a.is_inline}
        ),
    }


def _posted_fields(request: AuthenticatedRequest, draft: Draft) -> dict:
    """The fields the page says changed (`fields`): only those are saved."""
    names = set(request.POST.getlist("fields"))
    fields: dict = {}
    if "alias" in names:
        alias_id = request.POST.get("alias", "")
        alias = (
            usable_aliases(request.user, draft.organization_id).filter(id=alias_id).first()
            if is_uuid(alias_id)
            else None
        )
        if alias is None:
            raise ActionRefused("Choose a From address you may send from.")
        fields["alias"] = alias
    for name in drafts.RECIPIENT_FIELDS:
        if name in names:
            fields[name] = drafts.parse_recipients(request.POST.getlist(name))
    if "subject" in names:
        fields["subject"] = request.POST.get("subject", "")
    if "body_html" in names:
        fields["body_html"] = request.POST.get("body_html", "")
    return fields


def _save_posted(request: AuthenticatedRequest, draft: Draft) -> Draft:
    fields = _posted_fields(request, draft)
    if not fields:
        return draft
    client = request.POST.get("client", "")
    return drafts.do_update_draft(draft, acting_user=request.user, fields=fields, client=client)


@require_POST
@login_required
def save_draft(request: AuthenticatedRequest, draft_id: UUID) -> JsonResponse:
    """Autosave: the fields that changed, last write wins per field."""
    draft = drafts.get_draft_for_user(request.user, draft_id)
    try:
        draft = _save_posted(request, draft)
    except ActionRefused as refusal:
        return JsonResponse({"error": _refusal(refusal)}, status=400)
    return JsonResponse({"version": draft.version, "saved_at": draft.updated_at.isoformat()})


@require_POST
@login_required
def choose_signature(request: AuthenticatedRequest, draft_id: UUID) -> HttpResponse:
    """The Signature menu: default, none, or one of the user's signatures, for this draft only."""
    draft = drafts.get_draft_for_user(request.user, draft_id)
    choice, signature_id = request.POST.get("choice", ""), request.POST.get("signature_id", "")
    signature = Signature.objects.filter(id=signature_id).first() if is_uuid(signature_id) else None
    try:
        drafts.do_choose_signature(draft, acting_user=request.user, choice=choice, signature=signature)
    except ActionRefused as refusal:
        return _composer_error(draft.id, _refusal(refusal))
    draft.refresh_from_db()
    return render(request, "conversations/composer/_signature.html", _signature_context(request, draft))


def _signature_context(request: AuthenticatedRequest, draft: Draft) -> dict:
    """The composer's Signature menu and its preview, as this draft's email would show it."""
    user = request.user
    signature_html, signature_error = "", ""
    if draft.alias is not None and draft.account is not None:
        context = template_context(
            draft,
            user,
            message_id=uuid.uuid4(),
            from_name=sender_name(draft, user),
            from_address=draft.alias.address,
        )
    else:
        context = {}
    try:
        signature_html = render_signature(draft, user, first_email=not draft.conversation.has_outbound, context=context)
    except TemplateProblem as problem:
        signature_error = str(problem)
    except ActionRefused:
        signature_html = ""
    signature = signature_of(draft, user)
    return {
        "draft": draft,
        "signatures": list(signature_choices(user, draft.organization_id)),
        "signature_name": signature.name if signature else "",
        "signature_html": signature_html,
        "signature_error": signature_error,
    }


@require_POST
@login_required
def upload_attachment(request: AuthenticatedRequest, draft_id: UUID) -> JsonResponse:
    """A file by the button, a paste or a drop; `inline` for an image dropped into the text."""
    draft = drafts.get_draft_for_user(request.user, draft_id)
    upload = request.FILES.get("file")
    if upload is None:
        return JsonResponse({"error": "Choose a file."}, status=400)
    try:
        attachment = drafts.do_add_draft_attachment(
            draft, acting_user=request.user, upload=upload, inline=request.POST.get("inline") == "1"
        )
    except ActionRefused as refusal:
        return JsonResponse({"error": _refusal(refusal)}, status=400)
    chip = render_to_string("conversations/composer/_attachment.html", {"a": attachment, "draft": draft})
    return JsonResponse(
        {
            "id": str(attachment.id),
            "filename": attachment.filename,
            "inline": attachment.is_inline,
            "content_id": attachment.content_id,
            "url": reverse("draft_attachment", args=[attachment.id]),
            "chip": "" if attachment.is_inline else chip,
        }
    )


def _attachment_for_user(request: AuthenticatedRequest, attachment_id: UUID) -> DraftAttachment:
    attachment = (
        DraftAttachment.objects.filter(id=attachment_id, draft__conversation__states__user=request.user)
        .select_related("draft")
        .first()
    )
    if attachment is None:
        raise Http404("No such file.")
    return attachment


@require_POST
@login_required
def remove_attachment(request: AuthenticatedRequest, draft_attachment_id: UUID) -> HttpResponse:
    """The × of a file chip."""
    attachment = _attachment_for_user(request, draft_attachment_id)
    if attachment.draft.status not in drafts.OPEN_STATUSES:
        raise Http404("No such file.")
    drafts.do_remove_draft_attachment(attachment, acting_user=request.user)
    return HttpResponse("")


INLINE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


@require_safe
@login_required
def draft_attachment(request: AuthenticatedRequest, draft_attachment_id: UUID) -> FileResponse:
    """A draft's file for people with access: images shown inline (the editor's cid: images),
    anything else as a download."""
    attachment = _attachment_for_user(request, draft_attachment_id)
    if attachment.content_type in INLINE_TYPES:
        response = FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = "default-src 'none'"
        return response
    return download_response(attachment.file, attachment.filename)


def _moment(request: AuthenticatedRequest, picked: str) -> datetime | None:
    """A preset of the shared time picker, or the date and time picked in the field `picked`."""
    tz = snooze.zone(request.POST.get("tz") or request.COOKIES.get("tz", ""))
    return snooze.resolve(request.POST.get("preset", ""), request.POST.get(picked, ""), timezone.now(), tz)


@require_POST
@login_required
def send_draft(request: AuthenticatedRequest, draft_id: UUID) -> HttpResponse:
    """Send, Send & archive / close / snooze. A refusal is shown in the composer; nothing is sent."""
    draft = drafts.get_draft_for_user(request.user, draft_id)
    action = request.POST.get("send_action", SendAction.SEND)
    if action not in SendAction.values:
        return _composer_error(draft.id, "Choose how to send.")
    snooze_until = _moment(request, "snooze_at") if action == SendAction.SNOOZE else None
    if action == SendAction.SNOOZE and snooze_until is None:
        return _composer_error(draft.id, "Choose when the conversation should come back.")
    try:
        # What the sender sees is what goes: the fields not yet autosaved are saved first.
        draft = _save_posted(request, draft)
        message = do_send_draft(draft, acting_user=request.user, action=action, snooze_until=snooze_until)
    except ActionRefused as refusal:
        return _composer_error(draft.id, _refusal(refusal))
    response = _pane(request, draft.conversation)
    seconds = request.user.undo_send_seconds
    if seconds and request.htmx:
        banner = render_to_string(
            "conversations/composer/_undo_banner.html", {"message": message, "seconds": seconds}, request=request
        )
        response.content += banner.encode()
    return response


def _message_for(request: AuthenticatedRequest, message_id: UUID) -> Message:
    """An email of a conversation the user has access to (404 otherwise)."""
    message = Message.objects.filter(id=message_id, conversation__states__user=request.user).first()
    if message is None:
        raise Http404("No such email.")
    return message


@require_POST
@login_required
def undo_send(request: AuthenticatedRequest, message_id: UUID) -> HttpResponse:
    """The banner's Undo: the message is not sent, its draft opens again as it was."""
    message = _message_for(request, message_id)
    try:
        draft = do_undo_send(message, acting_user=request.user)
    except ActionRefused as refusal:
        return toast(request, _refusal(refusal))
    return _pane(request, draft.conversation, open_draft=draft.id)


@require_POST
@login_required
def edit_failed_message(request: AuthenticatedRequest, message_id: UUID) -> HttpResponse:
    """A message that could not be sent: Edit turns it back into its draft, opened to fix it."""
    message = _message_for(request, message_id)
    try:
        draft = do_edit_failed_message(message, acting_user=request.user)
    except ActionRefused as refusal:
        return toast(request, _refusal(refusal))
    return _pane(request, draft.conversation, open_draft=draft.id)


@require_POST
@login_required
def schedule_draft(request: AuthenticatedRequest, draft_id: UUID) -> HttpResponse:
    """Send later (Mod+J): at a preset or picked time, optionally discarded if someone replies."""
    draft = drafts.get_draft_for_user(request.user, draft_id)
    at = _moment(request, "later_at")
    if at is None:
        return _composer_error(draft.id, "Choose when to send.")
    try:
        draft = _save_posted(request, draft)
        do_schedule_draft(
            draft,
            acting_user=request.user,
            at=at,
            discard_if_reply=request.POST.get("discard_if_reply") in ("1", "on"),
        )
    except ActionRefused as refusal:
        return _composer_error(draft.id, _refusal(refusal))
    return _pane(request, draft.conversation, open_draft=draft.id)


@require_POST
@login_required
def unschedule_draft(request: AuthenticatedRequest, draft_id: UUID) -> HttpResponse:
    draft = drafts.get_draft_for_user(request.user, draft_id, statuses=(DraftStatus.SCHEDULED,))
    try:
        do_unschedule_draft(draft, acting_user=request.user)
    except ActionRefused as refusal:
        return toast(request, _refusal(refusal))
    return _pane(request, draft.conversation, open_draft=draft.id)


@require_POST
@login_required
def discard_draft(request: AuthenticatedRequest, draft_id: UUID) -> HttpResponse:
    """The trash icon: the timeline says so, and its "draft" link brings it back."""
    draft = drafts.get_draft_for_user(request.user, draft_id)
    drafts.do_discard_draft(draft, acting_user=request.user)
    return _pane(request, draft.conversation)


@require_POST
@login_required
def restore_draft(request: AuthenticatedRequest, draft_id: UUID) -> HttpResponse:
    draft = drafts.get_draft_for_user(request.user, draft_id, statuses=(DraftStatus.DISCARDED,))
    try:
        drafts.do_restore_draft(draft, acting_user=request.user)
    except ActionRefused as refusal:
        return toast(request, _refusal(refusal))
    return _pane(request, draft.conversation, open_draft=draft.id)


@require_safe
@login_required
def recipient_suggestions(request: AuthenticatedRequest, conversation_id: UUID) -> HttpResponse:
    """Address autocomplete for the To/Cc/Bcc fields of a draft of this conversation."""
    conversation = get_state_for_user(request, conversation_id).conversation
    people = drafts.recipient_suggestions(request.user, conversation.organization_id, request.GET.get("q", ""))
    return render(request, "conversations/composer/_suggestions.html", {"people": people})


def alias_choices(request: AuthenticatedRequest, organization_id: UUID) -> list[tuple[Alias, str]]:
    """The From menu: each alias, with its description when another one shares its address."""
    choices = list(usable_aliases(request.user, organization_id).select_related("account"))
    counts: dict[str, int] = {}
    for alias in choices:
        counts[alias.address.lower()] = counts.get(alias.address.lower(), 0) + 1
    labelled = []
    for alias in choices:
        label = str(alias)
        if counts[alias.address.lower()] > 1 and alias.description:
            label = f"{label} ({alias.description})"
        labelled.append((alias, label))
    return labelled
