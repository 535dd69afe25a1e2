"""Broadcasting: publish an event once, every subscribed event stream receives it.

This file does no socket I/O and starts no task, thread or timer: all the work happens
inside :meth:`Broadcaster.publish` (in the publisher's task) and inside each subscriber's
own task (normally the producer of one :class:`~trio_sse.EventStreamResponse`). The
subscribers' queues, the overflow policy and the reset events are ``_fanout``'s, shared
with the Redis backend; this file holds the interface and the in-memory backend.

Rules
-----
* **A backend-neutral interface.** :class:`BroadcastBackend` has two abstract operations,
  ``publish`` and ``open_subscription(last_event_id)``; a subscription is an async iterator
  of *encoded* event blocks (``bytes``). :meth:`~BroadcastBackend.relay` and
  :meth:`~BroadcastBackend.stream_response` are written on top of those two only, so any
  backend (the in-memory :class:`Broadcaster` here, a broker-backed one elsewhere) gets them
  for free. Nothing here imports a broker client.
* **The broadcaster assigns the ids.** Every published event gets a fresh id
  ``"<prefix>-<n>"``: *n* counts from 1 and increases by one per event, so ids of one
  broadcaster are ordered; *prefix* names the broadcaster instance (random by default), so
  a ``Last-Event-ID`` from another instance, e.g. from before a server restart, is
  recognised as unknown instead of being mistaken for a position in this one. Clients
  must treat ids as opaque. Events given to ``publish`` must not carry an id of their own.
* **Encoded once.** ``publish`` encodes the event (with its id) exactly once; the same
  ``bytes`` object goes to every subscriber and into the replay history.
* **Publishing never blocks.** Each subscriber has a bounded queue (a ``trio`` memory
  channel of ``queue_size`` events) filled with ``send_nowait``; a slow subscriber can
  never delay the publisher nor the other subscribers, and memory is bounded.
* **Overflow policy: disconnect, then resume** (Mercure's choice). A subscriber whose queue
  is full when an event is published is dropped: it is removed from the broadcaster at
  once, the event is not queued for it, and its subscription ends after yielding the
  events already queued. :meth:`BroadcastBackend.relay` then returns, so the response ends;
  the ``EventSource`` reconnects with the ``Last-Event-ID`` of the last event it received,
  and is replayed what it missed from the history. Nothing is lost silently: either the
  history still holds the missed events, or the client gets a ``reset`` event (below).
  Drops are counted (:attr:`BroadcasterStatistics.subscribers_dropped`).
* **Bounded replay without a race.** The broadcaster keeps the last ``history`` encoded
  events. Opening a subscription with a ``Last-Event-ID`` copies the events published
  after it from the history *and* registers the subscriber's queue in one synchronous
  step, with no checkpoint in between: every event is delivered exactly once, in order,
  whether it was published before or after the subscription opened.
* **Explicit reset.** When the ``Last-Event-ID`` cannot be honoured the subscription first
  yields one ``reset`` event (``event: reset``), whose data is ``expired`` (the id is
  older than the history: events were lost) or ``unknown`` (not an id of this
  broadcaster, e.g. from before a restart, or malformed). Then it continues with live
  events only: the client should re-read the whole state by other means. The reset event
  carries no ``id`` (only durable, replayable events carry ids), so a client that
  reconnects before the next event arrives is told ``reset`` again, which is still true.
  A missing or empty ``Last-Event-ID`` means a fresh start: live events, no reset.
* **Lifetime by structure.** A subscription exists only inside its ``async with`` block:
  the subscriber is removed in ``finally``, so a producer cancelled because its client
  disconnected unsubscribes by construction, with no callback and no polling.
"""

from __future__ import annotations

import dataclasses
import secrets
from abc import ABC, abstractmethod
from collections import deque
from contextlib import asynccontextmanager
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Final, final

import trio

