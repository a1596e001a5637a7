"""Triage actions from the conversation header, the keyboard and bulk selection.

Each endpoint runs one action per conversation, then answers with the workspace of the page the
user acted from (`return_to`): the conversation stays open if it is still in that mailbox,
otherwise the next one opens, as after archiving in any mail client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import push_url, reswap, retarget, trigger_client_event

from conversations import actions, label_views, quotes, snooze
from conversations.mailboxes import Mailbox, label_mailbox, personal_mailbox, team_mailbox
from conversations.models import Conversation, ConversationState, Label
from conversations.rows import load_rows
from conversations.task_views import add_task_handlers
from conversations.views import conversation_context, get_state_for_user, header_context, toast
from inboxes.access import get_team_for_member
from inboxes.models import Team, User
from missive.htmx import AuthenticatedRequest
from missive.ids import is_uuid

BULK_LIMIT = 100  # the seed's limit on a bulk selection
# Reopening the conversation after these would undo them (opening reads it).
CLOSES_CONVERSATION = {"unread"}
# These change only the header's flags: the open conversation's messages need no re-render.
HEADER_ONLY = {"read", "star", "unstar", "pin", "unpin", "watch", "unwatch"}


def mailbox_for_path(request: AuthenticatedRequest, path: str) -> Mailbox:
    """The mailbox a page path shows (the user must be allowed to see it), Inbox if none."""
    try:
        match = resolve(path.split("?")[0])
    except Resolver404:
        return _inbox()
    kwargs = match.kwargs
    if match.url_name in ("team_mailbox", "team_conversation"):
        return team_mailbox(get_team_for_member(request.user, kwargs["team_id"]), kwargs["key"]) or _inbox()
    if match.url_name in ("label_mailbox", "label_conversation"):
        label = Label.objects.visible_to(request.user).filter(id=kwargs["label_id"]).first()
        return label_mailbox(label) if label else _inbox()
    if match.url_name in ("mailbox", "conversation"):
        return personal_mailbox(kwargs["key"]) or _inbox()
    return _inbox()


def _inbox() -> Mailbox:
    mailbox = personal_mailbox("inbox")
    assert mailbox is not None
    return mailbox


def _flag(request: AuthenticatedRequest, name: str) -> bool:
    return request.POST.get(name) in ("1", "true", "on")


def _optional_flag(request: AuthenticatedRequest, name: str) -> bool | None:
    value = request.POST.get(name, "")
    return None if value == "" else value in ("1", "true", "on")


def _from_team_inbox(request: AuthenticatedRequest, mailbox: Mailbox) -> bool:
    return _flag(request, "from_team_inbox") or (mailbox.team is not None and mailbox.key == "inbox")


def _members(conversation: Conversation, ids: list[str]) -> list[User]:
    users = list(
        User.objects.filter(
            id__in=[i for i in ids if is_uuid(i)],
            memberships__organization_id=conversation.organization_id,
        )
    )
    if len(users) != len(set(ids)):
        raise actions.ActionRefused("Pick people from the conversation's organization.")
    return users


def _teams(conversation: Conversation, ids: list[str]) -> list[Team]:
    teams = list(
        Team.objects.filter(id__in=[i for i in ids if is_uuid(i)], organization_id=conversation.organization_id)
    )
    if len(teams) != len(set(ids)):
        raise actions.ActionRefused("Pick teams of the conversation's organization.")
    return teams


def _quote(request: AuthenticatedRequest) -> quotes.Quotable | None:
    """The comment or message the chat box quotes, if any (it must be one the user can see)."""
    ref = request.POST.get("quote", "")
    if not ref:
        return None
    source = quotes.parse_ref(request.user, ref)
    if source is None:
        raise actions.ActionRefused("What you quoted is no longer available to you.")
    return source


def _block_choice(request: AuthenticatedRequest) -> str:
    choice = request.POST.get("block", "")
    return choice if choice in (actions.BlockChoice.ADDRESS, actions.BlockChoice.DOMAIN) else actions.BlockChoice.NONE


def _snooze(request: AuthenticatedRequest, conversation: Conversation, mailbox: Mailbox) -> None:
    tz = snooze.zone(request.POST.get("tz") or request.COOKIES.get("tz", ""))
    until = snooze.resolve(request.POST.get("preset", ""), request.POST.get("until", ""), timezone.now(), tz)
    if until is None:
        raise actions.ActionRefused("Choose when the conversation should come back.")
    actions.do_snooze(
        conversation,
        acting_user=request.user,
        until=until,
        for_everyone=_flag(request, "for_everyone"),
        leave_in_inbox=_flag(request, "leave_in_inbox"),
        discard_if_reply=_flag(request, "discard_if_reply"),
    )


def _move(request: AuthenticatedRequest, conversation: Conversation, mailbox: Mailbox) -> None:
    team_id = request.POST.get("team_id", "")
    team = (
        Team.objects.filter(id=team_id, organization_id=conversation.organization_id).first()
        if is_uuid(team_id)
        else None
    )
    if team is None:
        raise actions.ActionRefused("Pick a team of the conversation's organization.")
    actions.do_move_to_team(conversation, team, acting_user=request.user)


Handler = Callable[[AuthenticatedRequest, Conversation, Mailbox], Any]
HANDLERS: dict[str, Handler] = {
    "archive": lambda r, c, m: actions.do_archive(
        c, acting_user=r.user, from_team_inbox=_from_team_inbox(r, m), close=_optional_flag(r, "close")
    ),
    "close": lambda r, c, m: actions.do_close(c, acting_user=r.user),
    "reopen": lambda r, c, m: actions.do_reopen(c, acting_user=r.user),
    "assign": lambda r, c, m: actions.do_assign_conversation(
        c, _members(c, r.POST.getlist("user_ids")), acting_user=r.user, replace=_flag(r, "replace")
    ),
    "assign_me": lambda r, c, m: actions.do_assign_conversation(
        c, [r.user], acting_user=r.user, replace=_flag(r, "replace")
    ),
    "unassign": lambda r, c, m: [
        actions.do_unassign(c, user, acting_user=r.user) for user in _members(c, [r.POST.get("user_id", "")])
    ],
    "move": _move,
    "snooze": _snooze,
    "unsnooze": lambda r, c, m: actions.do_unsnooze(c, acting_user=r.user),
    "trash": lambda r, c, m: actions.do_trash(c, acting_user=r.user, from_team_inbox=_from_team_inbox(r, m)),
    "restore": lambda r, c, m: actions.do_restore(c, acting_user=r.user),
    "delete": lambda r, c, m: actions.do_delete_forever(c, acting_user=r.user),
    "spam": lambda r, c, m: actions.do_mark_spam(
        c, acting_user=r.user, from_team_inbox=_from_team_inbox(r, m), block=_block_choice(r)
    ),
    "not_spam": lambda r, c, m: actions.do_mark_not_spam(c, acting_user=r.user),
    "read": lambda r, c, m: actions.do_set_unread(c, acting_user=r.user, unread=False),
    "unread": lambda r, c, m: actions.do_set_unread(c, acting_user=r.user, unread=True),
    "star": lambda r, c, m: actions.do_set_starred(c, acting_user=r.user, starred=True),
    "unstar": lambda r, c, m: actions.do_set_starred(c, acting_user=r.user, starred=False),
    "pin": lambda r, c, m: actions.do_set_pinned(c, acting_user=r.user, pinned=True),
    "unpin": lambda r, c, m: actions.do_set_pinned(c, acting_user=r.user, pinned=False),
    "watch": lambda r, c, m: actions.do_set_watching(c, acting_user=r.user, watching=True),
    "unwatch": lambda r, c, m: actions.do_set_watching(c, acting_user=r.user, watching=False),
    "share": lambda r, c, m: actions.do_share_conversation(
        c,
        acting_user=r.user,
        users=_members(c, r.POST.getlist("user_ids")),
        teams=_teams(c, r.POST.getlist("team_ids")),
        show_in_inbox=_flag(r, "show_in_inbox"),
    ),
    "remove_access": lambda r, c, m: [
        actions.do_remove_access(c, user, acting_user=r.user) for user in _members(c, [r.POST.get("user_id", "")])
    ],
    "react": lambda r, c, m: actions.do_toggle_reaction(
        c, r.POST.get("comment_id", ""), acting_user=r.user, emoji=r.POST.get("emoji", "")
    ),
    "comment": lambda r, c, m: actions.do_post_comment(
        c, author=r.user, body=r.POST.get("body", ""), files=r.FILES.getlist("files"), quote=_quote(r)
    ),
    "edit_comment": lambda r, c, m: actions.do_edit_comment(
        c, r.POST.get("comment_id", ""), acting_user=r.user, body=r.POST.get("body", "")
    ),
    "delete_comment": lambda r, c, m: actions.do_delete_comment(c, r.POST.get("comment_id", ""), acting_user=r.user),
    "label": label_views.add_label,
    "unlabel": label_views.remove_label,
    "set_labels": label_views.set_labels,
}
# The internal chat and the access menu act on one conversation, never on a selection.
SINGLE_ONLY = {"comment", "edit_comment", "delete_comment", "react", "share", "remove_access"}
add_task_handlers(HANDLERS, SINGLE_ONLY)
# Offered for a selection only if every item allows them: rooms are never assigned or closed.
NOT_FOR_ROOMS = {"close", "assign", "assign_me", "move"}
SINGLE_ONLY |= {"set_labels"}  # the label menu of one conversation (a selection adds or removes one)


@require_POST
@login_required
def conversation_action(request: AuthenticatedRequest, conversation_id: UUID, action: str) -> HttpResponse:
    """Run one triage action on one conversation."""
    handler = HANDLERS.get(action)
    if handler is None:
        raise Http404("No such action.")
    state = get_state_for_user(request, conversation_id)
    return _run(request, action, handler, [state], open_id=conversation_id)


@require_POST
@login_required
def bulk_action(request: AuthenticatedRequest, action: str) -> HttpResponse:
    """Run one triage action on each selected conversation, exactly as one at a time."""
    handler = HANDLERS.get(action)
    if handler is None or action in SINGLE_ONLY:
        raise Http404("No such action.")
    ids = list(dict.fromkeys(i for i in request.POST.getlist("ids") if is_uuid(i)))
    if not ids:
        return HttpResponseBadRequest("Select at least one conversation.")
    if len(ids) > BULK_LIMIT:
        return HttpResponseBadRequest(f"Select at most {BULK_LIMIT} conversations.")
    states = list(
        ConversationState.objects.filter(user=request.user, conversation_id__in=ids).select_related("conversation")
    )
    if len(states) != len(ids):
        raise Http404("No such conversation.")
    if action in NOT_FOR_ROOMS and any(state.conversation.is_room for state in states):
        return toast(request, "Chat rooms cannot be assigned or closed: leave them out of the selection.")
    open_id = request.POST.get("open", "")
    return _run(request, action, handler, states, open_id=UUID(open_id) if is_uuid(open_id) else None)


def _run(
    request: AuthenticatedRequest,
    action: str,
    handler: Handler,
    states: list[ConversationState],
    *,
    open_id: UUID | None,
) -> HttpResponse:
    mailbox = mailbox_for_path(request, request.POST.get("return_to", ""))
    following = _next_conversation_id(request, mailbox, states) if open_id else None
    errors = []
    for state in states:
        try:
            handler(request, state.conversation, mailbox)
        except actions.ArchiveNeedsChoice:
            return _archive_prompt(request, action, states, mailbox)
        except ValidationError as error:
            errors.append(" ".join(error.messages))
    if errors:
        return toast(request, errors[0])
    if action in CLOSES_CONVERSATION:
        open_id = following = None
    return _after_action(request, mailbox, states, open_id, following, header_only=action in HEADER_ONLY)


def _next_conversation_id(
    request: AuthenticatedRequest, mailbox: Mailbox, states: list[ConversationState]
) -> UUID | None:
    """The conversation below the acted-on one in the list: it opens if the acted-on one leaves."""
    oldest = min(states, key=lambda s: (s.last_activity_at, s.id))
    row = (
        mailbox.states(request.user)
        .filter(**{f"{mailbox.ordering[0].lstrip('-')}__lt": oldest.last_activity_at})
        .exclude(conversation_id__in=[s.conversation_id for s in states])
        .order_by(*mailbox.ordering)
        .values_list("conversation_id", flat=True)
        .first()
    )
    return row


def _after_action(
    request: AuthenticatedRequest,
    mailbox: Mailbox,
    states: list[ConversationState],
    open_id: UUID | None,
    following: UUID | None,
    *,
    header_only: bool = False,
) -> HttpResponse:
    """Answer with the least that changed: the open conversation's pane, and the acted-on rows
    updated in place (out of band) or removed (the `rows-removed` event). The next conversation
    and the sidebar counts are fetched by the page right after (HX-Trigger), so the action itself
    answers fast."""
    acted = [s.conversation_id for s in states]
    rows = list(_list_rows(request, mailbox, [*acted, *([open_id] if open_id else [])]))
    listed = {row.conversation_id for row in rows}
    next_url = mailbox.conversation_url(following) if open_id and open_id not in listed and following else ""
    if open_id and open_id not in listed:
        open_id = None
    url = mailbox.conversation_url(open_id) if open_id else (next_url or mailbox.url)
    if not request.htmx:
        return redirect(url)
    removed = [str(conversation_id) for conversation_id in acted if conversation_id not in listed]
    context = {
        "mailbox": mailbox,
        "rows": [row for row in rows if row.conversation_id in acted],
        "opening_next": bool(next_url),
    }
    if open_id and header_only:
        context.update(header_context(request, get_state_for_user(request, open_id)), header_only=True)
        response = reswap(render(request, "conversations/_action_result.html", context), "none")
    else:
        if open_id:
            context.update(conversation_context(request, get_state_for_user(request, open_id)))
        response = render(request, "conversations/_action_result.html", context)
        response = retarget(reswap(response, "innerHTML"), "#conversation-pane")
    events: dict[str, Any] = {"counts-changed": True}
    if removed:
        # Taken out by the page if still there: a live refresh of the list may have been first.
        events["rows-removed"] = removed
    if next_url:
        events["open-conversation"] = {"url": next_url}
    else:
        push_url(response, url)
    return trigger_client_event(response, "missive", events)


def _list_rows(request: AuthenticatedRequest, mailbox: Mailbox, conversation_ids: list[Any]) -> list[ConversationState]:
    return load_rows(mailbox.states(request.user).filter(conversation_id__in=conversation_ids))


def _archive_prompt(
    request: AuthenticatedRequest, action: str, states: list[ConversationState], mailbox: Mailbox
) -> HttpResponse:
    """The "Archiving assigned conversations" prompt: archive only, or archive and close."""
    context = {
        "states": states,
        "action_url": request.path,
        "return_to": request.POST.get("return_to", mailbox.url),
        "open_id": request.POST.get("open", ""),
    }
    response = render(request, "conversations/_archive_prompt.html", context)
    return reswap(retarget(response, "#modal"), "innerHTML")
