"""Tasks: the conversation as a task, subtasks (from the Tasks panel and from comments),
standalone tasks, the Tasks views, due-date reminders, and isolation."""

from datetime import date, timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from conversations.actions import ActionRefused, do_assign_conversation, do_close, do_post_comment, do_reopen
from conversations.models import (
    AccessSource,
    ActivityItem,
    ActivityKind,
    ConversationEvent,
    ConversationKind,
    ConversationState,
    EventKind,
    Location,
    Status,
    Subtask,
    TaskStatus,
)
from conversations.task_actions import (
    do_assign_subtask,
    do_create_subtask,
    do_create_subtasks_from_comment,
    do_create_task,
    do_make_comment_a_task,
    do_remind_due_tasks,
    do_set_subtask_due_date,
    do_set_subtask_status,
    do_set_subtask_team,
    do_set_task_due_date,
    do_set_task_status,
    do_unassign_subtask,
    notify_task,
    parse_title,
)
from conversations.tasks import remind_due_tasks
from inboxes.models import TeamRole
from tests.conftest import login
from tests.factories import TeamFactory, add_to_team, receive, state_of

pytestmark = pytest.mark.django_db

TODAY = date(2025, 3, 5)  # a Wednesday


def _events(conversation, kind):
    return list(ConversationEvent.objects.filter(conversation=conversation, kind=kind).order_by("created_at"))


def _act(client, conversation, action, **data):
    return client.post(
        reverse("conversation_action", args=[conversation.id, action]),
        {"return_to": "/m/all/", "open": str(conversation.id), **data},
        HTTP_HX_REQUEST="true",
    )


@pytest.fixture
def assigned(cast):
    """A Support conversation assigned to the teammate."""
    conversation = receive(cast.support_account, subject="Refund request").conversation
    do_assign_conversation(conversation, [cast.teammate], acting_user=cast.owner)
    conversation.refresh_from_db()
    return conversation


# The conversation as a task ------------------------------------------------------------------------


def test_a_conversation_is_to_do_while_open_in_progress_by_choice_and_closed_when_closed(cast, assigned):
    assert assigned.task_status == TaskStatus.TODO

    do_set_task_status(assigned, TaskStatus.IN_PROGRESS, acting_user=cast.owner)
    assigned.refresh_from_db()
    assert (assigned.status, assigned.task_status) == (Status.OPEN, TaskStatus.IN_PROGRESS)
    event = _events(assigned, EventKind.TASK_STATUS)[-1]
    assert event.text == "Olivia Owner marked the conversation as In progress"
    assert event.data["notify"] == str(cast.teammate.id), "the assignee hears of it"

    do_set_task_status(assigned, TaskStatus.CLOSED, acting_user=cast.owner)
    assigned.refresh_from_db()
    assert (assigned.status, assigned.task_status) == (Status.CLOSED, TaskStatus.CLOSED)
    assert assigned.assignments.filter(user=cast.teammate).exists(), "closing keeps the assignees"
    assert _events(assigned, EventKind.CLOSED)


def test_reopening_a_closed_task_brings_it_back_to_the_assignees_inbox(cast, assigned):
    do_set_task_status(assigned, TaskStatus.CLOSED, acting_user=cast.teammate)
    assert state_of(assigned, cast.teammate).location == Location.ARCHIVED

    do_set_task_status(assigned, TaskStatus.TODO, acting_user=cast.owner)

    assigned.refresh_from_db()
    assert (assigned.status, assigned.task_status) == (Status.OPEN, TaskStatus.TODO)
    assert state_of(assigned, cast.teammate).location == Location.INBOX
    assert _events(assigned, EventKind.REOPENED)


def test_closing_or_reopening_the_conversation_is_the_tasks_status_too(cast, assigned):
    do_set_task_status(assigned, TaskStatus.IN_PROGRESS, acting_user=cast.owner)
    do_close(assigned, acting_user=cast.owner)
    assert assigned.task_status == TaskStatus.CLOSED
    do_reopen(assigned, acting_user=cast.owner)
    assert assigned.task_status != TaskStatus.CLOSED


