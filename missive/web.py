"""The web process: uvicorn serving missive.asgi, with the same command-line options.

    python -m missive.web missive.asgi:application --host 0.0.0.0 --port 8000

Why not `uvicorn` itself: with more than one worker (WEB_CONCURRENCY or --workers), uvicorn binds
the listening socket itself and leaves its protocol number at 0. Connections accepted on it inherit
that, and asyncio only turns Nagle's algorithm off (TCP_NODELAY) on sockets that say IPPROTO_TCP.
So every answer on a kept-alive connection after the first waited ~40 ms for the client's delayed
ACK (uvicorn issue #3149, still open). Here the bound socket is re-wrapped with IPPROTO_TCP, the
same file descriptor and address, before the workers inherit it.
"""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.config import Config

_TCP_FAMILIES = (socket.AF_INET, socket.AF_INET6)
_uvicorn_bind_socket = Config.bind_socket


def bind_socket(config: Config) -> socket.socket:
    """uvicorn's listening socket, saying IPPROTO_TCP when it is a TCP one."""
    sock = _uvicorn_bind_socket(config)
    if sock.family not in _TCP_FAMILIES or sock.proto == socket.IPPROTO_TCP:
        return sock  # a Unix socket, or already right
    inheritable = sock.get_inheritable()
    tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    tcp.set_inheritable(inheritable)
    return tcp


Config.bind_socket = bind_socket  # type: ignore[method-assign, assignment]


if __name__ == "__main__":
    uvicorn.main()
