"""Settings > Accounts for IMAP against a real Dovecot: connecting, the account's tabs, who may
change what, and what stays the same whatever is posted."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from channels_app.email.storage import store_raw
from channels_app.forms import ImapAccountForm
from channels_app.imap.accounts import ImapAccountDetails, do_connect_imap_account
from channels_app.imap.connection import CERTIFICATE_ERROR
from channels_app.imap.sync import sync_account
from channels_app.models import FolderRole, ImapConfig, ImapFolder, ImapMessage, ImapMessageState
from conversations.models import Message
from inboxes.models import Account, AccountAccess, AccountStatus, DeliveryMode, Membership, NewMessages
from tests.conftest import Cast, login
from tests.factories import AccountFactory
from tests.imap_server import DovecotServer, ImapUser
from tests.mail_factory import make_email

HTMX = {"HX-Request": "true"}
pytestmark = pytest.mark.usefixtures("trust_dovecot")


def url(name: str, *args: object) -> str:
    return reverse(name, args=args)


def form_data(user: ImapUser, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "display_name": "Support desk",
        "email": f"{user.username}@mail.test",
        "password": user.password,
        "imap_host": user.host,
        "imap_port": user.port,
        "imap_security": "starttls",
        "username": user.username,
        "smtp_host": "",
        "smtp_port": 587,
        "smtp_security": "starttls",
        "smtp_username": "",
        "smtp_password": "",
        "history": "all",
        "sharing": "personal",
    }
    data.update(overrides)
    return data


def connect(cast: Cast, user: ImapUser, **kwargs: object) -> Account:
    """An account connected the way the form does it, with its folders listed by a first sync."""
    organization = kwargs.pop("organization", cast.org)
    owner = kwargs.pop("owner", cast.owner)
    details = ImapAccountDetails(
        email=f"{user.username}@mail.test",
        display_name="Box",
        imap_host=user.host,
        imap_port=user.port,
        imap_security="starttls",
        username=user.username,
        password=user.password,
        history_days=kwargs.pop("history_days", None),  # type: ignore[arg-type]
    )
    account, _ = do_connect_imap_account(organization, details, owner=owner, **kwargs)  # type: ignore[arg-type]
    sync_account(account)
    return account


def mail(message_id: str, **kwargs: object) -> bytes:
    return make_email(
        subject="Hello", sender="a@out.test", to="box@mail.test", body="Hi", message_id=message_id, **kwargs
    )


def account_url(name: str, account: Account) -> str:
    return url(name, account.organization_id, account.id)


def folder(account: Account, name: str) -> ImapFolder:
    return ImapFolder.objects.get(account=account, name=name)


def role_data(account: Account, **roles: str) -> dict[str, object]:
    """The Mailboxes form as posted: every role's current folder, with `roles` changed by name."""
    current = {f.role: f.pk for f in ImapFolder.objects.filter(account=account).exclude(role="")}
    data: dict[str, object] = {
        role: current.get(role, "") for role in (FolderRole.ARCHIVE, FolderRole.SENT, FolderRole.TRASH, FolderRole.SPAM)
    }
    data.update({role: folder(account, name).pk for role, name in roles.items()})
    return data


# --- Add account > IMAP --------------------------------------------------------------------------


def test_accounts_page_links_to_the_imap_form_with_the_usual_defaults(owner_client: Client, cast: Cast) -> None:
    body = owner_client.get(url("settings_accounts", cast.org.id)).content.decode()
    assert url("settings_account_add_imap", cast.org.id) in body
    assert "arrives with the email-in work" not in body

    page = owner_client.get(url("settings_account_add_imap", cast.org.id)).content.decode()

    assert 'name="imap_port" value="993"' in page
    assert 'name="smtp_port" value="587"' in page
    assert '<option value="ssl" selected>SSL/TLS</option>' in page
    assert '<option value="starttls" selected>STARTTLS</option>' in page
    for label in ["No history", "1 month", "3 months", "6 months", "1 year", "2 years", "5 years", "10 years"]:
        assert f">{label}</option>" in page
    assert ">All history</option>" in page


