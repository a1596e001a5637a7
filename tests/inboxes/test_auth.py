"""Signing in through django-allauth with our adapter and templates: email login, password reset,
TOTP two-factor, and sign-up closed by default."""

from __future__ import annotations

import re
import time

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from django.core import mail
from django.test import Client
from django.urls import reverse

from inboxes.models import User
from tests.conftest import Cast
from tests.factories import PASSWORD

NEW_PASSWORD = "purple-elephant-sunrise-42"


def sign_in(client: Client, email: str, password: str = PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def totp_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def test_login_page_is_our_branded_card(client: Client, db: None) -> None:
    body = client.get(reverse("account_login")).content.decode()
    assert 'class="a-card"' in body
    assert "css/settings.css" in body
    assert "Forgot your password?" in body
    assert "sign up" not in body.lower()


def test_login_by_email(client: Client, cast: Cast) -> None:
    response = sign_in(client, "OWNER@acme.test")
    assert response.status_code == 302
    assert response.url == "/"
    assert client.get(reverse("settings_profile")).status_code == 200


def test_wrong_password_shows_an_inline_error(client: Client, cast: Cast) -> None:
    response = sign_in(client, cast.owner.email, "not-the-password")
    assert response.status_code == 200
    body = response.content.decode()
    assert "email address and/or password you specified are not correct" in body
    assert 'class="a-card"' in body
    assert client.get(reverse("settings_profile")).status_code == 302


def test_password_reset_by_email_link(client: Client, cast: Cast) -> None:
    response = client.post(reverse("account_reset_password"), {"email": cast.teammate.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [cast.teammate.email]
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)", mail.outbox[0].body).group(1)

    form_page = client.get(link, follow=True)
    assert "Change Password" in form_page.content.decode()
    set_password_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    response = client.post(set_password_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302

    assert sign_in(Client(), cast.teammate.email, PASSWORD).status_code == 200
    assert sign_in(Client(), cast.teammate.email, NEW_PASSWORD).status_code == 302


def test_password_reset_for_unknown_email_sends_nothing_that_helps(client: Client, db: None) -> None:
    client.post(reverse("account_reset_password"), {"email": "nobody@nowhere.test"})
    assert all("/accounts/password/reset/key/" not in message.body for message in mail.outbox)


def test_user_turns_on_totp_and_login_then_needs_the_code(client: Client, cast: Cast) -> None:
    sign_in(client, cast.teammate.email)
    confirm = client.get(reverse("mfa_activate_totp"))
    assert confirm.url.startswith(reverse("account_reauthenticate"))
    assert client.post(confirm.url, {"password": PASSWORD}).url == reverse("mfa_activate_totp")
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    assert 'class="s-shell"' in page.content.decode()
    secret = client.session[SECRET_SESSION_KEY]

    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=cast.teammate, type=Authenticator.Type.TOTP).exists()
    assert "On" in client.get(reverse("settings_profile")).content.decode()

    browser = Client()
    response = sign_in(browser, cast.teammate.email)
    assert response.url == reverse("mfa_authenticate")
    assert browser.get(reverse("settings_profile")).status_code == 302
    assert browser.post(reverse("mfa_authenticate"), {"code": "000000"}).status_code == 200
    assert browser.get(reverse("settings_profile")).status_code == 302

    response = browser.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert browser.get(reverse("settings_profile")).status_code == 200


def test_mfa_pages_use_the_settings_layout(client: Client, cast: Cast) -> None:
    sign_in(client, cast.owner.email)
    body = client.get(reverse("mfa_index")).content.decode()
    assert 'class="s-shell"' in body
    assert "Authenticator App" in body
    assert reverse("settings_users", args=[cast.org.id]) in body


def test_password_change_page_uses_the_settings_layout(client: Client, cast: Cast) -> None:
    sign_in(client, cast.owner.email)
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    cast.owner.refresh_from_db()
    assert cast.owner.check_password(NEW_PASSWORD)


def test_sign_up_is_closed_by_default(client: Client, db: None) -> None:
    response = client.post(
        reverse("account_signup"),
        {"email": "walk-in@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert "Join by invitation" in response.content.decode()
    assert not User.objects.filter(email="walk-in@example.com").exists()


def test_operator_can_open_sign_up(client: Client, db: None, settings) -> None:
    settings.OPEN_SIGNUP = True
    response = client.post(
        reverse("account_signup"),
        {"email": "walk-in@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert User.objects.filter(email="walk-in@example.com").exists()
