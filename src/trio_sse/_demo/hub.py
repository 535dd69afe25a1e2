"""What the demo's routes share: the ``/events`` broadcaster, the demo feed, live connections.

The *demo feed* is the comparison page's :class:`~trio_sse.Broadcaster`: ``event: tick``
on a schedule driven by its listeners, plus copies of what is published to ``/events``.
:class:`LiveConnections` lets ``/demo/drop`` end a page's feed connections.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final, NoReturn

import trio

from .._broadcast import Broadcaster

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .._redis import RedisBroadcaster

__all__ = [
    "FEED_MAX_CATCH_UP",
    "RESUMED_EVENT",
    "TICK_EVENT",
    "DemoFeed",
    "DemoHub",
    "LiveConnections",
]

#: The feed's scheduled event.
TICK_EVENT: Final = "tick"
#: Sent (without an id) before the events replayed to a resuming ``/demo/events`` client.
RESUMED_EVENT: Final = "resumed"
#: Due ticks published at once for a listener arriving after nobody listened, at most
#: (fewer than a subscriber's queue, so the catch-up never overflows one).
FEED_MAX_CATCH_UP: Final = 32


class DemoFeed:
    """The demo page's feed: a broadcaster with scheduled ticks (see the package docs).

    Tick *n* is due at *start + n x interval*, *start* being the first listener's arrival.
    There is no task of its own: every listener runs :meth:`drive`, and whichever wakes
    first publishes the tick (the others find nothing due); :meth:`catch_up`, called before
    a listener subscribes, publishes the ticks that came due while nobody listened.
    """

    def __init__(self, interval: float) -> None:
        self.broadcaster = Broadcaster()
        self.interval = interval
        self._start: float | None = None
        self._ticks = 0  # ticks accounted for: published, or skipped by the catch-up cap

    def _due(self, n: int) -> float:
        assert self._start is not None
        return self._start + n * self.interval

    def catch_up(self) -> None:
        """Publish every tick due by now (at most :data:`FEED_MAX_CATCH_UP` at once)."""
        now = trio.current_time()
        if self._start is None:
            self._start = now
        behind = math.floor((now - self._start) / self.interval) - self._ticks
        if behind > FEED_MAX_CATCH_UP:
            self._ticks += behind - FEED_MAX_CATCH_UP
        while self._due(self._ticks + 1) <= now:
            self._ticks += 1
            self.broadcaster.publish_nowait("hello", event=TICK_EVENT)

    async def drive(self) -> NoReturn:
        """Publish the ticks on their schedule, for as long as the calling listener lives."""
        while True:
            self.catch_up()
            await trio.sleep_until(self._due(self._ticks + 1))


class LiveConnections:
    """The demo pages' feed connections, by client id and transport, for ``/demo/drop``."""

    def __init__(self) -> None:
        self._scopes: dict[tuple[str, str], set[trio.CancelScope]] = {}

    @contextmanager
    def open(self, client: str | None, transport: str) -> Iterator[trio.CancelScope]:
        """Run the block in a cancel scope that :meth:`drop` cancels (when *client* is set).

        The scope is cancelled, never the task: a dropped connection's handler carries on
        after the block, to end its response or close its socket as it chooses.
        """
        with trio.CancelScope() as scope:
            if client is None:
                yield scope
                return
            key = (client, transport)
            scopes = self._scopes.setdefault(key, set())
            scopes.add(scope)
            try:
                yield scope
            finally:
                scopes.discard(scope)
                if not scopes and self._scopes.get(key) is scopes:
                    del self._scopes[key]

    def drop(self, client: str, transport: str) -> int:
        """Cancel the scopes of *client*'s *transport* connections; return how many."""
        scopes = self._scopes.get((client, transport), set())
        for scope in scopes:
            scope.cancel()
        return len(scopes)


class DemoHub:
    """What the demo's routes share: the ``/events`` broadcaster, the feed, live connections."""

    def __init__(self, interval: float, events: Broadcaster | RedisBroadcaster | None) -> None:
        self.interval = interval
        self.events = Broadcaster() if events is None else events
        self.feed = DemoFeed(interval)
        self.live = LiveConnections()

    async def publish(self, text: str, name: str) -> str:
        """Publish to ``/events`` and copy to the feed; return the ``/events`` id."""
        event_id = await self.events.publish(text, event=name)
        self.feed.broadcaster.publish_nowait(text, event=name)
        return event_id
