"""Tasks: a conversation as a task, subtasks inside a conversation, standalone tasks, and their
due-date reminders. Every change is one transaction; every change someone should hear about
goes through `notify_task`.

A conversation's task status is its own status: open is To do or In progress (the
`in_progress` flag), closed is Closed, so closing the task closes the conversation and the
other way round (spec "State machine": "status: OPEN (task status To-Do or In Progress) or
CLOSED"). A standalone task is a conversation of kind `task`: it has no messages, and its
assignees, team, due date and description are the conversation's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from uuid import UUID

from django.db import transaction
from django.db.models import F, Prefetch
from django.utils import timezone

from conversations import live
from conversations.actions import (
    ActionRefused,
    _bump_activity,
    _counts_changed,
    _event,
    _grant_access,
    _state_of,
    do_assign_conversation,
    do_close,
    do_reopen,
    grant_team_access,
    people_by_handle,
    refresh_team_inbox,
    team_member_ids,
)
from conversations.activity import record_activity
from conversations.attribution import acting_rule
from conversations.comment_format import MENTION
from conversations.models import (
    ROOM_KINDS,
    AccessSource,
    ActivityKind,
    Assignment,
    Comment,
    Conversation,
    ConversationKind,
    ConversationState,
    EventKind,
    Location,
    Status,
    Subtask,
    SubtaskAssignee,
    TaskStatus,
)
from inboxes.mention_groups import mention_handle
from inboxes.models import Membership, Organization, Team, User

TITLE_LIMIT = 500
# Plain click on a status checkbox cycles (seed: Tasks FAQ).
NEXT_STATUS = {
    TaskStatus.TODO: TaskStatus.IN_PROGRESS,
    TaskStatus.IN_PROGRESS: TaskStatus.CLOSED,
    TaskStatus.CLOSED: TaskStatus.TODO,
}

Task = Conversation | Subtask


# --- Notifications --------------------------------------------------------------------------------

# What notify_task records for each kind of change.
NOTICE_EVENTS = {
    "created": EventKind.TASK_CREATED,
    "assigned": EventKind.TASK_ASSIGNED,
    "unassigned": EventKind.TASK_UNASSIGNED,
    "status": EventKind.TASK_STATUS,
    "due": EventKind.TASK_DUE,
    "due_removed": EventKind.TASK_DUE_REMOVED,
    "reminder": EventKind.TASK_REMINDER,
    "removed": EventKind.TASK_REMOVED,
}


def notify_task(users: Iterable[User], kind: str, task: Task, actor: User | None) -> None:
    """The one place a task change reaches the people it concerns (`users`, never the actor).

    It records the change as an event of the task's conversation (the timeline), with whom it
    notified in `data["notify"]`, and puts an item in those people's Activity feed."""
    users = list(users)
    # A rule acting through a person is not that person's doing: they hear of it too.
    author = None if acting_rule() is not None else actor
    recipients = sorted({user for user in users if author is None or user.id != author.id}, key=lambda u: str(u.id))
    conversation = task.conversation if isinstance(task, Subtask) else task
    _event(
        conversation,
        NOTICE_EVENTS[kind],
        actor,
        target=_notice_text(kind, task, users),
        task_id=str(task.id) if isinstance(task, Subtask) else "",
        notify=",".join(str(user.id) for user in recipients),
    )
    record_activity(
        recipients=recipients,
        kind=ACTIVITY_KINDS.get(kind, ActivityKind.TASK_CHANGED),
        conversation=conversation,
        actor=actor,
        data=_activity_data(task),
    )
    live.publish_after_commit(conversation_ids=[conversation.id], kind="task")


# Being given a task (directly or by its creation) and its reminder have their own feed items;
# every other change of a task one is on is "changed a task".
ACTIVITY_KINDS = {
    "created": ActivityKind.TASK_ASSIGNED,
    "assigned": ActivityKind.TASK_ASSIGNED,
    "reminder": ActivityKind.TASK_REMINDER,
}


