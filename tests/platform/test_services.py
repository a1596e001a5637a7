"""The embedded stores that `make run` and `make test` start when no URLs are given."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]

# Runs inside `services exec`: proves both servers answer and reports how to find them afterwards.
PROBE = """
import json, os, pathlib, psycopg, redis
with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
    answer = conn.execute("SELECT 40 + 2").fetchone()[0]
pid_file = pathlib.Path(os.environ["MISSIVE_VAR_DIR"]) / "postgres" / "postmaster.pid"
print(json.dumps({
    "answer": answer,
    "pong": redis.Redis.from_url(os.environ["REDIS_URL"]).ping(),
    "redis_url": os.environ["REDIS_URL"],
    "postmaster_pid": int(pid_file.read_text().split()[0]),
}))
"""


def _is_running(pid: int) -> bool:
    """True for a live process; a zombie waiting to be reaped has already stopped."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.fixture
def var_dir():
    """A var/ of this test's own, outside pytest's temporary root: running as root, pgserver opens
    the path to its own `pgserver` user, and any other pytest session starting on the machine sets
    that root back to 0700 (pytest's own safety), which would cut PostgreSQL off mid-start."""
    path = Path(tempfile.mkdtemp(prefix="missive-services-"))
    yield path / "var"
    shutil.rmtree(path, ignore_errors=True)


def test_exec_starts_postgres_and_redis_and_stops_both_afterwards(var_dir: Path) -> None:
    # No URLs: the embedded servers must start, in a var/ of this test's own.
    ignored = {"DATABASE_URL", "REDIS_URL", "EMBEDDED_REDIS_PORT"}
    env = {key: value for key, value in os.environ.items() if key not in ignored}
    env["MISSIVE_VAR_DIR"] = str(var_dir)
    command = [sys.executable, "-m", "missive.services", "exec", "--", sys.executable, "-c", PROBE]
    # Its own session, so a hang can be killed with everything it started.
    process = subprocess.Popen(  # noqa: S603
        command, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("services exec took more than 15 s")

    assert process.returncode == 0
    probe = json.loads(stdout.strip().splitlines()[-1])
    assert probe["answer"] == 42
    assert probe["pong"] is True
    assert not _is_running(probe["postmaster_pid"])
    assert _refuses_connections(urlparse(probe["redis_url"]).port)
