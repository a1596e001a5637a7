"""A fake OpenAI-compatible chat-completions server on loopback: answers POST
/v1/chat/completions with scripted answers, checks the wire format and keeps each request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeLLM:
    base_url: str
    api_key: str
    # Answers to give, in order: a string is the assistant's content, an int an HTTP error status.
    answers: list[str | int] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)


def _handler(llm: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            problem = ""
            if self.path != "/v1/chat/completions":
                problem = f"unknown path {self.path}"
            elif self.headers.get("Authorization") != f"Bearer {llm.api_key}":
                problem = "bad key"
            elif not self.headers.get("Content-Type", "").startswith("application/json"):
                problem = "not JSON"
            body = json.loads(raw) if not problem else {}
            if not problem and (
                not isinstance(body.get("model"), str)
                or not body.get("messages")
                or any(set(m) != {"role", "content"} for m in body["messages"])
            ):
                problem = "malformed body"
            if problem:
                self._answer(400, {"error": {"message": problem}})
                return
            llm.requests.append(body)
            answer = llm.answers.pop(0) if llm.answers else "OK"
            if isinstance(answer, int):
                self._answer(answer, {"error": {"message": "scripted failure"}})
                return
            self._answer(
                200,
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "model": body["model"],
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
                    ],
                },
            )

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    return Handler


@contextmanager
def fake_llm(api_key: str = "test-key") -> Iterator[FakeLLM]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(FakeLLM("", api_key)))
    llm = FakeLLM(f"http://127.0.0.1:{server.server_address[1]}/v1", api_key)
    server.RequestHandlerClass = _handler(llm)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield llm
    finally:
        server.shutdown()
        server.server_close()
