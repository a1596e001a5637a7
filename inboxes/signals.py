"""Signals other apps listen to. Imports run one way (conversations -> inboxes), so the
conversations app reacts to these to grant or cut access to conversations."""

from django.dispatch import Signal

# kwargs: team, added_user_ids (set), removed_user_ids (set). Sent inside the transaction.
team_members_changed = Signal()
# kwargs: organization, user. Sent inside the transaction, after the membership row is deleted.
member_removed = Signal()
# kwargs: organization, owner. Sent inside the transaction, after the owner's membership row.
organization_created = Signal()
# kwargs: team. Sent inside the transaction, after the team's settings were saved.
team_updated = Signal()
