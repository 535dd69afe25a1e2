"""Testing a trio-sse application: the code shown in docs/howto-testing.rst.

Run it with ``python -m pytest docs/snippets`` (pytest-trio, ``trio_mode = true``).
"""

from __future__ import annotations

import trio
import trio.testing

import trio_sse
from trio_sse.testing import MemoryListener, TestClient, open_memory_client


# -- the application under test ---------------------------------------------------------
async def ticker(stream: trio_sse.EventStream) -> None:
    start = trio.current_time()
    n = 0
    while True:
        n += 1
        await trio.sleep_until(start + n * 2.0)
        await stream.send(trio_sse.ServerSentEvent("hello", event="message", id=str(n)))


def build_app() -> trio_sse.Router:
    router = trio_sse.Router()

    @router.route("/", methods=None)
    async def index(request: trio_sse.Request) -> trio_sse.BaseResponse:
        if trio_sse.accepts_event_stream(request):
            return trio_sse.EventStreamResponse(ticker)
        return trio_sse.Response("ok")

    return router


# -- plain requests ----------------------------------------------------------------------
async def test_plain_request(nursery: trio.Nursery) -> None:
    server = trio_sse.Server(build_app())
    client = await open_memory_client(server, nursery)

    response = await client.request("GET", "/")

    assert response.status == 200
    assert response.text == "ok"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


# -- an event stream on virtual time ----------------------------------------------------
async def test_ticker_sends_two_events_in_four_seconds(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    server = trio_sse.Server(build_app())
    client = await open_memory_client(server, nursery)

    await client.send_request("GET", "/", headers=[("Accept", "text/event-stream")])
    head = await client.receive_head()
    assert head.status == 200
    assert head.headers["content-type"] == "text/event-stream; charset=utf-8"

    events = await client.receive_events(2)

    assert [(e.type, e.data, e.last_event_id) for e in events] == [
        ("message", "hello", "1"),
        ("message", "hello", "2"),
    ]
    assert trio.current_time() == 4.0  # exactly two intervals, in no real time


# -- disconnecting cancels the producer --------------------------------------------------
async def test_disconnect_cancels_the_ticker(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    server = trio_sse.Server(build_app())
    client = await open_memory_client(server, nursery)
    await client.send_request("GET", "/", headers=[("Accept", "text/event-stream")])
    await client.receive_head()
    await client.receive_events(1)
    assert server.statistics().tickers_active == 1

    await client.aclose()  # the server reads EOF
    await trio.testing.wait_all_tasks_blocked()

    stats = server.statistics()
    assert stats.tickers_active == 0
    assert stats.stream_disconnects == 1
    assert stats.connections_open == 0


# -- the whole accept loop, still in memory ---------------------------------------------
async def test_through_a_listener(nursery: trio.Nursery) -> None:
    listener = MemoryListener()
    server = trio_sse.Server(build_app())
    await nursery.start(server.serve_listeners, [listener])

    client = TestClient(await listener.connect())
    response = await client.request("GET", "/")

    assert response.text == "ok"
    assert server.statistics().connections_total == 1
    await client.aclose()
