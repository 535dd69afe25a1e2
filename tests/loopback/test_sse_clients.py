"""Clients we did not write read our streams correctly: httpx-sse and sseclient-py.

Both run against the server on a real loopback port. The reference for what a client
should see is the WHATWG HTML event-stream interpretation (§9.2.6), written out by hand in
:data:`TRICKY` (not computed with trio-sse's own parser). Where a client library departs
from the specification, the test states the departure, and checks the library only where
it conforms; a wrong byte from our server still fails every check.

Known departures (httpx-sse 0.4.3, sseclient-py 1.9.0):

* httpx-sse dispatches a block that has no ``data`` line when it carried ``event``, ``id``
  or ``retry``, and, once any id has been seen, after every block at all (comments,
  heartbeats): each such event has ``data == ""``. The specification dispatches nothing for
  these blocks. It also exposes ``retry`` on the event of the block that carried it.
* sseclient-py does not keep the last event id: ``Event.id`` is the block's own ``id``
  field, ``None`` without one (the specification carries it over). ``retry`` is the
  field's text, not a number.
* httpx (under Trio) does not close its nested async generators when a consumer stops
  iterating early, which Trio reports as a ``ResourceWarning``. The tests stop reading an
  endless stream by cancelling instead of ``break``: the cancellation unwinds, and closes,
  every generator.

sseclient-py is synchronous, so it runs in a worker thread (``trio.to_thread``) over a
``urllib3`` response; threads are fine in tests for a blocking third-party client.

The ticker is the local ``ticker_app`` (the seed's behaviour), wrapped in a ``Tracker``:
once a client has left, the test awaits the end of its stream's producer (an event) rather
than polling the server's statistics.
"""

from __future__ import annotations

from typing import NamedTuple

import httpx
import httpx_sse
import pytest
import sseclient
import trio
import urllib3

import trio_sse
from trio_sse import ServerSentEvent

from ..helpers import Tracker, running_server, ticker_app

INTERVAL = 0.05
HARD_LIMIT = 20.0  # any single exchange; only reached when something is broken
RETRY = 1500  # the response's initial ``retry:`` hint


class Dispatched(NamedTuple):
    """A ``MessageEvent`` as the specification says a browser fires it."""

    type: str
    data: str
    last_event_id: str


# Each block the server sends, with what the WHATWG algorithm dispatches for it (None:
# nothing). The response itself first sends ``retry: 1500`` alone (no dispatch).
UNICODE = "h\u00e9llo w\u00f6rld \u2713 \U0001f600 \u65e5\u672c"
BIG = "x" * 100_000  # spans many reads and HTTP chunks
TRICKY: list[tuple[ServerSentEvent, Dispatched | None]] = [
    (ServerSentEvent(comment="connected"), None),
    (ServerSentEvent("line1\nline2", id="1"), Dispatched("message", "line1\nline2", "1")),
    (ServerSentEvent("crlf1\r\ncrlf2", event="crlf"), Dispatched("crlf", "crlf1\ncrlf2", "1")),
    (ServerSentEvent("cr1\rcr2", id="3"), Dispatched("message", "cr1\ncr2", "3")),
    (ServerSentEvent("trailing\n"), Dispatched("message", "trailing\n", "3")),
    (ServerSentEvent("  two spaces"), Dispatched("message", "  two spaces", "3")),
    (ServerSentEvent(" "), Dispatched("message", " ", "3")),
    (ServerSentEvent(UNICODE), Dispatched("message", UNICODE, "3")),
    (ServerSentEvent("nul\0inside"), Dispatched("message", "nul\0inside", "3")),
    (ServerSentEvent("", event="empty"), Dispatched("empty", "", "3")),
    (ServerSentEvent(":not a comment"), Dispatched("message", ":not a comment", "3")),
    (ServerSentEvent("a: b: c"), Dispatched("message", "a: b: c", "3")),
    (ServerSentEvent("\n\n"), Dispatched("message", "\n\n", "3")),
    (ServerSentEvent(comment="multi\nline\r\ncomment"), None),
    (ServerSentEvent("with retry", id="", retry=2500), Dispatched("message", "with retry", "")),
    (ServerSentEvent("after reset"), Dispatched("message", "after reset", "")),
    (ServerSentEvent(id="99"), None),  # sets the last event id, dispatches nothing
    (ServerSentEvent("after id-only"), Dispatched("message", "after id-only", "99")),
    (ServerSentEvent(BIG), Dispatched("message", BIG, "99")),
    (ServerSentEvent("last", event="done"), Dispatched("done", "last", "99")),
]
EXPECTED = [d for _, d in TRICKY if d is not None]


