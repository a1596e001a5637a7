"""The inbox screen: sidebar, conversation list, conversation view, details."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from urllib.parse import urlencode
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.db.models import F, Prefetch, Q, QuerySet
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_safe
from django_htmx.http import reswap, retarget, trigger_client_event

from conversations import comment_files, snooze
from conversations.actions import REACTIONS, WEBMAIL_DOMAINS, do_mark_conversation_read
from conversations.labels import get_label_for_user, header_labels, label_path
from conversations.mailboxes import Mailbox, label_mailbox, personal_mailbox, team_mailbox
from conversations.models import (
    AccessSource,
    Assignment,
    Attachment,
    Comment,
    CommentReaction,
    Conversation,
    ConversationEvent,
    ConversationState,
    Direction,
    Message,
    OutboxMessage,
    Post,
)
from conversations.rows import load_rows
from conversations.search_views import FILTER_OPERATORS, compose_query, matching_items, search_context
from conversations.sidebar import sidebar_context
from inboxes.access import get_team_for_member
from inboxes.mention_groups import MENTION_ALL, mention_group_suggestions, mention_handle
from inboxes.models import Account, Membership, Role, Team, User
from missive.htmx import AuthenticatedRequest, render_page

PAGE_SIZE = 50
# HTMX target element id -> the partial of conversations/mailbox.html that fills it.
PARTIALS = {
    "workspace": "workspace",
    "conversation-pane": "conversation_pane",
    "conversation-list": "rows",
    "list-more": "rows",
}


def toast(request: AuthenticatedRequest, message: str, *, level: str = "error") -> HttpResponse:
    """A message in the page's toast instead of the element the request targeted."""
    response = render(request, "conversations/_toast.html", {"message": message, "level": level})
    return reswap(retarget(response, "#toast"), "innerHTML")


def get_state_for_user(request: AuthenticatedRequest, conversation_id: UUID) -> ConversationState:
    """The user's state of a conversation they can access; 404 for anything else."""
    state = (
        ConversationState.objects.filter(user=request.user, conversation_id=conversation_id)
        .select_related("conversation", "conversation__team", "conversation__organization")
        .first()
    )
    if state is None:
        raise Http404("No such conversation.")
    return state


@require_safe
@login_required
def home(request: AuthenticatedRequest) -> HttpResponse:
    """The personal Inbox is home."""
    return redirect("mailbox", "inbox")


@require_safe
@login_required
def mailbox_view(request: AuthenticatedRequest, key: str, conversation_id: UUID | None = None) -> HttpResponse:
    """A personal mailbox, optionally with one of its conversations open."""
    mailbox = personal_mailbox(key)
    if mailbox is None:
        raise Http404("No such mailbox.")
    return render_mailbox(request, mailbox, conversation_id)


@require_safe
@login_required
def team_mailbox_view(
    request: AuthenticatedRequest, team_id: UUID, key: str, conversation_id: UUID | None = None
) -> HttpResponse:
    """A team's inbox or sub-mailbox, for its active members and observers."""
    mailbox = team_mailbox(get_team_for_member(request.user, team_id), key)
    if mailbox is None:
        raise Http404("No such mailbox.")
    return render_mailbox(request, mailbox, conversation_id)


@require_safe
@login_required
def label_mailbox_view(
    request: AuthenticatedRequest, label_id: UUID, conversation_id: UUID | None = None
) -> HttpResponse:
    """Conversations with a label the user may see, among those the user can access."""
    label = get_label_for_user(request.user, label_id)
    return render_mailbox(request, label_mailbox(label, label_path(label)), conversation_id)


