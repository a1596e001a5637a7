"""Tasks in the conversation view: its subtasks, and what a status checkbox does next."""

from django import template
from django.utils import timezone

from conversations.models import Conversation, TaskStatus
from conversations.task_actions import NEXT_STATUS, ConversationTasks, conversation_tasks

register = template.Library()


@register.simple_tag
def tasks_of(conversation: Conversation) -> ConversationTasks:
    """The conversation's subtasks (two queries), for its Tasks panel and its chat."""
    return conversation_tasks(conversation)


@register.filter
def next_status(status: str) -> str:
    """Where a plain click on the status checkbox goes: To do → In progress → Closed → To do."""
    return str(NEXT_STATUS[TaskStatus(status)])


@register.simple_tag
def task_statuses() -> list[tuple[str, str]]:
    return list(TaskStatus.choices)


@register.filter
def task_overdue(task: object) -> bool:
    """Past its due date and not closed: shown in red."""
    due = getattr(task, "due_date", None)
    return due is not None and due < timezone.localdate() and getattr(task, "task_status", "") != TaskStatus.CLOSED
