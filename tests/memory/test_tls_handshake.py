"""The TLS handshake over memory streams, on the virtual clock: a silent peer is dropped
at exactly ``Config.tls_handshake_timeout`` while another client is served at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio
import trio.testing

import trio_sse
from trio_sse.testing import TestClient

from ..helpers import ticker_app

if TYPE_CHECKING:
    import ssl


async def test_silent_peer_is_dropped_at_the_handshake_timeout(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
) -> None:
    config = trio_sse.Config(tls_handshake_timeout=5)
    server = trio_sse.Server(ticker_app(), config=config, ssl_context=server_context)
    silent, server_end = trio.testing.memory_stream_pair()
    ended = trio.Event()

    async def serve_silent() -> None:
        await server.serve_stream(server_end)
        ended.set()

    start = trio.current_time()
    nursery.start_soon(serve_silent)
    # Meanwhile another client is served at once.
    good, good_end = trio.testing.memory_stream_pair()
    nursery.start_soon(server.serve_stream, good_end)
    tls = trio.SSLStream(good, client_context, server_hostname="localhost")
    client = TestClient(tls)
    assert (await client.request("GET", "/")).body == b"ok"
    assert trio.current_time() - start < 5
    await ended.wait()
    assert trio.current_time() - start == pytest.approx(5)
    assert await silent.receive_some(1) == b""  # closed without a byte
    assert server.statistics().tls_handshake_failures == 1
    await client.aclose()
