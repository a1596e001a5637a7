"""GET/POST /v1/tasks and GET/PATCH /v1/tasks/:id: standalone tasks, subtasks, tasked conversations."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone

from conversations.models import Conversation, ConversationKind, Status, Subtask, TaskStatus
from conversations.task_actions import do_create_subtask
from tests.factories import receive


def create(api, **fields):
    return api.post("/v1/tasks", {"tasks": fields})


def test_a_standalone_task_is_created_assigned_and_read_back(cast, api_as):
    api = api_as(cast.owner)
    response = create(
        api,
        title="Call the supplier",
        description="About the late order",
        organization=str(cast.org.id),
        assignees=[str(cast.teammate.id)],
        team=str(cast.support.id),
        due_at=1893456000,  # 2030-01-01
        state="in_progress",
    )
    assert response.status_code == 201, response.content
    task = response.json()["tasks"]
    conversation = Conversation.objects.get(id=task["id"])
    assert conversation.kind == ConversationKind.TASK and conversation.due_date == date(2030, 1, 1)
    assert task["state"] == "in_progress" and task["type"] == "task"
    assert task["assignees"] == [str(cast.teammate.id)] and task["team"] == str(cast.support.id)
    assert task["due_at"] == 1893456000

    one = api_as(cast.teammate).get(f"/v1/tasks/{task['id']}").json()["tasks"]
    assert one["assignees"][0]["name"] == "Tom Teammate"
    assert one["team"] == {"id": str(cast.support.id), "name": cast.support.name, "organization": str(cast.org.id)}


def test_a_subtask_goes_into_the_conversation_its_references_name(cast, api_as):
    message = receive(cast.personal_account, rfc_message_id="<ticket-9@shop.test>")
    api = api_as(cast.owner)
    response = create(api, title="Refund", subtask=True, references=["ticket-9@shop.test"], description="50 EUR")
    assert response.status_code == 201, response.content
    task = response.json()["tasks"]
    subtask = Subtask.objects.get(id=task["id"])
    assert subtask.conversation == message.conversation and subtask.description == "50 EUR"
    assert task["conversation"] == str(message.conversation_id) and task["type"] == "task"
    listed = api.get("/v1/tasks", {"conversation": str(message.conversation_id)}).json()["tasks"]
    assert [t["id"] for t in listed] == [task["id"]]


def test_tasks_are_listed_with_filters_and_an_inclusive_until(cast, api_as):
    api = api_as(cast.owner)
    ids = []
    for hours, title in enumerate(["old", "middle", "new"]):
        made = create(api, title=title, organization=str(cast.org.id), assignees=[str(cast.owner.id)])
        ids.append(made.json()["tasks"]["id"])
        when = timezone.now() - timedelta(hours=10 - hours)
        Conversation.objects.filter(id=ids[-1]).update(last_activity_at=when)
    page = api.get("/v1/tasks", {"limit": 2}).json()["tasks"]
    assert [t["title"] for t in page] == ["new", "middle"]
    rest = api.get("/v1/tasks", {"limit": 2, "until": page[-1]["last_activity_at"] - 1}).json()["tasks"]
    assert [t["title"] for t in rest] == ["old"]
    inclusive = api.get("/v1/tasks", {"until": page[-1]["last_activity_at"]}).json()["tasks"]
    assert [t["title"] for t in inclusive] == ["middle", "old"]
    assert api.get("/v1/tasks", {"state": "closed"}).json()["tasks"] == []
    assert len(api.get("/v1/tasks", {"assignee": str(cast.owner.id), "type": "task"}).json()["tasks"]) == 3
    assert api.get("/v1/tasks", {"type": "conversation"}).json()["tasks"] == []


def test_patch_changes_a_task_and_a_subtask(cast, api_as):
    api = api_as(cast.owner)
    task = create(api, title="Plan", organization=str(cast.org.id), assignees=[str(cast.owner.id)]).json()["tasks"]
    response = api.patch(
        f"/v1/tasks/{task['id']}",
        {"tasks": {"title": "Plan Q3", "state": "closed", "assignees": [str(cast.teammate.id)], "due_at": None}},
    )
    assert response.status_code == 200, response.content
    changed = response.json()["tasks"]
    assert changed["title"] == "Plan Q3" and changed["state"] == "closed"
    assert [a["id"] for a in changed["assignees"]] == [str(cast.teammate.id)]
    assert Conversation.objects.get(id=task["id"]).status == Status.CLOSED

    conversation = receive(cast.personal_account).conversation
    subtask = do_create_subtask(conversation, acting_user=cast.owner, title="Check")
    response = api.patch(f"/v1/tasks/{subtask.id}", {"tasks": {"title": "Check twice", "state": "in_progress"}})
    assert response.status_code == 200, response.content
    subtask.refresh_from_db()
    assert subtask.title == "Check twice" and subtask.status == TaskStatus.IN_PROGRESS


def test_task_validation_errors_name_the_field(cast, api_as):
    api = api_as(cast.owner)
    assert create(api, title="x", assignees=[str(cast.owner.id)]).json()["field"] == "tasks.organization"
    assert create(api, title="x", organization=str(cast.org.id)).json()["field"] == "tasks.assignees"
    assert create(api, title="x", subtask=True).json()["field"] == "tasks.conversation"
    missing = create(api, description="no title")
    assert missing.status_code == 400 and missing.json()["field"] == "tasks.title"
    long = create(api, title="x" * 1001, organization=str(cast.org.id), assignees=[str(cast.owner.id)])
    assert long.status_code == 400 and long.json()["field"] == "tasks.title"
    bad_state = create(api, title="x", organization=str(cast.org.id), assignees=[str(cast.owner.id)], state="done")
    assert bad_state.status_code == 400 and bad_state.json()["field"] == "tasks.state"
    small = api.get("/v1/tasks", {"limit": 1})
    assert small.status_code == 400 and small.json()["errors"] == "min 'limit' value is 2"
    assert api.get("/v1/tasks", {"limit": 51}).status_code == 400
    assert not Conversation.objects.filter(kind=ConversationKind.TASK).exists()


def test_another_organizations_tasks_are_a_404(cast, api_as):
    theirs = create(
        api_as(cast.outsider), title="Secret", organization=str(cast.other_org.id), assignees=[str(cast.outsider.id)]
    ).json()["tasks"]
    api = api_as(cast.owner)
    assert api.get(f"/v1/tasks/{theirs['id']}").status_code == 404
    assert api.patch(f"/v1/tasks/{theirs['id']}", {"tasks": {"title": "Mine"}}).status_code == 404
    assert api.get("/v1/tasks").json()["tasks"] == []
    assert api.get("/v1/tasks", {"organization": str(cast.other_org.id)}).status_code == 404
    assert (
        create(api, title="x", organization=str(cast.other_org.id), assignees=[str(cast.owner.id)]).status_code == 404
    )
    assert create(api, title="x", organization=str(cast.org.id), assignees=[str(cast.outsider.id)]).status_code == 404
