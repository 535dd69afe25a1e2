"""Measure what the demo's tick costs on the wire over SSE and over WebSocket.

This is the script behind "Our measurements" in docs/sse-vs-websocket.rst. Run it from a
checkout (it starts the ``trio-sse serve`` demo application in-process, on a free
loopback port)::

    python docs/snippets/measure_wire.py

It counts the bytes of the TCP byte stream (above TCP/IP: no headers of those layers),
as the client receives them, for:

* the connection setup: the client's request and the server's response head (SSE) or the
  ``101`` handshake (WebSocket, trio-websocket's client);
* the demo tick, ``event: message`` / ``data: hello`` / ``id: N`` on ``GET /`` (chunked
  HTTP/1.1) and ``{"event": "message", "data": "hello", "id": N}`` on ``GET /ws`` (one
  unmasked text frame). Ids 10 to 99 are measured so every id has two digits.
* the idle heartbeat of an event stream (a ``:`` comment), with a short interval;
* the time from ``connect()`` to the complete response head or ``101``, over loopback.
"""

from __future__ import annotations

import statistics
from functools import partial

import h11
import trio
import trio_websocket

import trio_sse
from trio_sse._demo import build_demo_app

INTERVAL = 0.05  # seconds between ticks: one tick per read, so byte counts are exact
FIRST, LAST = 10, 99  # ids measured (two digits each)
SETUP_SAMPLES = 200


class CountingStream(trio.abc.Stream):
    """A stream wrapper counting the bytes sent and received."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.sent = 0
        self.received = 0

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self.sent += len(data)
        await self.stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data = await self.stream.receive_some(max_bytes)
        self.received += len(data)
        return data

    async def aclose(self) -> None:
        await self.stream.aclose()


SSE_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"


async def sse_setup(port: int) -> tuple[int, int, float, CountingStream, bytes]:
    """Connect, send the request, read the head; return sizes, time and leftover bytes."""
    start = trio.current_time()
    stream = CountingStream(await trio.open_tcp_stream("127.0.0.1", port))
    await stream.send_all(SSE_REQUEST)
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        buffer += await stream.receive_some(65536)
    elapsed = trio.current_time() - start
    head, _, rest = buffer.partition(b"\r\n\r\n")
    return stream.sent, len(head) + 4, elapsed, stream, rest


async def measure_sse(port: int) -> dict[str, float]:
    sent, head, _, stream, rest = await sse_setup(port)
    parser = trio_sse.client.EventStreamParser()
    # Undo the chunked framing with h11, fed the same bytes (head included).
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "127.0.0.1")]))
    client.send(h11.EndOfMessage())
    client.receive_data(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + rest)
    marks: dict[str, int] = {}
    while str(LAST) not in marks:
        event = client.next_event()
        if event is h11.NEED_DATA:
            client.receive_data(bytes(await stream.receive_some(65536)))
            continue
        if isinstance(event, h11.Data):
            for message in parser.feed(bytes(event.data)):
                # One tick per read (INTERVAL apart): what was received so far ends
                # exactly with this event.
                marks[message.last_event_id] = stream.received
    await stream.aclose()
    per_event = (marks[str(LAST)] - marks[str(FIRST - 1)]) / (LAST - FIRST + 1)
    return {"request": sent, "head": head, "per_event": per_event}


async def measure_ws(port: int) -> dict[str, float]:
    async with trio.open_nursery() as nursery:
        stream = CountingStream(await trio.open_tcp_stream("127.0.0.1", port))
        ws = await trio_websocket.wrap_client_stream(nursery, stream, "127.0.0.1", "/ws")  # type: ignore[arg-type]
        request, response = stream.sent, stream.received
        marks: dict[int, int] = {}
        while LAST not in marks:
            message = await ws.get_message()
            assert isinstance(message, str)
            n = int(message.rsplit(":", 1)[1].rstrip("}"))
            if n in (FIRST - 1, LAST):
                marks[n] = stream.received
        await ws.aclose()
    per_event = (marks[LAST] - marks[FIRST - 1]) / (LAST - FIRST + 1)
    return {"request": request, "head": response, "per_event": per_event}


async def measure_heartbeat() -> float:
    config = trio_sse.Config(heartbeat_interval=0.02)
    app = build_demo_app(interval=3600)  # no tick within the run: only heartbeats
    async with trio.open_nursery() as nursery:
        server = await nursery.start(partial(trio_sse.serve, app, "127.0.0.1", 0, config=config))
        _, _, _, stream, body = await sse_setup(server.port)
        while body.count(b":\n\n") < 20:
            body += await stream.receive_some(65536)
        await stream.aclose()
        nursery.cancel_scope.cancel()
    assert body.endswith(b"\r\n"), body  # whole chunks only
    return len(body) / body.count(b":\n\n")


async def setup_times(port: int) -> tuple[float, float]:
    sse: list[float] = []
    ws: list[float] = []
    for _ in range(SETUP_SAMPLES):
        _, _, elapsed, stream, _ = await sse_setup(port)
        sse.append(elapsed)
        await stream.aclose()
        async with trio.open_nursery() as nursery:
            start = trio.current_time()
            tcp = await trio.open_tcp_stream("127.0.0.1", port)
            conn = await trio_websocket.wrap_client_stream(nursery, tcp, "127.0.0.1", "/ws")
            ws.append(trio.current_time() - start)
            await conn.aclose()
    return statistics.median(sse), statistics.median(ws)


async def main() -> None:
    app = build_demo_app(interval=INTERVAL)
    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_sse.serve, app, "127.0.0.1", 0)
        sse = await measure_sse(server.port)
        ws = await measure_ws(server.port)
        sse_time, ws_time = await setup_times(server.port)
        nursery.cancel_scope.cancel()
    heartbeat = await measure_heartbeat()
    print(f"trio-sse {trio_sse.__version__}, trio {trio.__version__}")
    print(f"{'':28}{'SSE':>10}{'WebSocket':>12}")
    print(f"{'setup: request bytes':28}{sse['request']:>10.0f}{ws['request']:>12.0f}")
    print(f"{'setup: response head bytes':28}{sse['head']:>10.0f}{ws['head']:>12.0f}")
    print(f"{'tick: bytes per event':28}{sse['per_event']:>10.1f}{ws['per_event']:>12.1f}")
    print(f"{'setup: median time (ms)':28}{sse_time * 1000:>10.3f}{ws_time * 1000:>12.3f}")
    print(f"SSE idle heartbeat: {heartbeat:.1f} bytes each")


if __name__ == "__main__":
    trio.run(main)
