"""GET /v1/tasks, GET /v1/tasks/:id, POST /v1/tasks, PATCH /v1/tasks/:id (rest-api.md §4.37–4.40).

Our tasks are conversations or subtasks (conversations/task_actions.py). The API's `type`:
`task` is a standalone task (a conversation of kind task) or a subtask; `conversation` is a
tasked conversation (assigned, or with a due date). A task's `conversation` is the conversation
it is or belongs to; its `last_activity_at` is that conversation's, which orders the list.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any, Literal
from uuid import UUID

from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from channels_app.api.conversation_ops import (
    ConversationOptions,
    accessible_conversation,
    apply_options,
    organization_for,
    refused_as_400,
    target_conversation,
)
from channels_app.api.core import ApiError, api_user
from channels_app.api.pagination import check_limit, epoch, from_epoch
from conversations import task_actions
from conversations.actions import do_assign_conversation, do_move_to_team, do_unassign, do_unassign_team
from conversations.integrations import do_edit_subtask, do_rename_conversation
from conversations.models import Conversation, ConversationKind, Subtask, TaskStatus
from conversations.models import Status as ConversationStatus
from inboxes.models import Team, User

router = Router(tags=["tasks"])

Task = Conversation | Subtask
State = Literal["todo", "in_progress", "closed"]


# --- Reading ---------------------------------------------------------------------------------------


def _due_at(value: date | None) -> int | None:
    return epoch(datetime.combine(value, time(), tzinfo=UTC)) if value is not None else None


def _due_date(value: int | None, field: str) -> date | None:
    return from_epoch(value, field=field).date() if value is not None else None


def _parent(task: Task) -> Conversation:
    return task if isinstance(task, Conversation) else task.conversation


def task_json(task: Task, *, expanded: bool = False) -> dict[str, Any]:
    """The Task object: its list form, or (`expanded`) with assignees and team as objects."""
    parent = _parent(task)
    if isinstance(task, Subtask):
        people = list(task.assignees.all())
        title, description, state, kind = task.title, task.description, task.status, "task"
    else:
        people = [a.user for a in task.assignments.select_related("user").order_by("created_at")]
        title, description, state = task.display_subject, task.description, task.task_status
        kind = "task" if task.kind == ConversationKind.TASK else "conversation"
    team = task.team
    return {
        "id": str(task.id),
        "conversation": str(parent.id),
        "title": title,
        "description": description,
        "state": state,
        "started_at": None,
        "closed_at": None,
        "assignees": (
            [{"id": str(u.id), "name": u.display_name, "email": u.email, "avatar_url": None} for u in people]
            if expanded
            else [str(u.id) for u in people]
        ),
        "team": (
            ({"id": str(team.id), "name": team.name, "organization": str(team.organization_id)} if team else None)
            if expanded
            else (str(team.id) if team else None)
        ),
        "due_at": _due_at(task.due_date),
        "type": kind,
        "last_activity_at": epoch(parent.last_activity_at),
    }


def _visible_conversations(user: User) -> QuerySet[Conversation]:
    return Conversation.objects.filter(states__user=user)


def _tasked_conversations(user: User) -> QuerySet[Conversation]:
    return _visible_conversations(user).filter(
        Q(kind=ConversationKind.TASK) | Q(assigned=True) | Q(due_date__isnull=False)
    )


def _state_q(state: str, prefix: str = "") -> Q:
    if state == TaskStatus.CLOSED:
        return Q(**{f"{prefix}status": ConversationStatus.CLOSED})
    return Q(**{f"{prefix}status": ConversationStatus.OPEN, f"{prefix}in_progress": state == TaskStatus.IN_PROGRESS})


def get_task_for_user(user: User, task_id: UUID) -> Task:
    """A subtask or tasked conversation the user can see; 404 otherwise."""
    subtask = (
        Subtask.objects.filter(id=task_id, conversation__in=_visible_conversations(user))
        .select_related("conversation", "team")
        .first()
    )
    if subtask is not None:
        return subtask
    conversation = _tasked_conversations(user).select_related("team").filter(id=task_id).first()
    if conversation is None:
        raise ApiError("Not found.", status=404)
    return conversation


@router.get("/tasks")
def list_tasks(
    request: HttpRequest,
    limit: int | None = None,
    until: int | None = None,
    organization: UUID | None = None,
    team: UUID | None = None,
    assignee: UUID | None = None,
    state: State | None = None,
    type: Literal["task", "conversation", "all"] = "all",  # noqa: A002 — the spec's name
    conversation: UUID | None = None,
    due_at_gteq: int | None = None,
    due_at_lteq: int | None = None,
) -> dict[str, Any]:
    user = api_user(request)
    limit = check_limit(limit, default=25, maximum=50, minimum=2)
    conversations = _tasked_conversations(user).distinct()
    subtasks = Subtask.objects.filter(conversation__in=_visible_conversations(user))
    if organization is not None:
        organization_for(user, organization)
        conversations, subtasks = (
            conversations.filter(organization_id=organization),
            subtasks.filter(organization_id=organization),
        )
    if team is not None:
        conversations, subtasks = conversations.filter(team_id=team), subtasks.filter(team_id=team)
    if assignee is not None:
        conversations = conversations.filter(assignments__user_id=assignee)
        subtasks = subtasks.filter(assignments__user_id=assignee)
    if state is not None:
        conversations, subtasks = conversations.filter(_state_q(state)), subtasks.filter(status=state)
    if due_at_gteq is not None:
        day = _due_date(due_at_gteq, "due_at_gteq")
        conversations, subtasks = conversations.filter(due_date__gte=day), subtasks.filter(due_date__gte=day)
    if due_at_lteq is not None:
        day = _due_date(due_at_lteq, "due_at_lteq")
        conversations, subtasks = conversations.filter(due_date__lte=day), subtasks.filter(due_date__lte=day)
    if conversation is not None:
        parent = accessible_conversation(user, conversation)
        conversations, subtasks = conversations.none(), subtasks.filter(conversation=parent)
    if type == "conversation":
        conversations, subtasks = conversations.exclude(kind=ConversationKind.TASK), subtasks.none()
    elif type == "task":
        conversations = conversations.filter(kind=ConversationKind.TASK)
    if until is not None:
        before = from_epoch(until + 1, field="until")
        conversations = conversations.filter(last_activity_at__lt=before)
        subtasks = subtasks.filter(conversation__last_activity_at__lt=before)
    return {"tasks": [task_json(task) for task in _page(conversations, subtasks, limit)]}


def _page(conversations: QuerySet[Conversation], subtasks: QuerySet[Subtask], limit: int) -> list[Task]:
    """Newest activity first across both kinds; the page's last second is kept whole."""

    def activity(task: Task) -> datetime:
        return _parent(task).last_activity_at

    conversations = conversations.select_related("team").order_by("-last_activity_at", "-id")
    subtasks = (
        subtasks.select_related("conversation", "team")
        .prefetch_related("assignees")
        .order_by("-conversation__last_activity_at", "-created_at")
    )
    candidates: list[Task] = [*conversations[:limit], *subtasks[:limit]]
    items = sorted(candidates, key=activity, reverse=True)[:limit]
    if len(items) < limit:
        return items
    last = activity(items[-1])
    second = last.replace(microsecond=0)
    seen = {task.id for task in items}
    same_second: list[Task] = [
        *conversations.filter(last_activity_at__gte=second, last_activity_at__lte=last),
        *subtasks.filter(conversation__last_activity_at__gte=second, conversation__last_activity_at__lte=last),
    ]
    return items + [task for task in same_second if task.id not in seen]


