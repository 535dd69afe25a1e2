"""Size and time limits against hostile clients: oversized heads, slowloris, clients that
stop reading, peers that vanish (memory streams, virtual clock).

Every test checks the exact bytes the client receives (the ``date`` header, the only
variable part, is checked for its format and then masked) and that nothing is left behind
once the connection has ended: the server's gauges are zero, the nursery that ran the
connections has no child task left, and Trio's whole task tree is back to what it was
before the connections started. Every timing is asserted exactly, on the virtual clock
(``autojump_clock``). The hostile peers and the exact answers are in ``tests/helpers.py``.

Related tests elsewhere (not repeated here): ``test_http.py`` has the 408 for a slow body
and the idle keep-alive close; ``test_sse_stream.py`` has the never-reading client with a
busy producer (``test_client_that_never_reads_is_dropped_after_send_timeout``);
``test_shutdown.py`` has stalled clients at shutdown.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

import trio_sse
from trio_sse._transport import DRAIN_TIMEOUT

from ..helpers import (
    FIRST_CHUNK,
    SSE_HEAD,
    SSE_REQUEST,
    TIMEOUT,
    TOO_LARGE_HEAD,
    RecordingStream,
    VanishingStream,
    connections,
    hostile_app,
    masked,
    nothing_left,
    read_until_eof,
    start_serving,
)


@pytest.mark.parametrize("pieces", [1, 100], ids=["one-write", "1-KiB-writes"])
async def test_100_kib_header_gets_exact_431(
    autojump_clock: trio.testing.MockClock, pieces: int
) -> None:
    """A 100 KiB header field against the default 16 KiB limit: in one write (the complete
    head is measured) or trickled in 1 KiB writes (h11 stops buffering at the limit)."""
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100 * 1024 + b"\r\n\r\n"
    server = trio_sse.Server(hostile_app())
    assert server.config.max_header_bytes == 16 * 1024
    client, server_end = trio.testing.memory_stream_pair()
    recorded = RecordingStream(server_end)
    async with connections(server) as (nursery, before):
        done = start_serving(nursery, server, recorded)
        size = -(-len(head) // pieces)
        try:
            for offset in range(0, len(head), size):
                await client.send_all(head[offset : offset + size])
                await trio.testing.wait_all_tasks_blocked()
        except trio.BrokenResourceError:  # pragma: no cover - the server closed first
            pass
        output = masked(await read_until_eof(client))
        await done.wait()
        await nothing_left(server, nursery, before)
    assert output == TOO_LARGE_HEAD
    assert server.statistics().responses_by_status == {431: 1}


# -- slow and stalled clients -------------------------------------------------------------


async def test_slowloris_gets_408_at_exactly_the_head_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """One byte a second of a head that would take 60 s: the server answers 408 at exactly
    ``request_head_timeout`` after the connection opened, whatever keeps trickling."""
    config = trio_sse.Config(request_head_timeout=10)
    server = trio_sse.Server(hostile_app(), config=config)
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"z" * 60
    client, server_end = trio.testing.memory_stream_pair()
    recorded = RecordingStream(server_end)
    sent: list[float] = []
    trickled = trio.Event()

    async def trickle() -> None:
        await trio.sleep(0.5)  # bytes at t = 0.5, 1.5, ...: never at the same time as a timeout
        try:
            for i in range(len(head)):
                await client.send_all(head[i : i + 1])
                sent.append(trio.current_time())
                await trio.sleep(1)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        trickled.set()

    start = trio.current_time()
    async with connections(server) as (nursery, before):
        done = start_serving(nursery, server, recorded)
        nursery.start_soon(trickle)
        output = b""
        while not output.endswith(b"Request Timeout\n"):
            output += await client.receive_some(65536)
        answered = trio.current_time()
        assert await client.receive_some(65536) == b""  # then EOF (the server's send_eof)
        await done.wait()
        await trickled.wait()
        await client.aclose()
        await nothing_left(server, nursery, before)
    assert masked(output) == TIMEOUT
    assert answered - start == 10
    # bytes kept coming: the drain read the one at t = 10.5, then closed at t = 11, so the
    # byte due at t = 11.5 found the connection closed
    assert recorded.closed_at is not None
    assert recorded.closed_at - start == 10 + DRAIN_TIMEOUT
    assert sent == [n + 0.5 for n in range(11)]
    assert server.statistics().responses_by_status == {408: 1}


async def test_client_that_never_reads_is_dropped_and_others_are_unaffected(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A client that stops reading its stream is dropped ``send_timeout`` after the write
    that blocked; meanwhile another stream gets its events on schedule and plain requests
    are answered at once. (``test_sse_stream.py`` has the same drop with a firehose.)"""
    events: list[tuple[str, float]] = []
    config = trio_sse.Config(send_timeout=4)
    server = trio_sse.Server(hostile_app(events), config=config)
    stalled_client, stalled_server = trio.testing.lockstep_stream_pair()
    stalled = RecordingStream(stalled_server)
    start = trio.current_time()
    async with connections(server) as (nursery, before):
        nursery.start_soon(server.serve_stream, stalled)
        await stalled_client.send_all(SSE_REQUEST.replace(b"/events", b"/events?stalled"))
        head = await stalled_client.receive_some(65536)
        assert masked(head) == SSE_HEAD
        first = await stalled_client.receive_some(65536)
        assert first == FIRST_CHUNK
        # ... and stops reading: the write at t = 2 blocks, the drop follows at 2 + 4.

        reader = await trio_sse.testing.open_memory_client(server, nursery)
        await reader.send_request("GET", "/events", headers=[("Accept", "text/event-stream")])
        assert (await reader.receive_head()).status == 200
        arrivals: list[tuple[str, float]] = []
        for _ in range(5):
            (event,) = await reader.receive_events(1)
            arrivals.append((event.last_event_id, trio.current_time() - start))
        assert arrivals == [("0", 0), ("1", 2), ("2", 4), ("3", 6), ("4", 8)]
        # plain requests on a third connection are answered without delay meanwhile
        other = await trio_sse.testing.open_memory_client(server, nursery)
        t0 = trio.current_time()
        assert (await other.request("GET", "/")).body == b"ok"
        assert trio.current_time() == t0

        assert stalled.closed_at is not None
        assert stalled.closed_at - start == 2 + 4
        stats = server.statistics()
        assert stats.slow_clients_dropped == 1
        assert (stats.connections_open, stats.event_streams_open, stats.tickers_active) == (
            2,
            1,
            1,
        )
        await reader.aclose()
        await other.aclose()
        await stalled_client.aclose()
        await nothing_left(server, nursery, before)
    # the stalled stream's producer ran once: its second send never completed
    assert [t for target, t in events if target == "/events?stalled"] == [start]


