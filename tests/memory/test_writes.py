"""Over memory streams the server writes with ``send_all``: the raw socket path
(``tests/loopback/test_writes.py``) is for ``trio.SocketStream`` only."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
import trio.testing

import trio_sse

if TYPE_CHECKING:
    from ..helpers import WriteSpy


async def text_app(request: trio_sse.Request) -> trio_sse.Response:
    return trio_sse.Response("alpha")


async def test_memory_streams_still_use_send_all(spy: WriteSpy, nursery: trio.Nursery) -> None:
    server = trio_sse.Server(text_app)
    client_end, server_end = trio.testing.memory_stream_pair()
    nursery.start_soon(server.serve_stream, server_end)
    await client_end.send_all(b"GET /text HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    data = b""
    while not data.endswith(b"alpha"):
        data += bytes(await client_end.receive_some(65536))
    await client_end.aclose()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert spy.writes == spy.would_block == spy.waits == 0
