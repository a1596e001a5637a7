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

# A person (never a rule) acted on a conversation ("user action" rules). kwargs: conversation_id,
# action in {"new_comment", "closed", "reopened", "assignee_changed", "team_changed"},
# acting_user_id, data (dict: comment_id, comment_text, mentions, is_task, added_assignees,
# removed_assignees, new_team, previous_team). Sent after commit; actions run with no acting
# person (rules) send nothing.
user_action = Signal()

# Delivery stored inbound messages, inside its transaction before commit ("incoming" rules: they
# act before anyone is notified). kwargs: account, messages (list of (Message, created)),
# placement. A receiver must not let an exception escape (it would undo the delivery).
messages_received = Signal()

# do_send_draft wrote an outgoing message and its outbox row, inside its transaction before
# commit ("outgoing" rules: they may stop the delivery or add recipients). kwargs: message,
# outbox, acting_user.
message_sending = Signal()
