"""Settings > Accounts for email: connecting an IMAP/SMTP account, and each account's page with its
General, History, Mailboxes and Connection tabs.

Every view starts from the membership (another organization is a 404). Members see shared
accounts and their own, like the Accounts list; a colleague's personal account is a 404. The
account's owner and the organization's owners and admins change it; anyone else reads (403)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from channels_app.actions import (
    do_add_imap_account,
    do_change_import_history,
    do_map_folder_roles,
    do_reconnect_imap_account,
    do_retry_failed_messages,
    do_update_account_details,
)
from channels_app.forms import (
    MAPPED_ROLES,
    AccountGeneralForm,
    HistoryForm,
    ImapAccountForm,
    MailboxesForm,
    ReconnectForm,
)
from channels_app.imap.connection import ConnectionProblem
from channels_app.imap.sync import DELIVERY_ATTEMPTS
from channels_app.models import FolderRole, ImapConfig, ImapFolder, ImapMessage, ImapMessageState
from inboxes.access import get_membership
from inboxes.aliases import EMAIL_KINDS
from inboxes.models import Account, AccountKind, Membership, Role
from inboxes.pages import settings_context
from missive.htmx import AuthenticatedRequest, leave_page, render_page

TABS = [
    ("general", "General", "settings_account"),
    ("history", "History", "settings_account_history"),
    ("mailboxes", "Mailboxes", "settings_account_mailboxes"),
    ("connection", "Connection", "settings_account_connection"),
]


def _can_change(membership: Membership, account: Account) -> bool:
    return membership.can_manage or account.owner_id == membership.user_id


def _get_account(request: AuthenticatedRequest, org_id: UUID, account_id: UUID) -> tuple[Membership, Account]:
    """The membership and an account of its organization the user may see, or 404."""
    membership = get_membership(request.user, org_id)
    accounts = Account.objects.filter(organization_id=membership.organization_id).select_related("owner", "team")
    if not membership.can_manage:
        accounts = accounts.filter(Q(is_shared=True) | Q(owner=request.user))
    return membership, get_object_or_404(accounts, id=account_id)


def _get_changeable_account(
    request: AuthenticatedRequest, org_id: UUID, account_id: UUID
) -> tuple[Membership, Account]:
    membership, account = _get_account(request, org_id, account_id)
    if not _can_change(membership, account):
        raise PermissionDenied("Only the account's owner and the organization's owners and admins can change it.")
    return membership, account


def _imap_config(account: Account) -> ImapConfig:
    """The account's IMAP settings; accounts of other kinds have no such tabs (404)."""
    config = ImapConfig.objects.filter(account=account).first()
    if config is None:
        raise Http404("Not an IMAP account.")
    return config


# --- Add account > IMAP --------------------------------------------------------------------------


def _get_connecting_membership(request: AuthenticatedRequest, org_id: UUID) -> Membership:
    membership = get_membership(request.user, org_id)
    if membership.role == Role.GUEST:
        raise PermissionDenied("Guests cannot connect accounts.")
    return membership


def _render_add(request: AuthenticatedRequest, membership: Membership, form: ImapAccountForm) -> HttpResponse:
    context = settings_context(request, membership, "accounts", form=form)
    return render_page(request, "channels_app/add_imap.html", context, partials={"add-imap": "imap_form"})


