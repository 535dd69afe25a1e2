"""Test helpers for applications built on trio-sse (and for trio-sse's own tests).

Everything here runs in memory, so tests need no sockets and work with Trio's
``autojump_clock``: a 2-second ticker, a 15-second heartbeat or a 5-second grace period
finish instantly and exactly::

    async def test_ticker(autojump_clock, nursery):
        server = trio_sse.Server(my_app)
        client = await open_memory_client(server, nursery)
        await client.send_request("GET", "/", headers=[("Accept", "text/event-stream")])
        head = await client.receive_head()
        assert head.status == 200
        events = await client.receive_events(2)
        assert trio.current_time() == 4.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, final

import h11
import trio
import trio.testing

from ._headers import Headers
from ._parser import EventStreamParser, MessageEvent

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._server import Server

__all__ = ["ClientResponse", "MemoryListener", "TestClient", "open_memory_client"]


@final
class MemoryListener(trio.abc.Listener[trio.abc.Stream]):
    """A listener whose connections are in-memory stream pairs.

    Serve it with :meth:`trio_sse.Server.serve_listeners`; :meth:`connect` opens a
    connection and returns the client end.
    """

    def __init__(self) -> None:
        self._send, self._receive = trio.open_memory_channel[trio.abc.Stream](0)
        self.accepted: list[trio.abc.Stream] = []

    async def connect(self) -> trio.abc.Stream:
        """Open a connection; return the client's end once the server has accepted it."""
        client, server = trio.testing.memory_stream_pair()
        await self._send.send(server)
        return client

    async def accept(self) -> trio.abc.Stream:
        stream = await self._receive.receive()
        self.accepted.append(stream)
        return stream

    async def aclose(self) -> None:
        await self._receive.aclose()
        await trio.lowlevel.checkpoint()


@final
@dataclass(frozen=True, slots=True)
class ClientResponse:
    """A response as the :class:`TestClient` received it."""

    status: int
    headers: Headers
    body: bytes = b""
    http_version: str = "1.1"

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8")


@final
class TestClient:
    """A small HTTP/1.1 client driven by h11, over any ``trio.abc.Stream``.

    It speaks real HTTP (framing, chunked decoding, keep-alive), so what it receives is
    what a browser would; for event streams it uses trio-sse's WHATWG parser.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.CLIENT)
        self.parser = EventStreamParser()

    async def send_request(
        self,
        method: str,
        target: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        host: str = "test",
    ) -> None:
        """Send one request (with a ``Content-Length`` body when *body* is given).

        Starts the next keep-alive cycle first when the previous exchange is complete.
        """
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        fields = [("Host", host), *headers]
        framed = any(n.lower() in ("content-length", "transfer-encoding") for n, _ in fields)
        if body and not framed:
            fields.append(("Content-Length", str(len(body))))
        data = self.conn.send(h11.Request(method=method, target=target, headers=fields)) or b""
        if body:
            data += self.conn.send(h11.Data(data=body)) or b""
        data += self.conn.send(h11.EndOfMessage()) or b""
        await self.stream.send_all(data)

    async def _next_event(self) -> h11.Event:
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(bytes(await self.stream.receive_some(65536)))
                continue
            assert not isinstance(event, type), event
            return event

    async def receive_head(self) -> ClientResponse:
        """Receive the next final response head (informational responses are skipped)."""
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Response):
                return ClientResponse(
                    event.status_code,
                    Headers.from_wire(event.headers),
                    http_version=event.http_version.decode(),
                )
            if isinstance(event, h11.InformationalResponse):
                continue
            raise AssertionError(f"expected a response head, got {event!r}")

    async def receive_body(self) -> bytes:
        """Receive the rest of the current response's body."""
        chunks: list[bytes] = []
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            else:
                raise AssertionError(f"expected body data, got {event!r}")

    async def receive_events(self, count: int) -> list[MessageEvent]:
        """Receive body data until *count* more events were dispatched; return them."""
        events: list[MessageEvent] = []
        while len(events) < count:
            event = await self._next_event()
            if isinstance(event, h11.Data):
                events.extend(self.parser.feed(bytes(event.data)))
            else:
                raise AssertionError(f"stream ended after {len(events)} events: {event!r}")
        return events

    async def request(
        self,
        method: str,
        target: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> ClientResponse:
        """Send a request and receive the complete response; ready the next cycle."""
        await self.send_request(method, target, headers=headers, body=body)
        head = await self.receive_head()
        body_bytes = b"" if method == "HEAD" else await self.receive_body()
        if method == "HEAD":
            end = await self._next_event()
            assert isinstance(end, h11.EndOfMessage), end
        return ClientResponse(head.status, head.headers, body_bytes, head.http_version)

    async def aclose(self) -> None:
        """Close the connection (the server sees EOF)."""
        await self.stream.aclose()


async def open_memory_client(server: Server, nursery: trio.Nursery) -> TestClient:
    """Connect a :class:`TestClient` to *server* over an in-memory stream pair.

    The server side runs :meth:`trio_sse.Server.serve_stream` in *nursery*.
    """
    client, server_end = trio.testing.memory_stream_pair()
    nursery.start_soon(server.serve_stream, server_end)
    return TestClient(client)
