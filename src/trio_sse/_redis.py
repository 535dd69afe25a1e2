"""A :class:`~trio_sse.BroadcastBackend` on Redis Streams, for several processes and hosts.

Needs the optional extra ``trio-sse[redis]`` (the ``coredis`` client, which runs on Trio
through anyio) and Redis >= 6.2. This module imports ``coredis`` only when
:func:`open_redis_broadcaster` is called, so ``import trio_sse`` never needs it.

Design
------
* **One reader per process.** :func:`open_redis_broadcaster` starts exactly one reader
  task, in its own nursery, running a blocking ``XREAD`` loop on one client (one small
  connection pool per process, never one connection per SSE client). The reader fans
  each entry out to the local subscribers' bounded queues exactly like the in-memory
  :class:`~trio_sse.Broadcaster` (same :class:`~trio_sse.Subscription` objects, same
  overflow policy: a full queue ends that subscription so its client resumes).
* **Ids are stream entry ids.** ``publish`` runs ``XADD <stream> MAXLEN ~ <history> *``
  with the event encoded once, without its id line; the entry id Redis assigns
  (``"<ms>-<seq>"``) is the SSE ``id``. Each reader prepends ``id: <entry id>`` to the
  stored bytes, so every process sends identical, ordered ids.
* **Resume without a race.** The reader keeps the last *history* entries it read in a local
  cache. A ``Last-Event-ID`` the cache covers is served like the in-memory backend: the
  missed entries are copied and the queue registered in one synchronous step. Otherwise
  the subscription asks Redis (``XINFO STREAM``, then ``XRANGE (<id> +``), waits until the
  reader has read at least as far as that range, and then, again in one synchronous step,
  joins the range, the cached entries after it, and the registration: exactly once, in
  order.
* **Explicit reset.** An id that is malformed, newer than the stream, or older than a
  stream that never lost an entry (a different stream, or Redis restarted without
  persistence) gives ``event: reset`` / ``data: unknown``; an id older than the entries
  still kept (``MAXLEN`` trimmed them) gives ``data: expired``.
* **Outages.** ``publish`` raises :class:`~trio_sse.BrokerUnavailableError` (within
  *redis_timeout*) when Redis cannot be reached; nothing was acknowledged. The reader retries
  with exponential backoff and continues after the last id it saw, so nothing Redis
  acknowledged (and kept) is lost; live subscribers stay subscribed meanwhile. If Redis
  came back without the entries after that id (restarted without persistence), the
  reader cannot know what it missed: it ends every local subscription, so each client
  reconnects and is told ``reset``. Opening a subscription never hangs: without a
  ``Last-Event-ID`` (or with one the cache covers) it needs no Redis round trip; otherwise
  it raises :class:`~trio_sse.BrokerUnavailableError` after at most *redis_timeout*.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Final, final

import trio

from ._broadcast import (
    DEFAULT_HISTORY,
    DEFAULT_QUEUE_SIZE,
    BroadcastBackend,
    BroadcasterStatistics,
    BrokerUnavailableError,
)
from ._fanout import RESET_BYTES, RESET_UNKNOWN, LocalFanOut, prepare_event
from ._redis_ids import StreamId, classify_resume, format_id, is_connection_failure, parse_id

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from ._events import ServerSentEvent
    from ._fanout import Subscription

__all__ = ["DEFAULT_STREAM", "RedisBroadcaster", "open_redis_broadcaster"]

logger = logging.getLogger("trio_sse.redis")

DEFAULT_STREAM: Final = "trio-sse:events"
"""The Redis key of the stream used when none is given."""
_FIELD: Final = b"sse"
_BATCH: Final = 512
_BLOCK_MS: Final = 2000


@final
class RedisBroadcaster(BroadcastBackend):
    """The Redis Streams backend; create it with :func:`open_redis_broadcaster`.

    Share one instance per stream between the handlers of a process, as with
    :class:`~trio_sse.Broadcaster`; every process (worker, host) opens its own, on the same
    Redis stream. See the module documentation for the design and the failure behaviour.
    """

    __slots__ = (
        "_cache",
        "_client",
        "_connected",
        "_fanout",
        "_floor",
        "_history",
        "_last",
        "_progress",
        "_read",
        "_stream",
        "_timeout",
    )

    def __init__(
        self, client: Any, *, stream: str, history: int, queue_size: int, timeout: float
    ) -> None:
        self._client = client
        self._stream = stream
        self._history = history
        self._fanout = LocalFanOut(queue_size)
        self._timeout = timeout
        self._cache: deque[tuple[StreamId, bytes]] = deque()
        self._floor: StreamId | None = None  # the cache holds every entry after this id
        self._last: StreamId | None = None  # the last id the reader read (or started at)
        self._progress = trio.Event()
        self._connected = False
        self._read = 0

    @property
    def stream(self) -> str:
        """The Redis key of the stream."""
        return self._stream

    @property
    def connected(self) -> bool:
        """Whether the reader is connected to Redis now."""
        return self._connected

    # -- publishing --------------------------------------------------------------------

    async def publish(self, data: str | ServerSentEvent, *, event: str | None = None) -> str:
        """Append an event to the Redis stream (``XADD ... MAXLEN ~ history``).

        See :meth:`BroadcastBackend.publish <trio_sse.BroadcastBackend.publish>` for the
        arguments. Every process's subscribers receive it through their reader.

        Returns:
            The stream entry id Redis assigned, which is the event's SSE ``id``.

        Raises:
            BrokerUnavailableError: Redis did not acknowledge the event within *redis_timeout*.
            InvalidEventError: As for :meth:`~trio_sse.BroadcastBackend.publish`.
            TypeError: As for :meth:`~trio_sse.BroadcastBackend.publish`.
        """
        from coredis import PureToken

        encoded = prepare_event(data, event).encode()
        try:
            with trio.fail_after(self._timeout):
                entry_id = await self._client.xadd(
                    self._stream,
                    {_FIELD: encoded},
                    trim_strategy=PureToken.MAXLEN,
                    threshold=self._history,
                    trim_operator=PureToken.APPROXIMATELY,
                )
        except Exception as exc:
            if is_connection_failure(exc):
                raise BrokerUnavailableError(f"redis: cannot publish: {exc}") from exc
            raise
        return str(entry_id.decode("ascii") if isinstance(entry_id, bytes) else entry_id)

    # -- the reader ----------------------------------------------------------------------

    async def _stream_state(self) -> dict[str, Any] | None:
        """``XINFO STREAM`` as a dict, or ``None`` when the stream does not exist."""
        from coredis.exceptions import ResponseError

        try:
            info: dict[str, Any] = await self._client.xinfo_stream(self._stream)
        except ResponseError as exc:
            if "no such key" in str(exc).lower():
                return None
            raise
        return info

    async def _connect(self) -> None:
        """Find where to read from: the stream's end at first, else check continuity."""
        info = await self._stream_state()
        tail = parse_id(info["last-generated-id"]) if info is not None else None
        if self._last is None:
            self._last = self._floor = tail or (0, 0)
            return
        if self._last == (0, 0) and info is None:
            return
        if classify_resume(self._last, info) is not None:
            logger.warning(
                "redis stream %r lost entries after %s (restarted without persistence?): "
                "ending every local subscription so its client resumes with a reset",
                self._stream,
                format_id(self._last),
            )
            self._fanout.drop_all()
            self._cache.clear()
            self._last = self._floor = tail or (0, 0)

    def _deliver(self, entries: tuple[Any, ...]) -> None:
        """Fan a batch of stream entries out to the local subscribers (synchronous)."""
        for entry in entries:
            entry_id = parse_id(entry.identifier)
            if entry_id is None or self._last is None or entry_id <= self._last:
                continue
            raw = entry.field_values.get(_FIELD)
            self._last = entry_id
            if raw is None:
                continue  # not ours
            block = b"id: " + format_id(entry_id).encode("ascii") + b"\n" + bytes(raw)
            self._cache.append((entry_id, block))
            if len(self._cache) > self._history:
                self._floor = self._cache.popleft()[0]
            self._read += 1
            self._fanout.deliver(block)
        self._progress.set()
        self._progress = trio.Event()

    async def run_reader(
        self,
        min_delay: float,
        max_delay: float,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Read the stream forever, reconnecting with exponential backoff.

        Before reporting itself started, it asks Redis where the stream ends (for at most
        ``redis_timeout``), so every entry added after the broadcaster opened reaches the
        local subscribers, even one published before the first ``XREAD``. With Redis
        down it starts anyway and keeps trying.
        """
        with trio.move_on_after(self._timeout):
            try:
                await self._connect()
            except Exception as exc:
                if not is_connection_failure(exc):
                    raise
            else:
                self._connected = True
                logger.info("redis stream %r: reader connected", self._stream)
        task_status.started()
        delay = min_delay
        while True:
            try:
                with trio.fail_after(self._timeout):
                    await self._connect()
                if not self._connected:
                    logger.info("redis stream %r: reader connected", self._stream)
                self._connected = True
                delay = min_delay
                while True:
                    assert self._last is not None
                    with trio.fail_after(_BLOCK_MS / 1000 + self._timeout):
                        reply = await self._client.xread(
                            {self._stream: format_id(self._last)}, count=_BATCH, block=_BLOCK_MS
                        )
                    if reply:
                        for entries in reply.values():
                            self._deliver(entries)
            except Exception as exc:
                if not is_connection_failure(exc):
                    raise
                if self._connected:
                    logger.warning("redis stream %r: reader lost Redis: %s", self._stream, exc)
                self._connected = False
                await trio.sleep(delay)
                delay = min(max_delay, delay * 2)

    # -- subscribing -------------------------------------------------------------------

    def _from_cache(self, after: StreamId, *, exact: bool = True) -> list[bytes] | None:
        """The cached blocks after *after*, or ``None`` if the cache may miss some.

        With *exact*, *after* must also be the floor or a cached entry's id (a client's
        ``Last-Event-ID`` is checked); without, it is a position Redis vouched for.
        """
        if self._floor is None or self._last is None or not self._floor <= after <= self._last:
            return None
        blocks: list[bytes] = []
        for entry_id, block in reversed(self._cache):
            if entry_id <= after:
                if exact and entry_id != after:
                    return None  # not an id of this stream: let Redis decide
                break
            blocks.append(block)
        else:
            if exact and after != self._floor:
                return None
        blocks.reverse()
        return blocks

    async def _replay_from_redis(self, after: StreamId) -> tuple[list[bytes], str | None]:
        """Ask Redis for what follows *after*; wait until the reader is past it too."""
        try:
            with trio.fail_after(self._timeout):
                while True:
                    info = await self._stream_state()
                    reset = classify_resume(after, info)
                    if reset is not None:
                        return [RESET_BYTES[reset]], reset
                    entries = await self._client.xrange(self._stream, "(" + format_id(after), "+")
                    replay: list[bytes] = []
                    target = after
                    for entry in entries:
                        entry_id = parse_id(entry.identifier)
                        raw = entry.field_values.get(_FIELD)
                        if entry_id is None or raw is None:
                            continue
                        target = max(target, entry_id)
                        replay.append(
                            b"id: " + format_id(entry_id).encode("ascii") + b"\n" + bytes(raw)
                        )
                    while self._last is None or self._last < target:
                        await self._progress.wait()
                    # No checkpoint from here to the registration by the caller.
                    rest = self._from_cache(target, exact=False)
                    if rest is not None:
                        return replay + rest, None
                    # The reader ran more than a history ahead meanwhile: ask again.
        except Exception as exc:
            if is_connection_failure(exc):
                raise BrokerUnavailableError(f"redis: cannot resume: {exc}") from exc
            raise

    @asynccontextmanager
    async def open_subscription(
        self, last_event_id: str | None = None
    ) -> AsyncGenerator[Subscription, None]:
        """Subscribe for the duration of an ``async with`` block.

        As :meth:`Broadcaster.open_subscription <trio_sse.Broadcaster.open_subscription>`;
        a ``Last-Event-ID`` that the local cache does not cover costs two Redis round
        trips and waits until this process's reader has caught up with it.

        Args:
            last_event_id: The client's ``Last-Event-ID`` (a stream entry id).

        Yields:
            The :class:`~trio_sse.Subscription`.

        Raises:
            BrokerUnavailableError: Resuming needed Redis, which did not answer within
                *redis_timeout*.
        """
        await trio.lowlevel.checkpoint()
        reset: str | None = None
        replay: list[bytes] = []
        if last_event_id:
            after = parse_id(last_event_id)
            if after is None:
                replay, reset = [RESET_BYTES[RESET_UNKNOWN]], RESET_UNKNOWN
            else:
                cached = self._from_cache(after)
                if cached is not None:
                    replay = cached
                else:
                    replay, reset = await self._replay_from_redis(after)
        # From here to ``yield``: no checkpoint (see _replay_from_redis).
        with self._fanout.register(replay, reset) as subscription:
            yield subscription

    # -- introspection -----------------------------------------------------------------

    def statistics(self) -> BroadcasterStatistics:
        """Return a snapshot of this process's counters.

        ``published`` counts the events this process's reader received from Redis;
        ``history_size`` is the local cache's size; ``last_event_id`` the last entry read.
        """
        return BroadcasterStatistics(
            subscribers=self._fanout.subscribers,
            published=self._read,
            history_size=len(self._cache),
            subscribers_dropped=self._fanout.dropped,
            events_replayed=self._fanout.replayed,
            resets_sent=self._fanout.resets,
            last_event_id=format_id(self._last) if self._read and self._last else None,
        )

    def __repr__(self) -> str:
        state = "connected" if self._connected else "disconnected"
        return (
            f"<RedisBroadcaster {self._stream!r} {state}, {self._fanout.subscribers} "
            f"subscribers, {self._read} read>"
        )


@asynccontextmanager
async def open_redis_broadcaster(
    url: str = "redis://localhost:6379/0",
    *,
    stream: str = DEFAULT_STREAM,
    history: int = DEFAULT_HISTORY,
    queue_size: int = DEFAULT_QUEUE_SIZE,
    redis_timeout: float = 2.0,
    reconnect_delay: tuple[float, float] = (0.1, 5.0),
) -> AsyncGenerator[RedisBroadcaster, None]:
    """Open a Redis Streams broadcaster; its reader task lives inside the block.

    ::

        async with trio_sse.redis.open_redis_broadcaster("redis://localhost:6379/0") as events:
            app = build_app(events)  # events.stream_response(), await events.publish(...)
            await trio_sse.serve(app, port=8080)

    Before the block starts it asks Redis where the stream ends, for at most
    ``redis_timeout``, so that every event published after the block opens is delivered.
    It does not need Redis: when Redis is down the block starts anyway (at once when the
    connection is refused) and the reader keeps retrying; see the module documentation for
    what works meanwhile.
    Leaving the block cancels the reader and closes the client.

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]`` (or ``rediss://``, ``unix://``).
        stream: The stream's key; every process sharing broadcasts uses the same one.
        history: Entries kept: ``XADD ... MAXLEN ~ history`` (Redis may keep a few more),
            and the size of each process's resume cache. At least 1.
        queue_size: Events queued per subscriber before it is dropped (as for
            :class:`~trio_sse.Broadcaster`). At least 1.
        redis_timeout: Seconds a publish, or a resume needing Redis, may wait for it before
            :class:`~trio_sse.BrokerUnavailableError`.
        reconnect_delay: The reader's first and longest delay between reconnection
            attempts, in seconds; the delay doubles after each failure.

    Yields:
        The :class:`RedisBroadcaster`.

    Raises:
        ImportError: ``coredis`` is not installed (install ``trio-sse[redis]``).
        ValueError: A limit is out of range.
    """
    for name, value in (("history", history), ("queue_size", queue_size)):
        given: object = value
        if isinstance(given, bool) or not isinstance(given, int) or value < 1:
            raise ValueError(f"{name}: must be an int >= 1, got {value!r}")
    if not (math.isfinite(redis_timeout) and redis_timeout > 0):
        raise ValueError(f"redis_timeout: must be positive, got {redis_timeout!r}")
    low, high = reconnect_delay
    if not (0 < low <= high and math.isfinite(high)):
        raise ValueError(f"reconnect_delay: need 0 < first <= longest, got {reconnect_delay!r}")
    try:
        import coredis
    except ImportError as exc:  # pragma: no cover - the test environments have it
        raise ImportError("the Redis backend needs coredis: pip install 'trio-sse[redis]'") from exc
    client = coredis.Redis.from_url(url, decode_responses=False, connect_timeout=redis_timeout)
    async with client, trio.open_nursery() as nursery:
        backend = RedisBroadcaster(
            client, stream=stream, history=history, queue_size=queue_size, timeout=redis_timeout
        )
        await nursery.start(backend.run_reader, low, high)
        try:
            yield backend
        finally:
            nursery.cancel_scope.cancel()
