"""A custom channel's webhook receiver on loopback: records each POST with its raw body, checks
the signature as an integration would (HMAC-SHA256 of the raw body with the channel's secret,
compared in constant time), and answers with scripted (status, body) pairs, 200 once they run out;
`stall` seconds of silence before each answer make the sender's wait run out."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Hook:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ChannelWebhook:
    secret: str
    url: str = ""
    hooks: list[Hook] = field(default_factory=list)
    answers: list[tuple[int, str]] = field(default_factory=list)
    stall: float = 0.0

    def verify(self, headers: dict[str, str], body: bytes) -> bool:
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        given = headers.get("x-hook-signature", "")
        return hmac.compare_digest(expected, given) and headers.get("x-missive-signature") == given


@contextmanager
def channel_webhook(secret: str) -> Iterator[ChannelWebhook]:
    receiver = ChannelWebhook(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            receiver.hooks.append(Hook(headers, body, receiver.verify(headers, body)))
            time.sleep(receiver.stall)
            status, text = receiver.answers.pop(0) if receiver.answers else (200, "ok")
            payload = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/missive"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
