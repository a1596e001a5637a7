"""The web process: uvicorn serving missive.asgi, with the same command-line options.

    python -m missive.web missive.asgi:application --host 0.0.0.0 --port 8000

Why not `uvicorn` itself: with more than one worker (WEB_CONCURRENCY or --workers), uvicorn binds
the listening socket itself and leaves its protocol number at 0. Connections accepted on it inherit
that, and asyncio only turns Nagle's algorithm off (TCP_NODELAY) on sockets that say IPPROTO_TCP.
So every answer on a kept-alive connection after the first waited ~40 ms for the client's delayed
ACK (uvicorn issue #3149, still open). Here the bound socket is re-wrapped with IPPROTO_TCP, the
same file descriptor and address, before the workers inherit it.

And each worker listens on a socket of its own (SO_REUSEPORT), so the kernel spreads new
connections across the workers. On the one socket uvicorn shares, the worker that wakes first
accepts every connection waiting: a burst of kept-alive API clients could all land on one worker
(one core busy, the other idle, and the p95 latency of the whole burst doubled).
"""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.config import Config
from uvicorn.server import Server

_TCP_FAMILIES = (socket.AF_INET, socket.AF_INET6)
_uvicorn_bind_socket = Config.bind_socket
_uvicorn_startup = Server.startup


def bind_socket(config: Config) -> socket.socket:
    """uvicorn's listening socket, saying IPPROTO_TCP when it is a TCP one, and open to a socket
    of each worker on the same address (SO_REUSEPORT). The supervisor only binds it: it never
    listens, so the kernel gives connections to the workers' sockets alone."""
    sock = _uvicorn_bind_socket(config)
    if sock.family not in _TCP_FAMILIES:
        return sock  # a Unix socket
    if sock.proto != socket.IPPROTO_TCP:
        inheritable = sock.get_inheritable()
        sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        sock.set_inheritable(inheritable)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def own_listener(inherited: socket.socket) -> socket.socket:
    """A worker's own socket on the address of the supervisor's (closed here; the supervisor keeps
    its copy). Sockets that are not the supervisor's TCP one are kept as they are."""
    if inherited.family not in _TCP_FAMILIES or not inherited.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT):
        return inherited
    own = socket.socket(inherited.family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    own.bind(inherited.getsockname())
    inherited.close()
    return own


async def startup(self: Server, sockets: list[socket.socket] | None = None) -> None:
    """uvicorn's worker startup, on sockets of this worker's own (sockets are passed to workers
    only when there are several)."""
    await _uvicorn_startup(self, sockets=None if sockets is None else [own_listener(sock) for sock in sockets])


Config.bind_socket = bind_socket  # type: ignore[method-assign, assignment]
Server.startup = startup  # type: ignore[method-assign]


if __name__ == "__main__":
    uvicorn.main()
