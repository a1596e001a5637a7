"""The rows of a conversation list: loaded with what they show, and rendered in Python.

A mailbox page draws fifty rows. Through the template engine each cost most of a millisecond (an
include, three custom tags, some thirty lookups), and Django's prefetch_related built a related
manager and a queryset per row for labels and assignees: together over half of a list request's
server time. `load_rows` reads the labels and assignees of all rows in one query each, and
`render_row` writes each row's markup (the `conversation_rows` tag puts a page of them in the
templates; the browser tests rely on its classes, ids and data attributes), escaping every value.
"""

from __future__ import annotations

from html import escape as html_escape
from typing import Any
from uuid import UUID

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import F, OuterRef, QuerySet
from django.db.models.functions import JSONObject
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from conversations.labels import visible_label_q
from conversations.mailboxes import DRAFT_MAILBOXES, Mailbox
from conversations.models import Assignment, ConversationLabel, ConversationState, Label, Status
from inboxes.models import Organization, Team, User
from inboxes.templatetags.ui import avatar, icon, when


def escape(value: object) -> str:
    """django.utils.html.escape without its lazy-string wrapper, a third of this module's time."""
    return html_escape(str(value))


# What a row shows of a conversation's team and organization, read in the rows' own query.
TEAM_COLUMNS = {
    "id": "conversation__team_id",
    "name": "conversation__team__name",
    "emoji": "conversation__team__emoji",
    "color": "conversation__team__color",
}
ORGANIZATION_COLUMNS = {
    "id": "conversation__organization_id",
    "name": "conversation__organization__name",
    "color": "conversation__organization__color",
}


def load_rows(states: QuerySet[ConversationState]) -> list[ConversationState]:
    """The states, each with its conversation, team and organization, and the conversation's
    labels and assignees as lists (`row_labels`, `row_assignees`): one query in all.

    A page holds a handful of teams and organizations: rows share one instance of each, built
    from a few joined columns (the others load on access), instead of select_related's fifty
    full copies of each, which cost as much as the conversations themselves. Labels and
    assignees come as arrays of what a row shows of them, read beside each row."""
    columns: dict[str, F | ArraySubquery] = {f"row_team_{name}": F(path) for name, path in TEAM_COLUMNS.items()}
    columns |= {f"row_organization_{name}": F(path) for name, path in ORGANIZATION_COLUMNS.items()}
    # Only the labels the row's reader may see (not others' personal or restricted labels).
    labels = (
        ConversationLabel.objects.filter(conversation=OuterRef("conversation_id"))
        .filter(visible_label_q(OuterRef("user_id"), prefix="label__"))
        .order_by("label__name")
    )
    assignments = Assignment.objects.filter(conversation=OuterRef("conversation_id")).order_by("created_at", "id")
    columns["row_label_values"] = ArraySubquery(
        labels.values(
            json=JSONObject(
                name="label__name",
                color="label__color",
                emoji="label__emoji",
                owner_id="label__owner_id",
                parent_name="label__parent__name",
            )
        )
    )
    columns["row_assignee_values"] = ArraySubquery(
        assignments.values(json=JSONObject(user_id="user_id", name="user__name", email="user__email"))
    )
    rows = list(states.select_related("conversation").annotate(**columns))
    teams: dict[Any, Team] = {}
    organizations: dict[Any, Organization] = {}
    people: dict[str, User] = {}
    for row in rows:
        conversation = row.conversation
        values = [getattr(row, f"row_team_{name}") for name in TEAM_COLUMNS]
        if values[0] is not None:
            if values[0] not in teams:
                teams[values[0]] = Team.from_db(states.db, list(TEAM_COLUMNS), values)
            conversation.team = teams[values[0]]
        values = [getattr(row, f"row_organization_{name}") for name in ORGANIZATION_COLUMNS]
        if values[0] not in organizations:
            organizations[values[0]] = Organization.from_db(states.db, list(ORGANIZATION_COLUMNS), values)
        conversation.organization = organizations[values[0]]
        conversation.row_labels = [_label(**label) for label in row.row_label_values]  # type: ignore[attr-defined]
        conversation.row_assignees = [  # type: ignore[attr-defined]
            _person(people, **person)
            for person in row.row_assignee_values  # type: ignore[attr-defined]
        ]
    return rows


def _label(
    name: str, color: str, emoji: str = "", owner_id: str | None = None, parent_name: str | None = None
) -> Label:
    """What a row's label chip shows: "Parent/Child", its color and icon, personal or not."""
    label = Label(name=name, color=color, emoji=emoji, owner_id=UUID(owner_id) if owner_id else None)
    label.chip_text = f"{parent_name}/{name}" if parent_name else name  # type: ignore[attr-defined]
    return label