def test_connecting_verifies_saves_encrypted_and_starts_the_first_sync(
    owner_client: Client, cast: Cast, imap_user: ImapUser, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = owner_client.post(url("settings_account_connect_imap", cast.org.id), form_data(imap_user))

    account = Account.objects.get(address=f"{imap_user.username}@mail.test")
    assert response.status_code == 302
    assert response.url == account_url("settings_account", account)
    assert (account.owner, account.is_shared, account.display_name) == (cast.owner, False, "Support desk")
    config = ImapConfig.objects.get(account=account)
    assert (config.imap_host, config.imap_port, config.imap_security) == (imap_user.host, imap_user.port, "starttls")
    assert config.imap_username == imap_user.username
    assert config.history_days is None
    # SMTP settings left blank follow IMAP's.
    assert (config.smtp_host, config.smtp_port, config.smtp_username) == (imap_user.host, 587, imap_user.username)
    assert account.credentials == {"imap_password": imap_user.password, "smtp_password": imap_user.password}
    assert imap_user.password.encode() not in bytes(account.encrypted_credentials)
    # The queued first sync ran (eagerly here): the server's folders are listed.
    assert len(callbacks) == 1
    config.refresh_from_db()
    assert config.last_success_at is not None
    assert folder(account, "Trash").role == FolderRole.TRASH


def test_username_and_smtp_settings_default_to_the_email_and_imap_ones(cast: Cast, db: None) -> None:
    acting = Membership.objects.get(organization=cast.org, user=cast.owner)
    data = {
        "email": "Box@Example.com",
        "password": "secret",
        "imap_host": "imap.example.com",
        "imap_port": 993,
        "imap_security": "ssl",
        "smtp_port": 587,
        "smtp_security": "starttls",
        "history": "0",
        "sharing": "personal",
    }
    form = ImapAccountForm(data, acting=acting)

    assert form.is_valid(), form.errors
    details = form.details()
    assert (details.email, details.username) == ("box@example.com", "box@example.com")
    assert (details.smtp_host, details.smtp_username, details.smtp_password) == ("", "", "")
    assert details.history_days == 0, "No history is a window of zero days, not all history"


def test_wrong_password_shows_the_refusal_inline_and_saves_nothing(
    owner_client: Client, cast: Cast, imap_user: ImapUser
) -> None:
    response = owner_client.post(
        url("settings_account_connect_imap", cast.org.id),
        form_data(imap_user, password="not-the-password"),
        headers={**HTMX, "HX-Target": "add-imap"},
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body, "HTMX gets the form partial only"
    assert 's-alert s-alert-error" role="alert"' in body
    assert "The server refused the username or password" in body
    assert not Account.objects.filter(address__endswith="@mail.test").exists()
    assert not ImapConfig.objects.exists()


def test_unreachable_server_shows_where_it_tried(owner_client: Client, cast: Cast, imap_user: ImapUser) -> None:
    closed_port = next(p for p in range(imap_user.port + 1, imap_user.port + 10) if p != imap_user.ssl_port)

    response = owner_client.post(
        url("settings_account_connect_imap", cast.org.id), form_data(imap_user, imap_port=closed_port)
    )

    assert response.status_code == 200
    assert f"Could not reach {imap_user.host}:{closed_port}" in response.content.decode()
    assert not ImapConfig.objects.exists()


def test_untrusted_certificate_shows_the_seed_sentence(
    owner_client: Client, cast: Cast, imap_user: ImapUser, settings
) -> None:
    settings.IMAP_EXTRA_CA_FILE = ""

    response = owner_client.post(
        url("settings_account_connect_imap", cast.org.id),
        form_data(imap_user, imap_port=imap_user.ssl_port, imap_security="ssl"),
    )

    assert CERTIFICATE_ERROR in response.content.decode()
    assert not ImapConfig.objects.exists()


def test_owner_connects_a_shared_account_delivering_to_a_team_inbox(
    owner_client: Client, cast: Cast, imap_user: ImapUser
) -> None:
    data = form_data(imap_user, sharing="team_inbox", team=cast.support.id)

    response = owner_client.post(url("settings_account_connect_imap", cast.org.id), data)

    assert response.status_code == 302
    account = Account.objects.get(address=f"{imap_user.username}@mail.test")
    assert (account.is_shared, account.delivery_mode, account.team) == (True, DeliveryMode.TEAM_INBOX, cast.support)
    assert account.delivers_to_team_inbox


def test_team_inbox_sharing_needs_a_team(owner_client: Client, cast: Cast, imap_user: ImapUser) -> None:
    response = owner_client.post(
        url("settings_account_connect_imap", cast.org.id), form_data(imap_user, sharing="team_inbox")
    )

    assert "Choose the team whose inbox receives" in response.content.decode()
    assert not ImapConfig.objects.exists()


def test_owner_shares_an_account_with_chosen_inboxes_or_auto_archive(
    owner_client: Client, cast: Cast, imap_user: ImapUser
) -> None:
    data = form_data(
        imap_user,
        sharing="inbox",
        **{f"access_{cast.teammate.id}": NewMessages.INBOX, f"access_{cast.observer.id}": NewMessages.AUTO_ARCHIVE},
    )

    owner_client.post(url("settings_account_connect_imap", cast.org.id), data)

    account = Account.objects.get(address=f"{imap_user.username}@mail.test")
    assert (account.is_shared, account.delivery_mode, account.team) == (True, DeliveryMode.INBOX, None)
    access = dict(AccountAccess.objects.filter(account=account).values_list("user_id", "new_messages"))
    assert access == {cast.teammate.id: NewMessages.INBOX, cast.observer.id: NewMessages.AUTO_ARCHIVE}


def test_member_connects_a_personal_account_but_not_a_shared_one(
    client: Client, cast: Cast, imap_user: ImapUser
) -> None:
    login(client, cast.teammate)
    page = client.get(url("settings_account_add_imap", cast.org.id)).content.decode()
    assert "Only owners and admins of Acme can connect shared accounts." in page
    assert 'name="sharing" value="team_inbox"' not in page

    refused = client.post(
        url("settings_account_connect_imap", cast.org.id),
        form_data(imap_user, sharing="team_inbox", team=cast.support.id),
    )
    assert refused.status_code == 403
    assert not ImapConfig.objects.exists()

    allowed = client.post(url("settings_account_connect_imap", cast.org.id), form_data(imap_user))
    assert allowed.status_code == 302
    account = Account.objects.get(address=f"{imap_user.username}@mail.test")
    assert (account.owner, account.is_shared) == (cast.teammate, False)


def test_guests_cannot_connect_accounts(client: Client, cast: Cast) -> None:
    login(client, cast.guest)
    assert client.get(url("settings_account_add_imap", cast.org.id)).status_code == 403
    assert client.post(url("settings_account_connect_imap", cast.org.id), {}).status_code == 403


def test_a_colleague_cannot_take_over_an_address_already_connected(
    client: Client, cast: Cast, imap_user: ImapUser
) -> None:
    account = connect(cast, imap_user)
    login(client, cast.teammate)

    response = client.post(url("settings_account_connect_imap", cast.org.id), form_data(imap_user))

    assert f"{account.address} is already connected by Olivia Owner" in response.content.decode()
    assert Account.objects.get(id=account.id).owner == cast.owner


def test_adding_the_same_address_again_refreshes_the_account(
    owner_client: Client, cast: Cast, imap_user: ImapUser
) -> None:
    account = connect(cast, imap_user)

    response = owner_client.post(
        url("settings_account_connect_imap", cast.org.id), form_data(imap_user, display_name="Renamed")
    )

    assert response.url == account_url("settings_account", account)
    assert Account.objects.filter(address=account.address).count() == 1
    assert Account.objects.get(id=account.id).display_name == "Renamed"


# --- General and History ---------------------------------------------------------------------------


def test_general_tab_renames_the_account_and_ignores_posted_hostnames(
    owner_client: Client, cast: Cast, imap_user: ImapUser
) -> None:
    account = connect(cast, imap_user)
    page = owner_client.get(account_url("settings_account", account)).content.decode()
    assert "IMAP and SMTP hostnames cannot be edited" in page
    assert 'name="imap_host"' not in page

    response = owner_client.post(
        account_url("settings_account_update", account),
        {
            "display_name": "Acme Support",
            "description": "Support",
            "imap_host": "imap.elsewhere.test",
            "smtp_host": "smtp.elsewhere.test",
            "imap_port": 1143,
        },
    )

    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.display_name, account.description) == ("Acme Support", "Support")
    config = ImapConfig.objects.get(account=account)
    assert (config.imap_host, config.smtp_host, config.imap_port) == (imap_user.host, imap_user.host, imap_user.port)


def test_a_longer_history_imports_older_mail_with_the_next_sync(
    owner_client: Client, cast: Cast, imap_user: ImapUser, dovecot: DovecotServer, django_capture_on_commit_callbacks
) -> None:
    old = timezone.now() - timedelta(days=90)
    dovecot.append(imap_user.username, "INBOX", mail("<old@out.test>", date=old), date=old)
    dovecot.append(imap_user.username, "INBOX", mail("<new@out.test>"))
    account = connect(cast, imap_user, history_days=30)
    assert list(Message.objects.values_list("rfc_message_id", flat=True)) == ["<new@out.test>"]

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(account_url("settings_account_history_update", account), {"history": "365"})

    assert response.status_code == 302
    assert ImapConfig.objects.get(account=account).history_days == 365
    assert sorted(Message.objects.values_list("rfc_message_id", flat=True)) == ["<new@out.test>", "<old@out.test>"]


def test_a_shorter_history_keeps_what_was_imported_and_queues_nothing(
    owner_client: Client, cast: Cast, imap_user: ImapUser, django_capture_on_commit_callbacks
) -> None:
    account = connect(cast, imap_user, history_days=365)
    last_uids = dict(ImapFolder.objects.filter(account=account).values_list("name", "uidnext"))

    with django_capture_on_commit_callbacks() as callbacks:
        owner_client.post(account_url("settings_account_history_update", account), {"history": "30"})

    assert ImapConfig.objects.get(account=account).history_days == 30
    assert callbacks == []
    assert dict(ImapFolder.objects.filter(account=account).values_list("name", "uidnext")) == last_uids


def test_no_history_imports_only_mail_arriving_after_connecting(
    cast: Cast, imap_user: ImapUser, dovecot: DovecotServer
) -> None:
    dovecot.append(imap_user.username, "INBOX", mail("<before@out.test>"))
    account = connect(cast, imap_user, history_days=0)
    dovecot.append(imap_user.username, "INBOX", mail("<after@out.test>"))

    sync_account(account)

    assert list(Message.objects.values_list("rfc_message_id", flat=True)) == ["<after@out.test>"]


# --- Mailboxes -------------------------------------------------------------------------------------


def test_mailboxes_tab_shows_detected_folders_and_the_owner_picks_another(
    owner_client: Client, cast: Cast, imap_user: ImapUser, dovecot: DovecotServer
) -> None:
    dovecot.create_folder(imap_user.username, "Bin")
    account = connect(cast, imap_user)
    page = owner_client.get(account_url("settings_account_mailboxes", account)).content.decode()
    assert "Mailboxes not configured" not in page
    assert f'<option value="{folder(account, "Junk").pk}" selected>Junk</option>' in page

    response = owner_client.post(
        account_url("settings_account_mailboxes_update", account), role_data(account, trash="Bin")
    )

    assert response.status_code == 302
    bin_, trash = folder(account, "Bin"), folder(account, "Trash")
    assert (bin_.role, bin_.role_is_manual) == (FolderRole.TRASH, True)
    assert trash.role == ""
    assert folder(account, "Archive").role_is_manual is False, "unchanged roles stay detected"
    # The next sync keeps the owner's choice over what SPECIAL-USE says.
    sync_account(account)
    assert ImapFolder.objects.get(account=account, role=FolderRole.TRASH).name == "Bin"


def test_a_role_without_folder_shows_mailboxes_not_configured_until_mapped(
    owner_client: Client, cast: Cast, imap_user_factory, dovecot: DovecotServer
) -> None:
    user = imap_user_factory(special_folders=False)
    for name in ["Kept", "Mailed", "Bin", "Unwanted"]:
        dovecot.create_folder(user.username, name)
    account = connect(cast, user)

    page = owner_client.get(account_url("settings_account_mailboxes", account)).content.decode()
    assert "Mailboxes not configured" in page
    assert "No mailbox is set for Archive, Sent, Trash, Spam," in page
    assert "c-tab-warning" in page

    owner_client.post(account_url("settings_account_mailboxes_update", account), role_data(account, trash="Bin"))
    page = owner_client.get(account_url("settings_account_mailboxes", account)).content.decode()
    assert "No mailbox is set for Archive, Sent, Spam," in page

    owner_client.post(
        account_url("settings_account_mailboxes_update", account),
        role_data(account, archive="Kept", sent="Mailed", spam="Unwanted"),
    )
    page = owner_client.get(account_url("settings_account_mailboxes", account)).content.decode()
    assert "Mailboxes not configured" not in page
    roles = dict(ImapFolder.objects.filter(account=account).exclude(role="").values_list("role", "name"))
    assert roles == {"inbox": "INBOX", "archive": "Kept", "sent": "Mailed", "trash": "Bin", "spam": "Unwanted"}


def test_one_folder_cannot_take_two_roles(owner_client: Client, cast: Cast, imap_user: ImapUser) -> None:
    account = connect(cast, imap_user)

    response = owner_client.post(
        account_url("settings_account_mailboxes_update", account),
        role_data(account, trash="Archive"),
        headers={**HTMX, "HX-Target": "mailboxes"},
    )

    assert "This mailbox is already the Archive mailbox." in response.content.decode()
    assert folder(account, "Trash").role == FolderRole.TRASH


# --- Connection and Reconnect -----------------------------------------------------------------------


def change_password(dovecot: DovecotServer, user: ImapUser, password: str) -> None:
    """Change the password at the "provider"; Dovecot reads a changed passwd-file within a second."""
    dovecot.add_user(user.username, password)
    deadline = time.monotonic() + 5
    while True:
        try:
            with dovecot.connect(user.username):
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_password_change_disconnects_and_reconnect_refreshes_in_place(
    owner_client: Client, cast: Cast, imap_user: ImapUser, dovecot: DovecotServer
) -> None:
    account = connect(cast, imap_user)
    change_password(dovecot, imap_user, "brand-new-password")
    with pytest.raises(Exception, match="refused"):
        sync_account(account)

    page = owner_client.get(account_url("settings_account", account)).content.decode()
    assert "c-banner s-banner-warning" in page and f"{account.address} is disconnected." in page
    assert account_url("settings_account_connection", account) + "#reconnect" in page
    listing = owner_client.get(url("settings_accounts", cast.org.id)).content.decode()
    assert account_url("settings_account_connection", account) + "#reconnect" in listing

    refused = owner_client.post(account_url("settings_account_reconnect", account), {"password": "still-wrong"})
    assert "The server refused the username or password" in refused.content.decode()
    assert Account.objects.get(id=account.id).status == AccountStatus.DISCONNECTED

    response = owner_client.post(
        account_url("settings_account_reconnect", account),
        {"password": "brand-new-password"},
        headers={**HTMX, "HX-Target": "reconnect"},
    )

    assert response.status_code == 200 and response["HX-Redirect"] == account_url(
        "settings_account_connection", account
    )
    account.refresh_from_db()
    assert (account.status, account.status_reason) == (AccountStatus.CONNECTED, "")
    assert account.credentials["imap_password"] == "brand-new-password"
    assert account.credentials["smtp_password"] == "brand-new-password"
    assert Account.objects.filter(address=account.address).count() == 1
    assert ImapConfig.objects.get(account=account).imap_host == imap_user.host


def test_messages_that_could_not_be_imported_are_listed_downloadable_and_can_be_retried(
    owner_client: Client, cast: Cast, imap_user: ImapUser
) -> None:
    account = connect(cast, imap_user, team=cast.support, shared=True)
    raw = make_email(subject="Broken", sender="a@outside.test", to="box@acme.test", body="Hi")
    record = ImapMessage.objects.create(
        organization=cast.org,
        account=account,
        folder=folder(account, "INBOX"),
        uidvalidity=1,
        uid=77,
        raw_path=store_raw(raw),
        state=ImapMessageState.FAILED,
        error="No space left on device",
        attempts=3,
    )
    download = account_url("settings_account_connection", account) + f"failed/{record.id}/raw/"

    page = owner_client.get(account_url("settings_account_connection", account)).content.decode()
    assert "1 message could not be imported" in page and "No space left on device" in page and download in page
    response = owner_client.get(download)
    assert b"".join(response.streaming_content) == raw
    assert response["Content-Disposition"].startswith("attachment") and response["X-Content-Type-Options"] == "nosniff"

    member = Client()
    login(member, cast.teammate)  # reads the shared account, may not change it: no raw mail
    assert download not in member.get(account_url("settings_account_connection", account)).content.decode()
    assert member.get(download).status_code == 403
    assert member.post(account_url("settings_account_retry_failed", account)).status_code == 403

    response = owner_client.post(account_url("settings_account_retry_failed", account))
    assert response.status_code == 302, response.content.decode()[:500]
    assert ImapMessage.objects.get(id=record.id).attempts == 0, "tried again by the next syncs"


# --- Who sees and changes what -----------------------------------------------------------------------


def test_members_read_a_shared_account_but_cannot_change_it(client: Client, cast: Cast, imap_user: ImapUser) -> None:
    account = connect(cast, imap_user, team=cast.support, shared=True)
    login(client, cast.teammate)

    for name in ["settings_account", "settings_account_history", "settings_account_mailboxes"]:
        page = client.get(account_url(name, account)).content.decode()
        assert '<fieldset class="s-fields" disabled>' in page or " disabled>" in page
        assert 'type="submit"' not in page
    assert 'id="reconnect"' not in client.get(account_url("settings_account_connection", account)).content.decode()

    posts = {
        "settings_account_update": {"display_name": "X", "description": "X"},
        "settings_account_history_update": {"history": "all"},
        "settings_account_mailboxes_update": role_data(account),
        "settings_account_reconnect": {"password": imap_user.password},
    }
    for name, data in posts.items():
        assert client.post(account_url(name, account), data).status_code == 403, name
    assert Account.objects.get(id=account.id).description == account.description


def test_org_admins_change_a_colleagues_account(owner_client: Client, cast: Cast, imap_user: ImapUser) -> None:
    account = connect(cast, imap_user, owner=cast.teammate)

    response = owner_client.post(
        account_url("settings_account_update", account), {"display_name": "", "description": "Tom's box"}
    )

    assert response.status_code == 302
    assert Account.objects.get(id=account.id).description == "Tom's box"


def test_a_colleagues_personal_account_is_not_found_for_members(
    client: Client, cast: Cast, imap_user: ImapUser
) -> None:
    account = connect(cast, imap_user)
    login(client, cast.teammate)

    assert client.get(account_url("settings_account", account)).status_code == 404
    assert client.post(account_url("settings_account_update", account), {"description": "X"}).status_code == 404


ACCOUNT_PAGES = [
    ("settings_account", None),
    ("settings_account_update", {"display_name": "Hacked", "description": "Hacked"}),
    ("settings_account_history", None),
    ("settings_account_history_update", {"history": "all"}),
    ("settings_account_mailboxes", None),
    ("settings_account_mailboxes_update", {}),
    ("settings_account_connection", None),
    ("settings_account_reconnect", {"password": "x"}),
]


@pytest.mark.parametrize(("name", "data"), ACCOUNT_PAGES)
def test_another_organizations_account_is_not_found(
    client: Client, cast: Cast, imap_user: ImapUser, name: str, data: dict[str, str] | None
) -> None:
    account = connect(cast, imap_user, team=cast.support, shared=True)
    login(client, cast.outsider)

    def request(path: str):
        return client.get(path) if data is None else client.post(path, data)

    assert request(url(name, cast.org.id, account.id)).status_code == 404
    # Nor through the outsider's own organization.
    assert request(url(name, cast.other_org.id, account.id)).status_code == 404
    assert Account.objects.get(id=account.id).description == account.description


def test_accounts_of_other_kinds_have_only_the_general_tab(owner_client: Client, cast: Cast) -> None:
    account = AccountFactory(organization=cast.org, owner=cast.owner, kind="twilio_sms", address="+15550100")

    page = owner_client.get(account_url("settings_account", account)).content.decode()

    assert "+15550100" in page and "Mailboxes" not in page
    assert owner_client.get(account_url("settings_account_mailboxes", account)).status_code == 404
