"""Settings › Accounts › an email account › Aliases: the addresses the account sends from.

The account's owner and the organization's owners and admins add, change and delete aliases
(anyone else who sees the account reads them, and is refused with 403). Whoever may send from the
account (its owner and its delegated users) sets their own name and signature on each alias."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from channels_app.views import _get_account, _get_changeable_account, _render_account
from inboxes.aliases import (
    EMAIL_KINDS,
    do_delete_alias,
    do_save_alias,
    do_set_own_alias_setting,
    signature_choices,
)
from inboxes.models import Account, AccountKind, Alias, AliasShare, AliasUserSetting, Membership, Signature, User
from missive.htmx import AuthenticatedRequest, leave_page


class _SignatureChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} (organization)" if obj.is_managed else obj.name


class _PersonChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.display_name


class AliasForm(forms.Form):
    address = forms.EmailField(max_length=254)
    name = forms.CharField(max_length=120, required=False, help_text="Recipients see this name next to the address.")
    description = forms.CharField(
        max_length=120,
        required=False,
        help_text="Tells aliases apart in the composer's From menu. Never shown in outgoing mail.",
    )
    never_auto_select = forms.BooleanField(
        required=False, label="Never automatically select as the From address when composing an email"
    )
    signature = _SignatureChoice(queryset=Signature.objects.none(), required=False, empty_label="No signature")
    shared_with = _PersonChoice(
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Allow others to send emails from this alias — Share with",
        help_text="They can send as this alias without seeing the account's mail. You always see what they send.",
    )

    def __init__(self, *args: Any, account: Account, alias: Alias | None = None, **kwargs: Any) -> None:
        if alias is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "address": alias.address,
                "name": alias.name,
                "description": alias.description,
                "never_auto_select": alias.never_auto_select,
                "signature": alias.signature_id,
                "shared_with": list(AliasShare.objects.filter(alias=alias).values_list("user_id", flat=True)),
            }
        super().__init__(*args, **kwargs)
        organization_id = account.organization_id
        cast(forms.ModelChoiceField, self.fields["signature"]).queryset = signature_choices(
            account.owner, organization_id
        )
        cast(forms.ModelChoiceField, self.fields["shared_with"]).queryset = (
            User.objects.filter(memberships__organization_id=organization_id)
            .exclude(id=account.owner_id)
            .order_by("name", "email")
        )
        if alias is not None and alias.is_default:
            self.fields["address"].disabled = True
            self.fields["address"].help_text = "The default alias is the account's own address."


class OwnAliasForm(forms.Form):
    name = forms.CharField(
        max_length=120, required=False, label="Your name", help_text="Leave empty to use the alias's name."
    )
    signature = _SignatureChoice(queryset=Signature.objects.none(), required=False, empty_label="The alias's signature")

    def __init__(self, *args: Any, alias: Alias, user: User, **kwargs: Any) -> None:
        setting = AliasUserSetting.objects.filter(alias=alias, user=user).first()
        if setting is not None and "initial" not in kwargs:
            kwargs["initial"] = {"name": setting.name, "signature": setting.signature_id}
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["signature"]).queryset = signature_choices(user, alias.organization_id)


def _email_account(account: Account) -> Account:
    if account.kind not in EMAIL_KINDS:
        raise Http404("Only email accounts have aliases.")
    return account


def _sends_from(user: User, account: Account) -> bool:
    """The owner and the delegated users: those who may use the account."""
    return Account.objects.filter(id=account.id).usable_by(user).exists()


def _render_aliases(
    request: AuthenticatedRequest, membership: Membership, account: Account, form: AliasForm | None = None
) -> HttpResponse:
    aliases = Alias.objects.filter(account=account).select_related("signature")
    shares: dict[UUID, int] = {}
    for alias_id in AliasShare.objects.filter(alias__account=account).values_list("alias_id", flat=True):
        shares[alias_id] = shares.get(alias_id, 0) + 1
    rows = [(alias, shares.get(alias.id, 0)) for alias in aliases]
    return _render_account(
        request,
        membership,
        account,
        "aliases",
        rows=rows,
        form=form or AliasForm(account=account),
        is_office365=account.kind == AccountKind.OFFICE365,
        partials={"alias-add": "alias_add"},
    )


@require_safe
@login_required
def account_aliases(request: AuthenticatedRequest, org_id: UUID, account_id: UUID) -> HttpResponse:
    """The account's aliases and the Add alias form."""
    membership, account = _get_account(request, org_id, account_id)
    return _render_aliases(request, membership, _email_account(account))