from ._config import USE_CONFIG, UseConfig
from ._events import ServerSentEvent
from ._exceptions import InvalidEventError, TrioSSEError
from ._fanout import (
    RESET_BYTES,
    RESET_EXPIRED,
    RESET_UNKNOWN,
    LocalFanOut,
    Subscription,
    prepare_event,
)
from ._sse import EventStreamResponse

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator
    from contextlib import AbstractAsyncContextManager

    from ._headers import HeadersLike
    from ._sse import EventStream

# Subscription lives in _fanout with the queues that feed it; it is listed here because
# the package's __init__ exports it from this module.
__all__ = [
    "DEFAULT_HISTORY",
    "DEFAULT_QUEUE_SIZE",
    "BroadcastBackend",
    "Broadcaster",
    "BrokerUnavailableError",
    "BroadcasterStatistics",
    "Subscription",
]

DEFAULT_HISTORY: Final = 1000
"""Events kept for replay by default."""
DEFAULT_QUEUE_SIZE: Final = 64
"""Events queued per subscriber by default before it is dropped."""
_MAX_SEQ_DIGITS: Final = 20


class BrokerUnavailableError(TrioSSEError):
    """A broker-backed :class:`BroadcastBackend` cannot reach its broker right now.

    Raised by :meth:`~BroadcastBackend.publish` (nothing was published: the event was not
    acknowledged) and by :meth:`~BroadcastBackend.open_subscription` when resuming after a
    ``Last-Event-ID`` needs the broker. Retrying later is the remedy; a web handler
    typically answers ``503 Service Unavailable``. The in-memory :class:`Broadcaster`
    never raises it.
    """


