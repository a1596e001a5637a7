"""Aliases: the automatic From choice (the seed's worked examples) and Settings › Accounts ›
Aliases (channels_app/alias_views.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inboxes.aliases import choose_alias
from inboxes.models import (
    AccountAccess,
    AccountKind,
    Alias,
    AliasShare,
    AliasUserSetting,
    Membership,
    Role,
    Signature,
)
from tests.conftest import login
from tests.factories import AccountFactory, MembershipFactory, OrganizationFactory, UserFactory

# --- choose_alias: Philippe and Rafael at conferencebadge.com --------------------------------------


@pytest.fixture
def badge(db):
    """Philippe sends from philippe@, sales@ (an alias of his account) and the shared support@;
    Rafael from rafael@, rafael@gmail.com and the shared support@, but not sales@."""
    org = OrganizationFactory(name="Conference Badge")
    philippe = UserFactory(email="philippe@conferencebadge.com", name="Philippe")
    rafael = UserFactory(email="rafael@conferencebadge.com", name="Rafael")
    admin = UserFactory(email="admin@conferencebadge.com", name="Ada Admin")
    for user, role in ((philippe, Role.MEMBER), (rafael, Role.MEMBER), (admin, Role.OWNER)):
        MembershipFactory(organization=org, user=user, role=role)
    philippe_account = AccountFactory(organization=org, owner=philippe, address="philippe@conferencebadge.com")
    sales = Alias.objects.create(organization=org, account=philippe_account, address="sales@conferencebadge.com")
    support_account = AccountFactory(
        organization=org, owner=admin, address="support@conferencebadge.com", is_shared=True
    )
    for user in (philippe, rafael):
        AccountAccess.objects.create(organization=org, account=support_account, user=user)
    AccountFactory(organization=org, owner=rafael, address="rafael@conferencebadge.com")
    AccountFactory(organization=org, owner=rafael, address="rafael@gmail.com", kind=AccountKind.GMAIL)

    class Badge:
        pass

    badge = Badge()
    badge.org, badge.philippe, badge.rafael, badge.sales = org, philippe, rafael, sales
    return badge


def _from(user, org, *to: str) -> str | None:
    alias = choose_alias(user, org.id, replying_to_addresses=list(to))
    return alias.address if alias else None


def test_mail_to_support_answered_by_philippe_is_from_support(badge):
    assert _from(badge.philippe, badge.org, "support@conferencebadge.com") == "support@conferencebadge.com"


def test_mail_to_support_answered_by_rafael_is_from_support(badge):
    assert _from(badge.rafael, badge.org, "support@conferencebadge.com") == "support@conferencebadge.com"


def test_mail_to_sales_answered_by_philippe_is_from_sales(badge):
    assert _from(badge.philippe, badge.org, "Sales@ConferenceBadge.com") == "sales@conferencebadge.com"


def test_mail_to_sales_answered_by_rafael_is_from_his_own_address_of_the_same_domain(badge):
    assert _from(badge.rafael, badge.org, "sales@conferencebadge.com") == "rafael@conferencebadge.com"


def test_never_automatically_select_skips_sales_for_philippe(badge):
    badge.sales.never_auto_select = True
    badge.sales.save()
    assert _from(badge.philippe, badge.org, "sales@conferencebadge.com") == "philippe@conferencebadge.com"


def test_another_domain_falls_back_to_the_default_sender(badge):
    gmail = Alias.objects.get(address="rafael@gmail.com")
    Membership.objects.filter(user=badge.rafael).update(default_sender=gmail)
    assert _from(badge.rafael, badge.org, "someone@elsewhere.test") == "rafael@gmail.com"
    assert _from(badge.rafael, badge.org, "support@conferencebadge.com") == "support@conferencebadge.com"


def test_a_new_email_is_from_the_default_sender(badge):
    gmail = Alias.objects.get(address="rafael@gmail.com")
    Membership.objects.filter(user=badge.rafael).update(default_sender=gmail)
    assert choose_alias(badge.rafael, badge.org.id, replying_to_addresses=None) == gmail


def test_always_reply_from_the_default_sender(badge):
    gmail = Alias.objects.get(address="rafael@gmail.com")
    Membership.objects.filter(user=badge.rafael).update(default_sender=gmail)
    badge.rafael.always_reply_from_default_sender = True
    badge.rafael.save()
    assert _from(badge.rafael, badge.org, "support@conferencebadge.com") == "rafael@gmail.com"


def test_without_a_default_sender_the_first_alias_that_may_be_auto_selected(badge):
    Alias.objects.filter(address="philippe@conferencebadge.com").update(never_auto_select=True)
    chosen = choose_alias(badge.philippe, badge.org.id, replying_to_addresses=None)
    assert chosen is not None and chosen.address != "philippe@conferencebadge.com"


def test_a_default_sender_the_user_may_no_longer_use_is_ignored(badge):
    Membership.objects.filter(user=badge.rafael).update(default_sender=badge.sales)
    assert choose_alias(badge.rafael, badge.org.id, replying_to_addresses=None) != badge.sales


def test_an_alias_shared_with_the_user_is_chosen_for_its_address(badge):
    AliasShare.objects.create(organization=badge.org, alias=badge.sales, user=badge.rafael)
    assert _from(badge.rafael, badge.org, "sales@conferencebadge.com") == "sales@conferencebadge.com"


def test_another_organizations_aliases_are_never_chosen(badge, cast):
    assert choose_alias(cast.outsider, badge.org.id, replying_to_addresses=["support@conferencebadge.com"]) is None


# --- Settings › Accounts › Aliases -----------------------------------------------------------------


def _url(name, cast, account, *extra):
    return reverse(name, args=[cast.org.id, account.id, *extra])


def _default(account) -> Alias:
    return Alias.objects.get(account=account, is_default=True)


def test_the_account_page_has_an_aliases_tab_listing_them(owner_client, cast):
    Alias.objects.create(
        organization=cast.org, account=cast.support_account, address="help@acme.test", description="Mobile"
    )
    response = owner_client.get(_url("settings_account", cast, cast.support_account))
    assert _url("settings_account_aliases", cast, cast.support_account) in response.content.decode()

    page = owner_client.get(_url("settings_account_aliases", cast, cast.support_account)).content.decode()
    assert "support@acme.test" in page and "help@acme.test" in page and "Mobile" in page
    assert "Add alias" in page


def test_the_owner_adds_an_alias_with_its_settings(owner_client, cast):
    signature = Signature.objects.create(organization=cast.org, name="Team", body="<p>Acme</p>")
    response = owner_client.post(
        _url("settings_alias_create", cast, cast.personal_account),
        {
            "address": "Sales@Acme.test",
            "name": "Acme Sales",
            "description": "Sales desk",
            "never_auto_select": "on",
            "signature": signature.id,
            "shared_with": [cast.teammate.id],
        },
    )
    assert response.status_code == 302
    alias = Alias.objects.get(account=cast.personal_account, is_default=False)
    assert (alias.address, alias.name, alias.description) == ("sales@acme.test", "Acme Sales", "Sales desk")
    assert alias.never_auto_select and alias.signature == signature
    assert list(AliasShare.objects.filter(alias=alias).values_list("user_id", flat=True)) == [cast.teammate.id]


def test_several_aliases_may_share_an_address(owner_client, cast):
    for description in ("Desktop", "Mobile signature"):
        owner_client.post(
            _url("settings_alias_create", cast, cast.personal_account),
            {"address": "olivia@acme.test", "description": description},
        )
    assert Alias.objects.filter(account=cast.personal_account, address="olivia@acme.test").count() == 3


def test_a_bad_address_is_shown_inline(owner_client, cast):
    response = owner_client.post(
        _url("settings_alias_create", cast, cast.personal_account),
        {"address": "not an address"},
        headers={"HX-Request": "true", "HX-Target": "alias-add"},
    )
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    assert Alias.objects.filter(account=cast.personal_account).count() == 1


def test_editing_changes_the_alias_and_who_it_is_shared_with(owner_client, cast):
    alias = Alias.objects.create(organization=cast.org, account=cast.personal_account, address="hi@acme.test")
    AliasShare.objects.create(organization=cast.org, alias=alias, user=cast.observer)
    owner_client.post(
        _url("settings_alias_update", cast, cast.personal_account, alias.id),
        {"address": "hello@acme.test", "name": "Hello", "shared_with": [cast.teammate.id]},
    )
    alias.refresh_from_db()
    assert (alias.address, alias.name) == ("hello@acme.test", "Hello")
    assert set(AliasShare.objects.filter(alias=alias).values_list("user_id", flat=True)) == {cast.teammate.id}


def test_the_default_alias_keeps_the_accounts_address_and_cannot_be_deleted(owner_client, cast):
    alias = _default(cast.personal_account)
    owner_client.post(
        _url("settings_alias_update", cast, cast.personal_account, alias.id),
        {"address": "other@acme.test", "name": "Olivia"},
    )
    alias.refresh_from_db()
    assert (alias.address, alias.name) == ("olivia@acme.test", "Olivia")

    response = owner_client.post(_url("settings_alias_delete", cast, cast.personal_account, alias.id), follow=True)
    assert Alias.objects.filter(id=alias.id).exists()
    assert "cannot be deleted" in response.content.decode()


def test_deleting_an_alias_clears_it_as_default_sender(owner_client, cast):
    alias = Alias.objects.create(organization=cast.org, account=cast.personal_account, address="hi@acme.test")
    Membership.objects.filter(user=cast.owner, organization=cast.org).update(default_sender=alias)
    owner_client.post(_url("settings_alias_delete", cast, cast.personal_account, alias.id))
    assert not Alias.objects.filter(id=alias.id).exists()
    assert Membership.objects.get(user=cast.owner, organization=cast.org).default_sender is None


def test_a_delegated_user_reads_aliases_and_is_refused_changes(client, cast):
    login(client, cast.teammate)
    alias = _default(cast.support_account)
    page = client.get(_url("settings_alias", cast, cast.support_account, alias.id))
    assert page.status_code == 200 and "Your name and signature" in page.content.decode()
    assert (
        client.post(_url("settings_alias_create", cast, cast.support_account), {"address": "x@acme.test"}).status_code
        == 403
    )
    update = client.post(
        _url("settings_alias_update", cast, cast.support_account, alias.id), {"address": "x@acme.test"}
    )
    assert update.status_code == 403
    assert client.post(_url("settings_alias_delete", cast, cast.support_account, alias.id)).status_code == 403


def test_a_delegated_user_sets_their_own_name_and_signature(client, cast):
    login(client, cast.teammate)
    alias = _default(cast.support_account)
    mine = Signature.objects.create(organization=cast.org, owner=cast.teammate, name="Tom's")
    response = client.post(
        _url("settings_alias_own", cast, cast.support_account, alias.id), {"name": "Tom at Acme", "signature": mine.id}
    )
    assert response.status_code == 200
    setting = AliasUserSetting.objects.get(alias=alias, user=cast.teammate)
    assert (setting.name, setting.signature) == ("Tom at Acme", mine)


def test_own_settings_refuse_someone_elses_personal_signature(client, cast):
    login(client, cast.teammate)
    alias = _default(cast.support_account)
    olivias = Signature.objects.create(organization=cast.org, owner=cast.owner, name="Olivia's")
    response = client.post(_url("settings_alias_own", cast, cast.support_account, alias.id), {"signature": olivias.id})
    assert "Select a valid choice" in response.content.decode()
    assert not AliasUserSetting.objects.filter(alias=alias, user=cast.teammate).exists()


def test_the_alias_signature_offers_the_owners_and_the_organizations_signatures_only(owner_client, cast):
    Signature.objects.create(organization=cast.org, owner=cast.owner, name="Olivia personal")
    Signature.objects.create(organization=cast.org, name="Acme managed")
    Signature.objects.create(organization=cast.org, owner=cast.teammate, name="Tom personal")
    page = owner_client.get(_url("settings_alias", cast, cast.personal_account, _default(cast.personal_account).id))
    html = page.content.decode()
    assert "Olivia personal" in html and "Acme managed (organization)" in html
    assert "Tom personal" not in html


def test_a_colleagues_personal_account_is_not_found(client, cast):
    login(client, cast.teammate)
    alias = _default(cast.personal_account)
    assert client.get(_url("settings_account_aliases", cast, cast.personal_account)).status_code == 404
    assert (
        client.post(_url("settings_alias_own", cast, cast.personal_account, alias.id), {"name": "x"}).status_code == 404
    )


def test_an_admin_who_does_not_send_from_the_account_gets_no_own_settings(client, cast):
    admin = UserFactory(email="admin@acme.test")
    MembershipFactory(organization=cast.org, user=admin, role=Role.ADMIN)
    login(client, admin)
    alias = _default(cast.personal_account)
    page = client.get(_url("settings_alias", cast, cast.personal_account, alias.id)).content.decode()
    assert "Save alias" in page and "Your name and signature" not in page
    assert (
        client.post(_url("settings_alias_own", cast, cast.personal_account, alias.id), {"name": "x"}).status_code == 404
    )


def test_microsoft_365_accounts_warn_that_alias_names_are_ignored(owner_client, cast):
    account = AccountFactory(organization=cast.org, owner=cast.owner, address="o@acme.test", kind=AccountKind.OFFICE365)
    page = owner_client.get(_url("settings_account_aliases", cast, account)).content.decode()
    assert "Microsoft 365 ignores alias names" in page
    imap = owner_client.get(_url("settings_account_aliases", cast, cast.personal_account)).content.decode()
    assert "Microsoft 365" not in imap


def test_another_organizations_alias_is_not_found(owner_client, cast):
    foreign = _default(cast.outsider_account)
    url = _url("settings_alias", cast, cast.support_account, foreign.id)
    assert owner_client.get(url).status_code == 404