def test_moving_between_to_do_and_in_progress_brings_watchers_back_to_their_inbox(cast, assigned):
    owner_state = state_of(assigned, cast.owner)
    owner_state.watching, owner_state.location = True, Location.ARCHIVED
    owner_state.save()

    do_set_task_status(assigned, TaskStatus.IN_PROGRESS, acting_user=cast.teammate)

    assert state_of(assigned, cast.owner).location == Location.INBOX
    assert state_of(assigned, cast.observer).location == Location.NONE, "not watching"


def test_a_status_outside_the_three_is_refused(cast, assigned):
    with pytest.raises(ActionRefused):
        do_set_task_status(assigned, "done", acting_user=cast.owner)


def test_setting_and_removing_a_due_date_is_in_the_timeline(cast, assigned):
    do_set_task_due_date(assigned, TODAY, acting_user=cast.owner)
    assigned.refresh_from_db()
    assert assigned.due_date == TODAY
    assert _events(assigned, EventKind.TASK_DUE)[-1].text == (
        "Olivia Owner set the due date of the conversation to Wed Mar 5, 2025"
    )
    do_set_task_due_date(assigned, None, acting_user=cast.owner)
    assert _events(assigned, EventKind.TASK_DUE_REMOVED)


def test_the_header_changes_the_task_status_and_the_panel_its_due_date_and_description(client, cast, assigned):
    login(client, cast.owner)
    response = _act(client, assigned, "task_status", status="in_progress")
    assert response.status_code == 200
    assert 'class="task-check task-check-in_progress"' in response.content.decode()
    _act(client, assigned, "task_due", due_date="2025-03-07")
    _act(client, assigned, "task_description", description="Check the invoice first")
    assigned.refresh_from_db()
    assert (assigned.task_status, assigned.due_date) == (TaskStatus.IN_PROGRESS, date(2025, 3, 7))
    assert assigned.description == "Check the invoice first"

    response = _act(client, assigned, "task_due", due_date="not a date")
    assert "Pick a valid due date." in response.content.decode()


def test_chat_rooms_are_not_tasks(cast, assigned):
    assigned.kind = ConversationKind.TEAM_ROOM
    assigned.save()
    with pytest.raises(ActionRefused):
        do_set_task_status(assigned, TaskStatus.IN_PROGRESS, acting_user=cast.owner)


# Standalone tasks ---------------------------------------------------------------------------------


def test_a_standalone_task_is_a_conversation_its_assignees_find_in_their_inbox(cast):
    task = do_create_task(
        cast.org,
        acting_user=cast.owner,
        title="  Renew the domain  ",
        description="Before it lapses",
        assignees=[cast.teammate],
        due_date=TODAY,
    )

    assert (task.kind, task.subject, task.description, task.due_date) == (
        ConversationKind.TASK,
        "Renew the domain",
        "Before it lapses",
        TODAY,
    )
    creator = state_of(task, cast.owner)
    assert (creator.access_source, creator.watching) == (AccessSource.CREATOR, True)
    assignee = state_of(task, cast.teammate)
    assert (assignee.location, assignee.watching, assignee.assigned) == (Location.INBOX, True, True)
    assert state_of(task, cast.observer) is None, "nobody else has access"
    assert [e.kind for e in task.events.order_by("created_at")] == [EventKind.TASK_CREATED, EventKind.ASSIGNED]
    assert task.events.get(kind=EventKind.TASK_CREATED).data["notify"] == str(cast.teammate.id)


def test_a_team_task_is_seen_by_the_team_and_waits_in_its_inbox_until_assigned(cast):
    task = do_create_task(cast.org, acting_user=cast.owner, title="Restock", team=cast.support)
    assert state_of(task, cast.observer) is not None and state_of(task, cast.teammate) is not None
    assert task.in_team_inbox
    do_assign_conversation(task, [cast.teammate], acting_user=cast.owner)
    task.refresh_from_db()
    assert not task.in_team_inbox


