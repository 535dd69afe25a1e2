"""``trio_sse.serve`` on a real loopback socket, port 0."""

from __future__ import annotations

import trio

import trio_sse
from trio_sse.testing import TestClient

from ..helpers import ticker_app


async def test_serve_on_real_socket_port_zero() -> None:
    async with trio.open_nursery() as nursery:
        server: trio_sse.Server = await nursery.start(trio_sse.serve, ticker_app(), "127.0.0.1", 0)
        assert server.port > 0
        assert server.ports == [server.port]
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        client = TestClient(stream)
        for _ in range(2):
            response = await client.request("GET", "/")
            assert response.body == b"ok"
        assert server.statistics().requests_total == 2
        await client.aclose()
        nursery.cancel_scope.cancel()
