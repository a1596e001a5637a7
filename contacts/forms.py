"""The contacts page's forms: a book, and a contact with its emails, phone numbers, company and groups."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from inboxes.models import Team

_PHONE = re.compile(r"\+?[0-9][0-9 ().\-]{4,30}")


def _lines(value: str) -> list[str]:
    return [line.strip() for line in (value or "").replace(",", "\n").splitlines() if line.strip()]


class ContactBookForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(max_length=300, required=False)
    share = forms.ChoiceField(
        choices=[("personal", "Only me"), ("organization", "Everyone in the organization"), ("team", "A team")],
        initial="organization",
        widget=forms.RadioSelect,
    )
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False)

    def __init__(self, *args: Any, organization_id: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.filter(organization_id=organization_id)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("share") == "team" and not data.get("team"):
            self.add_error("team", "Choose the team to share the book with.")
        return data


class ContactForm(forms.Form):
    first_name = forms.CharField(max_length=200, required=False)
    last_name = forms.CharField(max_length=200, required=False)
    company = forms.CharField(max_length=200, required=False)
    title = forms.CharField(label="Job title", max_length=200, required=False)
    emails = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, help_text="One address per line."
    )
    phones = forms.CharField(
        label="Phone numbers",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="One number per line, with its country code (+1 514 555 0100).",
    )
    groups = forms.CharField(
        max_length=1000, required=False, help_text="Separated by commas, e.g. VIP, Blocked numbers."
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    starred = forms.BooleanField(required=False)

    def clean_emails(self) -> list[str]:
        emails = _lines(self.cleaned_data["emails"])
        for email in emails:
            try:
                validate_email(email)
            except ValidationError:
                raise ValidationError(f"“{email}” is not an email address.") from None
        return emails

    def clean_phones(self) -> list[str]:
        phones = [line.strip() for line in (self.cleaned_data["phones"] or "").splitlines() if line.strip()]
        for phone in phones:
            if not _PHONE.fullmatch(phone):
                raise ValidationError(f"“{phone}” is not a phone number.")
        return phones

    def clean_groups(self) -> list[str]:
        return list(dict.fromkeys(name.strip() for name in self.cleaned_data["groups"].split(",") if name.strip()))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        fields = ("first_name", "last_name", "company", "emails", "phones")
        if not self.errors and not any(data.get(name) for name in fields):
            raise ValidationError("Enter a name, a company, an email address or a phone number.")
        return data
