"""The Tasks views (My tasks, Team tasks), the New task form, changes made from those views, and
the task actions of the conversation view (added to action_views.HANDLERS)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any, cast
from urllib.parse import urlencode
from uuid import UUID

from django import forms
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import trigger_client_event

from conversations import task_actions
from conversations.actions import ActionRefused, _comment_of
from conversations.mailboxes import personal_mailbox
from conversations.models import (
    Assignment,
    Comment,
    Conversation,
    ConversationKind,
    ConversationState,
    Location,
    Status,
    Subtask,
    TaskStatus,
)
from conversations.sidebar import sidebar_context
from conversations.views import get_state_for_user, toast
from inboxes.access import get_membership, get_team_for_member
from inboxes.models import Membership, Role, Team, User
from missive.htmx import AuthenticatedRequest, render_page
from missive.ids import is_uuid

TASKS_LIMIT = 300  # per kind on one page: a Tasks view is a to-do list, not an archive
PARTIALS = {"workspace": "workspace", "task-list": "task_list"}
OPEN_STATUSES = [TaskStatus.TODO, TaskStatus.IN_PROGRESS]


# --- What a Tasks view lists ----------------------------------------------------------------------


@dataclass
class TaskItem:
    """One row of a Tasks view: a conversation task, a standalone task or a subtask."""

    kind: str  # "conversation", "standalone" or "subtask"
    id: UUID
    title: str
    status: str
    due_date: date | None
    assignees: list[User]
    team: Team | None
    conversation_id: UUID
    conversation_subject: str
    created_at: datetime
    today: date

    @property
    def status_label(self) -> str:
        return str(TaskStatus(self.status).label)

    @property
    def overdue(self) -> bool:
        return self.due_date is not None and self.due_date < self.today and self.status != TaskStatus.CLOSED

    @property
    def due_today(self) -> bool:
        return self.due_date == self.today and self.status != TaskStatus.CLOSED

    @property
    def open_url(self) -> str:
        mailbox = personal_mailbox("all")
        assert mailbox is not None
        return mailbox.conversation_url(self.conversation_id)

    @property
    def update_url(self) -> str:
        return reverse("update_task", args=["s" if self.kind == "subtask" else "c", self.id])


@dataclass
class Filters:
    statuses: list[str]
    show: str  # "all" or "standalone"
    due: str  # "any", "overdue", "today", "week", "none"
    group: str  # "status", "due", "none"
    sort: str  # "due", "created", "status"

    @classmethod
    def from_query(cls, query: Any) -> Filters:
        statuses = [s for s in query.getlist("status") if s in TaskStatus.values] or list(OPEN_STATUSES)

        def pick(name: str, allowed: list[str]) -> str:
            value = query.get(name, "")
            return value if value in allowed else allowed[0]

        return cls(
            statuses=statuses,
            show=pick("show", ["all", "standalone"]),
            due=pick("due", ["any", "overdue", "today", "week", "none"]),
            group=pick("group", ["status", "due", "none"]),
            sort=pick("sort", ["due", "created", "status"]),
        )

    def query_string(self) -> str:
        return urlencode(
            [("status", s) for s in self.statuses]
            + [("show", self.show), ("due", self.due), ("group", self.group), ("sort", self.sort)]
        )


def _status_q(statuses: list[str], prefix: str = "") -> Q:
    """Conversations whose task status is one of `statuses`."""
    q = Q(pk__in=[])
    if TaskStatus.TODO in statuses:
        q |= Q(**{f"{prefix}status": Status.OPEN, f"{prefix}in_progress": False})
    if TaskStatus.IN_PROGRESS in statuses:
        q |= Q(**{f"{prefix}status": Status.OPEN, f"{prefix}in_progress": True})
    if TaskStatus.CLOSED in statuses:
        q |= Q(**{f"{prefix}status": Status.CLOSED})
    return q


def _due_q(due: str, today: date, field: str) -> Q:
    week_end = today + timedelta(days=6 - today.weekday())
    return {
        "overdue": Q(**{f"{field}__lt": today}),
        "today": Q(**{field: today}),
        "week": Q(**{f"{field}__lte": week_end}),
        "none": Q(**{f"{field}__isnull": True}),
    }.get(due, Q())


def _conversation_items(states: QuerySet[ConversationState], filters: Filters, today: date) -> list[TaskItem]:
    states = states.exclude(location__in=[Location.TRASHED, Location.SPAM]).filter(
        _status_q(filters.statuses, "conversation__"), _due_q(filters.due, today, "conversation__due_date")
    )
    if filters.show == "standalone":
        states = states.filter(conversation__kind=ConversationKind.TASK)
    conversations = [
        s.conversation
        for s in states.select_related("conversation", "conversation__team").order_by("-conversation__created_at")[
            :TASKS_LIMIT
        ]
    ]
    assignees: dict[UUID, list[User]] = {}
    for assignment in Assignment.objects.filter(conversation__in=conversations).select_related("user"):
        assignees.setdefault(assignment.conversation_id, []).append(assignment.user)
    return [
        TaskItem(
            kind="standalone" if c.kind == ConversationKind.TASK else "conversation",
            id=c.id,
            title=c.display_subject,
            status=c.task_status,
            due_date=c.due_date,
            assignees=assignees.get(c.id, []),
            team=c.team,
            conversation_id=c.id,
            conversation_subject=c.display_subject,
            created_at=c.created_at,
            today=today,
        )
        for c in conversations
    ]


def _subtask_items(subtasks: QuerySet[Subtask], user: User, filters: Filters, today: date) -> list[TaskItem]:
    if filters.show == "standalone":
        return []
    # Only subtasks of conversations the user can open: access removed, the task is gone too.
    visible = ConversationState.objects.filter(conversation=OuterRef("conversation"), user=user).exclude(
        location__in=[Location.TRASHED, Location.SPAM]
    )
    subtasks = (
        subtasks.filter(Exists(visible), status__in=filters.statuses)
        .filter(_due_q(filters.due, today, "due_date"))
        .select_related("conversation", "team")
        .prefetch_related("assignees")
        .order_by("-created_at")[:TASKS_LIMIT]
    )
    return [
        TaskItem(
            kind="subtask",
            id=s.id,
            title=s.title,
            status=s.status,
            due_date=s.due_date,
            assignees=list(s.assignees.all()),
            team=s.team,
            conversation_id=s.conversation_id,
            conversation_subject=s.conversation.display_subject,
            created_at=s.created_at,
            today=today,
        )
        for s in subtasks
    ]


def my_task_items(user: User, filters: Filters, today: date) -> list[TaskItem]:
    """Conversations assigned to the user (standalone tasks included) and subtasks assigned to
    them, in every organization."""
    states = ConversationState.objects.filter(user=user, assigned=True)
    return _conversation_items(states, filters, today) + _subtask_items(
        Subtask.objects.filter(assignments__user=user), user, filters, today
    )


def team_task_items(team: Team, user: User, filters: Filters, today: date) -> list[TaskItem]:
    """The team's tasks the user can see: its assigned conversations, its standalone tasks, and
    subtasks given to the team."""
    states = ConversationState.objects.filter(
        Q(conversation__assigned=True) | Q(conversation__kind=ConversationKind.TASK),
        user=user,
        conversation__organization_id=team.organization_id,
        conversation__team=team,
    )
    return _conversation_items(states, filters, today) + _subtask_items(
        Subtask.objects.filter(organization_id=team.organization_id, team=team), user, filters, today
    )


STATUS_ORDER = {TaskStatus.TODO: 0, TaskStatus.IN_PROGRESS: 1, TaskStatus.CLOSED: 2}


def sort_items(items: list[TaskItem], sort: str) -> list[TaskItem]:
    """Newest first by creation; by due date, dated tasks soonest first and the undated last."""
    by_created = sorted(items, key=lambda i: i.created_at, reverse=True)
    if sort == "created":
        return by_created
    by_due = sorted(by_created, key=lambda i: (i.due_date is None, i.due_date or date.max))
    if sort == "status":
        return sorted(by_due, key=lambda i: STATUS_ORDER[TaskStatus(i.status)])
    return by_due


def due_bucket(item: TaskItem) -> str:
    if item.due_date is None:
        return "Anytime"
    today = item.today
    if item.due_date < today:
        return "Overdue"
    if item.due_date == today:
        return "Today"
    week_end = today + timedelta(days=6 - today.weekday())
    if item.due_date <= week_end:
        return "This week"
    if item.due_date <= week_end + timedelta(days=7):
        return "Next week"
    return "Later"


DUE_BUCKETS = ["Overdue", "Today", "This week", "Next week", "Later", "Anytime"]


def group_items(items: list[TaskItem], group: str) -> list[tuple[str, str, list[TaskItem]]]:
    """(key, heading, items) per group, in the seed's order; empty groups are left out."""
    if group == "none":
        return [("all", "All tasks", items)] if items else []
    if group == "due":
        return [
            (bucket.lower().replace(" ", "-"), bucket, found)
            for bucket in DUE_BUCKETS
            if (found := [i for i in items if due_bucket(i) == bucket])
        ]
    return [
        (status, str(label), found)
        for status, label in TaskStatus.choices
        if (found := [i for i in items if i.status == status])
    ]


