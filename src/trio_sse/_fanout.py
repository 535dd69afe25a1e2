"""Local fan-out: this process's subscribers, and what every broadcast backend shares.

Both backends, the in-memory :class:`~trio_sse.Broadcaster` and the Redis Streams one,
hand each encoded event to a :class:`LocalFanOut`, which queues it for the subscribers of
this process; both check ``publish``'s arguments with :func:`prepare_event` and start a
subscription that cannot resume with one of the :data:`RESET_BYTES`. The rules of
broadcasting as a whole are in ``_broadcast``'s documentation.

Rules
-----
* **No I/O, no tasks.** Nothing here touches a socket or a broker, and nothing starts a
  task, thread or timer: the fan-out runs inside the caller's task, synchronously.
* **Delivery never blocks.** :meth:`LocalFanOut.deliver` fills each subscriber's bounded
  queue (a ``trio`` memory channel) with ``send_nowait``; it has no checkpoint.
* **Overflow drops the subscriber.** A subscriber whose queue is full when a block is
  delivered is removed at once and its queue closed: its :class:`Subscription` yields
  what was already queued, then ends, with :attr:`Subscription.overflowed` set.
* **Replay and registration in one step.** :meth:`LocalFanOut.register` takes the blocks
  to replay and adds the queue without a checkpoint, so a caller that computed the replay
  synchronously just before misses nothing and repeats nothing.
* **Lifetime by structure.** A registration lasts for a ``with`` block and is removed in
  ``finally``.
"""

from __future__ import annotations

from collections import deque
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final, final

import trio

from ._events import ServerSentEvent
from ._exceptions import InvalidEventError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "RESET_BYTES",
    "RESET_EVENT",
    "RESET_EXPIRED",
    "RESET_UNKNOWN",
    "LocalFanOut",
    "Subscription",
    "prepare_event",
]

RESET_EVENT: Final = "reset"
"""The event type telling a client that its ``Last-Event-ID`` could not be honoured."""

#: Data of the reset event: the id is older than the history (events were lost) ...
RESET_EXPIRED: Final = "expired"
#: ... or the id was not issued by this broadcaster (another instance, or malformed).
RESET_UNKNOWN: Final = "unknown"

#: The encoded reset events, by reason: no id (only durable, replayable events carry one).
RESET_BYTES: Final = {
    RESET_EXPIRED: ServerSentEvent(RESET_EXPIRED, event=RESET_EVENT).encode(),
    RESET_UNKNOWN: ServerSentEvent(RESET_UNKNOWN, event=RESET_EVENT).encode(),
}


def prepare_event(data: str | ServerSentEvent, event: str | None) -> ServerSentEvent:
    """Check and normalise ``publish``'s arguments into an event without an id.

    Shared by every backend, so they all accept and refuse the same things.
    """
    if isinstance(data, ServerSentEvent):
        if event is not None:
            raise TypeError("event: give the event type inside the ServerSentEvent, not both")
        if data.id is not None:
            raise InvalidEventError("id", "must be None: the broadcaster assigns ids")
        prepared = data
    else:
        prepared = ServerSentEvent(data, event=event)  # validates both fields
    if prepared.event == RESET_EVENT:
        raise InvalidEventError(
            "event", f"{RESET_EVENT!r} is reserved for the broadcaster's replay signal"
        )
    return prepared


@final
class Subscription:
    """One subscriber of a :class:`Broadcaster`: an async iterator of encoded events.

    Created by :meth:`Broadcaster.open_subscription`; valid inside its ``async with`` block.
    It yields the reset event or the replayed events first, then live events. Iteration
    ends only when the broadcaster dropped the subscriber for overflow, after the events
    already queued.

    Attributes:
        reset: ``None`` if the ``Last-Event-ID`` was honoured (or absent); otherwise the
            data of the reset event yielded first: ``"expired"`` or ``"unknown"``.
        replayed: How many events from the history were queued for replay.
        overflowed: Whether the broadcaster dropped this subscriber because its queue was
            full.
    """

    __slots__ = ("_receive", "_replay", "overflowed", "replayed", "reset")

    def __init__(
        self,
        replay: list[bytes],
        receive: trio.MemoryReceiveChannel[bytes],
        reset: str | None,
    ) -> None:
        self._replay = deque(replay)
        self._receive = receive
        self.overflowed = False
        self.reset = reset
        self.replayed = len(replay) if reset is None else 0

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> bytes:
        if self._replay:
            await trio.lowlevel.checkpoint()
            return self._replay.popleft()
        try:
            return await self._receive.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    def __repr__(self) -> str:
        state = "overflowed" if self.overflowed else "live"
        return f"<Subscription {state} reset={self.reset!r} replayed={self.replayed}>"


@final
class LocalFanOut:
    """This process's subscribers: bounded queues of encoded events, and their counters.

    Args:
        queue_size: Blocks queued per subscriber before it is dropped; at least 1 (the
            backend checks it).

    Attributes:
        dropped: Subscribers dropped because their queue was full (or ended by
            :meth:`drop_all`).
        replayed: Blocks replayed to resuming subscribers, in total.
        resets: Subscriptions that began with a reset event.
    """

    __slots__ = ("_queue_size", "_subscribers", "dropped", "replayed", "resets")

    def __init__(self, queue_size: int) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[Subscription, trio.MemorySendChannel[bytes]] = {}
        self.dropped = 0
        self.replayed = 0
        self.resets = 0

    @property
    def subscribers(self) -> int:
        """Subscriptions registered now (dropped ones excluded)."""
        return len(self._subscribers)

    def deliver(self, block: bytes) -> None:
        """Queue *block* for every subscriber; drop those whose queue is full."""
        full: list[Subscription] = []
        for subscription, channel in self._subscribers.items():
            try:
                channel.send_nowait(block)
            except trio.WouldBlock:
                full.append(subscription)
        for subscription in full:
            self._subscribers.pop(subscription).close()
            subscription.overflowed = True
            self.dropped += 1

    def drop_all(self) -> None:
        """End every subscription, as an overflow would (its queued blocks still come)."""
        for subscription, channel in self._subscribers.items():
            channel.close()
            subscription.overflowed = True
        self.dropped += len(self._subscribers)
        self._subscribers.clear()

    @contextmanager
    def register(self, replay: list[bytes], reset: str | None) -> Iterator[Subscription]:
        """Hold a subscription for the block; no checkpoint between replay and registering.

        Args:
            replay: The blocks the subscription yields before live ones: the missed
                events, or the one reset event.
            reset: The reset reason when *replay* is a reset event, else ``None``.

        Yields:
            The registered :class:`Subscription`.
        """
        send, receive = trio.open_memory_channel[bytes](self._queue_size)
        subscription = Subscription(replay, receive, reset)
        self._subscribers[subscription] = send
        if reset is None:
            self.replayed += len(replay)
        else:
            self.resets += 1
        try:
            yield subscription
        finally:
            self._subscribers.pop(subscription, None)
            send.close()
            receive.close()
