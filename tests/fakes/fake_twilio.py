"""A fake Twilio on loopback: the REST calls we make (Messages.json, IncomingPhoneNumbers.json),
answered in Twilio's JSON, and the webhooks Twilio sends us (inbound messages, status callbacks),
signed exactly as Twilio signs them (the twilio library's RequestValidator).

It keeps what Twilio enforces itself: HTTP Basic auth with the Account SID and Auth Token, a
valid E.164 To (21211), STOP opt-outs per pair of numbers (21610), and WhatsApp's 24-hour window
without a template (63016). Every request is recorded in `requests`; `fail_with` scripts server
errors for the next Messages.json calls.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from twilio.request_validator import RequestValidator

OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
OPT_OUT_REPLY = (
    "You have successfully been unsubscribed. You will not receive any more messages from this number. "
    "Reply START to resubscribe."
)
_E164 = re.compile(r"\+[1-9]\d{6,14}")


@dataclass
class Recorded:
    method: str
    path: str
    form: dict[str, list[str]]
    auth: tuple[str, str] | None


@dataclass
class Webhook:
    """A request Twilio would make to us: where, the body and its headers."""

    url: str
    body: bytes
    content_type: str
    signature: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        parsed = urlparse(self.url)
        return parsed.path + (f"?{parsed.query}" if parsed.query else "")

    def post_over_http(self) -> Any:
        """Deliver to a running server (live_server), as Twilio would."""
        import requests

        headers = {"Content-Type": self.content_type, "X-Twilio-Signature": self.signature}
        return requests.post(self.url, data=self.body, headers=headers, timeout=10)

    def post_with(self, client: Any) -> Any:
        """Deliver through Django's test client (the URL's host becomes the Host header)."""
        parsed = urlparse(self.url)
        return client.generic(
            "POST",
            self.path,
            self.body,
            content_type=self.content_type,
            HTTP_HOST=parsed.netloc,
            HTTP_X_TWILIO_SIGNATURE=self.signature,
            secure=parsed.scheme == "https",
        )


@dataclass
class FakeTwilio:
    base_url: str = ""
    # Account SID → Auth Token.
    accounts: dict[str, str] = field(default_factory=dict)
    # (Account SID, number) → {"sid", "sms_url", "mms"}.
    numbers: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    opted_out: set[tuple[str, str]] = field(default_factory=set)
    # (our number, contact) → when the contact last wrote on WhatsApp.
    last_whatsapp_inbound: dict[tuple[str, str], datetime] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    fail_with: list[int] = field(default_factory=list)

    # Set-up ----------------------------------------------------------------------------------

    def add_account(self, number: str, *, mms: bool = True) -> tuple[str, str]:
        """A new Twilio account owning `number`: (Account SID, Auth Token)."""
        sid, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
        self.accounts[sid] = token
        self.numbers[(sid, number)] = {"sid": "PN" + secrets.token_hex(16), "sms_url": "", "mms": mms}
        return sid, token

    def sent(self) -> list[dict[str, list[str]]]:
        """The form of each Messages.json POST that was accepted or refused."""
        return [r.form for r in self.requests if r.method == "POST" and r.path.endswith("/Messages.json")]

    # Webhooks Twilio sends us -----------------------------------------------------------------

    def _sign(self, account_sid: str, url: str, params: dict[str, str]) -> str:
        return RequestValidator(self.accounts[account_sid]).compute_signature(url, params)

    def inbound(
        self,
        url: str,
        *,
        account_sid: str,
        from_: str,
        to: str,
        body: str,
        media: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
        message_sid: str = "",
    ) -> Webhook:
        """An incoming SMS (or WhatsApp message, with "whatsapp:" numbers) as Twilio posts it."""
        sid = message_sid or "SM" + secrets.token_hex(16)
        params = {
            "ToCountry": "US",
            "ToState": "CA",
            "SmsMessageSid": sid,
            "NumMedia": str(len(media)),
            "ToCity": "",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "NY",
            "SmsStatus": "received",
            "FromCity": "NEW YORK",
            "Body": body,
            "FromCountry": "US",
            "To": to,
            "ToZip": "",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": account_sid,
            "From": from_,
            "ApiVersion": "2010-04-01",
        }
        for index, (content_type, content) in enumerate(media):
            media_sid = "ME" + secrets.token_hex(16)
            self.media[media_sid] = (content_type, content)
            params[f"MediaContentType{index}"] = content_type
            params[f"MediaUrl{index}"] = (
                f"{self.base_url}/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media/{media_sid}"
            )
        our, contact = to.removeprefix("whatsapp:"), from_.removeprefix("whatsapp:")
        if from_.startswith("whatsapp:"):
            self.last_whatsapp_inbound[(our, contact)] = datetime.now(UTC)
        if body.strip().upper() in OPT_OUT_WORDS:
            self.opted_out.add((our, contact))
        elif body.strip().upper() == "START":
            self.opted_out.discard((our, contact))
        return Webhook(
            url,
            urlencode(params).encode(),
            "application/x-www-form-urlencoded",
            self._sign(account_sid, url, params),
            params,
        )

    def studio_inbound(
        self, url: str, *, account_sid: str, from_: str, to: str, body: str, num_media: int = 0
    ) -> Webhook:
        """The JSON body of a Studio flow's HTTP Request widget (the seed's exact keys, no media
        URLs). Twilio signs a JSON body through a bodySHA256 query parameter."""
        sid = "SM" + secrets.token_hex(16)
        payload = {
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "ToState": "CA",
            "From": from_,
            "MessageSid": sid,
            "AccountSid": account_sid,
            "ToCity": "",
            "FromCountry": "US",
            "ToZip": "",
            "FromCity": "NEW YORK",
            "To": to,
            "FromZip": "",
            "ToCountry": "US",
            "Body": body,
            "NumMedia": str(num_media),
            "FromState": "NY",
        }
        raw = json.dumps(payload).encode()
        separator = "&" if "?" in url else "?"
        signed_url = f"{url}{separator}bodySHA256={hashlib.sha256(raw).hexdigest()}"
        return Webhook(signed_url, raw, "application/json", self._sign(account_sid, signed_url, {}), payload)

    def status_callback(self, message_sid: str, status: str, *, error_code: str = "") -> Webhook:
        """The status callback of a message sent through the API, to the URL it was sent with."""
        message = self.messages[message_sid]
        params = {
            "AccountSid": message["account_sid"],
            "ApiVersion": "2010-04-01",
            "From": message["from"],
            "To": message["to"],
            "MessageSid": message_sid,
            "SmsSid": message_sid,
            "MessageStatus": status,
            "SmsStatus": status,
        }
        if error_code:
            params["ErrorCode"] = error_code
        url = message["status_callback"]
        return Webhook(
            url,
            urlencode(params).encode(),
            "application/x-www-form-urlencoded",
            self._sign(message["account_sid"], url, params),
            params,
        )

    # The REST API ----------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        form: dict[str, list[str]],
        auth: tuple[str, str] | None,
    ) -> tuple[int, str, bytes]:
        self.requests.append(Recorded(method, path, form, auth))
        match = re.fullmatch(r"/2010-04-01/Accounts/(AC\w+)/(.+)", path)
        if not match:
            return _error(404, 20404, "The requested resource was not found")
        sid, rest = match.groups()
        if sid not in self.accounts or auth is None or auth != (sid, self.accounts[sid]):
            return _error(401, 20003, "Authenticate")
        one = {key: values[0] for key, values in form.items()}
        if rest == "Messages.json" and method == "POST":
            return self._create_message(sid, one, form)
        if rest == "IncomingPhoneNumbers.json" and method == "GET":
            wanted = query.get("PhoneNumber", [""])[0]
            found = [
                _number_json(sid, number, info)
                for (owner, number), info in self.numbers.items()
                if owner == sid and (not wanted or number == wanted)
            ]
            return _json(200, {"incoming_phone_numbers": found, "page": 0, "page_size": 50})
        number_match = re.fullmatch(r"IncomingPhoneNumbers/(PN\w+)\.json", rest)
        if number_match and method == "POST":
            for (owner, number), info in self.numbers.items():
                if owner == sid and info["sid"] == number_match.group(1):
                    info["sms_url"] = one.get("SmsUrl", info["sms_url"])
                    return _json(200, _number_json(sid, number, info))
        media_match = re.fullmatch(r"Messages/\w+/Media/(ME\w+)", rest)
        if media_match and method == "GET" and media_match.group(1) in self.media:
            content_type, content = self.media[media_match.group(1)]
            return 200, content_type, content
        return _error(404, 20404, "The requested resource was not found")

    def _create_message(self, sid: str, one: dict[str, str], form: dict[str, list[str]]) -> tuple[int, str, bytes]:
        if self.fail_with:
            status = self.fail_with.pop(0)
            return _error(status, 20500, "Internal Server Error")
        to, from_ = one.get("To", ""), one.get("From", "")
        whatsapp = to.startswith("whatsapp:")
        contact, our = to.removeprefix("whatsapp:"), from_.removeprefix("whatsapp:")
        if not _E164.fullmatch(contact):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if (sid, our) not in self.numbers:
            return _error(
                400,
                21606,
                f"The From phone number {from_} is not a valid, SMS-capable inbound phone number or short code "
                "for your account.",
            )
        if not one.get("Body") and not one.get("ContentSid") and not form.get("MediaUrl"):
            return _error(400, 21602, "Message body is required.")
        if (our, contact) in self.opted_out:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        if whatsapp and not one.get("ContentSid"):
            last = self.last_whatsapp_inbound.get((our, contact))
            if last is None or datetime.now(UTC) - last > timedelta(hours=24):
                return _error(
                    400,
                    63016,
                    "Failed to send freeform message because you are outside the allowed window. "
                    "Please use a Template.",
                )
        if form.get("MediaUrl") and not self.numbers[(sid, our)]["mms"]:
            return _error(400, 21612, "The 'To' phone number is not currently reachable via SMS or MMS.")
        message_sid = "SM" + secrets.token_hex(16)
        now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        self.messages[message_sid] = {
            "account_sid": sid,
            "from": from_,
            "to": to,
            "body": one.get("Body", ""),
            "status_callback": one.get("StatusCallback", ""),
            "media_urls": form.get("MediaUrl", []),
        }
        return _json(
            201,
            {
                "account_sid": sid,
                "api_version": "2010-04-01",
                "body": one.get("Body", ""),
                "date_created": now,
                "date_sent": None,
                "date_updated": now,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": from_,
                "messaging_service_sid": None,
                "num_media": str(len(form.get("MediaUrl", []))),
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "sid": message_sid,
                "status": "queued",
                "subresource_uris": {"media": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}/Media.json"},
                "to": to,
                "uri": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}.json",
            },
        )


def _json(status: int, payload: dict[str, Any]) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(payload).encode()


def _error(status: int, code: int, message: str) -> tuple[int, str, bytes]:
    return _json(
        status,
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
    )


def _number_json(account_sid: str, number: str, info: dict[str, Any]) -> dict[str, Any]:
    return {
        "account_sid": account_sid,
        "sid": info["sid"],
        "phone_number": number,
        "friendly_name": number,
        "sms_url": info["sms_url"],
        "sms_method": "POST",
        "capabilities": {"sms": True, "mms": info["mms"], "voice": True},
        "uri": f"/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers/{info['sid']}.json",
    }


def _handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            parsed = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True) if length else {}
            auth = None
            header = self.headers.get("Authorization", "")
            if header.startswith("Basic "):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                auth = (user, password)
            status, content_type, body = fake.handle(method, parsed.path, parse_qs(parsed.query), form, auth)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    return Handler


@contextmanager
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
