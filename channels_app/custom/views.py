"""Settings > Accounts for custom channels: Add account > Others > Custom channel, and the
channel's own tab (outgoing options, webhook, secret, aliases, its id for the API).

Access as for email accounts (channels_app.views): another organization's account is a 404; its
owner and the organization's owners and admins change it, others read (403 on a change)."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from channels_app.custom.accounts import (
    ChannelIdentity,
    ChannelLimitReached,
    do_add_channel_alias,
    do_create_custom_channel,
    do_update_custom_channel,
    signature_secret,
)
from channels_app.custom.forms import ChannelAliasForm, CustomChannelForm, CustomSettingsForm
from channels_app.models import CustomChannelConfig
from channels_app.views import _get_account, _get_changeable_account, _get_connecting_membership, _render_account
from inboxes.aliases import do_delete_alias
from inboxes.models import Account, Alias, Membership
from inboxes.pages import settings_context
from missive.htmx import AuthenticatedRequest, leave_page, render_page


def _render_add(request: AuthenticatedRequest, membership: Membership, form: CustomChannelForm) -> HttpResponse:
    context = settings_context(request, membership, "accounts", form=form)
    return render_page(request, "channels_app/add_custom.html", context, partials={"add-custom": "custom_form"})


@require_safe
@login_required
def add_custom_channel(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """Basic settings and sharing of a new custom channel."""
    membership = _get_connecting_membership(request, org_id)
    return _render_add(request, membership, CustomChannelForm(acting=membership))


@require_POST
@login_required
def create_custom_channel(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """Create the channel and open its settings, where its id and webhook are."""
    membership = _get_connecting_membership(request, org_id)
    form = CustomChannelForm(request.POST, acting=membership)
    if not form.is_valid():
        return _render_add(request, membership, form)
    form.check_may_share()
    try:
        account = do_create_custom_channel(
            membership.organization,
            owner=request.user,
            name=form.cleaned_data["name"].strip(),
            message_type=form.cleaned_data["message_type"],
            team=form.delivery_team,
            shared=form.is_shared,
            shared_with=form.shared_with(),
        )
    except ChannelLimitReached as refusal:
        form.add_error("sharing", refusal.message)
        return _render_add(request, membership, form)
    messages.success(request, f"Created the custom channel {account.description}.")
    return leave_page(request, reverse("settings_custom_channel", args=[org_id, account.id]))


def _config(account: Account) -> CustomChannelConfig:
    config = CustomChannelConfig.objects.filter(account=account).select_related("account").first()
    if config is None:
        raise Http404("Not a custom channel.")
    return config


def _render_channel(
    request: AuthenticatedRequest,
    membership: Membership,
    account: Account,
    *,
    form: CustomSettingsForm,
    alias_form: ChannelAliasForm,
    partials: dict[str, str] | None = None,
) -> HttpResponse:
    return _render_account(
        request,
        membership,
        account,
        "custom",
        partials=partials,
        form=form,
        alias_form=alias_form,
        custom=form.instance,
        has_secret=bool(signature_secret(account)),
        channel_aliases=account.aliases.order_by("-is_default", "created_at"),
    )


@require_safe
@login_required
def custom_channel_settings(request: AuthenticatedRequest, org_id: UUID, account_id: UUID) -> HttpResponse:
    """The channel's options, webhook, secret and aliases."""
    membership, account = _get_account(request, org_id, account_id)
    config = _config(account)
    return _render_channel(
        request, membership, account, form=CustomSettingsForm(instance=config), alias_form=ChannelAliasForm()
    )


@require_POST
@login_required
def update_custom_channel(request: AuthenticatedRequest, org_id: UUID, account_id: UUID) -> HttpResponse:
    """Save the options; the message type is not among them (fixed at creation)."""
    membership, account = _get_changeable_account(request, org_id, account_id)
    config = _config(account)
    form = CustomSettingsForm(request.POST, instance=config)
    if not form.is_valid():
        return _render_channel(
            request, membership, account, form=form, alias_form=ChannelAliasForm(), partials={"channel": "channel_form"}
        )
    values = {name: form.cleaned_data[name] for name in CustomSettingsForm.Meta.fields}
    do_update_custom_channel(config, name=form.cleaned_data["name"].strip(), secret=form.secret(), **values)
    messages.success(request, "Channel saved.")
    return leave_page(request, reverse("settings_custom_channel", args=[org_id, account_id]))


@require_POST
@login_required
def add_channel_alias(request: AuthenticatedRequest, org_id: UUID, account_id: UUID) -> HttpResponse:
    """A sender identity {id, name, username}."""
    membership, account = _get_changeable_account(request, org_id, account_id)
    config = _config(account)
    alias_form = ChannelAliasForm(request.POST)
    if not alias_form.is_valid():
        return _render_channel(
            request,
            membership,
            account,
            form=CustomSettingsForm(instance=config),
            alias_form=alias_form,
            partials={"channel-aliases": "aliases_panel"},
        )
    data = alias_form.cleaned_data
    identity = ChannelIdentity(
        id=data["alias_id"].strip(), name=data["alias_name"].strip(), username=data["alias_username"].strip()
    )
    do_add_channel_alias(account, identity)
    messages.success(request, "Alias added.")
    return leave_page(request, reverse("settings_custom_channel", args=[org_id, account_id]))


@require_POST
@login_required
def delete_channel_alias(request: AuthenticatedRequest, org_id: UUID, account_id: UUID, alias_id: UUID) -> HttpResponse:
    """Remove a sender identity (not the channel's own)."""
    _, account = _get_changeable_account(request, org_id, account_id)
    alias = get_object_or_404(Alias, account=account, id=alias_id, is_default=False)
    do_delete_alias(alias)
    messages.success(request, "Alias removed.")
    return leave_page(request, reverse("settings_custom_channel", args=[org_id, account_id]))
