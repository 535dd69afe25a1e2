"""HTTP/2 peers that misbehave: rapid resets, floods, garbage, silence, failing handlers.

Each test checks the answer on the wire (GOAWAY and its error code, a reset, a status),
that nothing is left running, that nothing was logged at error level for the peer's
fault, and, where it matters, that another connection to the same server is unaffected.
"""

from __future__ import annotations

import logging

import h2.errors
import h2.settings
import pytest
import trio
import trio.testing
from hyperframe.frame import ContinuationFrame, DataFrame, HeadersFrame, WindowUpdateFrame

import trio_sse

from ..h2_client import PREFACE, H2TestClient, h2_app, open_h2_client

SSE = [("accept", "text/event-stream")]


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def assert_server_still_serves(nursery: trio.Nursery, server: trio_sse.Server) -> None:
    other = await open_h2_client(nursery, server)
    with trio.fail_after(5):
        assert (await other.get("/"))[1] == b"ok 2"


def all_quiet(server: trio_sse.Server, connections_open: int = 0) -> None:
    stats = server.statistics()
    assert stats.tickers_active == 0
    assert stats.http2_streams_open == 0
    assert stats.event_streams_open == 0
    assert stats.connections_open == connections_open


async def test_rapid_reset_gets_goaway_enhance_your_calm(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = trio_sse.Server(h2_app(), config=trio_sse.Config(http2_reset_budget=10))
    client = await open_h2_client(nursery, server)
    with trio.fail_after(5):
        for _ in range(11):  # (CVE-2023-44487: open and cancel at once, in one write)
            sid = await client.request("/ticker", flush=False)
            client.conn.reset_stream(sid)
        await client.flush()
        await client.wait_goaway()
        await trio.testing.wait_all_tasks_blocked()
    assert client.goaway is not None
    assert client.goaway.error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
    stats = server.statistics()
    assert stats.http2_resets_received == 11
    assert stats.http2_connection_errors == 1
    all_quiet(server)
    no_errors_logged(caplog)
    await assert_server_still_serves(nursery, server)


async def test_resets_within_the_budget_are_fine(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(h2_app(), config=trio_sse.Config(http2_reset_budget=10))
    client = await open_h2_client(nursery, server)
    with trio.fail_after(60):
        for _ in range(3):  # 10 a second, three seconds in a row
            for _ in range(10):
                sid = await client.request("/ticker", flush=False)
                client.conn.reset_stream(sid)
            await client.flush()
            await trio.sleep(1)
        assert (await client.get("/"))[1] == b"ok 2"
    assert client.goaway is None
    assert server.statistics().http2_resets_received == 30


@pytest.mark.parametrize("kind", ["ping", "settings"])
async def test_control_frame_flood_gets_goaway(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    server = trio_sse.Server(h2_app(), config=trio_sse.Config(http2_control_frame_budget=20))
    client = await open_h2_client(nursery, server)
    with trio.fail_after(5):
        for n in range(25):
            if kind == "ping":
                client.conn.ping(n.to_bytes(8, "big"))
            else:
                client.conn.update_settings({h2.settings.SettingCodes.ENABLE_PUSH: 0})
        await client.flush()
        await client.wait_for(lambda: client.goaway is not None)
    assert client.goaway is not None
    assert client.goaway.error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
    no_errors_logged(caplog)
    await assert_server_still_serves(nursery, server)


@pytest.mark.parametrize(
    ("garbage", "code"),
    [
        # a PING on a stream: a connection error (RFC 9113 §6.7)
        (b"\x00\x00\x08\x06\x00\x00\x00\x00\x01abcdefgh", h2.errors.ErrorCodes.PROTOCOL_ERROR),
        # a frame longer than SETTINGS_MAX_FRAME_SIZE
        (b"\xff" * 64, h2.errors.ErrorCodes.FRAME_SIZE_ERROR),
        # DATA on a stream never opened
        (b"\x00\x00\x02\x00\x00\x00\x00\x00\x05hi", h2.errors.ErrorCodes.PROTOCOL_ERROR),
    ],
)
async def test_garbage_frames_get_goaway_and_no_traceback(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
    garbage: bytes,
    code: h2.errors.ErrorCodes,
) -> None:
    caplog.set_level(logging.DEBUG, logger="trio_sse")
    server = trio_sse.Server(h2_app())
    client = await open_h2_client(nursery, server)
    with trio.fail_after(5):
        await client.open_stream("/ticker")
        await client.stream.send_all(garbage)
        await client.wait_goaway()
        await trio.testing.wait_all_tasks_blocked()
    assert client.goaway is not None
    assert client.goaway.error_code == code
    assert server.statistics().http2_connection_errors == 1
    all_quiet(server)
    no_errors_logged(caplog)
    assert any("closing HTTP/2 connection" in r.getMessage() for r in caplog.records)
    await assert_server_still_serves(nursery, server)


async def test_garbage_instead_of_frames_right_after_the_preface(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = trio_sse.Server(h2_app())
    client_end, server_end = trio.testing.memory_stream_pair()
    nursery.start_soon(server.serve_stream, server_end)
    await client_end.send_all(PREFACE + b"\x00\x00\x01\x04\x00\x00\x00\x00\x00x")  # bad SETTINGS
    with trio.fail_after(5):
        received = b""
        while chunk := await client_end.receive_some(65536):
            received += chunk
    assert b"\x07\x00\x00\x00\x00\x00" in received  # a GOAWAY frame header
    no_errors_logged(caplog)
    all_quiet(server)


async def test_idle_connection_closes_after_keepalive_timeout(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(h2_app(), config=trio_sse.Config(keepalive_timeout=5))
    client = await open_h2_client(nursery, server)
    with trio.fail_after(30):
        assert (await client.get("/"))[1] == b"ok 2"
        idle_from = trio.current_time()
        await client.wait_for(lambda: client.goaway is not None)
        assert trio.current_time() - idle_from == pytest.approx(5)
        await client.wait_for(lambda: client.eof)
    assert client.goaway is not None
    assert client.goaway.error_code == h2.errors.ErrorCodes.NO_ERROR


async def test_event_stream_keeps_the_connection_past_keepalive_timeout(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(h2_app(), config=trio_sse.Config(keepalive_timeout=5))
    client = await open_h2_client(nursery, server)
    with trio.fail_after(60):
        await client.open_stream("/ticker", events=20)
    assert client.goaway is None
    assert server.statistics().tickers_active == 1


async def test_slow_request_body_gets_408(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(h2_app(), config=trio_sse.Config(request_body_timeout=3))
    client = await open_h2_client(nursery, server)
    with trio.fail_after(30):
        sid = client.conn.get_next_available_stream_id()
        client.conn.send_headers(
            sid,
            [
                (b":method", b"POST"),
                (b":scheme", b"http"),
                (b":authority", b"t"),
                (b":path", b"/echo"),
            ],
        )
        await client.flush()
        start = trio.current_time()
        await client.wait_for(lambda: sid in client.headers)
        assert trio.current_time() - start == pytest.approx(3)
        await client.wait_for(lambda: sid in client.resets)  # "stop sending the body"
        await trio.testing.wait_all_tasks_blocked()
    assert client.headers[sid][b":status"] == b"408"
    assert client.resets[sid] == h2.errors.ErrorCodes.NO_ERROR
    all_quiet(server, connections_open=1)


async def test_failing_handler_and_producer(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(stream: trio_sse.EventStream) -> None:
        await stream.send(trio_sse.ServerSentEvent("one"))
        raise RuntimeError("producer bug")

    async def app(request: trio_sse.Request) -> trio_sse.BaseResponse:
        if request.path == "/stream":
            return trio_sse.EventStreamResponse(broken)
        raise RuntimeError("handler bug")

    server = trio_sse.Server(app)
    client = await open_h2_client(nursery, server)
    with trio.fail_after(5):
        headers, _ = await client.get("/")
        assert headers[b":status"] == b"500"
        sid = await client.request("/stream")
        await client.wait_for(lambda: sid in client.resets)  # aborted, not ended cleanly
    assert client.events_of(sid) == 1
    assert sid not in client.ended
    stats = server.statistics()
    assert stats.handler_errors == 2
    all_quiet(server, connections_open=1)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "handler failed for GET /",
        "stream producer failed for client -",
    ]
    assert (await client.get("/stream"))[0][b":status"] == b"200"  # the connection lives on


async def test_preface_split_over_reads_is_still_http2(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(h2_app())
    client_end, server_end = trio.testing.memory_stream_pair()
    nursery.start_soon(server.serve_stream, server_end)
    client = H2TestClient(client_end)
    client.conn.initiate_connection()
    data = client.conn.data_to_send()
    for i in range(0, len(data), 5):
        await client_end.send_all(data[i : i + 5])
        await trio.testing.wait_all_tasks_blocked()
    nursery.start_soon(client._read)
    with trio.fail_after(5):
        assert (await client.get("/"))[1] == b"ok 2"


# -- resets the client makes the server send (MadeYouReset, CVE-2025-8671) -------------------


def provoke(client: H2TestClient, kind: str, sid: int) -> bytes:
    """Raw frames that make the server reset stream *sid* (a stream error of the client)."""
    if kind == "data-after-end":  # the stream is half-closed (remote): STREAM_CLOSED
        return DataFrame(sid, b"x").serialize()
    frame = WindowUpdateFrame(sid)  # the window overflows 2**31 - 1: FLOW_CONTROL_ERROR
    frame.window_increment = 2**31 - 1
    return frame.serialize()


@pytest.mark.parametrize("kind", ["data-after-end", "window-overflow", "early-413"])
async def test_made_you_reset_gets_goaway_enhance_your_calm(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    config = trio_sse.Config(http2_reset_budget=10, max_body_bytes=10)
    server = trio_sse.Server(h2_app(), config=config)
    other = await open_h2_client(nursery, server)  # a bystander on the same server
    client = await open_h2_client(nursery, server)
    with trio.fail_after(5):
        ticking = await other.open_stream("/ticker")
        for _ in range(11):  # open a stream and make the server reset it, in a loop
            if kind == "early-413":  # a body over max_body_bytes, with more to come
                await client.request("/echo", method="POST", body=b"x" * 11, end=False)
            else:
                sid = await client.request("/ticker", flush=False)
                await client.flush(provoke(client, kind, sid))
        await client.wait_goaway()
        await trio.testing.wait_all_tasks_blocked()
    assert client.goaway is not None
    assert client.goaway.error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
    stats = server.statistics()
    assert stats.http2_resets_received == 0  # the client reset nothing itself
    assert stats.http2_resets_sent == 11
    assert stats.http2_connection_errors == 1
    with trio.fail_after(5):  # the bystander's stream still ticks
        seen = other.events_of(ticking)
        await other.wait_for(lambda: other.events_of(ticking) >= seen + 2)
    assert other.goaway is None
    await other.stream.aclose()
    await trio.testing.wait_all_tasks_blocked()
    all_quiet(server)
    no_errors_logged(caplog)
    await assert_server_still_serves(nursery, server)


async def test_a_stream_the_server_reset_counts_until_its_task_ends(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(h2_app(), config=trio_sse.Config(http2_max_concurrent_streams=2))
    client = await open_h2_client(nursery, server)
    with trio.fail_after(5):
        # In one write (before the server's SETTINGS could be read): two streams the
        # server resets at once, then a third stream. The two tasks have not ended when
        # the third arrives: it is over the limit.
        raw = b""
        for _ in range(2):
            sid = await client.request("/ticker", flush=False)
            raw += client.conn.data_to_send() + provoke(client, "data-after-end", sid)
        third = await client.request("/ticker", flush=False)
        await client.flush(raw + client.conn.data_to_send())
        await client.wait_for(lambda: third in client.resets)
        assert client.resets[third] == h2.errors.ErrorCodes.REFUSED_STREAM
        await trio.testing.wait_all_tasks_blocked()
        assert server.statistics().http2_resets_sent == 3  # two stream errors, one refusal
        assert (await client.get("/"))[1] == b"ok 2"  # the tasks ended: room again
    all_quiet(server, connections_open=1)


@pytest.mark.parametrize("frames", [5, 11])
async def test_frames_on_a_reset_stream_spend_the_reset_budget(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
    frames: int,
) -> None:
    """h2 answers each DATA frame on a stream that was reset with RST_STREAM(STREAM_CLOSED)
    and no event: resets the client makes the server send, budgeted as the others."""
    server = trio_sse.Server(h2_app(), config=trio_sse.Config(http2_reset_budget=10))
    client = await open_h2_client(nursery, server)
    with trio.fail_after(5):
        sid = await client.open_stream("/ticker")
        await client.reset(sid)
        await trio.testing.wait_all_tasks_blocked()
        assert server.statistics().http2_streams_open == 0  # the stream's task has ended
        await client.flush(DataFrame(sid, b"x").serialize() * frames)  # one write
        await trio.testing.wait_all_tasks_blocked()
        if frames > 10:
            await client.wait_goaway()
    stats = server.statistics()
    assert stats.http2_resets_received == 1
    if frames > 10:
        assert client.goaway is not None
        assert client.goaway.error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
        assert stats.http2_connection_errors == 1
        all_quiet(server)
    else:
        assert client.goaway is None
        assert stats.http2_resets_sent == frames
        with trio.fail_after(5):
            assert (await client.get("/"))[1] == b"ok 2"
    no_errors_logged(caplog)
    await assert_server_still_serves(nursery, server)


# -- silent peers: PING with an ACK deadline -----------------------------------------------

PINGS = trio_sse.Config(http2_ping_interval=5, http2_ping_timeout=2.5)  # (not on a tick)


async def test_a_peer_that_answers_pings_keeps_its_quiet_stream(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(h2_app(), config=PINGS)
    client = await open_h2_client(nursery, server, auto_ack=False)  # no WINDOW_UPDATE
    with trio.fail_after(60):
        await client.open_stream("/ticker", events=30)  # 29 s of silence
    assert client.pings == 5  # at 5, 10, 15, 20 and 25 s, each acknowledged at once
    assert client.goaway is None
    stats = server.statistics()
    assert (stats.http2_ping_timeouts, stats.tickers_active) == (0, 1)


async def test_a_peer_that_sends_anything_is_not_pinged(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(h2_app(), config=PINGS)
    client = await open_h2_client(nursery, server, auto_ack=False)
    with trio.fail_after(60):
        sid = await client.open_stream("/ticker")
        for n in range(10):  # some bytes every 4 s: the interval restarts each time
            await trio.sleep(4)
            client.conn.ping(n.to_bytes(8, "big"))
            await client.flush()
        assert client.events_of(sid) >= 40
    assert client.pings == 0
    assert client.goaway is None


async def test_a_silent_peer_is_reaped_after_interval_and_timeout(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = trio_sse.Server(h2_app(), config=PINGS)
    client = await open_h2_client(nursery, server, auto_ack=False)
    with trio.fail_after(60):
        ids = await client.open_streams("/ticker", 2)
        client.mute()  # reads on, writes nothing: not even the PING's ACK
        silent_from = trio.current_time()
        await client.wait_for(lambda: client.goaway is not None)
        assert trio.current_time() - silent_from == pytest.approx(5 + 2.5)
        await client.wait_for(lambda: client.eof)
        await trio.testing.wait_all_tasks_blocked()
    assert client.pings == 1
    assert client.goaway is not None
    assert client.goaway.error_code == h2.errors.ErrorCodes.NO_ERROR
    assert client.goaway.additional_data == b"PING timeout"
    assert all(client.events_of(sid) == 8 for sid in ids)  # ticks at 0..7 s, then nothing
    stats = server.statistics()
    assert stats.http2_ping_timeouts == 1
    assert stats.stream_disconnects == 2
    all_quiet(server)
    assert not nursery.child_tasks  # the server's connection task and the client's reader
    no_errors_logged(caplog)


# -- floods and windows ------------------------------------------------------------------------


async def test_continuation_flood_gets_goaway(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = trio_sse.Server(h2_app())
    other = await open_h2_client(nursery, server)  # a bystander on the same server
    client = await open_h2_client(nursery, server)
    with trio.fail_after(5):
        ticking = await other.open_stream("/ticker")
        # A header block that never ends: HEADERS without END_HEADERS, then CONTINUATION
        # frames (h2 buffers at most 64 of them before it gives up on the connection).
        flood = HeadersFrame(1, b"\x82")  # :method GET
        flood.flags.add("END_STREAM")
        raw = flood.serialize() + b"".join(
            ContinuationFrame(1, b"\x40" * 1000).serialize() for _ in range(200)
        )
        await client.flush(raw)
        await client.wait_goaway()
        seen = other.events_of(ticking)
        await other.wait_for(lambda: other.events_of(ticking) >= seen + 2)
    assert client.goaway is not None
    assert client.goaway.error_code == h2.errors.ErrorCodes.PROTOCOL_ERROR
    stats = server.statistics()
    assert (stats.http2_connection_errors, stats.http2_streams_total) == (1, 1)  # other's
    assert other.goaway is None
    await other.stream.aclose()
    await trio.testing.wait_all_tasks_blocked()
    all_quiet(server)
    no_errors_logged(caplog)
    await assert_server_still_serves(nursery, server)


@pytest.mark.parametrize("path", ["/ticker", "/"])
async def test_a_window_that_never_opens_resets_the_stream_after_send_timeout(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, path: str
) -> None:
    server = trio_sse.Server(h2_app(), config=trio_sse.Config(send_timeout=5))
    client = await open_h2_client(
        nursery, server, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0}
    )
    with trio.fail_after(30):
        sid = await client.open_stream(path, events=0)  # the head needs no window
        started = trio.current_time()
        await client.wait_for(lambda: sid in client.resets)
        assert trio.current_time() - started == pytest.approx(5)
        await trio.testing.wait_all_tasks_blocked()
    assert sid not in client.data  # not a byte of the body
    assert client.resets[sid] == h2.errors.ErrorCodes.CANCEL
    stats = server.statistics()
    assert (stats.slow_clients_dropped, stats.http2_resets_sent) == (1, 1)
    assert client.goaway is None  # the connection itself lives on
    all_quiet(server, connections_open=1)