class BroadcastBackend(ABC):
    """The interface of a broadcaster, independent of where events travel.

    A backend implements :meth:`publish` and :meth:`open_subscription`; it inherits
    :meth:`relay` and :meth:`stream_response`. :class:`Broadcaster` is the in-memory
    backend; broker-backed ones (e.g. Redis Streams) implement the same contract, described
    in the module documentation: ids assigned by the backend, events encoded once, publish
    never blocked by a subscriber, overflow ends the subscription, replay after a
    ``Last-Event-ID`` or one ``reset`` event first.
    """

    __slots__ = ()

    @abstractmethod
    async def publish(self, data: str | ServerSentEvent, *, event: str | None = None) -> str:
        """Publish an event to every current subscriber and to the replay history.

        Args:
            data: The event's data as text, or a complete :class:`~trio_sse.ServerSentEvent`
                (without ``id``: the backend assigns it).
            event: The event type, when *data* is text; ``None`` means ``"message"``.

        Returns:
            The id assigned to the event.

        Raises:
            InvalidEventError: A field cannot be carried by the event-stream format, the
                event has an ``id``, or its type is the reserved ``"reset"``.
            TypeError: *event* was given together with a ``ServerSentEvent``.
        """

    @abstractmethod
    def open_subscription(
        self, last_event_id: str | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """Subscribe for the duration of an ``async with`` block.

        The block's value is an async iterator of encoded event blocks (each ending with
        ``b"\\n\\n"``), ready for :meth:`EventStream.send <trio_sse.EventStream.send>`. It
        ends when the backend drops the subscriber (overflow); leaving the block
        unsubscribes.

        Args:
            last_event_id: The client's ``Last-Event-ID``: the events published after it are
                yielded first, or a ``reset`` event if that is impossible. ``None`` or ``""``
                subscribes to live events only.
        """

    async def relay(self, stream: EventStream) -> None:
        """Forward a subscription to *stream*, resuming after its ``Last-Event-ID``.

        A producer for :class:`~trio_sse.EventStreamResponse`. It returns (ending the
        response, so the client reconnects and resumes) when the subscription is dropped
        for overflow; it is cancelled, and unsubscribes, when the client disconnects.

        Args:
            stream: The event stream to write to.
        """
        async with self.open_subscription(stream.last_event_id) as subscription:
            async for block in subscription:
                await stream.send(block)

    def stream_response(
        self,
        *,
        headers: HeadersLike | None = None,
        retry: int | None = None,
        heartbeat: float | UseConfig | None = USE_CONFIG,
        farewell: ServerSentEvent | None = None,
    ) -> EventStreamResponse:
        """Build an event-stream response that relays this broadcaster (see :meth:`relay`).

        The arguments are those of :class:`~trio_sse.EventStreamResponse`.

        Returns:
            A new response; return it from a handler.
        """
        return EventStreamResponse(
            self.relay, headers=headers, retry=retry, heartbeat=heartbeat, farewell=farewell
        )


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class BroadcasterStatistics:
    """A snapshot of a :class:`Broadcaster`'s counters, from :meth:`Broadcaster.statistics`.

    Attributes:
        subscribers: Subscriptions receiving live events now (dropped ones excluded).
        published: Events published since the broadcaster was created.
        history_size: Events held for replay now (at most the ``history`` limit).
        subscribers_dropped: Subscribers disconnected because their queue was full.
        events_replayed: Events queued for replay to resuming subscribers, in total.
        resets_sent: Subscriptions that began with a ``reset`` event.
        last_event_id: The id of the latest event, or ``None`` before the first.
    """

    subscribers: int
    published: int
    history_size: int
    subscribers_dropped: int
    events_replayed: int
    resets_sent: int
    last_event_id: str | None


@final
class Broadcaster(BroadcastBackend):
    """The in-memory, single-process broadcaster (see the module rules).

    One instance per topic, shared by the handlers of an application::

        broadcaster = trio_sse.Broadcaster()

        @router.route("/events")
        async def events(request: trio_sse.Request) -> trio_sse.BaseResponse:
            return broadcaster.stream_response()

        # anywhere else, in any task:
        await broadcaster.publish("hello", event="greeting")

    Memory is bounded by ``history + subscribers x queue_size`` events; keep events small
    or the history short.

    Args:
        history: Events kept for replay to reconnecting clients; ``0`` disables replay
            (every resume with a stale id then gets a ``reset`` event).
        queue_size: Events queued per subscriber that has not taken them yet (one more
            may be handed straight to a subscriber waiting for it); a subscriber whose
            queue is full is dropped when the next event is published. Replayed events
            do not count against it, live events published during a replay do. At
            least 1.
        id_prefix: The first part of every id, ``"<prefix>-<n>"``; random by default so
            ids of different instances never match. ``""`` gives bare counters
            (``"1"``, ``"2"``, ...), for tests and single-instance setups.

    Raises:
        ValueError: A limit is out of range, or *id_prefix* is not a str an ``id`` line
            can carry (CR, LF, NUL, lone surrogates).
    """

    __slots__ = ("_fanout", "_history", "_prefix", "_seq")

    def __init__(
        self,
        *,
        history: int = DEFAULT_HISTORY,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        id_prefix: str | None = None,
    ) -> None:
        for name, value, least in (("history", history, 0), ("queue_size", queue_size, 1)):
            given: object = value
            if isinstance(given, bool) or not isinstance(given, int) or value < least:
                raise ValueError(f"{name}: must be an int >= {least}, got {value!r}")
        if id_prefix is None:
            id_prefix = secrets.token_hex(4)
        else:
            try:
                ServerSentEvent(id=id_prefix)  # a str that an id line can carry
            except InvalidEventError as exc:
                raise ValueError(f"id_prefix: {exc}, got {id_prefix!r}") from None
        self._prefix = id_prefix
        self._fanout = LocalFanOut(queue_size)
        self._history: deque[bytes] = deque(maxlen=history)
        self._seq = 0

    # -- ids -------------------------------------------------------------------------

    def _format_id(self, seq: int) -> str:
        return f"{self._prefix}-{seq}" if self._prefix else str(seq)

    def _parse_id(self, value: str) -> int | None:
        """The sequence number of an id issued by this broadcaster, else ``None``.

        ``"<prefix>-0"`` is accepted as the position before the first event.
        """
        digits = value
        if self._prefix:
            head, sep, digits = value.rpartition("-")
            if not sep or head != self._prefix:
                return None
        if not (0 < len(digits) <= _MAX_SEQ_DIGITS and digits.isascii() and digits.isdigit()):
            return None
        if len(digits) > 1 and digits[0] == "0":
            return None  # never issued: ids are canonical decimals
        return int(digits)

    # -- publishing --------------------------------------------------------------------

    async def publish(self, data: str | ServerSentEvent, *, event: str | None = None) -> str:
        """Publish an event; a checkpoint around :meth:`publish_nowait`.

        If the calling task is cancelled at the checkpoint, nothing is published.
        See :meth:`BroadcastBackend.publish` for the arguments and errors.

        Returns:
            The id assigned to the event.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        event_id = self.publish_nowait(data, event=event)
        await trio.lowlevel.cancel_shielded_checkpoint()
        return event_id

    def publish_nowait(self, data: str | ServerSentEvent, *, event: str | None = None) -> str:
        """Publish an event synchronously (it never blocks, so it never needs to wait).

        Assigns the next id, encodes the event once, appends it to the history and
        queues the same bytes for every subscriber; a subscriber whose queue is full is
        dropped instead (the overflow policy).

        Args:
            data: The event's data as text, or a :class:`~trio_sse.ServerSentEvent`
                without ``id``.
            event: The event type, when *data* is text; ``None`` means ``"message"``.

        Returns:
            The id assigned to the event.

        Raises:
            InvalidEventError: As for :meth:`BroadcastBackend.publish`.
            TypeError: *event* was given together with a ``ServerSentEvent``.
        """
        prepared = prepare_event(data, event)
        seq = self._seq + 1
        event_id = self._format_id(seq)
        encoded = dataclasses.replace(prepared, id=event_id).encode()
        self._seq = seq
        self._history.append(encoded)
        self._fanout.deliver(encoded)
        return event_id

    # -- subscribing -------------------------------------------------------------------

    def _replay_after(self, last_event_id: str | None) -> tuple[list[bytes], str | None]:
        """The blocks to yield before live events, and the reset reason if any."""
        if not last_event_id:
            return [], None
        seq = self._parse_id(last_event_id)
        if seq is None or seq > self._seq:
            return [RESET_BYTES[RESET_UNKNOWN]], RESET_UNKNOWN
        missed = self._seq - seq
        history = self._history
        if missed > len(history):
            return [RESET_BYTES[RESET_EXPIRED]], RESET_EXPIRED
        return list(islice(history, len(history) - missed, None)), None

    @asynccontextmanager
    async def open_subscription(
        self, last_event_id: str | None = None
    ) -> AsyncGenerator[Subscription, None]:
        """Subscribe for the duration of an ``async with`` block.

        ::

            async with broadcaster.open_subscription(stream.last_event_id) as subscription:
                async for block in subscription:
                    await stream.send(block)

        The replayed events are copied from the history in the same synchronous step that
        registers the subscriber, so nothing published meanwhile is missed or repeated.
        Leaving the block (normally, by an exception or by cancellation) unsubscribes.

        Args:
            last_event_id: The client's ``Last-Event-ID``: the events after it are yielded
                first, or one ``reset`` event when it is unknown or older than the
                history. ``None`` or ``""``: live events only.

        Yields:
            The :class:`Subscription`.
        """
        await trio.lowlevel.checkpoint()
        # From here to ``yield``: no checkpoint, so no event can slip between the history
        # copy and the registration of the queue.
        replay, reset = self._replay_after(last_event_id)
        with self._fanout.register(replay, reset) as subscription:
            yield subscription

    # -- introspection -----------------------------------------------------------------

    def statistics(self) -> BroadcasterStatistics:
        """Return a snapshot of the broadcaster's counters."""
        return BroadcasterStatistics(
            subscribers=self._fanout.subscribers,
            published=self._seq,
            history_size=len(self._history),
            subscribers_dropped=self._fanout.dropped,
            events_replayed=self._fanout.replayed,
            resets_sent=self._fanout.resets,
            last_event_id=self._format_id(self._seq) if self._seq else None,
        )

    def __repr__(self) -> str:
        return (
            f"<Broadcaster {self._fanout.subscribers} subscribers, {self._seq} published, "
            f"history {len(self._history)}/{self._history.maxlen}>"
        )