@require_POST
@login_required
def create_alias(request: AuthenticatedRequest, org_id: UUID, account_id: UUID) -> HttpResponse:
    """Add an alias (it must already exist on the mail server; we cannot check)."""
    membership, account = _get_changeable_account(request, org_id, account_id)
    form = AliasForm(request.POST, account=_email_account(account))
    if not form.is_valid():
        return _render_aliases(request, membership, account, form)
    alias = do_save_alias(account, alias=None, **form.cleaned_data)
    messages.success(request, f"Added the alias {alias.address}.")
    return leave_page(request, reverse("settings_account_aliases", args=[org_id, account_id]))


def _get_alias(account: Account, alias_id: UUID) -> Alias:
    return get_object_or_404(Alias.objects.select_related("signature"), account=account, id=alias_id)


def _render_alias(
    request: AuthenticatedRequest,
    membership: Membership,
    account: Account,
    alias: Alias,
    *,
    form: AliasForm | None = None,
    own_form: OwnAliasForm | None = None,
) -> HttpResponse:
    sends_from = _sends_from(request.user, account)
    if own_form is None and sends_from:
        own_form = OwnAliasForm(alias=alias, user=request.user)
    return _render_account(
        request,
        membership,
        account,
        "aliases",
        alias=alias,
        form=form or AliasForm(account=account, alias=alias),
        own_form=own_form,
        is_office365=account.kind == AccountKind.OFFICE365,
        partials={"alias-edit": "alias_edit", "alias-own": "alias_own"},
    )


@require_safe
@login_required
def alias_settings(request: AuthenticatedRequest, org_id: UUID, account_id: UUID, alias_id: UUID) -> HttpResponse:
    """One alias: its settings, and the user's own name and signature on it."""
    membership, account = _get_account(request, org_id, account_id)
    alias = _get_alias(_email_account(account), alias_id)
    return _render_alias(request, membership, account, alias)


@require_POST
@login_required
def update_alias(request: AuthenticatedRequest, org_id: UUID, account_id: UUID, alias_id: UUID) -> HttpResponse:
    """Change the alias's address, name, description, signature, auto-selection and sharing."""
    membership, account = _get_changeable_account(request, org_id, account_id)
    alias = _get_alias(_email_account(account), alias_id)
    form = AliasForm(request.POST, account=account, alias=alias)
    if not form.is_valid():
        return _render_alias(request, membership, account, alias, form=form)
    do_save_alias(account, alias=alias, **form.cleaned_data)
    messages.success(request, "Alias saved.")
    return leave_page(request, reverse("settings_account_aliases", args=[org_id, account_id]))


@require_POST
@login_required
def delete_alias(request: AuthenticatedRequest, org_id: UUID, account_id: UUID, alias_id: UUID) -> HttpResponse:
    """Delete an alias other than the default one."""
    _, account = _get_changeable_account(request, org_id, account_id)
    alias = _get_alias(_email_account(account), alias_id)
    try:
        do_delete_alias(alias)
    except ValidationError as error:
        messages.error(request, error.messages[0])
        return leave_page(request, reverse("settings_alias", args=[org_id, account_id, alias_id]))
    messages.success(request, f"Deleted the alias {alias.address}.")
    return leave_page(request, reverse("settings_account_aliases", args=[org_id, account_id]))


@require_POST
@login_required
def update_own_alias_setting(
    request: AuthenticatedRequest, org_id: UUID, account_id: UUID, alias_id: UUID
) -> HttpResponse:
    """Set the user's own name and signature on the alias (owner and delegated users only)."""
    membership, account = _get_account(request, org_id, account_id)
    alias = _get_alias(_email_account(account), alias_id)
    if not _sends_from(request.user, account):
        raise Http404("You do not send from this account.")
    form = OwnAliasForm(request.POST, alias=alias, user=request.user)
    if not form.is_valid():
        return _render_alias(request, membership, account, alias, own_form=form)
    do_set_own_alias_setting(alias, user=request.user, **form.cleaned_data)
    messages.success(request, "Your name and signature on this alias are saved.")
    return _render_alias(request, membership, account, alias)
