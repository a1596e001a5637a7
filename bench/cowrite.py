"""`make bench`: two people co-write one draft through the real web process.

Starts the web process as `make run` does (uvicorn, DEBUG off) against a database of its own
(missive_bench_cowrite) and a Redis database of its own. Two headless clients, each a pycrdt
document speaking the editor's protocol (conversations/cowrite_views.py: updates POSTed to
drafts/<id>/sync/, the others' updates read from the drafts/<id>/stream/ server-sent events),
type into the same draft at the same time: A types BENCH_COWRITE_KEYS keystrokes (default 300)
into the first paragraph, about one every 30 ms, while B types into the second. For each of A's
keystrokes the time from the start of its POST to B receiving it is measured. Printed: p50, p95
(target < 300 ms, issue 6) and max, and whether both texts survived in the stored body. The exit
code stays 0: the figures are the point.
"""

# ruff: noqa: E402 - Django is set up before the project's modules are imported.
from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import string
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE = "missive_bench_cowrite"
REDIS_DATABASE = 13  # bench/live.py uses 14, bench/run.py the ones before

if __name__ == "__main__":
    sys.path.insert(0, str(BASE_DIR))
    from bench.startup import set_up_django

    set_up_django(DATABASE, REDIS_DATABASE)

import aiohttp
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from pycrdt import Doc, XmlElement, XmlFragment, XmlText

from bench.live import web_process
from conversations.actions import do_share_conversation
from conversations.delivery import do_receive_message
from conversations.incoming import IncomingMessage
from conversations.models import Draft
from inboxes.models import Account, AccountKind, Membership, Organization, Role, User

KEYS = int(os.environ.get("BENCH_COWRITE_KEYS", "300"))
KEY_INTERVAL = 0.03
TARGET_P95_SECONDS = 0.3
LOST_AFTER_SECONDS = 5.0
EMAIL_DOMAIN = "cowrite-bench.test"


def prepare() -> tuple[Draft, list[str]]:
    """A draft of a conversation two people share, and a session cookie each."""
    Organization.objects.filter(name="Co-writing bench").delete()
    User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").delete()
    organization = Organization.objects.create(name="Co-writing bench")
    people = [User.objects.create(email=f"{name}@{EMAIL_DOMAIN}", name=name.title()) for name in ("ada", "ben")]
    for user in people:
        Membership.objects.create(organization=organization, user=user, role=Role.OWNER)
    account = Account.objects.create(
        organization=organization, owner=people[0], kind=AccountKind.IMAP, address=f"inbox@{EMAIL_DOMAIN}"
    )
    incoming = IncomingMessage(
        from_address="customer@outside.test",
        subject="Two people answer this one",
        body_text="Hello",
        to=[{"name": "", "address": account.address}],
    )
    conversation = do_receive_message(account, incoming).conversation
    do_share_conversation(conversation, acting_user=people[0], users=people[1:], show_in_inbox=True)
    draft = Draft.objects.create(organization=organization, conversation=conversation, creator=people[0])
    cookies = []
    for user in people:
        client = Client()
        client.force_login(user)
        cookies.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    return draft, cookies


class Writer:
    """One co-writer: a pycrdt document, a session and the protocol's requests."""

    def __init__(self, http: aiohttp.ClientSession, base: str, cookie: str, name: str) -> None:
        self.http, self.base, self.name = http, base, name
        token = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
        self.cookies = {settings.SESSION_COOKIE_NAME: cookie, settings.CSRF_COOKIE_NAME: token}
        self.headers = {"X-CSRFToken": token, "Content-Type": "application/json"}
        self.doc: Doc = Doc()

    async def load(self) -> None:
        async with self.http.get(f"{self.base}sync/", cookies=self.cookies) as response:
            state = base64.b64decode((await response.json())["update"])
        if state:
            self.doc.apply_update(state)

    async def send(self, update: bytes) -> int:
        body = json.dumps({"update": base64.b64encode(update).decode(), "client": self.name})
        async with self.http.post(f"{self.base}sync/", data=body, cookies=self.cookies, headers=self.headers) as r:
            if r.status != 200:
                raise RuntimeError(f"{self.name}: HTTP {r.status} {await r.text()}")
            version: int = (await r.json())["version"]
            return version

    def type(self, paragraph: int, text: str) -> bytes:
        before = self.doc.get_state()
        fragment = self.doc.get("default", type=XmlFragment)
        while len(fragment.children) <= paragraph:
            fragment.children.append(XmlElement("paragraph", {}, [XmlText()]))
        node = fragment.children[paragraph].children[0]
        node.insert(len(str(node)), text)
        return self.doc.get_update(before)


