"""Settings › Preferences › Composing: the user's sending options (the seed's list), and the
default sender of the organization's new emails."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import transaction

from inboxes.aliases import usable_aliases
from inboxes.models import UNDO_SEND_CHOICES, Alias, Membership, User


class ComposingForm(forms.Form):
    undo_send_seconds = forms.TypedChoiceField(
        label="Undo send",
        choices=UNDO_SEND_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
        help_text="How long a banner lets you take an email back after pressing Send.",
    )
    send_and_archive_by_default = forms.BooleanField(label="Send & archive by default", required=False)
    reply_all_includes_bcc = forms.BooleanField(label="Include BCC recipients when replying to all", required=False)
    always_reply_from_default_sender = forms.BooleanField(
        label="Always send replies from the default sender",
        required=False,
        help_text="Otherwise a reply goes out from the address the email was sent to.",
    )
    default_sender = forms.ModelChoiceField(
        label="Default sender",
        queryset=Alias.objects.none(),
        required=False,
        empty_label="The first address I may use",
        help_text="The From of your new emails in this organization.",
    )

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        user = membership.user
        kwargs.setdefault(
            "initial",
            {
                "undo_send_seconds": user.undo_send_seconds,
                "send_and_archive_by_default": user.send_and_archive_by_default,
                "reply_all_includes_bcc": user.reply_all_includes_bcc,
                "always_reply_from_default_sender": user.always_reply_from_default_sender,
                "default_sender": membership.default_sender_id,
            },
        )
        super().__init__(*args, **kwargs)
        field = self.fields["default_sender"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = usable_aliases(user, membership.organization_id)


@transaction.atomic
def do_set_composing_preferences(
    membership: Membership,
    *,
    undo_send_seconds: int,
    send_and_archive_by_default: bool,
    reply_all_includes_bcc: bool,
    always_reply_from_default_sender: bool,
    default_sender: Alias | None,
) -> None:
    user: User = membership.user
    user.undo_send_seconds = undo_send_seconds
    user.send_and_archive_by_default = send_and_archive_by_default
    user.reply_all_includes_bcc = reply_all_includes_bcc
    user.always_reply_from_default_sender = always_reply_from_default_sender
    user.save(
        update_fields=[
            "undo_send_seconds",
            "send_and_archive_by_default",
            "reply_all_includes_bcc",
            "always_reply_from_default_sender",
        ]
    )
    membership.default_sender = default_sender
    membership.save(update_fields=["default_sender"])