# --- Pages ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TasksPlace:
    """Where the sidebar is: enough of a Mailbox for its highlighting (no mailbox is current)."""

    url: str
    title: str
    team: Team | None = None
    key: str = "tasks"
    org_label: None = None


def _render_tasks(
    request: AuthenticatedRequest, place: TasksPlace, items: list[TaskItem], filters: Filters
) -> HttpResponse:
    target = PARTIALS.get(request.htmx.target or "") if request.htmx else None
    context: dict[str, Any] = {
        "mailbox": place,
        "place": place,
        "filters": filters,
        "groups": group_items(sort_items(items, filters.sort), filters.group),
        "filtered": filters != Filters.from_query(QueryDict()),
        "reload_url": f"{place.url}?{filters.query_string()}",
        "task_statuses": TaskStatus.choices,
        "tasks_view": "team" if place.team else "mine",
        "tasks_team_id": place.team.id if place.team else None,
    }
    if target in (None, "workspace"):
        context.update(sidebar_context(request.user))
    return render_page(request, "conversations/tasks/tasks.html", context, partials=PARTIALS)


@require_safe
@login_required
def my_tasks(request: AuthenticatedRequest) -> HttpResponse:
    """My tasks: everything assigned to me, in every organization."""
    filters = Filters.from_query(request.GET)
    place = TasksPlace(url=reverse("my_tasks"), title="My tasks")
    return _render_tasks(request, place, my_task_items(request.user, filters, timezone.localdate()), filters)


