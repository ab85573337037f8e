"""Run the real app under uvicorn on a free loopback port, in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI


@contextmanager
def serve(app: FastAPI, *, port: int = 0) -> Iterator[str]:
    """Yield the base URL of ``app`` served by a real uvicorn server (``port`` 0: any free one)."""
    sock = loopback_socket(port)
    # No proxy headers: the app reads X-Forwarded-For itself, from trusted_proxies only.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", proxy_headers=False,
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def loopback_socket(port: int = 0) -> socket.socket:
    """A socket bound to 127.0.0.1:``port`` for a server to listen on, naming its protocol:
    asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets whose protocol is TCP,
    and a response that uvicorn writes in two parts (headers, then body) otherwise waits for
    the client's delayed acknowledgement, about 40 ms, on every request of a kept-alive
    connection after the first."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def free_port() -> int:
    """A port that was free a moment ago (for apps that must know their origin up front)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