async def read_stream(writer: Writer, arrivals: dict[int, float], ready: asyncio.Event) -> None:
    """Writer's stream: apply the other's updates, note when each of them arrived (by version)."""
    async with writer.http.get(f"{writer.base}stream/", cookies=writer.cookies) as response:
        data: list[str] = []
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("data:"):
                data.append(line[5:].strip())
            elif not line and data:
                notice = json.loads("\n".join(data))
                data = []
                if notice["kind"] == "ready":
                    ready.set()
                elif notice["kind"] == "update" and notice["client"] != writer.name:
                    arrivals[notice["version"]] = time.monotonic()
                    writer.doc.apply_update(base64.b64decode(notice["update"]))


async def co_write(url: str, draft: Draft, cookies: list[str]) -> tuple[list[float], int]:
    base = f"{url}/drafts/{draft.id}/"
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        ada, ben = Writer(http, base, cookies[0], "ada"), Writer(http, base, cookies[1], "ben")
        arrivals: dict[int, float] = {}
        ready = asyncio.Event()
        reader = asyncio.create_task(read_stream(ben, arrivals, ready))
        await asyncio.wait_for(ready.wait(), 10)
        await ada.send(ada.type(0, "Ada: "))
        await ben.load()
        await ben.send(ben.type(1, "Ben: "))
        await ada.load()
        stop = asyncio.Event()

        async def ben_types() -> None:  # the co-writer types meanwhile, in their own paragraph
            while not stop.is_set():
                await ben.send(ben.type(1, "b"))
                await asyncio.sleep(KEY_INTERVAL * 2)

        typing = asyncio.create_task(ben_types())
        sent: dict[int, float] = {}
        for n in range(KEYS):
            update = ada.type(0, "abcdefghijklmnopqrstuvwxyz "[n % 27])
            start = time.monotonic()
            sent[await ada.send(update)] = start
            await asyncio.sleep(KEY_INTERVAL)
        stop.set()
        await typing
        deadline = time.monotonic() + LOST_AFTER_SECONDS
        while not set(sent) <= set(arrivals) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        reader.cancel()
        latencies = [arrivals[version] - start for version, start in sent.items() if version in arrivals]
        return latencies, len(sent) - len(latencies)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("inf")


def main() -> int:
    call_command("migrate", interactive=False, verbosity=0)
    draft, cookies = prepare()
    web_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "missive.settings"}
    with web_process(web_env) as (_, url):
        latencies, lost = asyncio.run(co_write(url, draft, cookies))
    draft.refresh_from_db()
    both = draft.body_html.startswith("<p>Ada: abc") and "<p>Ben: bbb" in draft.body_html
    p95 = percentile(latencies, 95)
    verdict = "PASS" if lost == 0 and p95 < TARGET_P95_SECONDS else "FAIL"
    print()
    print(f"Co-writing: {KEYS} keystrokes by one writer while the other types, {lost} lost")
    print(f"  {'Keystroke to co-writer p50':<38} {percentile(latencies, 50) * 1000:8.1f} ms")
    print(f"  {'Keystroke to co-writer p95 (< 300 ms)':<38} {p95 * 1000:8.1f} ms  {verdict}")
    print(f"  {'Keystroke to co-writer max':<38} {percentile(latencies, 100) * 1000:8.1f} ms")
    print(f"  {'Both texts in the stored body':<38} {'yes' if both else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
