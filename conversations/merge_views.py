"""The Merge... dialog (More menu, Mod+Shift+G, dropping a row on another), batch merge of a
selection, and Move email to... New conversation from an email's menu."""

from __future__ import annotations

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HttpResponseLocation, push_url, reswap, retarget, trigger_client_event

from conversations import merge
from conversations.action_views import mailbox_for_path
from conversations.actions import ActionRefused
from conversations.mail_views import get_message_for_user
from conversations.mailboxes import Mailbox
from conversations.models import Conversation, ConversationState
from conversations.views import conversation_context, get_state_for_user, toast
from missive.htmx import AuthenticatedRequest
from missive.ids import is_uuid

INTO_THIS = "into_this"  # the open conversation is the target (the seed's Merge... by link)
INTO_OTHER = "into_other"


def merged_redirect(request: AuthenticatedRequest, mailbox: Mailbox, conversation_id: UUID) -> HttpResponse | None:
    """Opening a merged conversation's old address opens the conversation it was merged into."""
    target_id = merge.merged_into(request.user, conversation_id)
    if target_id is None:
        return None
    url = mailbox.conversation_url(target_id)
    if request.htmx:
        return HttpResponseLocation(url, target=f"#{request.htmx.target}" if request.htmx.target else None)
    return redirect(url)


def _other(request: AuthenticatedRequest, value: str) -> Conversation:
    if not is_uuid(value):
        raise Http404("No such conversation.")
    return get_state_for_user(request, UUID(value)).conversation


def _pair(this: Conversation, other: Conversation, direction: str) -> tuple[Conversation, Conversation]:
    """(source, target)."""
    return (this, other) if direction == INTO_OTHER else (other, this)


@require_safe
@login_required
def merge_dialog(request: AuthenticatedRequest, conversation_id: UUID) -> HttpResponse:
    """The Merge... dialog: find the other conversation, then pick direction and subject."""
    this = get_state_for_user(request, conversation_id).conversation
    return_to = request.GET.get("return_to", "")
    other_id = request.GET.get("with") or request.GET.get("other")
    if not other_id:
        candidates = merge.merge_candidates(request.user, this, "")
        context = {"conversation": this, "return_to": return_to, "candidates": candidates}
        return render(request, "conversations/merge/_dialog.html", context)
    other = _other(request, other_id)
    return _confirm(
        request,
        this,
        other,
        direction=request.GET.get("direction", INTO_THIS),
        subject_choice=request.GET.get("subject_choice", merge.SubjectChoice.AUTO),
        new_subject=request.GET.get("new_subject", ""),
        return_to=return_to,
    )


def _confirm(
    request: AuthenticatedRequest,
    this: Conversation,
    other: Conversation,
    *,
    direction: str,
    subject_choice: str,
    new_subject: str,
    return_to: str,
    error: str = "",
) -> HttpResponse:
    source, target = _pair(this, other, direction)
    refusal = merge.refusal(source, target, acting_user=request.user)
    automatic = merge.automatic_subject(source, target)[0] if not refusal else ""
    context = {
        "conversation": this,
        "other": other,
        "source": source,
        "target": target,
        "direction": INTO_OTHER if direction == INTO_OTHER else INTO_THIS,
        "automatic_subject": automatic,
        "subject_choice": subject_choice if subject_choice in merge.SubjectChoice.values else "auto",
        "new_subject": new_subject,
        "refusal": refusal,
        "error": error,
        "return_to": return_to,
    }
    return render(request, "conversations/merge/_confirm.html", context)


@require_safe
@login_required
def merge_candidates(request: AuthenticatedRequest, conversation_id: UUID) -> HttpResponse:
    """The conversations the dialog offers for what was typed or pasted."""
    this = get_state_for_user(request, conversation_id).conversation
    context = {
        "conversation": this,
        "candidates": merge.merge_candidates(request.user, this, request.GET.get("q", "")),
        "return_to": request.GET.get("return_to", ""),
        "searched": bool(request.GET.get("q", "").strip()),
    }
    return render(request, "conversations/merge/_candidates.html", context)


