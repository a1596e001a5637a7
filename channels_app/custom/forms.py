"""Forms of custom channels: Add account > Others > Custom channel, and the channel's settings."""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms

from channels_app.forms import SharingForm
from channels_app.models import CustomChannelConfig, CustomMessageType

_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


class CustomChannelForm(SharingForm):
    """Basic settings (name, message type) and the sharing step every account has."""

    name = forms.CharField(max_length=120, help_text="The channel's name in Missive, e.g. Website chat.")
    message_type = forms.ChoiceField(
        choices=CustomMessageType.choices,
        initial=CustomMessageType.TEXT,
        widget=forms.RadioSelect,
        help_text="Text: plain text and emoji. HTML: rich text. Email: subject, From/To/Cc and HTML, "
        "receive only. It cannot be changed later.",
    )

    team_error = "Choose the team whose inbox receives this channel's messages."
    people_error = "Choose at least one person to share the channel with."


class CustomSettingsForm(forms.ModelForm):
    """Everything but the message type, which is fixed at creation (not a field here, so a
    posted value is ignored)."""

    name = forms.CharField(max_length=120)
    signature_secret = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="HMAC SHA256 key: each webhook carries X-Missive-Signature (and X-Hook-Signature) "
        "sha256=&lt;hex&gt; of the raw body. Leave blank to keep the current one.",
    )
    remove_secret = forms.BooleanField(required=False, label="Remove the signature secret")
    webhook_url = forms.URLField(
        label="Outgoing webhook URL",
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text="Receives a POST for each message sent from Missive.",
    )

    class Meta:
        model = CustomChannelConfig
        fields = [
            "allow_new_messages",
            "allow_replies",
            "allow_edit_recipients",
            "allow_recipient_id",
            "allow_recipient_name",
            "allow_recipient_username",
            "max_recipients",
            "webhook_url",
            "bubble_color",
        ]
        labels = {
            "allow_new_messages": "Allow sending new messages",
            "allow_replies": "Allow replying",
            "allow_edit_recipients": "Allow editing recipients",
            "allow_recipient_id": "Allow recipient ID",
            "allow_recipient_name": "Allow recipient name",
            "allow_recipient_username": "Allow recipient username",
            "max_recipients": "Maximum number of recipients",
            "bubble_color": "Incoming bubble colour",
        }
        help_texts = {
            "bubble_color": "Text channels: a HEX colour such as #e0f2fe; blank for the default.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].initial = self.instance.account.display_name
        cast(forms.IntegerField, self.fields["max_recipients"]).min_value = 1
        self.fields["max_recipients"].widget.attrs["min"] = 1

    def clean_max_recipients(self) -> int:
        value = self.cleaned_data["max_recipients"]
        if value < 1:
            raise forms.ValidationError("At least one recipient.")
        return value

    def clean_bubble_color(self) -> str:
        value = self.cleaned_data["bubble_color"].strip()
        if value and not _COLOR.fullmatch(value):
            raise forms.ValidationError("Use a HEX colour such as #e0f2fe.")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        outgoing = cleaned.get("allow_new_messages") or cleaned.get("allow_replies")
        if outgoing and self.instance.sends and not cleaned.get("webhook_url"):
            self.add_error("webhook_url", "Sending needs a webhook URL to deliver messages to.")
        return cleaned

    def secret(self) -> str | None:
        """The new secret, "" to remove it, None to keep it."""
        if self.cleaned_data.get("remove_secret"):
            return ""
        return self.cleaned_data.get("signature_secret") or None


class ChannelAliasForm(forms.Form):
    """A sender identity: at least an ID or a username."""

    alias_id = forms.CharField(label="ID", max_length=254, required=False, help_text="Internal identifier.")
    alias_name = forms.CharField(label="Name", max_length=120, required=False, help_text="Display name.")
    alias_username = forms.CharField(
        label="Username", max_length=254, required=False, help_text="Handle or email-like address."
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not (cleaned.get("alias_id", "").strip() or cleaned.get("alias_username", "").strip()):
            self.add_error("alias_id", "Give an ID or a username.")
        return cleaned
