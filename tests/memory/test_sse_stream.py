"""Event streams over memory streams with a virtual clock: the ticker, disconnects, limits.

The ticker is the local ``ticker_app`` (the seed's behaviour); the demo's own is tested in
``test_demo_seed.py``.
"""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

import trio_sse
from trio_sse.testing import MemoryListener, TestClient

from ..helpers import SSE, raw_pair, read_until_eof, start_client, start_serving, ticker_app


async def test_seed_ticker_fires_every_interval_on_schedule(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server, client = await start_client(nursery, ticker_app(interval=2.0))
    await client.send_request("GET", "/", headers=SSE)
    head = await client.receive_head()
    start = trio.current_time()
    assert head.status == 200
    assert head.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert head.headers["cache-control"] == "no-cache"
    assert head.headers["x-accel-buffering"] == "no"
    assert head.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in head.headers
    assert "connection" not in head.headers
    for n in range(1, 4):
        (event,) = await client.receive_events(1)
        assert trio.current_time() - start == pytest.approx(2.0 * n)
        assert (event.type, event.data, event.last_event_id) == ("message", "hello", str(n))
    stats = server.statistics()
    assert stats.event_streams_open == 1
    assert stats.tickers_active == 1
    assert stats.events_sent == 3


async def test_disconnect_cancels_ticker_at_once(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    cancelled_at: list[float] = []
    sent: list[int] = []

    async def ticker(stream: trio_sse.EventStream) -> None:
        try:
            n = 0
            while True:
                await trio.sleep(2)
                n += 1
                await stream.send(trio_sse.ServerSentEvent(str(n)))
                sent.append(n)
        finally:
            cancelled_at.append(trio.current_time())

    async def app(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.EventStreamResponse(ticker)

    server, client = await start_client(nursery, app)
    await client.send_request("GET", "/", headers=SSE)
    await client.receive_head()
    await client.receive_events(1)
    await trio.sleep(0.5)  # mid-interval: the next tick is 1.5 s away
    disconnect_time = trio.current_time()
    await client.aclose()
    await trio.testing.wait_all_tasks_blocked()
    # the ticker's finally ran without waiting for its next tick (no time passed at all)
    assert cancelled_at == [disconnect_time]
    stats = server.statistics()
    assert stats.tickers_active == 0
    assert stats.event_streams_open == 0
    assert stats.connections_open == 0
    assert stats.stream_disconnects == 1
    await trio.sleep(10)
    assert sent == [1]


async def test_last_event_id_resumes_numbering(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    _, client = await start_client(nursery, ticker_app(interval=2.0))
    await client.send_request("GET", "/", headers=[*SSE, ("Last-Event-ID", "41")])
    await client.receive_head()
    events = await client.receive_events(2)
    assert [e.last_event_id for e in events] == ["42", "43"]


async def test_non_numeric_last_event_id_starts_over(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    _, client = await start_client(nursery, ticker_app(interval=2.0))
    await client.send_request("GET", "/", headers=[*SSE, ("Last-Event-ID", "abc")])
    await client.receive_head()
    (event,) = await client.receive_events(1)
    assert event.last_event_id == "1"


async def test_plain_request_gets_ok(nursery: trio.Nursery) -> None:
    _, client = await start_client(nursery, ticker_app())
    for accept in ["*/*", "text/html", "text/*", "text/event-stream;q=0"]:
        response = await client.request("GET", "/", headers=[("Accept", accept)])
        assert response.body == b"ok", accept
    assert (await client.request("POST", "/", body=b"x")).body == b"ok"


async def test_http10_event_stream_is_close_delimited(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(ticker_app(interval=1.0))
    stream = raw_pair(nursery, server)
    await stream.send_all(b"GET / HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n")
    data = b""
    while data.count(b"data: hello\n\n") < 2:
        data += await stream.receive_some(1000)
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower()
    assert b"content-length" not in head.lower()
    assert body == b"event: message\nid: 1\ndata: hello\n\nevent: message\nid: 2\ndata: hello\n\n"


async def test_heartbeat_when_idle_and_retry_hint(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    async def quiet(stream: trio_sse.EventStream) -> None:
        await trio.sleep(100)
        await stream.send(trio_sse.ServerSentEvent("late"))
        await trio.sleep_forever()

    async def app(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.EventStreamResponse(quiet, retry=3000, heartbeat=15)

    _, client = await start_client(nursery, app)
    await client.send_request("GET", "/", headers=SSE)
    await client.receive_head()
    start = trio.current_time()
    raw = b""
    times: list[float] = []
    while b"late" not in raw:
        event = await client._next_event()
        raw += bytes(event.data)  # type: ignore[attr-defined]
        times.append(trio.current_time() - start)
    # retry first, then a comment every 15 s of idleness, then the event at t=100
    assert raw == b"retry: 3000\n\n" + b":\n\n" * 6 + b"data: late\n\n"
    assert times == pytest.approx([0, 15, 30, 45, 60, 75, 90, 100])
    raw = b""
    event = await client._next_event()
    assert bytes(event.data) == b":\n\n"  # type: ignore[attr-defined]
    assert trio.current_time() - start == pytest.approx(115)  # reset by the write at 100


async def test_no_heartbeat_while_events_flow(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    config = trio_sse.Config(heartbeat_interval=3)
    _, client = await start_client(nursery, ticker_app(interval=2.0), config)
    await client.send_request("GET", "/", headers=SSE)
    await client.receive_head()
    for _ in range(5):
        event = await client._next_event()
        assert bytes(event.data).startswith(b"event: message")  # type: ignore[attr-defined]


async def test_producer_error_closes_only_that_stream(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(stream: trio_sse.EventStream) -> None:
        await stream.send(trio_sse.ServerSentEvent("one"))
        await trio.sleep(1)
        raise ValueError("producer bug")

    router = trio_sse.Router()

    @router.route("/broken")
    async def broken_route(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.EventStreamResponse(broken)

    @router.route("/")
    async def ok(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.Response("ok")

    server = trio_sse.Server(router)
    stream = raw_pair(nursery, server)
    with caplog.at_level(logging.ERROR, logger="trio_sse"):
        await stream.send_all(b"GET /broken HTTP/1.1\r\nHost: x\r\n\r\n")
        data = await read_until_eof(stream)
    assert b"data: one\n\n" in data
    assert not data.endswith(b"0\r\n\r\n")  # aborted: no terminating chunk
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "producer bug" in str(errors[0].exc_info[1])  # type: ignore[index]
    assert server.statistics().handler_errors == 1
    other = raw_pair(nursery, server)
    await other.send_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (await read_until_eof(other)).endswith(b"ok")


async def test_producer_exception_group_closes_only_its_stream(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fails_in_a_nursery(stream: trio_sse.EventStream) -> None:
        async def boom() -> None:
            await trio.sleep(1)
            raise KeyError("inner")

        async with trio.open_nursery() as inner:  # strict: raises an ExceptionGroup
            inner.start_soon(boom)
            inner.start_soon(trio.sleep_forever)

    async def app(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.EventStreamResponse(fails_in_a_nursery)

    server = trio_sse.Server(app)
    with caplog.at_level(logging.ERROR, logger="trio_sse"):
        client = await trio_sse.testing.open_memory_client(server, nursery)
        await client.send_request("GET", "/")
        assert (await client.receive_head()).status == 200
        while await client.stream.receive_some(1000):
            pass
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert type(errors[0].exc_info[1]).__name__ == "ExceptionGroup"  # type: ignore[index]
    stats = server.statistics()
    assert (stats.connections_open, stats.tickers_active, stats.handler_errors) == (0, 0, 1)


async def test_finished_producer_ends_stream_and_keeps_connection(
    nursery: trio.Nursery,
) -> None:
    async def two(stream: trio_sse.EventStream) -> None:
        await stream.send(trio_sse.ServerSentEvent("a", id="1"))
        await stream.send_comment("bye")

    router = trio_sse.Router()

    @router.route("/two")
    async def route(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.EventStreamResponse(two)

    _, client = await start_client(nursery, router)
    response = await client.request("GET", "/two", headers=SSE)
    assert response.body == b"id: 1\ndata: a\n\n: bye\n\n"
    assert (await client.request("GET", "/two")).status == 200


async def test_client_that_never_reads_is_dropped_after_send_timeout(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    async def firehose(stream: trio_sse.EventStream) -> None:
        while True:
            await stream.send(trio_sse.ServerSentEvent("x" * 1000))

    async def app(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.EventStreamResponse(firehose)

    server = trio_sse.Server(app, config=trio_sse.Config(send_timeout=4))
    client_end, server_end = trio.testing.lockstep_stream_pair()
    done = start_serving(nursery, server, server_end)
    await client_end.send_all(b"GET / HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
    # read the head and then stop reading: the server's next write blocks
    await client_end.receive_some(10)
    start = trio.current_time()
    with trio.fail_after(60):
        await done.wait()  # the connection task has ended
    assert server.statistics().connections_open == 0
    assert trio.current_time() - start == pytest.approx(4, abs=0.5)
    stats = server.statistics()
    assert stats.slow_clients_dropped == 1
    assert stats.tickers_active == 0


async def test_shutdown_sends_farewell_and_ends_streams(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def forever(stream: trio_sse.EventStream) -> None:
        await trio.sleep_forever()

    async def app(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.EventStreamResponse(
            forever, farewell=trio_sse.ServerSentEvent("bye", event="shutdown", retry=5000)
        )

    listener = MemoryListener()
    server = trio_sse.Server(app, config=trio_sse.Config(shutdown_grace_period=30))
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve_listeners, [listener])
        client = TestClient(await listener.connect())
        await client.send_request("GET", "/", headers=SSE)
        await client.receive_head()
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        nursery.cancel_scope.cancel()
    assert trio.current_time() == start  # no waiting for the grace period
    body = await client.receive_body()
    assert body == b"event: shutdown\nretry: 5000\ndata: bye\n\n"
    assert server.statistics().connections_open == 0