def _activity_data(task: Task) -> dict[str, str]:
    title = task.title if isinstance(task, Subtask) else (task.subject or "Untitled task")
    data = {"title": title}
    if task.due_date:
        data["due_at"] = task.due_date.isoformat()
    return data


def _task_name(task: Task) -> str:
    if isinstance(task, Subtask):
        return f"“{task.title}”"
    return "the task" if task.kind == ConversationKind.TASK else "the conversation"


def _notice_text(kind: str, task: Task, users: list[User]) -> str:
    """The event's words after the actor and the kind's verb (ConversationEvent.text)."""
    name = _task_name(task)
    names = ", ".join(user.display_name for user in users)
    if kind == "created":
        if not isinstance(task, Subtask):
            return ""
        return f"{name} for {names}" if names else name
    if kind == "assigned":
        return f"{name} to {names}"
    if kind == "unassigned":
        return f"{names} from {name}"
    if kind == "status":
        return f"{name} as {task.get_task_status_display()}"
    if kind == "due":
        return f"{name} to {_day(task.due_date)}"
    if kind == "reminder":
        return f"{name} ({_day(task.due_date)})"
    return name


def _day(value: date | None) -> str:
    return value.strftime("%a %b %-d, %Y") if value else ""


def _task_changed(conversation: Conversation, actor: User | None) -> None:
    """A task change brings the conversation back to its watchers' Inbox, unread (spec: "Task
    change on C"), and rises in everyone's lists."""
    others = ConversationState.objects.filter(conversation=conversation)
    if actor is not None:
        others = others.exclude(user=actor)
    others.filter(watching=True, location__in=[Location.NONE, Location.ARCHIVED]).update(
        location=Location.INBOX, unread=True
    )
    _bump_activity(conversation)
    _counts_changed(conversation)


# --- Titles: @mentions and dates ------------------------------------------------------------------

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
DATE_PHRASES = [
    re.compile(r"\b(today|tomorrow|next week)\b", re.IGNORECASE),
    re.compile(r"\b(?:on )?(" + "|".join(WEEKDAYS) + r")\b", re.IGNORECASE),
    re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"),
    re.compile(r"\b(?:on )?" + _MONTH + r" (\d{1,2})(?:st|nd|rd|th)?(?:,? (\d{4}))?\b", re.IGNORECASE),
    re.compile(r"\b(?:on )?(\d{1,2})(?:st|nd|rd|th)? " + _MONTH + r"(?: (\d{4}))?\b", re.IGNORECASE),
]


@dataclass
class ParsedTitle:
    title: str
    users: list[User] = field(default_factory=list)
    team: Team | None = None
    due_date: date | None = None


def parse_title(text: str, organization_id: UUID, *, today: date, with_dates: bool = True) -> ParsedTitle:
    """A new task's title as typed: `@person` assigns them, `@team` gives the task to the team,
    and (in the creation forms, not in `[ ]` comment lines) a date such as "tomorrow", "friday",
    "next week" or "Mar 5" sets the due date. What was understood leaves the title."""
    parsed = ParsedTitle(title=text)
    members = list(User.objects.filter(memberships__organization_id=organization_id))
    teams = {mention_handle(team.name): team for team in Team.objects.filter(organization_id=organization_id)}

    def take_mention(match: re.Match[str]) -> str:
        handle = match.group(1).lower().rstrip(".")
        if people := people_by_handle(members, handle):
            parsed.users.extend(u for u in people if u not in parsed.users)
            return ""
        if handle in teams and parsed.team is None:
            parsed.team = teams[handle]
            return ""
        return match.group(0)

    title = MENTION.sub(take_mention, text)
    if with_dates:
        for pattern in DATE_PHRASES:
            match = pattern.search(title)
            due = _date_of(match, today) if match else None
            if match and due:
                parsed.due_date = due
                title = title[: match.start()] + title[match.end() :]
                break
    parsed.title = " ".join(title.split())[:TITLE_LIMIT]
    return parsed