@require_safe
@login_required
def team_tasks(request: AuthenticatedRequest, team_id: UUID) -> HttpResponse:
    """A team's tasks, for its members and observers."""
    team = get_team_for_member(request.user, team_id)
    filters = Filters.from_query(request.GET)
    place = TasksPlace(url=reverse("team_tasks", args=[team.id]), title=f"{team} · Tasks", team=team)
    return _render_tasks(request, place, team_task_items(team, request.user, filters, timezone.localdate()), filters)


class NewTaskForm(forms.Form):
    title = forms.CharField(max_length=task_actions.TITLE_LIMIT, strip=True)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    assignees = forms.MultipleChoiceField(required=False)
    team = forms.ChoiceField(required=False)
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, members: list[User], teams: list[Team], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.members = {str(u.id): u for u in members}
        self.teams = {str(t.id): t for t in teams}
        cast(forms.ChoiceField, self.fields["assignees"]).choices = [
            (key, u.display_name) for key, u in self.members.items()
        ]
        cast(forms.ChoiceField, self.fields["team"]).choices = [("", "No team")] + [
            (key, str(t)) for key, t in self.teams.items()
        ]


def _task_organization(request: AuthenticatedRequest) -> Membership:
    """The organization a new task is for: the one asked for, else the first the user is in."""
    wanted = request.POST.get("organization") or request.GET.get("organization", "")
    if is_uuid(wanted):
        return get_membership(request.user, wanted)
    membership = Membership.objects.filter(user=request.user).select_related("organization").first()
    if membership is None:
        raise Http404("No organization.")
    return membership


