"""The demo page's routes: page and assets, the feed, drop, binary, and the feed's WebSocket.

Rules as in the other suites: no sockets (memory streams through ``trio_sse.testing`` and
trio-websocket's client over a memory stream), no real sleeps (``autojump_clock`` wherever
time passes, so schedules are checked exactly), every client closed before the test ends.
The browser side of the same routes is tested in ``tests/e2e/test_demo_page.py``, the
pure parts (retry hint, the feed's catch-up, the registry of connections) in
``tests/unit/test_demo.py``.
"""

from __future__ import annotations

import base64
import json
import re
from importlib import resources
from typing import TYPE_CHECKING, cast

import pytest
import trio
import trio.testing

import trio_sse
from trio_sse._demo import DROP_CLOSE_CODE, MAX_BINARY_BYTES, build_demo_app
from trio_sse.testing import TestClient, open_memory_client

from ..helpers import close_reason, get_json, open_ws

if TYPE_CHECKING:
    from trio_sse.client import MessageEvent

ACCEPT_SSE = [("Accept", "text/event-stream")]
#: The page's counters, read by the browser tests.
TESTIDS = [
    f"{side}-{name}"
    for side in ("sse", "ws")
    for name in ("count", "last-id", "reconnects", "bytes", "latency", "gaps", "state")
]


# -- helpers ------------------------------------------------------------------------------


async def open_feed(
    nursery: trio.Nursery, server: trio_sse.Server, target: str, last_event_id: str | None = None
) -> TestClient:
    """A client reading *target*, an event stream, once it is subscribed."""
    client = await open_memory_client(server, nursery)
    headers = list(ACCEPT_SSE)
    if last_event_id is not None:
        headers.append(("Last-Event-ID", last_event_id))
    await client.send_request("GET", target, headers=headers)
    head = await client.receive_head()
    assert head.status == 200
    assert head.headers.get("content-type") == "text/event-stream; charset=utf-8"
    await trio.testing.wait_all_tasks_blocked()  # subscribed: live events reach it
    return client


def seq(event_id: str | None) -> int:
    """The number in a feed id, ``<prefix>-<n>``."""
    assert event_id is not None
    return int(event_id.rsplit("-", 1)[1])


def summary(events: list[MessageEvent]) -> list[tuple[str, str]]:
    return [(e.type, e.data) for e in events]


# -- the page -------------------------------------------------------------------------------


async def test_page_and_assets_come_from_the_package(nursery: trio.Nursery) -> None:
    server = trio_sse.Server(build_demo_app(interval=0.2))
    client = await open_memory_client(server, nursery)
    page = await client.request("GET", "/demo")
    assert page.status == 200
    assert page.headers.get("content-type") == "text/html; charset=utf-8"
    html = page.text
    assert '<link rel="stylesheet" href="/demo/demo.css">' in html
    assert '<script src="/demo/demo.js" defer></script>' in html
    assert 'data-interval="0.2" data-retry-ms="1000"' in html
    assert "{{" not in html  # every placeholder filled in
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing from elsewhere
    for testid in TESTIDS:
        assert f'data-testid="{testid}"' in html, testid
    for name, kind in [("demo.css", "text/css"), ("demo.js", "text/javascript")]:
        asset = await client.request("GET", f"/demo/{name}")
        assert asset.status == 200
        assert asset.headers.get("content-type") == f"{kind}; charset=utf-8"
        assert asset.headers.get("cache-control") == "no-cache"
        shipped = resources.files("trio_sse").joinpath("_static").joinpath(name).read_bytes()
        assert asset.body == shipped
        assert b"http://" not in asset.body
        assert b"https://" not in asset.body
    head = await client.request("HEAD", "/demo")
    assert (head.status, head.body) == (200, b"")
    assert (await client.request("POST", "/demo")).status == 405
    await client.aclose()


# -- the feed -------------------------------------------------------------------------------


