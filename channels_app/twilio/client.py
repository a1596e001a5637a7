"""The few calls we make to Twilio's REST API (2010-04-01), over plain HTTP with Basic auth.

The base URL is settings.TWILIO_API_BASE_URL so tests and the demo talk to a local fake. Twilio
answers errors as {"code", "message", "more_info", "status"}: TwilioError carries the code and
Twilio's own words, which is what people see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings

TIMEOUT = 15


class TwilioError(Exception):
    """Twilio answered with an error (status ≥ 400), or could not be reached (status 0)."""

    def __init__(self, message: str, *, status: int = 0, code: int | None = None, uncertain: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        # The request went out but no answer came: Twilio may have acted on it.
        self.uncertain = uncertain

    @property
    def reachable(self) -> bool:
        return self.status != 0

    def __str__(self) -> str:
        return f"{self.message} (Twilio error {self.code})" if self.code else self.message


@dataclass(frozen=True)
class PhoneNumber:
    sid: str
    phone_number: str
    sms_url: str


class TwilioClient:
    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth = (account_sid, auth_token)
        self.base = f"{settings.TWILIO_API_BASE_URL}/2010-04-01/Accounts/{account_sid}"

    def _request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            kwargs.setdefault("auth", self.auth)
            response = requests.request(method, url, timeout=TIMEOUT, **kwargs)
        except requests.ReadTimeout as error:
            raise TwilioError(f"Twilio did not answer in time: {error}", uncertain=True) from error
        except requests.RequestException as error:
            raise TwilioError(f"Twilio could not be reached: {error}", status=0) from error
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            message = body.get("message") or f"Twilio answered HTTP {response.status_code}."
            raise TwilioError(message, status=response.status_code, code=body.get("code"))
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._request(method, f"{self.base}/{path}", **kwargs)
        try:
            return response.json()
        except ValueError as error:
            raise TwilioError("Twilio's answer was not JSON.", status=response.status_code) from error

    def find_number(self, number: str) -> PhoneNumber | None:
        """The account's incoming number `number` (E.164), or None if the account has no such number."""
        body = self._json("GET", "IncomingPhoneNumbers.json", params={"PhoneNumber": number})
        for item in body.get("incoming_phone_numbers", []):
            if item.get("phone_number") == number:
                return PhoneNumber(item["sid"], item["phone_number"], item.get("sms_url") or "")
        return None

    def set_sms_url(self, number_sid: str, url: str) -> None:
        self._json("POST", f"IncomingPhoneNumbers/{number_sid}.json", data={"SmsUrl": url, "SmsMethod": "POST"})

    def create_message(self, form: dict[str, Any]) -> dict[str, Any]:
        """POST Messages.json; `form` values may be lists (MediaUrl repeats)."""
        return self._json("POST", "Messages.json", data=form)

    def download(self, url: str) -> tuple[str, bytes]:
        """A media file of an inbound message: (content type, bytes). Media URLs need the account's
        credentials unless the account turned that off; sending them either way is harmless."""
        if url.startswith(settings.TWILIO_API_BASE_URL + "/"):
            response = self._request("GET", url)
        else:  # our credentials go to Twilio only
            response = self._request("GET", url, auth=None)
        return response.headers.get("Content-Type", "application/octet-stream"), response.content