def tricky_app() -> trio_sse.App:
    router = trio_sse.Router()

    async def producer(stream: trio_sse.EventStream) -> None:
        for event, _ in TRICKY:
            await stream.send(event)
        # returning ends the stream: the clients read it to its end

    @router.route("/tricky")
    async def tricky(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.EventStreamResponse(producer, retry=RETRY, heartbeat=None)

    return router


async def wait_for_no_streams(server: trio_sse.Server, tracker: Tracker) -> None:
    """The client left: its stream and ticker end (cancelled by the disconnect)."""
    with trio.fail_after(HARD_LIMIT):
        await tracker.wait_all_ended()
    stats = server.statistics()
    assert (stats.event_streams_open, stats.tickers_active) == (0, 0)


# -- httpx-sse ------------------------------------------------------------------------------


async def read_httpx_sse(
    client: httpx.AsyncClient, url: str, count: int, headers: dict[str, str] | None = None
) -> list[httpx_sse.ServerSentEvent]:
    """Read *count* events from an endless stream, then stop by cancelling (see above)."""
    events: list[httpx_sse.ServerSentEvent] = []
    with trio.fail_after(HARD_LIMIT):
        async with httpx_sse.aconnect_sse(client, "GET", url, headers=headers or {}) as source:
            assert source.response.status_code == 200
            assert source.response.headers["content-type"] == "text/event-stream; charset=utf-8"
            assert source.response.headers["cache-control"] == "no-cache"
            with trio.CancelScope() as stop:
                async for event in source.aiter_sse():
                    events.append(event)
                    if len(events) == count:
                        stop.cancel()
    return events


async def test_httpx_sse_reads_the_ticker() -> None:
    tracker = Tracker()
    async with running_server(tracker.wrap(ticker_app(interval=INTERVAL))) as server:
        url = f"http://127.0.0.1:{server.port}/"
        async with httpx.AsyncClient(timeout=HARD_LIMIT) as client:
            events = await read_httpx_sse(client, url, 3)
        assert [(e.event, e.data, e.id, e.retry) for e in events] == [
            ("message", "hello", "1", None),
            ("message", "hello", "2", None),
            ("message", "hello", "3", None),
        ]
        await wait_for_no_streams(server, tracker)
        stats = server.statistics()
        assert stats.stream_disconnects == 1
        assert stats.handler_errors == 0


async def test_httpx_sse_resumes_with_last_event_id() -> None:
    tracker = Tracker()
    async with running_server(tracker.wrap(ticker_app(interval=INTERVAL))) as server:
        url = f"http://127.0.0.1:{server.port}/"
        async with httpx.AsyncClient(timeout=HARD_LIMIT) as client:
            first = await read_httpx_sse(client, url, 2)
            assert [e.id for e in first] == ["1", "2"]
            # reconnect the way EventSource does: send back the last id seen
            resumed = await read_httpx_sse(client, url, 3, {"Last-Event-ID": first[-1].id})
            assert [(e.event, e.data, e.id) for e in resumed] == [
                ("message", "hello", "3"),
                ("message", "hello", "4"),
                ("message", "hello", "5"),
            ]
            explicit = await read_httpx_sse(client, url, 1, {"Last-Event-ID": "41"})
            assert [e.id for e in explicit] == ["42"]
        await wait_for_no_streams(server, tracker)


def is_httpx_sse_extra(event: httpx_sse.ServerSentEvent) -> bool:
    """An event httpx-sse dispatches for a data-less block (see the module docstring)."""
    return event.event == "message" and event.data == ""


async def test_httpx_sse_reads_tricky_events_as_the_spec_says() -> None:
    async with running_server(tricky_app()) as server:
        url = f"http://127.0.0.1:{server.port}/tricky"
        async with httpx.AsyncClient(timeout=HARD_LIMIT) as client:
            with trio.fail_after(HARD_LIMIT):
                async with httpx_sse.aconnect_sse(client, "GET", url) as source:
                    assert source.response.status_code == 200
                    events = [event async for event in source.aiter_sse()]  # to the end
    dispatched = [e for e in events if not is_httpx_sse_extra(e)]
    extras = [(e.id, e.retry) for e in events if is_httpx_sse_extra(e)]
    assert [Dispatched(e.event, e.data, e.id) for e in dispatched] == EXPECTED
    # httpx-sse's own API: ``retry`` on the event of the block that carried it
    assert [e.retry for e in dispatched] == [
        2500 if d.data == "with retry" else None for d in EXPECTED
    ]
    # The departure, pinned down so a change in either library is noticed: the blocks
    # without data (initial retry, the multi-line comment, the id-only block) may show up
    # as empty events, with exactly these fields; nothing else may.
    assert set(extras) <= {("", RETRY), ("3", None), ("99", None)}, extras


# -- sseclient-py (synchronous, in a worker thread) -------------------------------------------


class SseclientEvent(NamedTuple):
    event: str
    data: str
    id: str | None
    retry: object


def read_with_sseclient(url: str, count: int | None) -> list[SseclientEvent]:
    """Blocking: read *count* events (all, when None) with sseclient-py over urllib3."""
    timeout = urllib3.Timeout(connect=HARD_LIMIT, read=HARD_LIMIT)
    pool = urllib3.PoolManager(timeout=timeout, retries=False)
    try:
        response = pool.request(
            "GET", url, headers={"Accept": "text/event-stream"}, preload_content=False
        )
        try:
            assert response.status == 200
            assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
            events: list[SseclientEvent] = []
            for event in sseclient.SSEClient(response.stream(1024)).events():
                events.append(SseclientEvent(event.event, event.data, event.id, event.retry))
                if len(events) == count:
                    break
            return events
        finally:
            response.close()  # an endless stream: close the connection, do not drain it
            response.release_conn()
    finally:
        pool.clear()


async def test_sseclient_py_reads_the_ticker() -> None:
    tracker = Tracker()
    async with running_server(tracker.wrap(ticker_app(interval=INTERVAL))) as server:
        url = f"http://127.0.0.1:{server.port}/"
        events = await trio.to_thread.run_sync(read_with_sseclient, url, 3)
        assert events == [
            ("message", "hello", "1", None),
            ("message", "hello", "2", None),
            ("message", "hello", "3", None),
        ]
        await wait_for_no_streams(server, tracker)
        assert server.statistics().stream_disconnects == 1


async def test_sseclient_py_reads_tricky_events_as_the_spec_says() -> None:
    async with running_server(tricky_app()) as server:
        url = f"http://127.0.0.1:{server.port}/tricky"
        events = await trio.to_thread.run_sync(read_with_sseclient, url, None)
    assert [(e.event, e.data) for e in events] == [(d.type, d.data) for d in EXPECTED]
    # sseclient-py's departure: the id is the block's own field, not the last event id
    assert [e.id for e in events] == [block.id for block, d in TRICKY if d is not None]
    assert [e.retry for e in events] == [
        str(block.retry) if block.retry is not None else None
        for block, d in TRICKY
        if d is not None
    ]


@pytest.mark.parametrize("data", ["plain", "two\nlines", UNICODE, ""])
async def test_both_clients_agree_on_single_events(data: str) -> None:
    """One event, several shapes: both libraries and the spec give the same data."""

    async def one(stream: trio_sse.EventStream) -> None:
        await stream.send(ServerSentEvent(data, event="single", id="7"))

    async def app(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.EventStreamResponse(one, heartbeat=None)

    async with running_server(app) as server:
        url = f"http://127.0.0.1:{server.port}/"
        async with httpx.AsyncClient(timeout=HARD_LIMIT) as client:
            with trio.fail_after(HARD_LIMIT):
                async with httpx_sse.aconnect_sse(client, "GET", url) as source:
                    via_httpx = [(e.event, e.data, e.id) async for e in source.aiter_sse()]
        via_sseclient = await trio.to_thread.run_sync(read_with_sseclient, url, None)
    assert via_httpx == [("single", data, "7")]
    assert [(e.event, e.data, e.id) for e in via_sseclient] == [("single", data, "7")]
