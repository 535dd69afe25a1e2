"""Shared fixtures: a server over memory streams, driven by a real h11 client."""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable

import pytest
import trio

import trio_sse
from trio_sse._demo import build_demo_app
from trio_sse.testing import TestClient, open_memory_client

Connect = Callable[..., Awaitable[TestClient]]

# Browser tests need Playwright, which only the e2e (and typecheck) environments install.
collect_ignore_glob = [] if importlib.util.find_spec("playwright") else ["e2e/*"]


@pytest.fixture
def demo_app() -> trio_sse.Router:
    return build_demo_app(interval=2.0)


async def start_client(
    nursery: trio.Nursery, app: trio_sse.App, config: trio_sse.Config | None = None
) -> tuple[trio_sse.Server, TestClient]:
    server = trio_sse.Server(app, config=config)
    client = await open_memory_client(server, nursery)
    return server, client


def raw_pair(nursery: trio.Nursery, server: trio_sse.Server) -> trio.abc.HalfCloseableStream:
    """A raw client stream to *server* (for sending bytes h11 would refuse to send)."""
    client, server_end = trio.testing.memory_stream_pair()
    nursery.start_soon(server.serve_stream, server_end)
    return client


async def read_until_eof(stream: trio.abc.ReceiveStream) -> bytes:
    chunks: list[bytes] = []
    while True:
        data = await stream.receive_some(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(bytes(data))
