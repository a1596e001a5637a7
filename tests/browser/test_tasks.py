"""Tasks in real Chromium: the conversation's status from its header, subtasks from the Tasks
panel and from the chat, the My tasks view, and Mod+T."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conversations.actions import do_assign_conversation
from conversations.models import ConversationKind, Status, Subtask, TaskStatus
from conversations.task_actions import do_create_subtask, do_create_task
from tests.browser.conftest import log_in, screenshot
from tests.factories import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_conversation_as_a_task_with_subtasks_from_the_panel_and_the_chat(page, live_server, cast, page_errors):
    conversation = receive(cast.support_account, subject="Website relaunch", body="Let's plan it.").conversation
    do_assign_conversation(conversation, [cast.owner], acting_user=cast.owner)
    log_in(page, live_server.url, cast.owner.email)
    page.goto(f"{live_server.url}/m/inbox/{conversation.id}/")

    header = page.locator("#conv-header")
    expect(header.locator(".task-status-label")).to_have_text("To do")
    header.locator(".task-check-button").click()
    expect(header.locator(".task-status-label")).to_have_text("In progress")
    expect(page.locator("#timeline .event").last).to_contain_text("marked the conversation as In progress")

    panel = page.locator("#task-panel")
    panel.locator(".subtask-add input").fill("Write the copy @tom-teammate tomorrow")
    panel.locator(".subtask-add input").press("Enter")
    subtask_row = page.locator("#task-panel .subtask").first
    expect(subtask_row.locator(".subtask-title")).to_have_text("Write the copy")
    expect(subtask_row.locator(".subtask-attr.due")).to_contain_text(
        (timezone.localdate() + timedelta(days=1)).strftime("%b %-d")
    )

    box = page.locator("#comment-box textarea")
    box.click()
    page.keyboard.type("Next steps:")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("[ ] Pick the hosting")
    page.keyboard.press("Enter")
    inline = page.locator("#timeline .comment-tasks .subtask")
    expect(inline).to_have_count(1)
    expect(inline.locator(".subtask-title")).to_have_text("Pick the hosting")

    # Checking off in the chat: one click moves it on, Shift-click picks Closed.
    inline.locator(".task-check-button").click()
    inline = page.locator("#timeline .comment-tasks .subtask")
    expect(inline).to_have_class("subtask status-in_progress")
    inline.locator(".task-check-button").click(modifiers=["Shift"])
    inline.get_by_role("button", name="Closed").click()
    expect(page.locator("#timeline .comment-tasks .subtask")).to_have_class("subtask status-closed")
    expect(page.locator("#task-panel .subtask-group-title", has_text="Closed")).to_be_visible()
    page.locator("#timeline").evaluate("el => el.scrollTop = el.scrollHeight")
    screenshot(page, "tasks-conversation")

    statuses = dict(Subtask.objects.values_list("title", "status"))
    assert statuses == {"Write the copy": TaskStatus.TODO, "Pick the hosting": TaskStatus.CLOSED}
    conversation.refresh_from_db()
    assert (conversation.status, conversation.in_progress) == (Status.OPEN, True)
    assert page_errors == []


def test_my_tasks_view_with_mod_t_and_checking_off(page, live_server, cast, page_errors):
    today = timezone.localdate()
    project = receive(cast.support_account, subject="Quarterly report").conversation
    do_create_subtask(project, acting_user=cast.owner, title="Collect the numbers", assignees=[cast.owner])
    do_create_task(
        cast.org, acting_user=cast.owner, title="Pay the invoice", assignees=[cast.owner], due_date=today - timedelta(1)
    )
    do_create_task(
        cast.org,
        acting_user=cast.owner,
        title="Book the offsite",
        assignees=[cast.owner, cast.teammate],
        team=cast.support,
        due_date=today + timedelta(3),
    )
    log_in(page, live_server.url, cast.owner.email)
    page.get_by_role("link", name="My tasks").click()
    expect(page.locator(".list-title")).to_have_text("My tasks")
    expect(page).to_have_url(f"{live_server.url}/tasks/")
    rows = page.locator(".task-row")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Pay the invoice")
    expect(rows.first).to_have_class("task-row status-todo overdue")
    expect(page.locator(".task-row", has_text="Collect the numbers").locator(".task-pill")).to_have_text(
        "Quarterly report"
    )

    page.keyboard.press("Control+t")
    dialog = page.locator("#modal .new-task")
    expect(dialog).to_be_visible()
    dialog.locator("input[name=title]").fill("Renew the domain @tom-teammate friday")
    screenshot(page, "tasks-new-task")
    dialog.get_by_role("button", name="Create task").click()
    expect(page.locator("#modal .new-task")).to_have_count(0)
    expect(page.locator(".toast")).to_have_text("Task created.")
    expect(rows).to_have_count(4, timeout=5000)
    new = page.locator(".task-row", has_text="Renew the domain")
    expect(new.locator(".task-assignees .avatar")).to_have_count(2)

    page.locator(".task-row", has_text="Pay the invoice").locator(".task-check-button").click()
    expect(page.locator(".task-row", has_text="Pay the invoice")).to_have_class("task-row status-in_progress overdue")
    screenshot(page, "tasks-my-tasks")

    page.locator(".status-toggle", has_text="Closed").click()
    page.locator(".status-toggle", has_text="To do").click()
    page.locator(".status-toggle", has_text="In progress").click()
    expect(page.locator(".task-row")).to_have_count(0)
    expect(page.locator(".task-list .list-empty")).to_contain_text("No task matches these filters.")

    task = project.subtasks.get()
    assert task.status == TaskStatus.TODO
    assert {c.subject for c in type(project).objects.filter(kind=ConversationKind.TASK)} == {
        "Pay the invoice",
        "Book the offsite",
        "Renew the domain",
    }
    assert page_errors == []


def test_team_tasks_from_the_sidebar_and_opening_a_task(page, live_server, cast, page_errors):
    task = do_create_task(cast.org, acting_user=cast.owner, title="Restock the printer", team=cast.support)
    log_in(page, live_server.url, cast.teammate.email)
    page.locator(f"a[data-team='{cast.support.id}']").click()
    page.locator(".nav-team[open] .nav-sub").get_by_role("link", name="Tasks").click()
    expect(page.locator(".list-title")).to_contain_text("Support · Tasks")
    page.get_by_role("link", name="Restock the printer").click()
    expect(page.locator(".conv-subject")).to_have_text("Restock the printer")
    expect(page.locator("#task-panel")).to_be_visible()
    assert page.url.endswith(f"/m/all/{task.id}/")
    assert page_errors == []
