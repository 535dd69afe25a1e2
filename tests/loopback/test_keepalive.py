"""TCP keep-alive and ``TCP_USER_TIMEOUT`` on accepted sockets (real loopback sockets).

The server sets them on every accepted connection so that the kernel notices a peer that
vanished (no FIN, no RST) even when the server has nothing to write.
"""

from __future__ import annotations

import socket

import trio

import trio_sse
from trio_sse.testing import TestClient

from ..helpers import running_server, ticker_app


class RecordingListener(trio.abc.Listener[trio.abc.Stream]):
    """A TCP listener that keeps the server side of every stream it accepts."""

    def __init__(self, inner: trio.SocketListener) -> None:
        self.inner = inner
        self.accepted: list[trio.SocketStream] = []

    @property
    def port(self) -> int:
        return int(self.inner.socket.getsockname()[1])

    async def accept(self) -> trio.abc.Stream:
        stream = await self.inner.accept()
        self.accepted.append(stream)
        return stream

    async def aclose(self) -> None:
        await self.inner.aclose()


async def accepted_socket(config: trio_sse.Config) -> tuple[int, ...]:
    """Serve one request over TCP with *config*; return the server side's socket options
    (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT)."""
    (inner,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
    listener = RecordingListener(inner)
    async with running_server(ticker_app(), config, listener=listener):
        client = TestClient(await trio.open_tcp_stream("127.0.0.1", listener.port))
        assert (await client.request("GET", "/")).status == 200
        (stream,) = listener.accepted
        sock = stream.socket
        options = (
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
        )
        await client.aclose()
    return options


async def test_accepted_sockets_get_keepalive_options() -> None:
    config = trio_sse.Config(
        tcp_keepalive_idle=42,
        tcp_keepalive_interval=7,
        tcp_keepalive_count=4,
        tcp_user_timeout=12.5,
    )
    assert await accepted_socket(config) == (1, 42, 7, 4, 12500)


async def test_keepalive_off_when_disabled() -> None:
    options = await accepted_socket(trio_sse.Config(tcp_keepalive_idle=None))
    assert options[0] == 0
