"""The AI provider of rules: any OpenAI-compatible chat-completions endpoint.

`answer(rule, message, prompt)` asks the rule's model the rule's prompt about one message and
returns the trimmed answer, or None when the provider fails (the AI condition then does not
match, and AI actions record a failure). The endpoint's base URL and key are settings
(AI_BASE_URL, AI_API_KEY).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings

from conversations.models import Message
from rules.models import Rule

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30
# The message text the model reads is cut here: enough for any email worth classifying.
MAX_MESSAGE_CHARS = 12_000
DEFAULT_MODEL = "gpt-4o-mini"
SYSTEM_PROMPT = (
    "You assist a team that answers customer email. You read one email and follow the "
    "instruction about it. Answer with only what the instruction asks for."
)


def message_text(message: Message) -> str:
    text = message.body_text.strip()
    return (
        f"From: {message.from_name} <{message.from_address}>\n"
        f"Subject: {message.subject}\n"
        f"Date: {message.sent_at.isoformat()}\n\n"
        f"{text[:MAX_MESSAGE_CHARS]}"
    )


def request_body(rule: Rule, message: Message, prompt: str) -> dict[str, Any]:
    return {
        "model": rule.ai_model or DEFAULT_MODEL,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"{prompt.strip()}\n\n---\n{message_text(message)}"},
        ],
        "temperature": 0,
    }


def answer(rule: Rule, message: Message, prompt: str) -> str | None:
    """The model's trimmed answer to the prompt about the message; None on any provider error."""
    base = settings.AI_BASE_URL
    if not base:
        logger.warning("Rule %s asks the AI but AI_BASE_URL is not set.", rule.id)
        return None
    headers = {"Content-Type": "application/json"}
    if settings.AI_API_KEY:
        headers["Authorization"] = f"Bearer {settings.AI_API_KEY}"
    request = urllib.request.Request(  # noqa: S310 - AI_BASE_URL is validated as http(s) in settings
        f"{base.rstrip('/')}/chat/completions",
        data=json.dumps(request_body(rule, message, prompt)).encode(),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            data = json.loads(response.read())
        content = data["choices"][0]["message"]["content"]
    except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError, TypeError) as error:
        logger.warning("AI provider failed for rule %s: %s", rule.id, error)
        return None
    if not isinstance(content, str):
        logger.warning("AI provider gave no text for rule %s.", rule.id)
        return None
    return content.strip()