@pytest.mark.parametrize("quiet", [False, True], ids=["busy", "quiet"])
async def test_vanished_peer_is_reaped_by_heartbeat_and_send_timeout(
    autojump_clock: trio.testing.MockClock, quiet: bool
) -> None:
    """A peer vanishes (no FIN, no RST) right after its first event. The next write (an
    event at t = 2 with the busy producer; the idle heartbeat at t = 15 with the quiet one)
    blocks, and ``send_timeout`` later the connection is closed."""
    config = trio_sse.Config(heartbeat_interval=15, send_timeout=10)
    server = trio_sse.Server(hostile_app(), config=config)
    target = b"/events?quiet" if quiet else b"/events"
    peer = VanishingStream(SSE_REQUEST.replace(b"/events", target))
    start = trio.current_time()
    async with connections(server) as (nursery, before):
        done = start_serving(nursery, server, peer)
        await trio.testing.wait_all_tasks_blocked()
        assert masked(bytes(peer.received)) == SSE_HEAD + FIRST_CHUNK
        peer.vanish()
        await done.wait()
        await nothing_left(server, nursery, before)
    blocked_write_at = 15 if quiet else 2
    assert peer.closed_at is not None
    assert peer.closed_at - start == blocked_write_at + 10
    assert peer.blocked_sends == 1
    stats = server.statistics()
    assert (stats.slow_clients_dropped, stats.stream_disconnects, stats.handler_errors) == (
        1,
        1,
        0,
    )


async def test_vanished_peer_mid_head_is_reaped_after_head_and_send_timeouts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A peer vanishes half-way through its request head: the 408 cannot be written
    either, so the connection ends ``send_timeout`` after the head timeout."""
    config = trio_sse.Config(request_head_timeout=10, send_timeout=7)
    server = trio_sse.Server(hostile_app(), config=config)
    peer = VanishingStream(b"GET / HTTP/1.1\r\nHo")
    start = trio.current_time()
    async with connections(server) as (nursery, before):
        done = start_serving(nursery, server, peer)
        await trio.testing.wait_all_tasks_blocked()
        peer.vanish()
        await done.wait()
        await nothing_left(server, nursery, before)
    assert peer.closed_at is not None
    assert peer.closed_at - start == 10 + 7
    assert peer.received == b""
    assert server.statistics().slow_clients_dropped == 1
