"""The demo's pure parts: retry hint, ``serve --help``, the feed's catch-up, the registry of
live connections, and which ``/ws`` messages are control messages (no server, no I/O)."""

from __future__ import annotations

import re

import pytest
import trio
import trio.testing

from trio_sse._cli import main
from trio_sse._demo import (
    FEED_MAX_CATCH_UP,
    DemoFeed,
    LiveConnections,
    demo_retry_ms,
    ws_control_message,
)


def test_retry_is_two_intervals_and_at_least_a_second() -> None:
    assert demo_retry_ms(0.2) == 1000
    assert demo_retry_ms(2.0) == 4000
    assert demo_retry_ms(0.75) == 1500


def test_serve_help_names_the_routes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for route in ["/events", "/publish", "/ws", "/demo", "/metrics"]:
        assert re.search(rf"{route}(?![\w/])", text), route


async def test_catch_up_publishes_what_came_due_at_most_the_cap(
    autojump_clock: trio.testing.MockClock,
) -> None:
    feed = DemoFeed(1.0)
    feed.catch_up()  # the first listener: the schedule starts now
    assert feed.broadcaster.statistics().published == 0
    await trio.sleep(2.5)
    feed.catch_up()
    feed.catch_up()  # idempotent
    assert feed.broadcaster.statistics().published == 2
    await trio.sleep(1000)
    feed.catch_up()
    assert feed.broadcaster.statistics().published == 2 + FEED_MAX_CATCH_UP
    # and the schedule is kept: the next tick at start + 1003
    start = trio.current_time() - 1002.5
    with trio.move_on_after(0.6):
        await feed.drive()
    assert feed.broadcaster.statistics().published == 3 + FEED_MAX_CATCH_UP
    assert trio.current_time() - start == pytest.approx(1003.1)


async def test_live_connections_registry() -> None:
    live = LiveConnections()
    with live.open("a", "sse") as one, live.open("a", "sse") as two, live.open("a", "ws") as ws:
        with live.open(None, "sse") as anonymous:
            assert live.drop("a", "sse") == 2
            assert live.drop("b", "sse") == 0
        assert not anonymous.cancel_called
        assert one.cancel_called
        assert two.cancel_called
        assert not ws.cancel_called
        await trio.lowlevel.checkpoint()  # cancelled: the scopes absorb it
    assert live.drop("a", "sse") == 0
    assert live.drop("a", "ws") == 0  # unregistered on the way out
    assert live._scopes == {}


def test_demo_control_messages_are_exactly_json_objects_with_a_known_type() -> None:
    assert ws_control_message('{"type": "interval", "seconds": 1}') is not None
    assert ws_control_message(' {"type": "publish", "data": "x"}') is not None
    echoed_messages: list[str | bytes] = [
        b'{"type": "interval", "seconds": 1}',  # binary: always echoed
        '{"type": "Interval"}',
        '{"type": ["interval"]}',
        '{"kind": "interval"}',
        '[{"type": "interval"}]',
        '"interval"',
        "{broken",
        "{" * 100_000,  # deeper than the JSON parser's recursion limit
    ]
    for echoed in echoed_messages:
        assert ws_control_message(echoed) is None, echoed[:30]