def render_mailbox(
    request: AuthenticatedRequest, mailbox: Mailbox, conversation_id: UUID | None, *, partial: str | None = None
) -> HttpResponse:
    """The mailbox page, or the partial HTMX asked for (or the one given). Each part is only
    computed when shown: the pane alone has no list and no sidebar."""
    target = partial or (PARTIALS.get(request.htmx.target or "") if request.htmx else None)
    context: dict = {"mailbox": mailbox}
    if conversation_id is not None:
        try:
            state = get_state_for_user(request, conversation_id)
        except Http404:
            # A conversation merged into another: its old address opens the merged one.
            from conversations.merge_views import merged_redirect

            if redirected := merged_redirect(request, mailbox, conversation_id):
                return redirected
            raise
        # Before the list, so the opened conversation is already read in it.
        context.update(conversation_context(request, state))
    if target in (None, "workspace", "rows"):
        context.update(_list_context(request, mailbox))
    if target in (None, "workspace"):
        context.update(sidebar_context(request.user))
    if partial:
        response = render_page(request, f"conversations/mailbox.html#{partial}", context)
    else:
        response = render_page(request, "conversations/mailbox.html", context, partials=PARTIALS)
    if request.htmx and any(name in request.GET for name in ("record", "f_has", *FILTER_OPERATORS)):
        # The address bar keeps the search as one query (filters folded in), without the flags.
        kept = {"q": context.get("query", ""), "sort": request.GET.get("sort", "")}
        response["HX-Push-Url"] = f"{request.path}?{urlencode({k: v for k, v in kept.items() if v})}"
        if context.get("remembered"):
            trigger_client_event(response, "sidebar-changed")  # its Recent searches
    if context.get("was_unread") and target == "conversation_pane":
        trigger_client_event(response, "counts-changed")
    return response


@require_safe
@login_required
def sidebar_view(request: AuthenticatedRequest) -> HttpResponse:
    """The sidebar alone, refreshed by the page after anything that changes its counts."""
    from conversations.action_views import mailbox_for_path

    context = {"mailbox": mailbox_for_path(request, request.GET.get("path", "")), **sidebar_context(request.user)}
    return render(request, "conversations/_sidebar.html", context)


def _list_context(request: AuthenticatedRequest, mailbox: Mailbox) -> dict:
    query = compose_query(request.GET)
    if query:
        return search_context(request, mailbox, query, fetch_page, PAGE_SIZE)
    states = mailbox.states(request.user)
    before = parse_datetime(request.GET.get("before", "")) if request.GET.get("before") else None
    if isinstance(before, datetime):
        states = states.filter(**{f"{mailbox.ordering[0].lstrip('-')}__lt": before})
    rows = fetch_page(states.order_by(*mailbox.ordering))
    has_more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    next_before = rows[-1].last_activity_at.isoformat() if has_more else ""
    more_url = f"{mailbox.url}?{urlencode({'before': next_before})}" if has_more else ""
    return {
        "rows": rows,
        "query": "",
        "next_before": next_before,
        "more_url": more_url,
        "appending": before is not None,
    }


def fetch_page(states: QuerySet[ConversationState]) -> list[ConversationState]:
    """A page of ordered states, one more than shown (to know whether there is a next page),
    with everything a row shows."""
    return load_rows(states[: PAGE_SIZE + 1])


def conversation_context(request: AuthenticatedRequest, state: ConversationState) -> dict:
    """Everything the conversation view shows; opening it reads it."""
    conversation = state.conversation
    was_unread = state.unread
    do_mark_conversation_read(state)
    messages = _load_messages(conversation)
    events = list(
        ConversationEvent.objects.filter(conversation=conversation)
        .filter(Q(private_to__isnull=True) | Q(private_to=request.user))
        .select_related("actor")
    )
    comments = list(
        Comment.objects.filter(conversation=conversation)
        .select_related("author")
        .prefetch_related(Prefetch("reactions", queryset=CommentReaction.objects.select_related("user")))
    )
    for comment in comments:
        comment.reaction_groups = _reaction_groups(comment, request.user)  # type: ignore[attr-defined]
    comment_files.decorate(comments, request.user)
    timeline = sorted(
        [("message", m.sent_at, m) for m in messages]
        + [("comment", c.created_at, c) for c in comments]
        + [("event", e.created_at, e) for e in events]
        + [("post", p.created_at, p) for p in Post.objects.filter(conversation=conversation).select_related("author")],
        key=lambda item: item[1],
    )
    query = request.GET.get("q", "").strip()
    return {
        **header_context(request, state, messages),
        "matches": matching_items(conversation.id, query) if query else set(),
        "was_unread": was_unread,
        "timeline": timeline,
        "attachments": [a for m in messages for a in m.attachment_list if not a.is_inline],  # type: ignore[attr-defined]
        "contacts": _contacts(messages),
        "reaction_choices": REACTIONS,
    }


