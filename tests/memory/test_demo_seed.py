"""The demo's seed routes (``/`` and ``/metrics``) over memory streams, on the virtual clock.

Server behaviour is tested with the local ``ticker_app`` elsewhere; these tests are about
the demo's own ticker and metrics page.
"""

from __future__ import annotations

import trio
import trio.testing

from trio_sse._demo import build_demo_app
from trio_sse.testing import MemoryListener, TestClient

from ..helpers import SSE, check_running, running_server, start_client


async def test_demo_seed_ticker_still_ticks_every_interval(
    autojump_clock: trio.testing.MockClock,
) -> None:
    listener = MemoryListener()
    async with running_server(build_demo_app(interval=2.0), listener=listener) as server:
        check_running(server._timer)
        client = TestClient(await listener.connect())
        await client.send_request("GET", "/", headers=SSE)
        head = await client.receive_head()
        assert head.status == 200
        assert head.headers["content-type"] == "text/event-stream; charset=utf-8"
        start = trio.current_time()
        await trio.testing.wait_all_tasks_blocked()
        assert len(server._timer) == 1
        for n in range(1, 6):
            (event,) = await client.receive_events(1)
            assert trio.current_time() == start + 2.0 * n
            assert (event.type, event.data, event.last_event_id) == ("message", "hello", str(n))
            await trio.testing.wait_all_tasks_blocked()
            assert len(server._timer) == 1
        await client.aclose()
        await trio.testing.wait_all_tasks_blocked()
        assert len(server._timer) == 0
        assert server.statistics().tickers_active == 0
    assert not server._timer.running
    assert len(server._timer) == 0


async def test_demo_metrics_in_prometheus_format(nursery: trio.Nursery) -> None:
    _, client = await start_client(nursery, build_demo_app())
    await client.request("GET", "/")
    response = await client.request("GET", "/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = response.text.splitlines()
    assert "trio_sse_connections_open 1" in lines
    assert 'trio_sse_responses_total{status="200"} 1' in lines
    assert "trio_sse_tickers_active 0" in lines
    assert "# TYPE trio_sse_requests_total counter" in lines


async def test_demo_ticker_resumes_after_a_numeric_last_event_id(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    _, client = await start_client(nursery, build_demo_app(interval=2.0))
    await client.send_request("GET", "/", headers=[*SSE, ("Last-Event-ID", "41")])
    await client.receive_head()
    events = await client.receive_events(2)
    assert [e.last_event_id for e in events] == ["42", "43"]
    await client.aclose()