@require_http_methods(["GET", "POST"])
@login_required
def new_task(request: AuthenticatedRequest) -> HttpResponse:
    """New task (Mod+T, the + buttons): a modal form; the title understands @people, @teams and
    dates such as "tomorrow"."""
    membership = _task_organization(request)
    organization = membership.organization
    members = [
        m.user
        for m in Membership.objects.filter(organization=organization)
        .exclude(role=Role.GUEST)
        .select_related("user")
        .order_by("user__name", "user__email")
    ]
    teams = list(Team.objects.filter(organization=organization).order_by("name"))
    if request.method == "POST":
        form = NewTaskForm(request.POST, members=members, teams=teams)
        if form.is_valid():
            data = form.cleaned_data
            parsed = task_actions.parse_title(data["title"], organization.id, today=timezone.localdate())
            assignees = [form.members[key] for key in data["assignees"]] + parsed.users
            try:
                conversation = task_actions.do_create_task(
                    organization,
                    acting_user=request.user,
                    title=parsed.title or data["title"],
                    description=data["description"],
                    assignees=assignees,
                    team=form.teams.get(data["team"]) or parsed.team,
                    due_date=data["due_date"] or parsed.due_date,
                )
            except ActionRefused as error:
                form.add_error("title", " ".join(error.messages))
            else:
                if not request.htmx:
                    return redirect(reverse("conversation", args=["all", conversation.id]))
                return trigger_client_event(toast(request, "Task created.", level=""), "tasks-changed")
    else:
        team = request.GET.get("team", "")
        form = NewTaskForm(
            initial={"assignees": [str(request.user.id)], "team": team if team in {str(t.id) for t in teams} else ""},
            members=members,
            teams=teams,
        )
    organizations = list(Membership.objects.filter(user=request.user).select_related("organization"))
    context = {"form": form, "organization": organization, "organizations": organizations}
    return render(request, "conversations/tasks/_new_task.html", context)


def _due(value: str) -> date | None:
    if not value:
        return None
    parsed = parse_date(value)
    if parsed is None:
        raise ActionRefused("Pick a valid due date.")
    return parsed


@require_POST
@login_required
def update_task(request: AuthenticatedRequest, task_kind: str, task_id: UUID) -> HttpResponse:
    """A status or due date changed from a Tasks view; the view reloads its list."""
    if task_kind == "s":
        subtask = (
            Subtask.objects.filter(id=task_id, conversation__states__user=request.user)
            .select_related("conversation")
            .first()
        )
        if subtask is None:
            raise Http404("No such task.")
        set_status = partial(task_actions.do_set_subtask_status, subtask, acting_user=request.user)
        set_due = partial(task_actions.do_set_subtask_due_date, subtask, acting_user=request.user)
    elif task_kind == "c":
        conversation = get_state_for_user(request, task_id).conversation
        set_status = partial(task_actions.do_set_task_status, conversation, acting_user=request.user)
        set_due = partial(task_actions.do_set_task_due_date, conversation, acting_user=request.user)
    else:
        raise Http404("No such task.")
    status, due = request.POST.get("status"), request.POST.get("due_date")
    try:
        if status is not None:
            set_status(status)
        if due is not None:
            set_due(_due(due))
    except ActionRefused as error:
        return toast(request, " ".join(error.messages))
    if not request.htmx:
        return redirect(request.POST.get("return_to") or reverse("my_tasks"))
    return trigger_client_event(HttpResponse(status=204), "tasks-changed")


# --- Task actions of the conversation view (conversation_action endpoint) -------------------------

Handler = Callable[[AuthenticatedRequest, Conversation, Any], Any]


def _subtask(conversation: Conversation, request: AuthenticatedRequest) -> Subtask:
    subtask_id = request.POST.get("subtask_id", "")
    subtask = (
        Subtask.objects.filter(conversation=conversation, id=subtask_id).select_related("conversation").first()
        if is_uuid(subtask_id)
        else None
    )
    if subtask is None:
        raise ActionRefused("That task no longer exists.")
    return subtask


