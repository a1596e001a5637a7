from typing import Any

from django.dispatch import receiver

from conversations import actions, labels
from inboxes.signals import member_removed, team_members_changed


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
