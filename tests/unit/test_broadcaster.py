"""The broadcaster on its own (no server): construction, publishing, fan-out, overflow,
replay and reset.

No real sleeps (``autojump_clock`` wherever time could pass). The broadcaster behind a
server is tested in ``tests/memory/test_broadcast_relay.py``, the demo's ``/events`` and
``/publish`` in ``tests/memory/test_demo_publish.py``.
"""

from __future__ import annotations

import random
from contextlib import AsyncExitStack

import pytest
import trio
import trio.testing

from trio_sse import (
    BroadcastBackend,
    Broadcaster,
    BroadcasterStatistics,
    EventStreamResponse,
    InvalidEventError,
    ServerSentEvent,
    Subscription,
)
from trio_sse.client import parse_events

# -- helpers ---------------------------------------------------------------------------


async def take(subscription: Subscription, count: int) -> list[bytes]:
    """The next *count* blocks of *subscription*."""
    return [await subscription.__anext__() for _ in range(count)]


def block_id(block: bytes) -> str | None:
    (event,) = parse_events(block)
    return event.id


def block_event(block: bytes) -> ServerSentEvent:
    (event,) = parse_events(block)
    return event


async def rest(subscription: Subscription) -> list[bytes]:
    """Every block up to the end of an (overflowed) subscription."""
    return [block async for block in subscription]


# -- construction and publishing -------------------------------------------------------


def test_is_a_backend_and_exported() -> None:
    broadcaster = Broadcaster()
    assert isinstance(broadcaster, BroadcastBackend)
    assert Broadcaster.__module__ == "trio_sse"
    assert Subscription.__module__ == "trio_sse"
    assert BroadcasterStatistics.__module__ == "trio_sse"
    assert repr(broadcaster) == "<Broadcaster 0 subscribers, 0 published, history 0/1000>"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"history": -1}, "history: must be an int >= 0"),
        ({"history": True}, "history: must be an int >= 0"),
        ({"history": 1.5}, "history: must be an int >= 0"),
        ({"queue_size": 0}, "queue_size: must be an int >= 1"),
        ({"queue_size": False}, "queue_size: must be an int >= 1"),
        ({"id_prefix": "a\nb"}, "id_prefix: id: field must not contain CR or LF"),
        ({"id_prefix": "a\0b"}, "id_prefix: id: field must not contain NUL"),
        ({"id_prefix": "\ud800"}, "id_prefix: id: field must not contain lone surrogates"),
    ],
)
def test_constructor_rejects(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message):
        Broadcaster(**kwargs)  # type: ignore[arg-type]


def test_ids_are_prefixed_counters() -> None:
    random_prefix = Broadcaster()
    first = random_prefix.publish_nowait("a")
    prefix, dash, number = first.rpartition("-")
    assert dash
    assert len(prefix) == 8
    assert number == "1"
    assert random_prefix.publish_nowait("b") == f"{prefix}-2"
    assert Broadcaster().publish_nowait("a") != first  # another instance, another prefix
    assert Broadcaster(id_prefix="node-a").publish_nowait("a") == "node-a-1"
    bare = Broadcaster(id_prefix="")
    assert [bare.publish_nowait("x") for _ in range(3)] == ["1", "2", "3"]
    assert bare.statistics() == BroadcasterStatistics(
        subscribers=0,
        published=3,
        history_size=3,
        subscribers_dropped=0,
        events_replayed=0,
        resets_sent=0,
        last_event_id="3",
    )
    assert Broadcaster().statistics().last_event_id is None


