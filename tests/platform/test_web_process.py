"""The web process (missive/web.py): every connection it accepts has Nagle's algorithm off, also
with several workers, where uvicorn binds the listening socket itself."""

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor

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