def _reaction_groups(comment: Comment, user: User) -> list[dict]:
    """A comment's reactions by emoji, in the picker's order: how many, whose, and whether mine."""
    groups: dict[str, dict] = {}
    for reaction in sorted(comment.reactions.all(), key=lambda r: (_picker_position(r.emoji), r.created_at)):
        group = groups.setdefault(reaction.emoji, {"emoji": reaction.emoji, "names": [], "mine": False})
        group["names"].append(reaction.user.display_name)
        group["mine"] = group["mine"] or reaction.user_id == user.id
    return list(groups.values())


def _picker_position(emoji: str) -> int:
    return REACTIONS.index(emoji) if emoji in REACTIONS else len(REACTIONS)


def _load_messages(conversation: Conversation) -> list[Message]:
    """The messages, oldest first, each with its attachments (`attachment_list`, by filename) and
    its account. A thread has one or two accounts: its messages share one instance of each, built
    from the two columns read here (the others load on access), instead of select_related's copy per
    message; and the attachments come in one query grouped here rather than through
    prefetch_related, which builds a manager and a queryset per message. Both cost more than the
    messages themselves in a long thread."""
    messages: list[Message] = list(
        Message.objects.filter(conversation=conversation)
        .annotate(account_owner_id=F("account__owner_id"), account_address=F("account__address"))
        .order_by("sent_at")
    )
    attachments: dict[UUID, list[Attachment]] = defaultdict(list)
    for attachment in Attachment.objects.filter(message__in=[m.id for m in messages]).order_by("filename"):
        attachments[attachment.message_id].append(attachment)
    accounts: dict[UUID, Account] = {}
    for message in messages:
        message.attachment_list = attachments[message.id]  # type: ignore[attr-defined]
        if message.account_id is None:
            continue
        if message.account_id not in accounts:
            values = [message.account_id, message.account_owner_id, message.account_address]  # type: ignore[attr-defined]
            accounts[message.account_id] = Account.from_db(Message.objects.db, ["id", "owner_id", "address"], values)
        message.account = accounts[message.account_id]
    _attach_outbox_rows(messages)
    return messages


def _attach_outbox_rows(messages: list[Message]) -> None:
    """Each outgoing message's outbox row (its "Sending…"/"Failed" line), read in one query and
    set on the messages, so the timeline does not ask once per email; None caches "no row"."""
    outbound = [m for m in messages if m.direction == Direction.OUTBOUND]
    if not outbound:
        return
    rows = {row.message_id: row for row in OutboxMessage.objects.filter(message__in=[m.id for m in outbound])}
    for message in outbound:
        Message.outbox.related.set_cached_value(message, rows.get(message.id))


def header_context(
    request: AuthenticatedRequest, state: ConversationState, messages: list[Message] | None = None
) -> dict:
    """What the conversation header and its toolbar show. Without loaded messages, only the few
    columns the spam menu needs are read (no bodies)."""
    conversation = state.conversation
    if messages is None:
        messages = list(
            Message.objects.filter(conversation=conversation)
            .select_related("account")
            .only("direction", "from_address", "sent_at", "account__owner_id", "account__address")
            .order_by("sent_at")
        )
    people = list(
        ConversationState.objects.filter(conversation=conversation)
        .select_related("user")
        .order_by("user__name", "user__email")
    )
    assignees = [a.user for a in Assignment.objects.filter(conversation=conversation).select_related("user")]
    memberships = list(
        Membership.objects.filter(organization_id=conversation.organization_id)
        .select_related("user")
        .order_by("user__name", "user__email")
    )
    members = [m.user for m in memberships if m.role != Role.GUEST]
    having_access = {p.user_id for p in people}
    return {
        "members": members,
        "people_to_add": [m.user for m in memberships if m.user_id not in having_access],
        # Owners and admins may delete anyone's comment (the others only their own).
        "manages_comments": any(m.user_id == request.user.id and m.can_manage for m in memberships),
        "teams": list(Team.objects.filter(organization_id=conversation.organization_id)),
        "snooze_presets": snooze.presets(timezone.now(), snooze.zone(request.COOKIES.get("tz", ""))),
        "assignee_ids": {user.id for user in assignees},
        "state": state,
        "conversation": conversation,
        "people": people,
        "assignees": assignees,
        "spam": _spam_options(state, messages, request.user),
        "header_labels": header_labels(request.user, conversation),
    }