def _member(conversation: Conversation, request: AuthenticatedRequest) -> User:
    user_id = request.POST.get("user_id", "")
    user = (
        User.objects.filter(id=user_id, memberships__organization_id=conversation.organization_id).first()
        if is_uuid(user_id)
        else None
    )
    if user is None:
        raise ActionRefused("Pick someone of the conversation's organization.")
    return user


def _team(conversation: Conversation, request: AuthenticatedRequest) -> Team | None:
    team_id = request.POST.get("team_id", "")
    if not team_id:
        return None
    if not is_uuid(team_id):
        raise ActionRefused("Pick a team of the conversation's organization.")
    team = Team.objects.filter(id=team_id, organization_id=conversation.organization_id).first()
    if team is None:
        raise ActionRefused("Pick a team of the conversation's organization.")
    return team


def _comment(conversation: Conversation, request: AuthenticatedRequest) -> Comment:
    return _comment_of(conversation, request.POST.get("comment_id", ""))


def _add_subtask(request: AuthenticatedRequest, conversation: Conversation, mailbox: Any) -> Subtask:
    parsed = task_actions.parse_title(
        request.POST.get("title", ""), conversation.organization_id, today=timezone.localdate()
    )
    return task_actions.do_create_subtask(
        conversation,
        acting_user=request.user,
        title=parsed.title,
        assignees=parsed.users,
        team=parsed.team,
        due_date=parsed.due_date,
    )


def _remove_comment_task(request: AuthenticatedRequest, conversation: Conversation, mailbox: Any) -> None:
    for subtask in _comment(conversation, request).subtasks.select_related("conversation"):
        task_actions.do_remove_subtask(subtask, acting_user=request.user)


TASK_HANDLERS: dict[str, Handler] = {
    "task_status": lambda r, c, m: task_actions.do_set_task_status(c, r.POST.get("status", ""), acting_user=r.user),
    "task_due": lambda r, c, m: task_actions.do_set_task_due_date(
        c, _due(r.POST.get("due_date", "")), acting_user=r.user
    ),
    "task_description": lambda r, c, m: task_actions.do_set_task_description(
        c, r.POST.get("description", ""), acting_user=r.user
    ),
    "subtask_add": _add_subtask,
    "subtask_status": lambda r, c, m: task_actions.do_set_subtask_status(
        _subtask(c, r), r.POST.get("status", ""), acting_user=r.user
    ),
    "subtask_due": lambda r, c, m: task_actions.do_set_subtask_due_date(
        _subtask(c, r), _due(r.POST.get("due_date", "")), acting_user=r.user
    ),
    "subtask_assign": lambda r, c, m: task_actions.do_assign_subtask(
        _subtask(c, r), [_member(c, r)], acting_user=r.user
    ),
    "subtask_unassign": lambda r, c, m: task_actions.do_unassign_subtask(
        _subtask(c, r), _member(c, r), acting_user=r.user
    ),
    "subtask_team": lambda r, c, m: task_actions.do_set_subtask_team(_subtask(c, r), _team(c, r), acting_user=r.user),
    "subtask_remove": lambda r, c, m: task_actions.do_remove_subtask(_subtask(c, r), acting_user=r.user),
    "comment_task": lambda r, c, m: task_actions.do_make_comment_a_task(_comment(c, r), acting_user=r.user),
    "comment_untask": _remove_comment_task,
}


def _with_comment_tasks(post_comment: Handler) -> Handler:
    """The chat's comment handler, plus the tasks a comment writes: its `[ ]` lines, or the
    whole comment when posted with the task button (`as_task`)."""

    def handler(request: AuthenticatedRequest, conversation: Conversation, mailbox: Any) -> Any:
        with transaction.atomic():
            comment = post_comment(request, conversation, mailbox)
            if isinstance(comment, Comment):
                whole = request.POST.get("as_task") in ("1", "true", "on")
                task_actions.do_create_subtasks_from_comment(comment, acting_user=request.user, whole=whole)
        return comment

    return handler


def add_task_handlers(handlers: dict[str, Handler], single_only: set[str]) -> None:
    """Register the task actions with the conversation action endpoint (action_views)."""
    handlers.update(TASK_HANDLERS)
    single_only.update(TASK_HANDLERS)
    handlers["comment"] = _with_comment_tasks(handlers["comment"])
