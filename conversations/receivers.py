from typing import Any

from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from conversations import actions, labels, rooms
from inboxes.models import Membership, Team
from inboxes.signals import member_removed, organization_created, team_members_changed, team_updated


@receiver(team_members_changed)
def on_team_members_changed(sender: Any, *, team: Any, added_user_ids: set, removed_user_ids: set, **_: Any) -> None:
    if added_user_ids:
        actions.grant_team_access(team, added_user_ids)
        labels.grant_team_label_access(team, added_user_ids)
    if removed_user_ids:
        actions.revoke_team_access(team, removed_user_ids)


@receiver(member_removed)
def on_member_removed(sender: Any, *, organization: Any, user: Any, **_: Any) -> None:
    actions.revoke_organization_access(organization.id, user.id)


@receiver(organization_created)
def on_organization_created(sender: Any, *, organization: Any, **_: Any) -> None:
    rooms.do_create_organization_room(organization)


# Whatever adds a member (an invitation, the demo, a command), they join the organization's room.
@receiver(post_save, sender=Membership)
def on_membership_saved(sender: Any, *, instance: Membership, created: bool, **_: Any) -> None:
    if created:
        rooms.join_organization_room(instance)


@receiver(team_updated)
def on_team_updated(sender: Any, *, team: Any, **_: Any) -> None:
    rooms.do_sync_team_room(team)


@receiver(pre_delete, sender=Team)
def on_team_deleted(sender: Any, *, instance: Team, **_: Any) -> None:
    rooms.delete_team_room(instance)