def _person(people: dict[str, User], user_id: str, name: str, email: str) -> User:
    """What a row shows of an assignee (name and avatar), one instance per person on the page."""
    if user_id not in people:
        people[user_id] = User(id=UUID(user_id), name=name, email=email)
    return people[user_id]


def render_row(state: ConversationState, *, mailbox: Mailbox, open_id: object = None, oob: bool = False) -> SafeString:
    """One <li> of the list: `open_id` is the conversation shown beside the list (selected), `oob`
    makes it replace the row already on the page (after an action)."""
    c = state.conversation
    team = c.team
    # Rows not from load_rows (none today) fall back to the related managers.
    labels = getattr(c, "row_labels", None)
    if labels is None:
        labels = list(c.labels.all())
    assignees = getattr(c, "row_assignees", None)
    if assignees is None:
        assignees = [a.user for a in c.assignments.all()]
    conversation_id = str(c.id)
    subject = escape(c.display_subject)
    url = escape(mailbox.conversation_url(c.id))
    classes = "row"
    if state.unread:
        classes += " unread"
    if open_id is not None and str(open_id) == conversation_id:
        classes += " selected"
    if c.is_shared:
        classes += " shared"
    if state.snooze_due:
        classes += " due"
    if c.is_room:
        classes += " room"
    stripe = escape(team.color if team else c.organization.color)
    snippet = getattr(state, "snippet", None)  # set on search results
    if snippet:
        preview = f'<div class="row-preview row-snippet">{conditional_escape(snippet)}</div>'
    else:
        preview = f'<div class="row-preview">{escape(c.preview)}</div>'
    swap = ' hx-swap-oob="outerHTML"' if oob else ""
    # Every row of the Drafts lists holds a draft in progress (the seed's "[draft]" token).
    draft_token = '<span class="row-draft">[draft]</span> ' if mailbox.key in DRAFT_MAILBOXES else ""
    parts = [
        f'<li id="row-{conversation_id}"{swap} class="{classes}" '
        f'role="option" data-id="{conversation_id}" style="--stripe: {stripe}">\n'
        f'  <input class="row-check" type="checkbox" name="ids" value="{conversation_id}" '
        f'aria-label="Select {subject}" tabindex="-1">\n'
        f'  <a class="row-link" href="{url}" hx-get="{url}" hx-target="#conversation-pane" hx-push-url="true">\n'
        '    <div class="row-top">\n'
        f'      <span class="row-unread-dot" aria-label="{"Unread" if state.unread else ""}"></span>\n'
        f'      <span class="row-who">{draft_token}{escape(c.participant_names)}</span>\n'
        "      "
        + (f'<span class="row-star" title="Starred">{icon("star-filled", "icon tiny")}</span>' if state.starred else "")
        + "\n      "
        + (f'<span class="row-count">{c.message_count}</span>' if c.message_count > 1 else "")
        + f'\n      <span class="row-time">{when(c.last_activity_at)}</span>\n'
        "    </div>\n"
        f'    <div class="row-subject">{subject}</div>\n'
        f"    {preview}\n"
        "    "
    ]
    if c.has_attachments or labels or assignees or team or c.status == Status.CLOSED or state.snoozed_until:
        parts.append('\n    <div class="row-meta">\n      ')
        if c.has_attachments:
            parts.append(f'<span class="row-clip" title="Has attachments">{icon("clip", "icon tiny")}</span>')
        parts.append("\n      ")
        if c.status == Status.CLOSED:
            parts.append('<span class="chip chip-closed">Closed</span>')
        parts.append("\n      ")
        if state.snoozed_until:
            snoozed = icon("snoozed", "icon tiny")
            parts.append(f'<span class="chip chip-snoozed">{snoozed}&nbsp;{when(state.snoozed_until)}</span>')
        parts.append("\n      ")
        if team and not mailbox.team:
            parts.append(f'<span class="chip chip-team" style="--chip: {escape(team.color)}">{escape(team)}</span>')
        parts.append("\n      ")
        parts.extend(
            f'<span class="chip chip-label{" chip-personal" if label.owner_id else ""}" '
            f'style="--chip: {escape(label.color)}">'
            + (f'<span class="chip-emoji">{escape(label.emoji)}</span>' if label.emoji else "")
            + f"{escape(getattr(label, 'chip_text', label.name))}</span>"
            for label in labels
        )
        parts.append('\n      <span class="row-assignees">')
        parts.extend(avatar(user, "xs") for user in assignees)
        parts.append("</span>\n    </div>\n    ")
    parts.append("\n  </a>\n</li>\n")
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped
