"""Out of office in delivery: a reply to a team conversation assigned to someone who is away goes
back to the team inbox so teammates take over (the seed; docs/state-machine.md row 4a).

**(decided)** The away assignee is unassigned (event "Missive unassigned …"); with nobody else
assigned the conversation waits in its team inbox again. They keep their access and placement,
as any unassigned person does. Personal conversations are left alone.

The delivery batch calls these with itself: one query reads who is away among the batch's
assignees, one statement deletes the assignments, whatever the batch size.
"""

from __future__ import annotations

from functools import reduce
from operator import or_
from typing import TYPE_CHECKING
from uuid import UUID

from django.db.models import Q
from django.utils import timezone

from conversations.models import Assignment, Conversation, ConversationEvent, EventKind
from inboxes.models import Membership, User
from inboxes.status import out_of_office_active_q

if TYPE_CHECKING:
    from conversations.delivery import _Batch


def away_among(organization_id: UUID, user_ids: set[UUID]) -> dict[UUID, str]:
    """Of these people, those whose Out of office holds now: id -> display name."""
    if not user_ids:
        return {}
    rows = Membership.objects.filter(
        out_of_office_active_q(timezone.now()), organization_id=organization_id, user_id__in=user_ids
    ).values_list("user_id", "user__name", "user__email")
    return {user_id: User(id=user_id, name=name, email=email).display_name for user_id, name, email in rows}


def unassign_away(batch: _Batch, conversation: Conversation) -> None:
    """Before row 4 applies a new message: take the conversation from its away assignees."""
    if conversation.team_id is None:
        return
    assignees = batch.assignees[conversation.id]
    away = [user_id for user_id in assignees if user_id in batch.out_of_office]
    if not away:
        return
    for user_id in away:
        assignees.discard(user_id)
        state = batch.states[conversation.id].get(user_id)
        if state is not None:
            state.assigned = False
        batch.unassigned.append((conversation, user_id))
        batch.events.append(
            ConversationEvent(
                organization_id=conversation.organization_id,
                conversation=conversation,
                kind=EventKind.UNASSIGNED,
                data={
                    "target": f"{batch.out_of_office[user_id]} (out of office)",
                    "user_id": str(user_id),
                    "reason": "out_of_office",
                },
            )
        )
    conversation.assigned = bool(assignees)


def write_unassignments(batch: _Batch) -> None:
    if batch.unassigned:
        pairs = [Q(conversation_id=c.id, user_id=user_id) for c, user_id in batch.unassigned]
        Assignment.objects.filter(reduce(or_, pairs)).delete()