@require_POST
@login_required
def merge_conversation(request: AuthenticatedRequest, conversation_id: UUID) -> HttpResponse:
    """Merge the open conversation and the picked one, in the picked direction."""
    done = _already_merged(request, conversation_id, request.POST.get("other", ""))
    if done is not None:
        return _show(request, done)
    this = get_state_for_user(request, conversation_id).conversation
    other = _other(request, request.POST.get("other", ""))
    direction = request.POST.get("direction", INTO_THIS)
    choice = request.POST.get("subject_choice", merge.SubjectChoice.AUTO)
    new_subject = request.POST.get("new_subject", "")
    source, target = _pair(this, other, direction)
    try:
        merge.do_merge_conversations(
            source, target, acting_user=request.user, subject_choice=choice, new_subject=new_subject
        )
    except ActionRefused as refused:
        response = _confirm(
            request,
            this,
            other,
            direction=direction,
            subject_choice=choice,
            new_subject=new_subject,
            return_to=request.POST.get("return_to", ""),
            error=" ".join(refused.messages),
        )
        return reswap(retarget(response, "#modal"), "innerHTML")
    return _show(request, target.id)


def _already_merged(request: AuthenticatedRequest, this_id: UUID, other: str) -> UUID | None:
    """A Merge sent again (a double click, a retry) after it went through: its result."""
    if not is_uuid(other):
        return None
    other_id = UUID(other)
    if merge.merged_into(request.user, other_id) == this_id:
        return this_id
    if merge.merged_into(request.user, this_id) == other_id:
        return other_id
    return None


def _selection(request: AuthenticatedRequest, ids: list[str]) -> list[ConversationState]:
    """The selected conversations' states, in selection order; 404 if any is out of reach."""
    ids = list(dict.fromkeys(i for i in ids if is_uuid(i)))
    states = {
        s.conversation_id: s
        for s in ConversationState.objects.filter(user=request.user, conversation_id__in=ids).select_related(
            "conversation"
        )
    }
    if len(states) != len(ids):
        raise Http404("No such conversation.")
    return [states[UUID(i)] for i in ids]


@require_safe
@login_required
def merge_batch_dialog(request: AuthenticatedRequest) -> HttpResponse:
    """Confirm merging the selected conversations into the first one selected."""
    states = _selection(request, request.GET.getlist("ids"))
    return _batch(request, states, return_to=request.GET.get("return_to", ""))


def _batch(
    request: AuthenticatedRequest, states: list[ConversationState], *, return_to: str, error: str = ""
) -> HttpResponse:
    conversations = [s.conversation for s in states]
    refusal = "Select at least two conversations to merge." if len(conversations) < 2 else ""
    for source in conversations[1:]:
        refusal = refusal or merge.refusal(source, conversations[0], acting_user=request.user)
    context = {
        "target": conversations[0] if conversations else None,
        "conversations": conversations,
        "refusal": refusal,
        "error": error,
        "return_to": return_to,
        "new_subject": request.POST.get("new_subject", ""),
    }
    return render(request, "conversations/merge/_batch.html", context)


@require_POST
@login_required
def merge_batch(request: AuthenticatedRequest) -> HttpResponse:
    """Merge X conversations: all of them into the first one selected."""
    states = _selection(request, request.POST.getlist("ids"))
    try:
        target = merge.do_merge_many(
            [s.conversation for s in states], acting_user=request.user, new_subject=request.POST.get("new_subject", "")
        )
    except ActionRefused as refused:
        response = _batch(
            request, states, return_to=request.POST.get("return_to", ""), error=" ".join(refused.messages)
        )
        return reswap(retarget(response, "#modal"), "innerHTML")
    return _show(request, target.id)


@require_POST
@login_required
def move_message_out(request: AuthenticatedRequest, message_id: UUID) -> HttpResponse:
    """Move email to... New shared (or private) conversation, which then opens."""
    message = get_message_for_user(request, message_id)
    try:
        moved = merge.do_move_message_out(message, acting_user=request.user, shared=request.POST.get("shared") != "0")
    except ActionRefused as refused:
        return toast(request, " ".join(refused.messages))
    return _show(request, moved.id)


def _show(request: AuthenticatedRequest, conversation_id: UUID) -> HttpResponse:
    """After a merge or a move: the resulting conversation opens in the mailbox the user is in;
    the list and the sidebar counts are fetched again (merge.js, app.js)."""
    mailbox = mailbox_for_path(request, request.POST.get("return_to", ""))
    url = mailbox.conversation_url(conversation_id)
    if not request.htmx:
        return redirect(url)
    context = {"mailbox": mailbox, **conversation_context(request, get_state_for_user(request, conversation_id))}
    response = render(request, "conversations/mailbox.html#conversation_pane", context)
    response = retarget(reswap(response, "innerHTML"), "#conversation-pane")
    push_url(response, url)
    trigger_client_event(response, "missive", {"counts-changed": True})
    return trigger_client_event(response, "merge-list-changed")