def _date_of(match: re.Match[str], today: date) -> date | None:
    words = [g.lower() if g else g for g in match.groups()]
    first = words[0] or ""
    if first == "today":
        return today
    if first == "tomorrow":
        return today + timedelta(days=1)
    if first == "next week":  # next Monday
        return today + timedelta(days=7 - today.weekday())
    if first in WEEKDAYS:
        return today + timedelta(days=(WEEKDAYS.index(first) - today.weekday()) % 7 or 7)
    try:
        if len(first) == 4 and first.isdigit():
            return date(int(words[0]), int(words[1]), int(words[2]))
        if first[:3] in MONTHS:
            month, day, year = MONTHS.index(first[:3]) + 1, int(words[1]), words[2]
        else:
            day, month, year = int(first), MONTHS.index((words[1] or "")[:3]) + 1, words[2]
        if year:
            return date(int(year), month, day)
        # Without a year, the next time that day comes.
        candidate = date(today.year, month, day)
        return candidate if candidate >= today else date(today.year + 1, month, day)
    except ValueError:
        return None


# --- The conversation as a task -------------------------------------------------------------------


def _check_task(conversation: Conversation) -> None:
    if conversation.is_room:
        raise ActionRefused("Chat rooms are not tasks.")


def _status(value: str) -> str:
    if value not in TaskStatus.values:
        raise ActionRefused("Pick To do, In progress or Closed.")
    return value


def _assignees(conversation: Conversation) -> list[User]:
    return [a.user for a in conversation.assignments.select_related("user")]


@transaction.atomic
def do_set_task_status(conversation: Conversation, status: str, *, acting_user: User) -> None:
    """To do, In progress or Closed. Closed closes the conversation (and its rules: it leaves the
    closer's Inbox and the team inbox); leaving Closed reopens it (assignees get it back)."""
    _check_task(conversation)
    _state_of(conversation, acting_user)
    status = _status(status)
    before = conversation.task_status
    if status == before:
        return
    in_progress = status == TaskStatus.IN_PROGRESS
    if conversation.in_progress != in_progress:
        conversation.in_progress = in_progress
        conversation.save(update_fields=["in_progress"])
    if status == TaskStatus.CLOSED:
        do_close(conversation, acting_user=acting_user)
    elif before == TaskStatus.CLOSED:
        do_reopen(conversation, acting_user=acting_user)
    # Closing and reopening are told by their own events (closed, reopened); moves between To do
    # and In progress are task events.
    if status == TaskStatus.IN_PROGRESS or (before, status) == (TaskStatus.IN_PROGRESS, TaskStatus.TODO):
        notify_task(_assignees(conversation), "status", conversation, acting_user)
        _task_changed(conversation, acting_user)


@transaction.atomic
def do_set_task_due_date(conversation: Conversation, due_date: date | None, *, acting_user: User) -> None:
    _check_task(conversation)
    _state_of(conversation, acting_user)
    if conversation.due_date == due_date:
        return
    conversation.due_date = due_date
    conversation.save(update_fields=["due_date"])
    notify_task(_assignees(conversation), "due" if due_date else "due_removed", conversation, acting_user)


@transaction.atomic
def do_set_task_description(conversation: Conversation, description: str, *, acting_user: User) -> None:
    _check_task(conversation)
    _state_of(conversation, acting_user)
    description = description.strip()
    if conversation.description != description:
        conversation.description = description
        fields = ["description"]
        if conversation.kind == ConversationKind.TASK:
            conversation.preview = description[:300]
            fields.append("preview")
        conversation.save(update_fields=fields)