@router.get("/tasks/{task_id}")
def get_task(request: HttpRequest, task_id: UUID) -> dict[str, Any]:
    return {"tasks": task_json(get_task_for_user(api_user(request), task_id), expanded=True)}


# --- Writing ---------------------------------------------------------------------------------------


class TaskIn(Schema):
    title: str = Field(..., min_length=1, max_length=1000)
    description: str = Field("", max_length=10000)
    state: State = "todo"
    organization: UUID | None = None
    team: UUID | None = None
    assignees: list[UUID] = []
    due_at: int | None = None
    subtask: bool = False
    conversation: UUID | None = None
    references: list[str] = []
    conversation_subject: str | None = None
    add_users: list[UUID] = []


class TaskBody(Schema):
    tasks: TaskIn


def _members(organization_id: UUID, ids: list[UUID], field: str) -> list[User]:
    found = {u.id: u for u in User.objects.filter(id__in=ids, memberships__organization_id=organization_id)}
    if any(user_id not in found for user_id in ids):
        raise ApiError("Not found.", status=404, field=field)
    return [found[user_id] for user_id in dict.fromkeys(ids)]


def _team(organization_id: UUID, team_id: UUID | None, field: str) -> Team | None:
    if team_id is None:
        return None
    team = Team.objects.filter(id=team_id, organization_id=organization_id).first()
    if team is None:
        raise ApiError("Not found.", status=404, field=field)
    return team