async def test_publish_forms() -> None:
    broadcaster = Broadcaster(id_prefix="p")
    async with broadcaster.open_subscription() as subscription:
        assert await broadcaster.publish("text") == "p-1"
        assert await broadcaster.publish("named", event="greeting") == "p-2"
        full = ServerSentEvent("multi\nline", event="chat", retry=5000, comment="note")
        assert broadcaster.publish_nowait(full) == "p-3"
        blocks = await take(subscription, 3)
    assert blocks[0] == b"id: p-1\ndata: text\n\n"
    assert blocks[1] == b"event: greeting\nid: p-2\ndata: named\n\n"
    assert blocks[2] == (b": note\nevent: chat\nid: p-3\nretry: 5000\ndata: multi\ndata: line\n\n")


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((ServerSentEvent("x", id="7"),), {}, InvalidEventError, "id: must be None"),
        ((ServerSentEvent("x", id=""),), {}, InvalidEventError, "id: must be None"),
        ((ServerSentEvent("x"),), {"event": "e"}, TypeError, "event: give the event type"),
        (("x",), {"event": "reset"}, InvalidEventError, "event: 'reset' is reserved"),
        ((ServerSentEvent("x", event="reset"),), {}, InvalidEventError, "event: 'reset'"),
        (("x",), {"event": "a\nb"}, InvalidEventError, "event: field must not contain"),
        ((b"bytes",), {}, InvalidEventError, "data: field must be str, not bytes"),
        (("\ud800",), {}, InvalidEventError, "data: field must not contain lone"),
    ],
)
async def test_publish_rejects(
    args: tuple[object, ...], kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    broadcaster = Broadcaster()
    with pytest.raises(error, match="^" + message):
        broadcaster.publish_nowait(*args, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(error, match="^" + message):
        await broadcaster.publish(*args, **kwargs)  # type: ignore[arg-type]
    assert broadcaster.statistics().published == 0


async def test_publish_is_a_checkpoint_and_cancellation_publishes_nothing() -> None:
    broadcaster = Broadcaster()
    with trio.CancelScope() as scope:
        scope.cancel()
        await broadcaster.publish("never")
    assert scope.cancelled_caught
    assert broadcaster.statistics().published == 0


# -- fan-out ---------------------------------------------------------------------------


async def test_publish_reaches_every_subscriber_with_the_same_bytes() -> None:
    broadcaster = Broadcaster(id_prefix="")
    async with AsyncExitStack() as stack:
        subscriptions = [
            await stack.enter_async_context(broadcaster.open_subscription()) for _ in range(5)
        ]
        assert broadcaster.statistics().subscribers == 5
        await broadcaster.publish("one", event="n")
        await broadcaster.publish("two", event="n")
        received = [await take(subscription, 2) for subscription in subscriptions]
    assert broadcaster.statistics().subscribers == 0
    assert [block_event(block).data for block in received[0]] == ["one", "two"]
    for blocks in received[1:]:
        # Encoded once: every subscriber holds the very same bytes objects.
        assert blocks[0] is received[0][0]
        assert blocks[1] is received[0][1]


async def test_each_event_is_encoded_exactly_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[ServerSentEvent] = []
    real_encode = ServerSentEvent.encode

    def counting_encode(self: ServerSentEvent) -> bytes:
        calls.append(self)
        return real_encode(self)

    broadcaster = Broadcaster(id_prefix="")
    async with AsyncExitStack() as stack:
        subscriptions = [
            await stack.enter_async_context(broadcaster.open_subscription()) for _ in range(10)
        ]
        monkeypatch.setattr(ServerSentEvent, "encode", counting_encode)
        broadcaster.publish_nowait("a")
        await broadcaster.publish("b", event="x")
        assert [event.id for event in calls] == ["1", "2"]
        blocks = [await take(subscription, 2) for subscription in subscriptions]
        # A late subscriber is replayed the same bytes: still no encoding.
        async with broadcaster.open_subscription("0") as late:
            replayed = await take(late, 2)
        assert replayed[0] is blocks[0][0]
        assert replayed[1] is blocks[-1][1]
    assert len(calls) == 2


async def test_slow_subscriber_is_dropped_and_others_are_unaffected(
    autojump_clock: trio.abc.Clock,
) -> None:
    broadcaster = Broadcaster(id_prefix="", queue_size=2)
    fast_received: list[str | None] = []

    async def fast(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with broadcaster.open_subscription() as subscription:
            task_status.started()
            async for block in subscription:
                fast_received.append(block_id(block))

    async with trio.open_nursery() as nursery:
        await nursery.start(fast)
        async with broadcaster.open_subscription() as slow:  # never reads while publishing
            for n in range(1, 6):
                await broadcaster.publish(f"event {n}")
                await trio.testing.wait_all_tasks_blocked()  # the fast one has read it
                if n == 2:
                    assert not slow.overflowed
                    assert broadcaster.statistics().subscribers == 2
            assert slow.overflowed
            stats = broadcaster.statistics()
            assert stats.subscribers == 1
            assert stats.subscribers_dropped == 1
            # The dropped subscription yields what was queued before the overflow, then ends.
            assert [block_id(block) for block in await rest(slow)] == ["1", "2"]
            assert "overflowed" in repr(slow)
        assert fast_received == ["1", "2", "3", "4", "5"]
        nursery.cancel_scope.cancel()
    assert broadcaster.statistics().subscribers == 0


async def test_publish_never_blocks(autojump_clock: trio.abc.Clock) -> None:
    broadcaster = Broadcaster(id_prefix="", queue_size=1, history=10)
    async with AsyncExitStack() as stack:
        for _ in range(3):
            await stack.enter_async_context(broadcaster.open_subscription())
        start = trio.current_time()
        with trio.fail_after(1):  # on the virtual clock: a blocked publish fails at once
            for n in range(100):
                await broadcaster.publish(f"{n}")
        assert trio.current_time() == start
        stats = broadcaster.statistics()
    assert stats.published == 100
    assert stats.subscribers == 0
    assert stats.subscribers_dropped == 3
    assert stats.history_size == 10


async def test_leaving_the_block_unsubscribes_even_when_cancelled() -> None:
    broadcaster = Broadcaster()
    with trio.CancelScope() as scope:
        async with broadcaster.open_subscription() as subscription:
            assert broadcaster.statistics().subscribers == 1
            assert repr(subscription) == "<Subscription live reset=None replayed=0>"
            scope.cancel()
            await subscription.__anext__()
    assert scope.cancelled_caught
    assert broadcaster.statistics().subscribers == 0
    broadcaster.publish_nowait("nobody listens")
    with pytest.raises(trio.ClosedResourceError):
        await subscription.__anext__()


# -- replay and reset ------------------------------------------------------------------


async def test_replay_after_last_event_id_then_live() -> None:
    broadcaster = Broadcaster(id_prefix="p")
    ids = [broadcaster.publish_nowait(f"e{n}") for n in range(1, 6)]
    async with broadcaster.open_subscription(ids[1]) as subscription:
        assert subscription.reset is None
        assert subscription.replayed == 3
        replayed = await take(subscription, 3)
        assert [block_id(block) for block in replayed] == ["p-3", "p-4", "p-5"]
        await broadcaster.publish("e6")
        assert [block_id(block) for block in await take(subscription, 1)] == ["p-6"]
    assert broadcaster.statistics().events_replayed == 3


@pytest.mark.parametrize("last_event_id", [None, ""])
async def test_no_last_event_id_means_live_only(last_event_id: str | None) -> None:
    broadcaster = Broadcaster(id_prefix="")
    broadcaster.publish_nowait("old")
    async with broadcaster.open_subscription(last_event_id) as subscription:
        await broadcaster.publish("new")
        (block,) = await take(subscription, 1)
    assert block_event(block) == ServerSentEvent("new", id="2")
    assert subscription.reset is None
    assert subscription.replayed == 0


async def test_up_to_date_id_replays_nothing() -> None:
    broadcaster = Broadcaster(id_prefix="", history=0)
    head = broadcaster.publish_nowait("seen")
    async with broadcaster.open_subscription(head) as subscription:
        await broadcaster.publish("next")
        (block,) = await take(subscription, 1)
    assert block_id(block) == "2"
    assert broadcaster.statistics().resets_sent == 0


async def test_id_zero_means_before_the_first_event() -> None:
    broadcaster = Broadcaster(id_prefix="p")
    broadcaster.publish_nowait("first")
    broadcaster.publish_nowait("second")
    async with broadcaster.open_subscription("p-0") as subscription:
        blocks = await take(subscription, 2)
    assert [block_id(block) for block in blocks] == ["p-1", "p-2"]


@pytest.mark.parametrize(("history", "published"), [(3, 10), (0, 1)])
async def test_too_old_id_gets_a_reset_then_live_events(history: int, published: int) -> None:
    broadcaster = Broadcaster(id_prefix="p", history=history)
    for n in range(published):
        broadcaster.publish_nowait(f"e{n}")
    async with broadcaster.open_subscription("p-0") as subscription:
        assert subscription.reset == "expired"
        assert subscription.replayed == 0
        await broadcaster.publish("live")
        reset, live = await take(subscription, 2)
    # An explicit signal, without an id: it is not a durable event.
    assert reset == b"event: reset\ndata: expired\n\n"
    assert block_event(live) == ServerSentEvent("live", id=f"p-{published + 1}")
    assert broadcaster.statistics().resets_sent == 1


async def test_oldest_retained_event_is_still_replayed() -> None:
    broadcaster = Broadcaster(id_prefix="p", history=3)
    for n in range(10):
        broadcaster.publish_nowait(f"e{n}")
    async with broadcaster.open_subscription("p-7") as subscription:
        blocks = await take(subscription, 3)
    assert [block_id(block) for block in blocks] == ["p-8", "p-9", "p-10"]
    async with broadcaster.open_subscription("p-6") as subscription:
        assert subscription.reset == "expired"


@pytest.mark.parametrize(
    "last_event_id",
    [
        "bogus",
        "q-1",  # another broadcaster's prefix
        "p-3",  # not issued yet (e.g. from before a restart)
        "p-01",  # not canonical
        "p-",
        "p--1",
        "p-+1",
        "p-1.0",
        "p-\u0661",  # ARABIC-INDIC DIGIT ONE: a digit, but not ASCII
        "p-" + "9" * 25,
        "1",  # no prefix
    ],
)
async def test_unknown_id_gets_a_reset(last_event_id: str) -> None:
    broadcaster = Broadcaster(id_prefix="p")
    broadcaster.publish_nowait("one")
    broadcaster.publish_nowait("two")
    async with broadcaster.open_subscription(last_event_id) as subscription:
        assert subscription.reset == "unknown"
        assert repr(subscription) == "<Subscription live reset='unknown' replayed=0>"
        await broadcaster.publish("three")
        reset, live = await take(subscription, 2)
    assert block_event(reset) == ServerSentEvent("unknown", event="reset")
    assert block_id(live) == "p-3"


@pytest.mark.parametrize("last_event_id", ["x", "01", "-1", "5"])
async def test_unknown_id_without_prefix(last_event_id: str) -> None:
    broadcaster = Broadcaster(id_prefix="")
    broadcaster.publish_nowait("one")
    async with broadcaster.open_subscription(last_event_id) as subscription:
        assert subscription.reset == "unknown"


async def test_resuming_subscribers_see_every_event_once_while_publishes_race() -> None:
    """Subscribers drop and resume at every step while the publisher keeps publishing."""
    total = 300
    broadcaster = Broadcaster(id_prefix="", history=total, queue_size=total)
    rng = random.Random(1234)
    results: dict[int, list[str | None]] = {}

    async def resuming(
        number: int, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        seen: list[str | None] = []
        last: str | None = None
        started = False
        while last != str(total):
            async with broadcaster.open_subscription(last) as subscription:
                if not started:
                    started = True
                    task_status.started()
                assert subscription.reset is None
                for _ in range(rng.randint(1, 7)):
                    last = block_id(await subscription.__anext__())
                    seen.append(last)
                    if last == str(total):
                        break
        results[number] = seen

    async with trio.open_nursery() as nursery:
        for number in range(8):
            await nursery.start(resuming, number)
        for n in range(total):
            await broadcaster.publish(f"e{n}")
    expected = [str(n) for n in range(1, total + 1)]
    assert results == dict.fromkeys(range(8), expected)
    stats = broadcaster.statistics()
    assert stats.subscribers == 0
    assert stats.subscribers_dropped == 0
    assert stats.resets_sent == 0
    assert stats.events_replayed > 0  # the races did happen


# -- over HTTP: relay and stream_response ----------------------------------------------


def test_stream_response_builds_an_event_stream_response() -> None:
    broadcaster = Broadcaster()
    farewell = ServerSentEvent(retry=10_000)
    response = broadcaster.stream_response(
        headers={"X-Topic": "news"}, retry=2000, heartbeat=None, farewell=farewell
    )
    assert isinstance(response, EventStreamResponse)
    assert response.producer == broadcaster.relay
    assert response.headers["x-topic"] == "news"
    assert (response.retry, response.heartbeat, response.farewell) == (2000, None, farewell)