@pytest.mark.parametrize("problem", ["no title", "other team", "outsider"])
def test_a_standalone_task_needs_a_title_and_people_and_teams_of_its_organization(cast, problem):
    kwargs = {
        "no title": {"title": "  "},
        "other team": {"title": "X", "team": cast.outsider_team},
        "outsider": {"title": "X", "assignees": [cast.outsider]},
    }[problem]
    with pytest.raises(ActionRefused):
        do_create_task(cast.org, acting_user=cast.owner, **kwargs)
    assert not ConversationState.objects.filter(conversation__kind=ConversationKind.TASK).exists()


def test_the_new_task_form_understands_the_title_and_shows_errors_inline(client, cast):
    login(client, cast.owner)
    form = client.get(reverse("new_task"), HTTP_HX_REQUEST="true").content.decode()
    assert 'name="title"' in form and "Tom Teammate" in form and "Support" in form
    assert "Xavier" not in form, "people of other organizations are not offered"

    response = client.post(reverse("new_task"), {"organization": cast.org.id, "title": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'class="form-error"' in response.content.decode()

    response = client.post(
        reverse("new_task"),
        {"organization": cast.org.id, "title": "Call the bank @teammate tomorrow", "team": str(cast.support.id)},
        HTTP_HX_REQUEST="true",
    )
    assert "tasks-changed" in response["HX-Trigger"]
    task = ConversationState.objects.get(user=cast.teammate, conversation__kind=ConversationKind.TASK).conversation
    assert task.subject == "Call the bank" and task.team == cast.support
    assert task.due_date == timezone.localdate() + timedelta(days=1)


def test_the_new_task_form_refuses_another_organization(client, cast):
    login(client, cast.owner)
    response = client.post(reverse("new_task"), {"organization": cast.other_org.id, "title": "Sneaky"})
    assert response.status_code == 404


# Titles -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "title", "due"),
    [
        ("Review contract @teammate tomorrow", "Review contract", date(2025, 3, 6)),
        ("Call back today", "Call back", TODAY),
        ("Send deck friday", "Send deck", date(2025, 3, 7)),
        ("Standup wednesday", "Standup", date(2025, 3, 12)),
        ("Plan next week", "Plan", date(2025, 3, 10)),
        ("Renew on Mar 20", "Renew", date(2025, 3, 20)),
        ("Renew 2 Jan", "Renew", date(2026, 1, 2)),
        ("File taxes 2025-04-15", "File taxes", date(2025, 4, 15)),
        ("Feb 30 is no date", "Feb 30 is no date", None),
    ],
)
def test_a_title_gives_up_the_date_it_names(cast, typed, title, due):
    parsed = parse_title(typed, cast.org.id, today=TODAY)
    assert (parsed.title, parsed.due_date) == (title, due)


def test_a_title_assigns_people_and_teams_it_mentions_and_keeps_unknown_handles(cast):
    parsed = parse_title("Ask @tom-teammate and @support about @nobody", cast.org.id, today=TODAY)
    assert parsed.users == [cast.teammate] and parsed.team == cast.support
    assert parsed.title == "Ask and about @nobody"
    assert parse_title("Ping @outsider", cast.org.id, today=TODAY).users == [], "other organizations' people"


# Subtasks ---------------------------------------------------------------------------------------------


def test_assigning_a_subtask_gives_access_and_brings_the_conversation_to_the_inbox(cast):
    conversation = receive(cast.personal_account, subject="Offsite").conversation
    assert state_of(conversation, cast.teammate) is None

    subtask = do_create_subtask(
        conversation, acting_user=cast.owner, title="Book the venue", assignees=[cast.teammate], due_date=TODAY
    )

    state = state_of(conversation, cast.teammate)
    assert (state.access_source, state.location, state.unread) == (AccessSource.ASSIGNMENT, Location.INBOX, True)
    assert list(subtask.assignees.all()) == [cast.teammate]
    event = _events(conversation, EventKind.TASK_CREATED)[-1]
    assert event.text == "Olivia Owner created the task “Book the venue” for Tom Teammate"
    assert event.data == {
        "target": "“Book the venue” for Tom Teammate",
        "task_id": str(subtask.id),
        "notify": str(cast.teammate.id),
    }
    items = ActivityItem.objects.filter(conversation=conversation)
    expected_data = {"title": "Book the venue", "due_at": TODAY.isoformat()}
    assert [(i.recipient, i.kind, i.actor, i.data) for i in items] == [
        (cast.teammate, ActivityKind.TASK_ASSIGNED, cast.owner, expected_data)
    ]


def test_subtask_changes_are_events_and_bring_watchers_back(cast):
    conversation = receive(cast.support_account, subject="Launch").conversation
    subtask = do_create_subtask(conversation, acting_user=cast.owner, title="Write notes")
    do_post_comment(conversation, author=cast.teammate, body="watching this")  # teammate watches
    ConversationState.objects.filter(conversation=conversation, user=cast.teammate).update(location=Location.ARCHIVED)

    do_set_subtask_status(subtask, TaskStatus.IN_PROGRESS, acting_user=cast.owner)
    assert state_of(conversation, cast.teammate).location == Location.INBOX
    do_assign_subtask(subtask, [cast.observer], acting_user=cast.owner)
    do_unassign_subtask(subtask, cast.observer, acting_user=cast.owner)
    do_set_subtask_due_date(subtask, TODAY, acting_user=cast.owner)
    do_set_subtask_status(subtask, TaskStatus.CLOSED, acting_user=cast.teammate)

    texts = [e.text for e in conversation.events.filter(kind__startswith="task_").order_by("created_at")]
    assert texts == [
        "Olivia Owner created the task “Write notes”",
        "Olivia Owner marked “Write notes” as In progress",
        "Olivia Owner assigned “Write notes” to Oscar Observer",
        "Olivia Owner unassigned Oscar Observer from “Write notes”",
        "Olivia Owner set the due date of “Write notes” to Wed Mar 5, 2025",
        "Tom Teammate marked “Write notes” as Closed",
    ]
    assert state_of(conversation, cast.observer) is not None, "unassigned, the observer keeps access"


def test_a_subtasks_team_gains_access_to_see_it_in_team_tasks(cast):
    legal = TeamFactory(organization=cast.org, name="Legal")
    add_to_team(legal, cast.guest, TeamRole.ACTIVE)
    conversation = receive(cast.personal_account, subject="Contract").conversation
    subtask = do_create_subtask(conversation, acting_user=cast.owner, title="Review clauses")

    do_set_subtask_team(subtask, legal, acting_user=cast.owner)

    assert Subtask.objects.get().team == legal
    assert state_of(conversation, cast.guest).location == Location.ARCHIVED
    with pytest.raises(ActionRefused):
        do_set_subtask_team(subtask, cast.outsider_team, acting_user=cast.owner)


def test_only_people_with_access_change_tasks(cast):
    conversation = receive(cast.personal_account, subject="Private").conversation
    with pytest.raises(ActionRefused):
        do_create_subtask(conversation, acting_user=cast.teammate, title="Sneak")
    subtask = do_create_subtask(conversation, acting_user=cast.owner, title="Mine")
    with pytest.raises(ActionRefused):
        do_set_subtask_status(subtask, TaskStatus.CLOSED, acting_user=cast.teammate)
    with pytest.raises(ActionRefused):
        do_assign_subtask(subtask, [cast.outsider], acting_user=cast.owner)


# Tasks from comments ------------------------------------------------------------------------------------


def test_each_checkbox_line_of_a_comment_is_a_task_assigned_to_whom_it_mentions(client, cast):
    conversation = receive(cast.support_account, subject="Launch").conversation
    login(client, cast.owner)
    body = "Plan:\n[] Draft the post\n[x] Pick a date\n- [ ] Proofread @tom-teammate\nThanks"

    response = _act(client, conversation, "comment", body=body)

    assert response.status_code == 200
    tasks = list(Subtask.objects.order_by("created_at"))
    assert [(t.title, t.status) for t in tasks] == [
        ("Draft the post", TaskStatus.TODO),
        ("Pick a date", TaskStatus.CLOSED),
        ("Proofread", TaskStatus.TODO),
    ]
    assert list(tasks[2].assignees.all()) == [cast.teammate]
    assert all(t.comment and t.comment.body == body for t in tasks)
    assert all(t.due_date is None for t in tasks), "the [ ] syntax sets no due date"
    page = response.content.decode()
    assert page.count('class="subtask status-') == 6, "inline under the comment and in the Tasks panel"


def test_the_task_button_posts_the_comment_as_one_task(client, cast):
    conversation = receive(cast.support_account, subject="Launch").conversation
    login(client, cast.owner)
    _act(client, conversation, "comment", body="@tom-teammate can you call them back?", as_task="1")
    task = Subtask.objects.get()
    assert task.title == "can you call them back?" and list(task.assignees.all()) == [cast.teammate]


def test_only_your_own_comment_becomes_a_task_and_removing_the_task_keeps_the_comment(client, cast):
    conversation = receive(cast.support_account, subject="Launch").conversation
    mine = do_post_comment(conversation, author=cast.owner, body="Order banners\nfor @tom-teammate")
    theirs = do_post_comment(conversation, author=cast.teammate, body="Me too")
    with pytest.raises(ActionRefused):
        do_make_comment_a_task(theirs, acting_user=cast.owner)

    login(client, cast.owner)
    _act(client, conversation, "comment_task", comment_id=str(mine.id))
    task = Subtask.objects.get()
    assert (task.title, list(task.assignees.all())) == ("Order banners", [cast.teammate])
    assert "already" in _act(client, conversation, "comment_task", comment_id=str(mine.id)).content.decode()

    _act(client, conversation, "comment_untask", comment_id=str(mine.id))
    assert not Subtask.objects.exists()
    mine.refresh_from_db()
    assert _events(conversation, EventKind.TASK_REMOVED)[-1].text == "Olivia Owner removed the task “Order banners”"


def test_a_comment_without_checkbox_lines_makes_no_task(cast):
    conversation = receive(cast.support_account, subject="Launch").conversation
    comment = do_post_comment(conversation, author=cast.owner, body="see [x] in the doc")
    assert do_create_subtasks_from_comment(comment, acting_user=cast.owner) == []


def test_task_titles_are_escaped_everywhere(client, cast):
    conversation = receive(cast.support_account, subject="Launch").conversation
    do_create_subtask(conversation, acting_user=cast.owner, title="<script>alert(1)</script>", assignees=[cast.owner])
    login(client, cast.owner)
    for url in (reverse("conversation", args=["all", conversation.id]), reverse("my_tasks")):
        page = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_removing_a_subtask_by_its_menu(client, cast):
    conversation = receive(cast.support_account, subject="Launch").conversation
    subtask = do_create_subtask(conversation, acting_user=cast.owner, title="Drop me")
    login(client, cast.owner)
    _act(client, conversation, "subtask_remove", subtask_id=str(subtask.id))
    assert not Subtask.objects.exists()
    assert _events(conversation, EventKind.TASK_REMOVED)


# The Tasks views --------------------------------------------------------------------------------------


@pytest.fixture
def my_work(cast, assigned):
    """For the teammate: an assigned conversation, a subtask and a standalone task (overdue)."""
    other = receive(cast.support_account, subject="Onboarding").conversation
    subtask = do_create_subtask(other, acting_user=cast.owner, title="Send welcome kit", assignees=[cast.teammate])
    standalone = do_create_task(
        cast.org,
        acting_user=cast.owner,
        title="Renew certificate",
        assignees=[cast.teammate],
        due_date=timezone.localdate() - timedelta(days=2),
    )
    not_mine = do_create_subtask(other, acting_user=cast.owner, title="Owner's own", assignees=[cast.owner])
    return {"conversation": assigned, "subtask": subtask, "standalone": standalone, "not_mine": not_mine}


def test_my_tasks_lists_every_kind_assigned_to_me_with_overdue_highlighted(client, cast, my_work):
    login(client, cast.teammate)
    page = client.get(reverse("my_tasks")).content.decode()
    for title in ("Refund request", "Send welcome kit", "Renew certificate"):
        assert title in page
    assert "Owner&#x27;s own" not in page and "Owner's own" not in page
    assert f'id="task-{my_work["standalone"].id}"' in page
    row = page.split(f'id="task-{my_work["standalone"].id}"')[0].rsplit("<li", 1)[1]
    assert "overdue" in row
    assert "Onboarding" in page, "a subtask's conversation pill"


def test_my_tasks_filters_by_status_and_kind(client, cast, my_work):
    do_set_subtask_status(my_work["subtask"], TaskStatus.CLOSED, acting_user=cast.teammate)
    login(client, cast.teammate)
    open_page = client.get(reverse("my_tasks")).content.decode()
    assert "Send welcome kit" not in open_page, "closed tasks are hidden by default"
    closed = client.get(reverse("my_tasks"), {"status": "closed"}).content.decode()
    assert "Send welcome kit" in closed and "Refund request" not in closed
    standalone = client.get(reverse("my_tasks"), {"show": "standalone"}).content.decode()
    assert "Renew certificate" in standalone and "Refund request" not in standalone
    overdue = client.get(reverse("my_tasks"), {"due": "overdue", "group": "due"}).content.decode()
    assert "Renew certificate" in overdue and "Refund request" not in overdue and ">Overdue <" in overdue


def test_my_tasks_sorts_by_due_date_with_undated_tasks_last(client, cast, my_work):
    do_set_task_due_date(my_work["conversation"], timezone.localdate() + timedelta(days=1), acting_user=cast.owner)
    login(client, cast.teammate)
    page = client.get(reverse("my_tasks"), {"group": "none"}).content.decode()
    order = [page.index(t) for t in ("Renew certificate", "Refund request", "Send welcome kit")]
    assert order == sorted(order)


def test_my_tasks_reads_a_fixed_number_of_queries(client, cast, my_work, django_assert_max_num_queries):
    login(client, cast.teammate)
    client.get(reverse("my_tasks"))
    for n in range(5):
        do_create_subtask(
            my_work["conversation"], acting_user=cast.owner, title=f"Extra {n}", assignees=[cast.teammate]
        )
    with django_assert_max_num_queries(22):
        response = client.get(reverse("my_tasks"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="task-list")
    assert response.content.decode().count('class="task-row ') == 8


def test_team_tasks_show_the_teams_work_to_members_only(client, cast, my_work):
    legal = TeamFactory(organization=cast.org, name="Legal")
    add_to_team(legal, cast.owner)
    legal_task = do_create_subtask(my_work["conversation"], acting_user=cast.owner, title="Check terms", team=legal)
    login(client, cast.owner)
    support = client.get(reverse("team_tasks", args=[cast.support.id])).content.decode()
    assert "Refund request" in support and "Send welcome kit" not in support and "Check terms" not in support
    assert "Check terms" in client.get(reverse("team_tasks", args=[legal.id])).content.decode()
    login(client, cast.teammate)
    assert client.get(reverse("team_tasks", args=[legal.id])).status_code == 404
    assert legal_task.team == legal


def test_the_tasks_view_changes_status_and_due_date_and_asks_the_list_to_reload(client, cast, my_work):
    login(client, cast.teammate)
    subtask, standalone = my_work["subtask"], my_work["standalone"]
    response = client.post(
        reverse("update_task", args=["s", subtask.id]), {"status": "in_progress"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 204 and "tasks-changed" in response["HX-Trigger"]
    client.post(reverse("update_task", args=["c", standalone.id]), {"status": "closed"}, HTTP_HX_REQUEST="true")
    client.post(reverse("update_task", args=["c", standalone.id]), {"due_date": ""}, HTTP_HX_REQUEST="true")
    subtask.refresh_from_db()
    standalone.refresh_from_db()
    assert subtask.status == TaskStatus.IN_PROGRESS
    assert (standalone.status, standalone.due_date) == (Status.CLOSED, None)
    bad = client.post(reverse("update_task", args=["s", subtask.id]), {"status": "nope"}, HTTP_HX_REQUEST="true")
    assert "Pick To do, In progress or Closed." in bad.content.decode()


# Isolation ----------------------------------------------------------------------------------------------


def test_tasks_of_conversations_i_cannot_access_are_invisible_and_404(client, cast, my_work):
    foreign = receive(cast.outsider_account, subject="Globex secret").conversation
    foreign_task = do_create_subtask(foreign, acting_user=cast.outsider, title="Globex plan", assignees=[cast.outsider])
    login(client, cast.teammate)
    assert "Globex plan" not in client.get(reverse("my_tasks")).content.decode()
    assert client.post(reverse("update_task", args=["s", foreign_task.id]), {"status": "closed"}).status_code == 404
    assert client.post(reverse("update_task", args=["c", foreign.id]), {"status": "closed"}).status_code == 404
    assert client.post(reverse("update_task", args=["x", foreign.id]), {"status": "closed"}).status_code == 404
    assert _act(client, foreign, "subtask_status", subtask_id=str(foreign_task.id), status="closed").status_code == 404
    assert client.get(reverse("team_tasks", args=[cast.outsider_team.id])).status_code == 404
    # A subtask id of another conversation, through a conversation I can access:
    refused = _act(client, my_work["conversation"], "subtask_status", subtask_id=str(foreign_task.id), status="closed")
    assert "That task no longer exists." in refused.content.decode()
    foreign_task.refresh_from_db()
    assert foreign_task.status == TaskStatus.TODO


def test_losing_access_hides_the_subtasks_assigned_to_me(client, cast, my_work):
    ConversationState.objects.filter(conversation=my_work["subtask"].conversation, user=cast.teammate).delete()
    login(client, cast.teammate)
    assert "Send welcome kit" not in client.get(reverse("my_tasks")).content.decode()


# Reminders -----------------------------------------------------------------------------------------------


def test_due_tasks_are_reminded_once_and_again_after_their_date_moves(cast, assigned):
    today = timezone.localdate()
    do_set_task_due_date(assigned, today, acting_user=cast.owner)
    subtask = do_create_subtask(assigned, acting_user=cast.owner, title="Refund", due_date=today - timedelta(days=1))
    unassigned_reminder_goes_to_creator = subtask
    later = do_create_subtask(assigned, acting_user=cast.owner, title="Later", due_date=today + timedelta(days=3))
    done = do_create_subtask(assigned, acting_user=cast.owner, title="Done", due_date=today, status=TaskStatus.CLOSED)

    assert remind_due_tasks() == 2
    assert do_remind_due_tasks() == 0, "idempotent"

    reminders = _events(assigned, EventKind.TASK_REMINDER)
    yesterday = today - timedelta(days=1)
    assert [(e.text, e.actor) for e in reminders] == [
        (f"Task due: the conversation ({today:%a %b %-d, %Y})", None),
        (f"Task due: “Refund” ({yesterday:%a %b %-d, %Y})", None),
    ]
    assert reminders[0].data["notify"] == str(cast.teammate.id)
    assert reminders[1].data["notify"] == str(unassigned_reminder_goes_to_creator.created_by_id)
    assert {later.id, done.id}.isdisjoint({e.data["task_id"] for e in reminders})

    feed = ActivityItem.objects.filter(conversation=assigned, kind=ActivityKind.TASK_REMINDER)
    assert sorted((item.recipient_id, item.data["title"]) for item in feed) == sorted(
        [(cast.teammate.id, assigned.subject), (cast.owner.id, "Refund")]
    )

    do_set_subtask_due_date(later, today, acting_user=cast.owner)
    assert do_remind_due_tasks(today=today) == 1


def test_closed_conversations_are_not_reminded(cast, assigned):
    do_set_task_due_date(assigned, timezone.localdate(), acting_user=cast.owner)
    do_close(assigned, acting_user=cast.owner)
    assert do_remind_due_tasks() == 0


def test_reminders_run_from_beat():
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "conversations.tasks.remind_due_tasks" in schedule


def test_notify_task_records_the_event_with_everyone_but_the_actor(cast, assigned):
    notify_task([cast.owner, cast.teammate], "status", assigned, cast.owner)
    event = assigned.events.latest("created_at")
    assert (event.kind, event.actor, event.data["notify"]) == (EventKind.TASK_STATUS, cast.owner, str(cast.teammate.id))