def _spam_options(state: ConversationState, messages: list[Message], user: object) -> dict:
    """What the Mark as spam menu offers (same rules as actions.can_mark_spam, from loaded rows)."""
    allowed = state.access_source in (AccessSource.ACCOUNT, AccessSource.TEAM) or any(
        m.account and m.account.owner_id == getattr(user, "id", None) for m in messages
    )
    inbound = [m for m in messages if m.direction == Direction.INBOUND and m.from_address]
    sender = inbound[-1].from_address.lower() if inbound else ""
    domain = sender.rsplit("@", 1)[-1] if sender else ""
    return {
        "allowed": allowed,
        "sender": sender,
        "domain": domain if domain and domain not in WEBMAIL_DOMAINS else "",
    }


def _contacts(messages: list[Message]) -> list[dict[str, str]]:
    """The external participants, most recent sender first, each once."""
    seen: dict[str, dict[str, str]] = {}
    for message in reversed(messages):
        for person in [{"name": message.from_name, "address": message.from_address}, *message.to, *message.cc]:
            address = (person.get("address") or "").lower()
            if address and address not in seen and message.account and address != message.account.address:
                seen[address] = {"name": person.get("name") or "", "address": address}
    return list(seen.values())


@require_safe
@login_required
def attachment_download(request: AuthenticatedRequest, attachment_id: UUID) -> FileResponse:
    """An attachment of a conversation the user can access, always as a download."""
    attachment = (
        Attachment.objects.filter(id=attachment_id, message__conversation__states__user=request.user)
        .select_related("message")
        .first()
    )
    if attachment is None or not attachment.file:
        raise Http404("No such attachment.")
    return download_response(attachment.file, attachment.filename)


def download_response(file: FieldFile, filename: str) -> FileResponse:
    """A stored file as a download that the browser never renders, whatever its type."""
    response = FileResponse(file.open("rb"), as_attachment=True, filename=filename)
    response.headers["Content-Type"] = "application/octet-stream"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


MENTION_SUGGESTIONS = 8


@require_safe
@login_required
def mention_suggestions(request: AuthenticatedRequest, conversation_id: UUID) -> HttpResponse:
    """Who `@` followed by these letters can mention in a conversation's chat: its organization's
    people and teams, and @all. Words of names, and the start of an email, match."""
    conversation = get_state_for_user(request, conversation_id).conversation
    typed = request.GET.get("q", "").strip().lower()

    def matches(*texts: str) -> bool:
        return any(word.startswith(typed) for text in texts for word in text.lower().replace("-", " ").split())

    members = User.objects.filter(memberships__organization_id=conversation.organization_id).order_by("name", "email")
    people = [
        {"handle": mention_handle(u.display_name), "label": u.display_name, "user": u}
        for u in members
        if u.id != request.user.id and matches(u.display_name, u.email.split("@")[0])
    ]
    groups = mention_group_suggestions(conversation.organization_id, typed, people, list(members))
    teams = [
        {"handle": mention_handle(t.name), "label": str(t)}
        for t in Team.objects.filter(organization_id=conversation.organization_id)
        if matches(t.name)
    ]
    everyone = [{"handle": MENTION_ALL, "label": "Everyone with access"}] if matches(MENTION_ALL) else []
    suggestions = (people + groups + teams + everyone)[:MENTION_SUGGESTIONS]
    return render(request, "conversations/_mention_suggestions.html", {"suggestions": suggestions})
