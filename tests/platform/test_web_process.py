"""The web process (missive/web.py): every connection it accepts has Nagle's algorithm off, also
with several workers, where uvicorn binds the listening socket itself; and with several workers,
each listens on a socket of its own, so connections are spread over them."""

import asyncio
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from uvicorn.config import Config

from missive import web


def _accepted_nodelay(listener: socket.socket) -> int:
    """TCP_NODELAY on the server side of a connection asyncio accepts on `listener`."""
    seen: asyncio.Future[int]

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def connect() -> int:
        nonlocal seen
        seen = asyncio.get_running_loop().create_future()
        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        host, port = listener.getsockname()[:2]
        _, writer = await asyncio.open_connection(host, port)
        try:
            return await asyncio.wait_for(seen, 5)
        finally:
            writer.close()
            server.close()

    # On a thread of its own: the suite's browser tests may leave an event loop running here.
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, connect()).result(timeout=10)


def test_the_workers_socket_says_tcp_so_accepted_connections_get_nodelay():
    config = Config(app="missive.asgi:application", host="127.0.0.1", port=0, workers=2)
    assert Config.bind_socket is web.bind_socket  # what uvicorn's supervisor calls
    listener = config.bind_socket()
    assert listener.proto == socket.IPPROTO_TCP
    assert listener.getsockname()[0] == "127.0.0.1"
    assert listener.get_inheritable()  # the workers still inherit it
    assert _accepted_nodelay(listener) == 1


def test_a_unix_socket_is_left_as_it_is(tmp_path):
    config = Config(app="missive.asgi:application", uds=str(tmp_path / "web.sock"))
    listener = config.bind_socket()
    try:
        assert listener.family == socket.AF_UNIX
    finally:
        listener.close()


def test_the_supervisors_socket_lets_each_worker_bind_its_own():
    config = Config(app="missive.asgi:application", host="127.0.0.1", port=0, workers=2)
    listener = config.bind_socket()
    try:
        assert listener.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        own = web.own_listener(listener)
        try:
            assert own is not listener and listener.fileno() == -1  # the inherited copy is closed
            assert own.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            assert own.proto == socket.IPPROTO_TCP
        finally:
            own.close()
    finally:
        listener.close()


def test_a_socket_not_made_for_workers_is_kept():
    plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        plain.bind(("127.0.0.1", 0))
        assert web.own_listener(plain) is plain
    finally:
        plain.close()


async def pid_app(scope, receive, send):
    """A bare ASGI app answering with the worker's process id (for the test below)."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = str(os.getpid()).encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_burst_of_connections_is_spread_over_the_workers():
    """Thirty-two connections opened at once, as a pool of API clients does: on uvicorn's shared
    socket the first worker to wake accepts them all; here both workers answer some."""
    port = _free_port()
    command = [sys.executable, "-m", "missive.web", "tests.platform.test_web_process:pid_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "2", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=settings.BASE_DIR)
    try:
        _wait_until_both_workers_listen(process.pid, port)

        async def burst() -> set[str]:
            connections = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port) for _ in range(32)))
            for _, writer in connections:
                writer.write(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            answers = await asyncio.gather(*(reader.read() for reader, _ in connections))
            for _, writer in connections:
                writer.close()
            return {answer.rpartition(b"\r\n\r\n")[2].decode() for answer in answers}

        with ThreadPoolExecutor(max_workers=1) as thread:
            pids = thread.submit(asyncio.run, burst()).result(timeout=30)
        assert len(pids) == 2, pids
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_both_workers_listen(supervisor: int, port: int) -> None:
    """Until two sockets listen on the port (each worker's own), as /proc/net/tcp lists them."""
    local = f"0100007F:{port:04X}"  # 127.0.0.1, as the kernel writes it
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with open("/proc/net/tcp") as table:
            rows = [line.split() for line in table.readlines()[1:]]
        if sum(1 for row in rows if row[1] == local and row[3] == "0A") >= 2:  # 0A: LISTEN
            return
        time.sleep(0.2)
    raise AssertionError(f"The workers of {supervisor} never listened on {port}")