async def test_feed_ticks_on_its_schedule_for_every_listener_once(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(build_demo_app(interval=1.0))
    start = trio.current_time()
    first = await open_feed(nursery, server, "/demo/events?client=one")
    second = await open_feed(nursery, server, "/demo/events")
    times: list[float] = []
    events: list[MessageEvent] = []
    for _ in range(3):
        events += await first.receive_events(1)
        times.append(trio.current_time() - start)
    assert times == [1.0, 2.0, 3.0]
    assert summary(events) == [("tick", "hello")] * 3
    assert [seq(e.last_event_id) for e in events] == [1, 2, 3]
    # the other listener got the same events (one publish per tick, not one per listener)
    assert [e.last_event_id for e in await second.receive_events(3)] == [
        e.last_event_id for e in events
    ]
    await first.aclose()
    await second.aclose()


async def test_stream_starts_with_the_retry_hint(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(build_demo_app(interval=2.0))
    client = await open_feed(nursery, server, "/demo/events")
    await client.receive_events(1)
    assert client.parser.retry == 4000
    await client.aclose()


async def test_dropped_stream_ends_and_resumes_with_no_gap(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(build_demo_app(interval=1.0))
    start = trio.current_time()
    sse = await open_feed(nursery, server, "/demo/events?client=page-1")
    before = await sse.receive_events(3)  # ticks at 1, 2, 3
    last_id = before[-1].last_event_id
    control = await open_memory_client(server, nursery)
    response = await control.request("POST", "/demo/drop?client=page-1&transport=sse")
    assert (response.status, json.loads(response.body)) == (200, {"dropped": 1})
    assert response.headers.get("content-type") == "application/json"
    # The response ends normally (terminating chunk): what makes EventSource reconnect.
    assert await sse.receive_body() == b""
    await sse.aclose()
    # Nobody listens from t=3 to t=5.5; the ticks due at 4 and 5 are not lost.
    await trio.sleep_until(start + 5.5)
    again = await open_feed(nursery, server, "/demo/events?client=page-1", last_id)
    resumed, *replayed = await again.receive_events(3)
    assert trio.current_time() - start == 5.5  # replayed at once, not on the schedule
    assert (resumed.type, resumed.last_event_id) == ("resumed", "")  # no id of its own
    assert json.loads(resumed.data) == {"after": last_id, "replayed": 2}
    assert [seq(e.last_event_id) for e in replayed] == [4, 5]
    (live,) = await again.receive_events(1)
    assert (seq(live.last_event_id), trio.current_time() - start) == (6, 6.0)
    # the same page, dropped again: only its own connections
    other = await open_feed(nursery, server, "/demo/events?client=page-2")
    response = await control.request("POST", "/demo/drop?client=page-1&transport=sse")
    assert json.loads(response.body) == {"dropped": 1}
    assert await again.receive_body() == b""
    assert seq((await other.receive_events(1))[0].last_event_id) == 7
    response = await control.request("POST", "/demo/drop?client=page-1&transport=sse")
    assert json.loads(response.body) == {"dropped": 0}
    for client in (again, other, control):
        await client.aclose()


async def test_unknown_last_event_id_gets_a_reset(nursery: trio.Nursery) -> None:
    server = trio_sse.Server(build_demo_app(interval=1000.0))
    sse = await open_feed(nursery, server, "/demo/events", "from-another-server-7")
    (reset,) = await sse.receive_events(1)
    assert (reset.type, reset.data) == ("reset", "unknown")
    await sse.aclose()


# -- /demo/drop and /demo/binary --------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "target", "status"),
    [
        ("POST", "/demo/drop", 400),
        ("POST", "/demo/drop?transport=sse", 400),
        ("POST", "/demo/drop?client=a", 400),
        ("POST", "/demo/drop?client=a&transport=http", 400),
        ("POST", "/demo/drop?client=a%20b&transport=sse", 400),
        ("POST", f"/demo/drop?client={'x' * 65}&transport=ws", 400),
        ("GET", "/demo/drop?client=a&transport=sse", 405),
        ("GET", "/demo/events?client=", 400),
        ("GET", "/demo/events?client=%2F", 400),
        ("GET", "/demo/ws?client=no%21", 400),
        ("GET", "/demo/ws?client=ok", 426),  # a WebSocket route, asked without Upgrade
        ("GET", "/demo/binary", 405),
        ("POST", "/demo/binary", 400),
    ],
)
async def test_demo_routes_refuse_bad_requests(
    nursery: trio.Nursery, method: str, target: str, status: int
) -> None:
    server = trio_sse.Server(build_demo_app())
    client = await open_memory_client(server, nursery)
    response = await client.request(method, target)
    assert response.status == status, response.text
    await client.aclose()


async def test_binary_travels_base64_in_a_text_event(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(build_demo_app(interval=1000.0))
    sse = await open_feed(nursery, server, "/demo/events")
    poster = await open_memory_client(server, nursery)
    payload = bytes(range(256)) * 3
    response = await poster.request("POST", "/demo/binary", body=payload)
    assert response.status == 202
    answer = json.loads(response.body)
    (event,) = await sse.receive_events(1)
    assert (event.type, event.last_event_id) == ("binary", answer["id"])
    assert base64.b64decode(event.data, validate=True) == payload  # byte-exact
    block = f"id: {answer['id']}\nevent: binary\ndata: {event.data}\n\n".encode()
    assert answer == {
        "id": answer["id"],
        "bytes": 768,
        "base64_chars": 1024,
        "wire_bytes": len(block),
    }
    too_big = await poster.request("POST", "/demo/binary", body=b"\0" * (MAX_BINARY_BYTES + 1))
    assert too_big.status == 413
    largest = await poster.request("POST", "/demo/binary", body=b"\xff" * MAX_BINARY_BYTES)
    assert largest.status == 202
    await sse.aclose()
    await poster.aclose()


async def test_publish_reaches_events_and_a_copy_reaches_the_feed(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(build_demo_app(interval=1000.0))
    events = await open_feed(nursery, server, "/events")
    feed = await open_feed(nursery, server, "/demo/events")
    poster = await open_memory_client(server, nursery)
    response = await poster.request("POST", "/publish?event=price", body=b"TRIO 21.50")
    assert response.status == 202
    (on_events,) = await events.receive_events(1)
    (on_feed,) = await feed.receive_events(1)
    assert summary([on_events, on_feed]) == [("price", "TRIO 21.50")] * 2
    assert on_events.last_event_id == json.loads(response.body)["id"]
    assert on_feed.last_event_id != on_events.last_event_id  # the feed numbers its own
    for client in (events, feed, poster):
        await client.aclose()


# -- /demo/ws ---------------------------------------------------------------------------------


async def test_demo_websocket_relays_the_feed_echoes_and_publishes(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(build_demo_app(interval=1.0))
    start = trio.current_time()
    ws, _ = await open_ws(nursery, server, "/demo/ws?client=w")
    tick = await get_json(ws)
    assert trio.current_time() - start == 1.0
    assert tick == {"event": "tick", "data": "hello", "id": tick["id"], "source": "feed"}
    assert seq(cast("str", tick["id"])) == 1
    payload = bytes(range(256))
    await ws.send_message(payload)
    assert await ws.get_message() == payload  # a binary frame, echoed byte for byte
    await ws.send_message(json.dumps({"type": "interval", "seconds": 1}))
    error = await get_json(ws)
    assert (error["type"], error["of"]) == ("error", "interval")
    await ws.send_message(json.dumps({"type": "publish", "event": "news", "data": "hi"}))
    replies = [await get_json(ws) for _ in range(2)]  # the ack and the relayed event
    (relayed,) = [r for r in replies if "event" in r]
    assert (relayed["event"], relayed["data"], seq(cast("str", relayed["id"]))) == ("news", "hi", 2)
    assert [r["type"] for r in replies if "type" in r] == ["ack"]
    await ws.aclose()


async def test_dropped_websocket_closes_4000_and_a_hand_written_resume_has_no_gap(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(build_demo_app(interval=1.0))
    start = trio.current_time()
    ws, _ = await open_ws(nursery, server, "/demo/ws?client=w")
    last = [await get_json(ws) for _ in range(2)][-1]["id"]
    assert isinstance(last, str)
    control = await open_memory_client(server, nursery)
    response = await control.request("POST", "/demo/drop?client=w&transport=ws")
    assert json.loads(response.body) == {"dropped": 1}
    reason = await close_reason(ws)
    assert (reason.code, reason.reason) == (DROP_CLOSE_CODE, "dropped by /demo/drop")
    # The page reconnects by hand 2.5 s later: without resuming it misses ticks 3 and 4 ...
    await trio.sleep_until(start + 4.5)
    naive, _ = await open_ws(nursery, server, "/demo/ws?client=w")
    assert seq(cast("str", (await get_json(naive))["id"])) == 5
    # ... and resuming from the last id it saw, it gets them all.
    resumed, _ = await open_ws(nursery, server, f"/demo/ws?client=w&last_event_id={last}")
    hello = await get_json(resumed)
    assert hello == {"type": "resumed", "after": last, "replayed": 3}
    assert [seq(cast("str", (await get_json(resumed))["id"])) for _ in range(4)] == [3, 4, 5, 6]
    assert trio.current_time() - start == 6.0
    # both sockets of page w are dropped at once; another page's would not be
    response = await control.request("POST", "/demo/drop?client=w&transport=ws")
    assert json.loads(response.body) == {"dropped": 2}
    for socket in (naive, resumed):
        assert (await close_reason(socket)).code == DROP_CLOSE_CODE
    await control.aclose()