def _members_of(organization_id: UUID, users: Iterable[User]) -> list[User]:
    users = list(dict.fromkeys(users))
    members = set(
        Membership.objects.filter(organization_id=organization_id, user__in=users).values_list("user_id", flat=True)
    )
    if any(user.id not in members for user in users):
        raise ActionRefused("Tasks can only be assigned to members of the organization.")
    return users


@transaction.atomic
def do_create_task(
    organization: Organization,
    *,
    acting_user: User,
    title: str,
    description: str = "",
    assignees: Iterable[User] = (),
    team: Team | None = None,
    due_date: date | None = None,
) -> Conversation:
    """A standalone task (New task, Mod+T): a conversation that is only a task. Its creator and,
    with a team, the team's members have access; assignees find it in their Inbox."""
    title = " ".join(title.split())[:TITLE_LIMIT]
    if not title:
        raise ActionRefused("Give the task a title.")
    if not Membership.objects.filter(organization=organization, user=acting_user).exists():
        raise ActionRefused("You are not a member of this organization.")
    if team is not None and team.organization_id != organization.id:
        raise ActionRefused("Pick a team of the task's organization.")
    assignees = _members_of(organization.id, assignees)
    now = timezone.now()
    conversation = Conversation.objects.create(
        organization=organization,
        kind=ConversationKind.TASK,
        subject=title,
        description=description.strip(),
        preview=description.strip()[:300],
        due_date=due_date,
        team=team,
        is_shared=bool(team) or any(user != acting_user for user in assignees),
        participants=[{"name": acting_user.display_name, "address": acting_user.email}],
        created_at=now,
        last_activity_at=now,
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
    if team is not None:
        grant_team_access(team, team_member_ids(team.id), conversations=[conversation], unread=True)
    notify_task(assignees, "created", conversation, acting_user)
    if assignees:  # which refreshes the team inbox and the counts itself
        do_assign_conversation(conversation, assignees, acting_user=acting_user)
    else:
        refresh_team_inbox(conversation)
        _counts_changed(conversation)
    return conversation


# --- Subtasks -------------------------------------------------------------------------------------


def _assign_subtask_users(subtask: Subtask, users: list[User]) -> list[User]:
    """Add assignees; each gains access and finds the conversation in their Inbox. Returns who
    was new."""
    having = set(subtask.assignments.values_list("user_id", flat=True))
    new = [user for user in users if user.id not in having]
    SubtaskAssignee.objects.bulk_create(
        SubtaskAssignee(organization_id=subtask.organization_id, subtask=subtask, user=user) for user in new
    )
    if new:
        _grant_access(subtask.conversation, {u.id for u in new}, source=AccessSource.ASSIGNMENT, in_inbox=True)
    return new


def _give_team(subtask: Subtask, team: Team | None) -> None:
    """A subtask's team sees it in Team tasks: its members gain access (not in their Inbox)."""
    if team is not None and team.organization_id != subtask.organization_id:
        raise ActionRefused("Pick a team of the conversation's organization.")
    subtask.team = team
    if team is not None:
        _grant_access(subtask.conversation, set(team_member_ids(team.id)), source=AccessSource.ADDED, in_inbox=False)


@transaction.atomic
def do_create_subtask(
    conversation: Conversation,
    *,
    acting_user: User,
    title: str,
    assignees: Iterable[User] = (),
    team: Team | None = None,
    due_date: date | None = None,
    comment: Comment | None = None,
    status: str = TaskStatus.TODO,
) -> Subtask:
    """A task inside a conversation (the Tasks panel's +, a comment made a task, `[ ]` lines)."""
    _check_task(conversation)
    _state_of(conversation, acting_user)
    title = " ".join(title.split())[:TITLE_LIMIT]
    if not title:
        raise ActionRefused("Give the task a title.")
    users = _members_of(conversation.organization_id, assignees)
    subtask = Subtask(
        organization_id=conversation.organization_id,
        conversation=conversation,
        comment=comment,
        title=title,
        status=_status(status),
        due_date=due_date,
        created_by=acting_user,
    )
    _give_team(subtask, team)
    subtask.save()
    _assign_subtask_users(subtask, users)
    notify_task(users, "created", subtask, acting_user)
    _task_changed(conversation, acting_user)
    return subtask


# `[] Task`, `[ ] Task`, `[x] Done`, `- [ ] Task` at the start of a comment's lines.
TASK_LINE = re.compile(r"^\s*(?:[-*]\s*)?\[([ xX]?)\]\s*(\S.*)$")


@transaction.atomic
def do_create_subtasks_from_comment(comment: Comment, *, acting_user: User, whole: bool = False) -> list[Subtask]:
    """Tasks written in a comment: one per `[ ]` line (`[x]` is created closed), assigned to the
    people it mentions; no due dates from this syntax. With `whole` (the comment box's task
    button, or a comment's "Add task") the comment itself becomes one task, assigned to
    everyone it mentions."""
    conversation = comment.conversation
    today = timezone.localdate()
    if whole:
        first_line = next((line for line in comment.body.splitlines() if line.strip()), "")
        parsed = parse_title(first_line, conversation.organization_id, today=today, with_dates=False)
        everyone = parse_title(comment.body, conversation.organization_id, today=today, with_dates=False).users
        return [
            do_create_subtask(
                conversation,
                acting_user=acting_user,
                title=parsed.title or first_line,
                assignees=everyone,
                team=parsed.team,
                comment=comment,
            )
        ]
    created = []
    for line in comment.body.splitlines():
        match = TASK_LINE.match(line)
        if not match:
            continue
        parsed = parse_title(match.group(2), conversation.organization_id, today=today, with_dates=False)
        created.append(
            do_create_subtask(
                conversation,
                acting_user=acting_user,
                title=parsed.title or match.group(2),
                assignees=parsed.users,
                team=parsed.team,
                comment=comment,
                status=TaskStatus.CLOSED if match.group(1).lower() == "x" else TaskStatus.TODO,
            )
        )
    return created


@transaction.atomic
def do_make_comment_a_task(comment: Comment, *, acting_user: User) -> Subtask:
    """A comment's menu → Add task: only on your own comment, once."""
    if comment.author_id != acting_user.id:
        raise ActionRefused("Only your own comments can become tasks.")
    if comment.subtasks.exists():
        raise ActionRefused("This comment is a task already.")
    return do_create_subtasks_from_comment(comment, acting_user=acting_user, whole=True)[0]


@transaction.atomic
def do_remove_subtask(subtask: Subtask, *, acting_user: User) -> None:
    """Remove task: the task goes; a comment it came from stays as a plain comment."""
    _state_of(subtask.conversation, acting_user)
    notify_task(subtask.assignees.all(), "removed", subtask, acting_user)
    subtask.delete()


def _locked(subtask: Subtask, acting_user: User) -> Subtask:
    _state_of(subtask.conversation, acting_user)
    return Subtask.objects.select_for_update().select_related("conversation").get(pk=subtask.pk)


@transaction.atomic
def do_set_subtask_status(subtask: Subtask, status: str, *, acting_user: User) -> None:
    subtask = _locked(subtask, acting_user)
    status = _status(status)
    if subtask.status == status:
        return
    subtask.status = status
    subtask.save(update_fields=["status"])
    notify_task(subtask.assignees.all(), "status", subtask, acting_user)
    _task_changed(subtask.conversation, acting_user)


@transaction.atomic
def do_set_subtask_due_date(subtask: Subtask, due_date: date | None, *, acting_user: User) -> None:
    subtask = _locked(subtask, acting_user)
    if subtask.due_date == due_date:
        return
    subtask.due_date = due_date
    subtask.save(update_fields=["due_date"])
    notify_task(subtask.assignees.all(), "due" if due_date else "due_removed", subtask, acting_user)


@transaction.atomic
def do_assign_subtask(subtask: Subtask, users: Iterable[User], *, acting_user: User) -> None:
    subtask = _locked(subtask, acting_user)
    new = _assign_subtask_users(subtask, _members_of(subtask.organization_id, users))
    if new:
        notify_task(new, "assigned", subtask, acting_user)
        _task_changed(subtask.conversation, acting_user)


@transaction.atomic
def do_unassign_subtask(subtask: Subtask, user: User, *, acting_user: User) -> None:
    """The person keeps their access to the conversation."""
    subtask = _locked(subtask, acting_user)
    removed, _ = SubtaskAssignee.objects.filter(subtask=subtask, user=user).delete()
    if removed:
        notify_task([user], "unassigned", subtask, acting_user)
        _task_changed(subtask.conversation, acting_user)


@transaction.atomic
def do_set_subtask_team(subtask: Subtask, team: Team | None, *, acting_user: User) -> None:
    subtask = _locked(subtask, acting_user)
    if subtask.team_id == (team.id if team else None):
        return
    _give_team(subtask, team)
    subtask.save(update_fields=["team"])


# --- Due-date reminders (beat) ---------------------------------------------------------------------


@transaction.atomic
def do_remind_due_tasks(*, today: date | None = None, limit: int = 500) -> int:
    """Beat task: open tasks whose due date has come get one reminder each (to their assignees,
    or a subtask's creator when nobody is assigned). A task is claimed by writing the due date
    it was reminded for, in one statement per kind; a moved due date is reminded again, and a
    second run, or a concurrent one (rows locked by another are skipped), reminds nobody twice."""
    today = today or timezone.localdate()
    conversations = list(
        Conversation.objects.select_for_update(skip_locked=True)
        .filter(status=Status.OPEN, due_date__lte=today)
        .exclude(due_reminded_for=F("due_date"))
        .exclude(kind__in=ROOM_KINDS)
        .prefetch_related(Prefetch("assignments", queryset=Assignment.objects.select_related("user")))
        .order_by("due_date")[:limit]
    )
    Conversation.objects.filter(id__in=[c.id for c in conversations]).update(due_reminded_for=F("due_date"))
    subtasks = list(
        Subtask.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(due_date__lte=today)
        .exclude(status=TaskStatus.CLOSED)
        .exclude(due_reminded_for=F("due_date"))
        .select_related("conversation", "created_by")
        .prefetch_related("assignees")
        .order_by("due_date")[:limit]
    )
    Subtask.objects.filter(id__in=[s.id for s in subtasks]).update(due_reminded_for=F("due_date"))
    for conversation in conversations:
        notify_task([a.user for a in conversation.assignments.all()], "reminder", conversation, None)
    for subtask in subtasks:
        users = list(subtask.assignees.all()) or ([subtask.created_by] if subtask.created_by else [])
        notify_task(users, "reminder", subtask, None)
    return len(conversations) + len(subtasks)


# --- Reads for the conversation view --------------------------------------------------------------


@dataclass
class ConversationTasks:
    subtasks: list[Subtask]
    by_comment: dict[UUID, list[Subtask]]

    def grouped(self) -> list[tuple[str, str, list[Subtask]]]:
        """The subtasks by status, as the Tasks panel shows them."""
        return [
            (status, str(label), [s for s in self.subtasks if s.status == status])
            for status, label in TaskStatus.choices
        ]


def conversation_tasks(conversation: Conversation) -> ConversationTasks:
    """A conversation's subtasks with their assignees and team, in two queries."""
    subtasks = list(
        Subtask.objects.filter(conversation=conversation)
        .select_related("team")
        .prefetch_related("assignees")
        .order_by("created_at")
    )
    by_comment: dict[UUID, list[Subtask]] = {}
    for subtask in subtasks:
        if subtask.comment_id:
            by_comment.setdefault(subtask.comment_id, []).append(subtask)
    return ConversationTasks(subtasks=subtasks, by_comment=by_comment)
