"""Signals transports listen to (conversations never import channels_app)."""

from django.dispatch import Signal

# A user changed where their copy of a conversation sits, or its read/starred flags.
# kwargs: conversation, user_id, change in {"inbox", "archive", "trash", "spam", "read", "unread",
# "star", "unstar"}. Sent inside the action's transaction: a receiver may raise ActionRefused
# (e.g. "Mailboxes not configured") to stop the action, and should schedule its work on commit.
provider_change = Signal()

# An organization label was added to or removed from a conversation ("label changed" rules).
# kwargs: conversation_id, label_id, added (bool), acting_user_id. Sent after commit. Personal
# labels send nothing.
label_changed = Signal()

# A message was queued in the outbox (conversations.sending). kwargs: outbox_id, send_after.
# Sent after commit: the transport schedules its dispatcher for send_after.
message_queued = Signal()
