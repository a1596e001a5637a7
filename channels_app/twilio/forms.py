"""Forms of Settings › Accounts › Add account › Others › SMS / WhatsApp by Twilio, and of a
WhatsApp number's templates."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from channels_app.forms import SharingForm
from channels_app.models import WhatsAppTemplate
from channels_app.twilio.accounts import TwilioDetails
from conversations.actions import ActionRefused
from conversations.sending import normalize_phone
from inboxes.models import Account, Membership


class TwilioAccountForm(SharingForm):
    team_error = "Choose the team whose inbox receives this number's messages."

    display_name = forms.CharField(max_length=120, required=False, help_text="Shown in the sidebar, e.g. Support SMS.")
    account_sid = forms.RegexField(
        label="Account SID",
        regex=r"^AC[0-9a-zA-Z]{32}$",
        error_messages={"invalid": "An Account SID is AC followed by 32 letters and digits, as in the Twilio Console."},
        widget=forms.TextInput(attrs={"placeholder": "AC3hj2a7nj3bdde93…", "autocomplete": "off"}),
    )
    auth_token = forms.CharField(
        label="Auth Token", strip=True, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    phone_number = forms.CharField(
        label="Phone number",
        max_length=32,
        widget=forms.TextInput(attrs={"placeholder": "+1 555-123-4567"}),
        help_text="With its country code, starting with +.",
    )

    def __init__(self, *args: Any, acting: Membership, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, acting=acting, **kwargs)
        self.kind = kind

    def clean_phone_number(self) -> str:
        try:
            number = normalize_phone(self.cleaned_data["phone_number"])
        except ActionRefused as refused:
            raise forms.ValidationError(str(refused)) from None
        existing = Account.objects.filter(
            organization_id=self.acting.organization_id, kind=self.kind, address=number
        ).first()
        if existing and existing.owner_id != self.acting.user_id and not self.acting.can_manage:
            raise forms.ValidationError(f"{number} is already connected by {existing.owner.display_name}.")
        return number

    def details(self) -> TwilioDetails:
        data = self.cleaned_data
        return TwilioDetails(
            kind=self.kind,
            account_sid=data["account_sid"],
            auth_token=data["auth_token"],
            phone_number=data["phone_number"],
            display_name=data["display_name"].strip(),
        )


class WhatsAppTemplateForm(forms.ModelForm):
    class Meta:
        model = WhatsAppTemplate
        fields = ["name", "language", "content_sid", "body"]
        labels = {"content_sid": "Content SID"}
        help_texts = {"body": "The approved text, with positional variables {{1}}, {{2}}…"}
        widgets = {"body": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account

    def clean_content_sid(self) -> str:
        sid = self.cleaned_data["content_sid"].strip()
        if not sid.startswith("HX"):
            raise forms.ValidationError("A Content SID starts with HX (Twilio Console › Content Template Builder).")
        return sid

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        if any(not name.strip().isdigit() for name in re.findall(r"\{\{(.*?)\}\}", body)):
            raise forms.ValidationError("Variables must be positional, {{1}}, {{2}}…: named ones cannot be sent.")
        return body

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        name, language = cleaned.get("name"), cleaned.get("language")
        if (
            name
            and language
            and WhatsAppTemplate.objects.filter(account=self.account, name=name, language=language).exists()
        ):
            self.add_error("name", "This number already has a template of that name and language.")
        return cleaned