@router.post("/tasks", response={201: dict})
def create_task(request: HttpRequest, payload: TaskBody) -> Status[dict[str, Any]]:
    user = api_user(request)
    body = payload.tasks
    if (body.team or body.assignees or body.add_users) and body.organization is None:
        raise ApiError("'organization' is required with 'team', 'assignees' or 'add_users'", field="tasks.organization")
    if body.subtask and body.conversation is None and not body.references:
        raise ApiError("a subtask needs 'conversation' or 'references'", field="tasks.conversation")
    if not body.subtask and not body.team and not body.assignees:
        raise ApiError("a task needs 'team' or 'assignees'", field="tasks.assignees")
    if body.add_users and not body.subtask:
        raise ApiError("'add_users' is for subtasks only", field="tasks.add_users")
    with transaction.atomic():
        organization = organization_for(user, body.organization)
        if body.subtask:
            options = ConversationOptions(
                conversation=body.conversation,
                references=body.references,
                organization=body.organization,
                add_users=body.add_users,
                conversation_subject=body.conversation_subject,
            )
            parent, _ = target_conversation(user, options, organization=organization, prefix="tasks")
            apply_options(parent, options, user=user, prefix="tasks")
            with refused_as_400("tasks"):
                subtask = task_actions.do_create_subtask(
                    parent,
                    acting_user=user,
                    title=body.title,
                    assignees=_members(parent.organization_id, body.assignees, "tasks.assignees"),
                    team=_team(parent.organization_id, body.team, "tasks.team"),
                    due_date=_due_date(body.due_at, "tasks.due_at"),
                    status=body.state,
                )
                if body.description:
                    do_edit_subtask(subtask, acting_user=user, title=None, description=body.description)
            task: Task = subtask
        else:
            assert organization is not None
            with refused_as_400("tasks"):
                task = task_actions.do_create_task(
                    organization,
                    acting_user=user,
                    title=body.title,
                    description=body.description,
                    assignees=_members(organization.id, body.assignees, "tasks.assignees"),
                    team=_team(organization.id, body.team, "tasks.team"),
                    due_date=_due_date(body.due_at, "tasks.due_at"),
                )
                if body.state != TaskStatus.TODO:
                    task_actions.do_set_task_status(task, body.state, acting_user=user)
        task.refresh_from_db()
    return Status(201, {"tasks": task_json(task)})


class TaskPatch(Schema):
    title: str | None = Field(None, min_length=1, max_length=1000)
    description: str | None = Field(None, max_length=10000)
    state: State | None = None
    assignees: list[UUID] | None = None
    team: UUID | None = None
    due_at: int | None = None


class TaskPatchBody(Schema):
    tasks: TaskPatch


@router.patch("/tasks/{task_id}")
def update_task(request: HttpRequest, task_id: UUID, payload: TaskPatchBody) -> dict[str, Any]:
    user = api_user(request)
    task = get_task_for_user(user, task_id)
    given = payload.tasks.dict(exclude_unset=True)
    with transaction.atomic(), refused_as_400("tasks"):
        if isinstance(task, Subtask):
            _update_subtask(task, given, user)
        else:
            _update_conversation_task(task, given, user)
    task.refresh_from_db()
    return {"tasks": task_json(task, expanded=True)}


def _update_subtask(subtask: Subtask, given: dict[str, Any], user: User) -> None:
    if "title" in given or "description" in given:
        do_edit_subtask(subtask, acting_user=user, title=given.get("title"), description=given.get("description"))
    if given.get("state"):
        task_actions.do_set_subtask_status(subtask, given["state"], acting_user=user)
    if "due_at" in given:
        task_actions.do_set_subtask_due_date(subtask, _due_date(given["due_at"], "tasks.due_at"), acting_user=user)
    if "team" in given:
        team = _team(subtask.organization_id, given["team"], "tasks.team")
        task_actions.do_set_subtask_team(subtask, team, acting_user=user)
    if given.get("assignees") is not None:
        wanted = _members(subtask.organization_id, given["assignees"], "tasks.assignees")
        for person in subtask.assignees.exclude(id__in=[u.id for u in wanted]):
            task_actions.do_unassign_subtask(subtask, person, acting_user=user)
        task_actions.do_assign_subtask(subtask, wanted, acting_user=user)


def _update_conversation_task(conversation: Conversation, given: dict[str, Any], user: User) -> None:
    if given.get("title"):
        do_rename_conversation(conversation, given["title"], acting_user=user)
    if "description" in given:
        task_actions.do_set_task_description(conversation, given["description"] or "", acting_user=user)
    if given.get("state"):
        task_actions.do_set_task_status(conversation, given["state"], acting_user=user)
    if "due_at" in given:
        task_actions.do_set_task_due_date(conversation, _due_date(given["due_at"], "tasks.due_at"), acting_user=user)
    if "team" in given:
        team = _team(conversation.organization_id, given["team"], "tasks.team")
        if team is None:
            do_unassign_team(conversation, acting_user=user)
        else:
            do_move_to_team(conversation, team, acting_user=user)
    if given.get("assignees") is not None:
        wanted = _members(conversation.organization_id, given["assignees"], "tasks.assignees")
        for assignment in conversation.assignments.exclude(user__in=wanted).select_related("user"):
            do_unassign(conversation, assignment.user, acting_user=user)
        if wanted:
            do_assign_conversation(conversation, wanted, acting_user=user)