@require_safe
@login_required
def add_imap_account(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """The IMAP/SMTP connection form."""
    membership = _get_connecting_membership(request, org_id)
    return _render_add(request, membership, ImapAccountForm(acting=membership))


@require_POST
@login_required
def connect_imap_account(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """Verify the settings with the server, connect the account and start its first sync; or show
    exactly what the server said."""
    membership = _get_connecting_membership(request, org_id)
    form = ImapAccountForm(request.POST, acting=membership)
    if not form.is_valid():
        return _render_add(request, membership, form)
    form.check_may_share()
    try:
        account, created = do_add_imap_account(
            membership.organization,
            form.details(),
            owner=request.user,
            team=form.delivery_team,
            shared=form.is_shared,
            shared_with=form.shared_with(),
        )
    except ConnectionProblem as problem:
        form.add_error(None, problem.message)
        return _render_add(request, membership, form)
    verb = "Connected" if created else "Reconnected"
    messages.success(request, f"{verb} {account.address}. Its mail is being imported.")
    return leave_page(request, reverse("settings_account", args=[org_id, account.id]))


# --- The account's page --------------------------------------------------------------------------


def _render_account(
    request: AuthenticatedRequest,
    membership: Membership,
    account: Account,
    tab: str,
    *,
    partials: dict[str, str] | None = None,
    **context: Any,
) -> HttpResponse:
    config = context.setdefault("config", ImapConfig.objects.filter(account=account).first())
    # "Mailboxes not configured": a role without a folder, once the first sync has listed them.
    roles = set(ImapFolder.objects.filter(account=account).values_list("role", flat=True)) if config else set()
    missing_roles = [FolderRole(role).label for role in MAPPED_ROLES if roles and role not in roles]
    tabs = [(name, label, reverse(url, args=[account.organization_id, account.id])) for name, label, url in TABS]
    tabs = tabs if config else tabs[:1]
    if account.kind in EMAIL_KINDS:
        tabs.insert(
            1, ("aliases", "Aliases", reverse("settings_account_aliases", args=[account.organization_id, account.id]))
        )
    if account.kind == AccountKind.CUSTOM:
        tabs.append(
            ("custom", "Channel", reverse("settings_custom_channel", args=[account.organization_id, account.id]))
        )
    if account.kind == AccountKind.WHATSAPP:
        url = reverse("settings_whatsapp_templates", args=[account.organization_id, account.id])
        tabs.append(("whatsapp_templates", "WhatsApp templates", url))
    context = settings_context(
        request,
        membership,
        "accounts",
        account=account,
        tab=tab,
        tabs=tabs,
        can_change=_can_change(membership, account),
        missing_roles=missing_roles,
        **context,
    )
    return render_page(request, f"channels_app/account_{tab}.html", context, partials=partials)


def _render_general(
    request: AuthenticatedRequest, membership: Membership, account: Account, form: AccountGeneralForm
) -> HttpResponse:
    return _render_account(request, membership, account, "general", form=form, partials={"general": "general_form"})


@require_safe
@login_required
def account_settings(request: AuthenticatedRequest, org_id: UUID, account_id: UUID) -> HttpResponse:
    """General: names, sharing and the server settings, which cannot be edited."""
    membership, account = _get_account(request, org_id, account_id)
    return _render_general(request, membership, account, AccountGeneralForm(account=account))


@require_POST
@login_required
def update_account(request: AuthenticatedRequest, org_id: UUID, account_id: UUID) -> HttpResponse:
    """Rename the account. Hostnames are not fields here: a new one could be another mailbox."""
    membership, account = _get_changeable_account(request, org_id, account_id)
    form = AccountGeneralForm(request.POST, account=account)
    if not form.is_valid():
        return _render_general(request, membership, account, form)
    do_update_account_details(account, **form.cleaned_data)
    messages.success(request, "Account saved.")
    # The whole page: its title is the account's description.
    return leave_page(request, reverse("settings_account", args=[org_id, account_id]))


def _render_history(
    request: AuthenticatedRequest, membership: Membership, account: Account, config: ImapConfig, form: HistoryForm
) -> HttpResponse:
    return _render_account(
        request, membership, account, "history", config=config, form=form, partials={"history": "history_form"}
    )


@require_safe
@login_required
def account_history(request: AuthenticatedRequest, org_id: UUID, account_id: UUID) -> HttpResponse:
    """How far back mail is imported."""
    membership, account = _get_account(request, org_id, account_id)
    config = _imap_config(account)
    return _render_history(request, membership, account, config, HistoryForm(config=config))


@require_POST
@login_required
def update_account_history(request: AuthenticatedRequest, org_id: UUID, account_id: UUID) -> HttpResponse:
    """Change the import window; a longer one brings older mail in with the next sync."""
    membership, account = _get_changeable_account(request, org_id, account_id)
    config = _imap_config(account)
    form = HistoryForm(request.POST, config=config)
    if not form.is_valid():
        return _render_history(request, membership, account, config, form)
    do_change_import_history(config, history_days=form.cleaned_data["history"])
    messages.success(request, "History saved.")
    return redirect("settings_account_history", org_id, account_id)


def _render_mailboxes(
    request: AuthenticatedRequest, membership: Membership, account: Account, config: ImapConfig, form: MailboxesForm
) -> HttpResponse:
    return _render_account(
        request, membership, account, "mailboxes", config=config, form=form, partials={"mailboxes": "mailboxes_form"}
    )


def _folders(account: Account) -> list[ImapFolder]:
    return list(ImapFolder.objects.filter(account=account).order_by("name"))


@require_safe
@login_required
def account_mailboxes(request: AuthenticatedRequest, org_id: UUID, account_id: UUID) -> HttpResponse:
    """The server's folders and which one is the Archive, Sent, Trash and Spam mailbox."""
    membership, account = _get_account(request, org_id, account_id)
    config = _imap_config(account)
    return _render_mailboxes(request, membership, account, config, MailboxesForm(folders=_folders(account)))


@require_POST
@login_required
def update_account_mailboxes(request: AuthenticatedRequest, org_id: UUID, account_id: UUID) -> HttpResponse:
    """Pick the folder for each role by hand, where detection found none or the wrong one."""
    membership, account = _get_changeable_account(request, org_id, account_id)
    config = _imap_config(account)
    form = MailboxesForm(request.POST, folders=_folders(account))
    if not form.is_valid():
        return _render_mailboxes(request, membership, account, config, form)
    do_map_folder_roles(account, roles=form.changes())
    messages.success(request, "Mailboxes saved.")
    # The whole page: the tab's "not configured" mark may go.
    return leave_page(request, reverse("settings_account_mailboxes", args=[org_id, account_id]))


# The newest failures are listed; an account with more has a bigger problem than a list shows.
FAILED_SHOWN = 50


def _render_connection(
    request: AuthenticatedRequest, membership: Membership, account: Account, config: ImapConfig, form: ReconnectForm
) -> HttpResponse:
    failed = ImapMessage.objects.filter(account=account, state=ImapMessageState.FAILED)
    return _render_account(
        request,
        membership,
        account,
        "connection",
        config=config,
        form=form,
        failed=failed.select_related("folder").order_by("-created_at")[:FAILED_SHOWN],
        failed_count=failed.count(),
        attempts=DELIVERY_ATTEMPTS,
        partials={"reconnect": "reconnect_form"},
    )


@require_safe
@login_required
def account_connection(request: AuthenticatedRequest, org_id: UUID, account_id: UUID) -> HttpResponse:
    """Connected or not, since when and why, and the Reconnect form."""
    membership, account = _get_account(request, org_id, account_id)
    config = _imap_config(account)
    return _render_connection(request, membership, account, config, ReconnectForm())


@require_POST
@login_required
def reconnect_account(request: AuthenticatedRequest, org_id: UUID, account_id: UUID) -> HttpResponse:
    """Try the stored server settings with a new password and, when the server accepts, resume."""
    membership, account = _get_changeable_account(request, org_id, account_id)
    config = _imap_config(account)
    form = ReconnectForm(request.POST)
    if not form.is_valid():
        return _render_connection(request, membership, account, config, form)
    try:
        do_reconnect_imap_account(account, password=form.cleaned_data["password"])
    except ConnectionProblem as problem:
        form.add_error(None, problem.message)
        return _render_connection(request, membership, account, config, form)
    messages.success(request, f"{account.address} is connected again.")
    return leave_page(request, reverse("settings_account_connection", args=[org_id, account_id]))


@require_POST
@login_required
def retry_failed_messages(request: AuthenticatedRequest, org_id: UUID, account_id: UUID) -> HttpResponse:
    """Try the messages that could not be imported again (after the cause has been fixed)."""
    _, account = _get_changeable_account(request, org_id, account_id)
    count = do_retry_failed_messages(account)
    messages.success(request, f"{count} message{pluralize(count)} will be tried again in the next sync.")
    return leave_page(request, reverse("settings_account_connection", args=[org_id, account_id]))


@require_safe
@login_required
def failed_message_raw(
    request: AuthenticatedRequest, org_id: UUID, account_id: UUID, imap_message_id: int
) -> FileResponse:
    """The original bytes of a message that could not be imported, as an .eml download. Raw mail
    is not shown to everyone who can see the account: only to those who may change it."""
    _, account = _get_changeable_account(request, org_id, account_id)
    record = get_object_or_404(ImapMessage, pk=imap_message_id, account=account, state=ImapMessageState.FAILED)
    if not record.raw_path or not default_storage.exists(record.raw_path):
        raise Http404("The original of this message was not kept.")
    response = FileResponse(
        default_storage.open(record.raw_path, "rb"), as_attachment=True, filename=f"uid-{record.uid}.eml"
    )
    response.headers["Content-Type"] = "message/rfc822"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
