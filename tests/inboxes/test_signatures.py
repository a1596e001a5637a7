"""Signatures: Settings › Signatures (conversations/signature_views.py), their sanitising, limits and
links, member profiles (inboxes/profiles.py), and their rendering per sender at send time."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from conversations import signatures
from conversations.actions import ActionRefused
from conversations.models import Draft, DraftKind, SignatureChoice
from conversations.sending import do_send_draft
from conversations.signatures import clean_signature_html
from conversations.templating import normalise_key
from inboxes.models import Alias, AliasUserSetting, Membership, Signature, SignatureFormat, SignatureInsert
from inboxes.profiles import profile_key
from tests.conftest import login
from tests.factories import receive

# --- Sanitising -------------------------------------------------------------------------------------


def test_tags_email_clients_do_not_support_are_stripped():
    cleaned = clean_signature_html('<p>Hi</p><script>alert(1)</script><form><input name="x"></form><b>Tom</b>')
    assert cleaned == "<p>Hi</p><b>Tom</b>"


def test_position_is_removed_from_styles():
    assert (
        clean_signature_html('<div style="position: absolute; color: red">x</div>') == '<div style="color:red">x</div>'
    )


def test_pointer_events_are_removed_from_styles():
    assert clean_signature_html('<div style="pointer-events: none">x</div>') == "<div>x</div>"


def test_negative_margins_are_removed_and_positive_ones_kept():
    cleaned = clean_signature_html('<div style="margin-left: -50px; margin-top: 10px; margin: 0 -4px">x</div>')
    assert cleaned == '<div style="margin-top:10px">x</div>'


def test_colours_and_fonts_stay():
    source = '<span style="color: #1a73e8; font-family: Georgia, serif; font-size: 13px">Tom</span>'
    assert (
        clean_signature_html(source)
        == '<span style="color:#1a73e8;font-family:Georgia , serif;font-size:13px">Tom</span>'
    )


def test_liquid_survives_sanitising_in_text_and_attributes():
    source = (
        '{% assign today = "now" | date: "%A" %}{% if today == "Friday" and 2 > 1 %}Have a great weekend!'
        '{% else %}Cheers,{% endif %}<img src="{{ user.avatar_url }}" style="width: 50px; border-radius: 4px;">'
    )
    cleaned = clean_signature_html(source)
    assert '{% if today == "Friday" and 2 > 1 %}' in cleaned
    assert '<img src="{{ user.avatar_url }}" style="width:50px;border-radius:4px">' in cleaned


def test_profile_keys_are_normalised_like_template_keys():
    for label in ("Job title", "  Order   Amount ", "employee_id"):
        assert profile_key(label) == normalise_key(label)


# --- Settings › Signatures ------------------------------------------------------------------------


def _post(client, url_name, *args, **data):
    values = {"name": "Sig", "format": "rich", "body": "<p>Tom</p>", "insert_in": "all", "alternative_body": ""}
    values.update(data)
    return client.post(reverse(url_name, args=args), values)


def test_a_member_creates_a_personal_signature_sanitised(client, cast):
    login(client, cast.teammate)
    response = _post(
        client,
        "settings_signature_create",
        cast.org.id,
        name="Mine",
        format="html",
        body='<p style="position:fixed;color:red">Tom</p><script>x</script>',
    )
    assert response.status_code == 302
    signature = Signature.objects.get(name="Mine")
    assert (signature.owner, signature.format) == (cast.teammate, "html")
    assert signature.body == '<p style="color:red">Tom</p>'


def test_a_liquid_error_is_shown_inline_and_nothing_is_saved(client, cast):
    login(client, cast.teammate)
    response = _post(client, "settings_signature_create", cast.org.id, body="{% if %}oops{% endif %}")
    assert response.status_code == 200
    assert "The template has an error" in response.content.decode()
    assert not Signature.objects.exists()


def test_first_email_then_the_alternative_keeps_the_reply_signature(client, cast):
    login(client, cast.teammate)
    _post(
        client,
        "settings_signature_create",
        cast.org.id,
        insert_in=SignatureInsert.FIRST_THEN_ALTERNATIVE,
        alternative_body="<p>— Tom</p>",
    )
    assert Signature.objects.get().alternative_body == "<p>— Tom</p>"
    _post(client, "settings_signature_create", cast.org.id, name="Other", alternative_body="<p>ignored</p>")
    assert Signature.objects.get(name="Other").alternative_body == ""


def test_only_owners_and_admins_create_and_change_organization_signatures(client, cast):
    login(client, cast.teammate)
    assert client.get(reverse("settings_signature_new", args=[cast.org.id]) + "?managed=1").status_code == 403
    assert _post(client, "settings_signature_create", cast.org.id, managed="1").status_code == 403
    managed = Signature.objects.create(organization=cast.org, name="Acme", body="<p>Acme</p>")
    assert _post(client, "settings_signature_update", cast.org.id, managed.id, body="<p>x</p>").status_code == 403
    assert client.post(reverse("settings_signature_delete", args=[cast.org.id, managed.id])).status_code == 403
    managed.refresh_from_db()
    assert managed.body == "<p>Acme</p>"
    page = client.get(reverse("settings_signature", args=[cast.org.id, managed.id])).content.decode()
    assert "Only owners and admins can change it." in page and "Save signature" not in page

    client.logout()
    login(client, cast.owner)
    response = _post(client, "settings_signature_create", cast.org.id, managed="1", name="Brand")
    assert response.status_code == 302
    assert Signature.objects.get(name="Brand").owner is None
    _post(client, "settings_signature_update", cast.org.id, managed.id, name="Acme", body="<p>New</p>")
    managed.refresh_from_db()
    assert managed.body == "<p>New</p>"


def test_someone_elses_personal_signature_is_not_found(client, cast):
    theirs = Signature.objects.create(organization=cast.org, owner=cast.owner, name="Olivia's")
    login(client, cast.teammate)
    assert client.get(reverse("settings_signature", args=[cast.org.id, theirs.id])).status_code == 404
    assert _post(client, "settings_signature_update", cast.org.id, theirs.id).status_code == 404


def test_the_list_shows_own_and_organization_signatures(client, cast):
    Signature.objects.create(organization=cast.org, owner=cast.teammate, name="Tom short")
    Signature.objects.create(organization=cast.org, name="Acme brand")
    Signature.objects.create(organization=cast.org, owner=cast.owner, name="Olivia private")
    login(client, cast.teammate)
    page = client.get(reverse("settings_signatures", args=[cast.org.id])).content.decode()
    assert "Tom short" in page and "Acme brand" in page and "Olivia private" not in page


def test_personal_signatures_are_limited_to_100(client, cast, monkeypatch):
    monkeypatch.setattr(signatures, "PERSONAL_LIMIT", 2)
    login(client, cast.teammate)
    for name in ("One", "Two"):
        assert _post(client, "settings_signature_create", cast.org.id, name=name).status_code == 302
    response = _post(client, "settings_signature_create", cast.org.id, name="Three")
    assert "You can have at most 2 personal signatures." in response.content.decode()
    assert Signature.objects.count() == 2


def test_organization_signatures_are_limited_to_500(client, cast):
    Signature.objects.bulk_create(Signature(organization=cast.org, name=f"S{i}") for i in range(500))
    login(client, cast.owner)
    response = _post(client, "settings_signature_create", cast.org.id, managed="1", name="One more")
    assert "at most 500 organization signatures" in response.content.decode()
    assert Signature.objects.count() == 500


def test_linking_a_signature_to_aliases_sets_the_users_own_signature(client, cast):
    managed = Signature.objects.create(organization=cast.org, name="Acme", body="<p>Acme</p>")
    support = Alias.objects.get(account=cast.support_account, is_default=True)
    login(client, cast.teammate)
    response = client.post(
        reverse("settings_signature_link", args=[cast.org.id, managed.id]), {"aliases": [support.id]}
    )
    assert response.status_code == 200
    assert AliasUserSetting.objects.get(alias=support, user=cast.teammate).signature == managed

    client.post(reverse("settings_signature_link", args=[cast.org.id, managed.id]), {"aliases": []})
    assert AliasUserSetting.objects.get(alias=support, user=cast.teammate).signature is None


def test_linking_refuses_aliases_the_user_does_not_send_from(client, cast):
    managed = Signature.objects.create(organization=cast.org, name="Acme")
    olivias = Alias.objects.get(account=cast.personal_account, is_default=True)
    login(client, cast.teammate)
    client.post(reverse("settings_signature_link", args=[cast.org.id, managed.id]), {"aliases": [olivias.id]})
    assert not AliasUserSetting.objects.filter(user=cast.teammate).exists()


def test_preview_as_renders_the_managed_signature_for_the_chosen_member(client, cast):
    Membership.objects.filter(user=cast.teammate).update(profile={"custom": {"job_title": "Support lead"}})
    managed = Signature.objects.create(
        organization=cast.org, name="Acme", body="<p>{{ user.first_name }} — {{ user.custom.job_title }}</p>"
    )
    login(client, cast.owner)
    url = reverse("settings_signature_preview", args=[cast.org.id, managed.id])
    as_tom = client.get(url, {"as": cast.teammate.id}).content.decode()
    assert "Tom — Support lead" in as_tom
    assert "Olivia — " in client.get(url).content.decode()
    assert client.get(url, {"as": cast.outsider.id}).status_code == 404


def test_deleting_a_signature_leaves_aliases_without_one(owner_client, cast):
    signature = Signature.objects.create(organization=cast.org, owner=cast.owner, name="Mine")
    alias = Alias.objects.get(account=cast.personal_account, is_default=True)
    alias.signature = signature
    alias.save()
    owner_client.post(reverse("settings_signature_delete", args=[cast.org.id, signature.id]))
    alias.refresh_from_db()
    assert alias.signature is None and not Signature.objects.exists()


# --- Profiles ----------------------------------------------------------------------------------------


def _profile_post(client, cast, user, **data):
    return client.post(reverse("settings_member_profile", args=[cast.org.id, user.id]), data)


def test_a_member_edits_their_own_profile(client, cast):
    login(client, cast.teammate)
    response = _profile_post(
        client,
        cast,
        cast.teammate,
        avatar_url="https://cdn.acme.test/tom.png",
        custom_label=["Job title", "Employee ID", ""],
        custom_value=["Support lead", "E-42", ""],
        phone_label=["Work", "mobile"],
        phone_number=["+1 555 0100", "+1 555 0199"],
    )
    assert response.status_code == 302
    profile = Membership.objects.get(user=cast.teammate, organization=cast.org).profile
    assert profile == {
        "avatar_url": "https://cdn.acme.test/tom.png",
        "custom": {"job_title": "Support lead", "employee_id": "E-42"},
        "phones": [{"label": "work", "number": "+1 555 0100"}, {"label": "mobile", "number": "+1 555 0199"}],
    }
    page = client.get(reverse("settings_member", args=[cast.org.id, cast.teammate.id])).content.decode()
    assert 'value="Support lead"' in page and "user.custom.job_title" in page


def test_admins_edit_others_profiles_and_members_do_not(client, cast):
    login(client, cast.teammate)
    assert _profile_post(client, cast, cast.owner, custom_label=["x"], custom_value=["y"]).status_code == 403
    assert Membership.objects.get(user=cast.owner, organization=cast.org).profile == {}
    client.logout()
    login(client, cast.owner)
    assert (
        _profile_post(client, cast, cast.teammate, custom_label=["Team"], custom_value=["Support"]).status_code == 302
    )
    assert Membership.objects.get(user=cast.teammate, organization=cast.org).profile["custom"] == {"team": "Support"}


def test_profile_errors_are_shown_and_nothing_is_saved(client, cast):
    login(client, cast.teammate)
    response = client.post(
        reverse("settings_member_profile", args=[cast.org.id, cast.teammate.id]),
        {"avatar_url": "javascript:alert(1)", "custom_label": ["Job title", "job  title"], "custom_value": ["a", "b"]},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "The avatar URL must be a web address" in html and "There are two fields named “job_title”" in html
    assert Membership.objects.get(user=cast.teammate, organization=cast.org).profile == {}


def test_another_organizations_member_profile_is_not_found(owner_client, cast):
    response = owner_client.post(reverse("settings_member_profile", args=[cast.org.id, cast.outsider.id]), {})
    assert response.status_code == 404


# --- Rendering at send time ----------------------------------------------------------------------------


@pytest.fixture
def inbound(cast):
    return receive(cast.support_account, subject="Badge order")


def _send_with(cast, inbound, body: str, *, user=None) -> str:
    user = user or cast.teammate
    signature = Signature.objects.create(organization=cast.org, name="Acme", body=body)
    draft = Draft.objects.create(
        organization=cast.org,
        conversation=inbound.conversation,
        kind=DraftKind.REPLY,
        replying_to=inbound,
        creator=user,
        account=cast.support_account,
        alias=Alias.objects.get(account=cast.support_account, is_default=True),
        to=[{"name": "A Customer", "address": "customer@outside.test"}],
        subject="Re: Badge order",
        body_html="<p>Done.</p>",
        signature_choice=SignatureChoice.CHOSEN,
        signature=signature,
    )
    return do_send_draft(draft, acting_user=user).body_html


def test_a_managed_signature_renders_for_each_sender(cast, inbound):
    body = "<p>{{ user.first_name }} {{ user.last_name }}</p>"
    assert "<p>Tom Teammate</p>" in _send_with(cast, inbound, body)
    assert "<p>Olivia Owner</p>" in _send_with(cast, inbound, body, user=cast.owner)


def test_custom_fields_and_label_scoped_phones_render(cast, inbound):
    Membership.objects.filter(user=cast.teammate).update(
        profile={
            "custom": {"job_title": "Support lead"},
            "phones": [{"label": "work", "number": "+1 555 0100"}, {"label": "mobile", "number": "+1 555 0199"}],
        }
    )
    body = "<p>{{ user.custom.job_title }} · {{ user.work.phone_number }} · {{ user.mobile.phone_number }}</p>"
    assert "<p>Support lead · +1 555 0100 · +1 555 0199</p>" in _send_with(cast, inbound, body)


class _FixedClock(dt.datetime):
    day: dt.datetime

    @classmethod
    def now(cls, tz=None):
        return cls.day


@pytest.mark.parametrize(
    ("day", "expected"),
    [(dt.datetime(2026, 11, 20, 9), "Have a great weekend!"), (dt.datetime(2026, 11, 23, 9), "Cheers,")],
)
def test_the_now_date_example_is_evaluated_at_send_time(cast, inbound, monkeypatch, day, expected):
    # The clock python-liquid reads for "now" (the seed's test freezes time on a Friday and a Monday).
    import types

    import liquid.builtin.filters.misc as liquid_misc

    clock = type("Clock", (_FixedClock,), {"day": day})
    monkeypatch.setattr(liquid_misc, "dt", types.SimpleNamespace(**{**vars(dt), "datetime": clock}))
    body = clean_signature_html(
        '{% assign today = "now" | date: "%A" %}'
        '{% if today == "Friday" %}Have a great weekend!{% else %}Cheers,{% endif %}'
    )
    sent = _send_with(cast, inbound, body)
    assert f'<div class="signature">{expected}</div>' in sent


def test_a_broken_signature_refuses_the_send_with_a_clear_message(cast, inbound):
    with pytest.raises(ActionRefused) as refused:
        _send_with(cast, inbound, "<p>{{ user.first_name | nosuchfilter }}</p>")
    assert refused.value.messages[0].startswith("Your signature cannot be used: The template has an error")
    assert not inbound.conversation.messages.filter(direction="out").exists()


def test_rich_text_is_the_default_format():
    assert Signature().format == SignatureFormat.RICH
