"""One shared timer for the many tickers of a server: :func:`trio_sse.lowlevel.sleep_until`.

Why: ``trio.sleep_until`` implements every sleep as a cancel scope whose deadline cancels
it, so each wake-up raises and catches a ``Cancelled`` exception and adds and prunes an
entry of the runner's deadline heap. That is about 27 µs of CPU per wake-up on the
benchmark machine; with thousands of streams ticking every 100 ms it is the largest single
cost of a tick. Here a sleeper instead parks with ``trio.lowlevel.wait_task_rescheduled``
and puts itself on a heap; one service task per server sleeps until the earliest deadline
and wakes every sleeper that is due with a plain ``reschedule``: about 12 µs per wake-up,
less the more sleepers are due together. To make that the common case, the service wakes
at most once per ``Config.timer_resolution`` (1 ms by default): a deadline that falls
sooner after its previous wake-up waits for the next one (late by under 1 ms, never early),
and thousands of tickers share one wake-up per millisecond.

Structure is kept: the sleepers are ordinary tasks in their own nurseries (a stream's
ticker stays a child of its connection); cancelling one goes through its abort function,
which takes it off the heap at once, so a disconnect still stops a ticker immediately. The
service task runs in the server's own nursery, shielded, and is stopped only after the
last connection has ended; if anything still sleeps then (a task that outlived its
connection), it is woken and finishes its sleep with ``trio.sleep_until``.
"""

from __future__ import annotations

import contextvars
import heapq
import itertools
import math
from typing import TYPE_CHECKING, Any, Final

import trio

if TYPE_CHECKING:
    from collections.abc import Coroutine

__all__ = ["CURRENT_TIMER", "Alarm", "TimerService", "sleep_until"]

#: Dead (cancelled) entries are dropped from the heap once there are more than this many
#: and they outnumber the live ones (long intervals with high churn would otherwise keep
#: one entry per departed client until its deadline).
_COMPACT_MIN: Final = 1024

#: Marks the entry of a sleeper woken before its deadline (the service stopping).
_EARLY: Final = object()

#: Sleepers woken per scheduler batch at most: a thousand tickers due at the same moment
#: then take turns with everything else instead of holding up the whole server at once.
WAKE_BATCH: Final = 64

# [deadline, sequence number, task (None once woken or cancelled, _EARLY), abort function]
_Entry = list[object]


class TimerService:
    """Wakes parked tasks at their deadlines. Internal: one per :class:`Server`."""

    __slots__ = (
        "_dead",
        "_heap",
        "_not_before",
        "_resolution",
        "_running",
        "_scope",
        "_seq",
        "_stop",
    )

    def __init__(self, resolution: float = 0.0) -> None:
        self._resolution = resolution  # see Config.timer_resolution
        self._not_before = -math.inf  # the earliest next wake-up, by the resolution
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._scope: trio.CancelScope | None = None  # the service's current sleep
        self._stop: trio.CancelScope | None = None
        self._running = False
        self._dead = 0

    @property
    def running(self) -> bool:
        return self._running

    def __len__(self) -> int:
        """Tasks currently parked here."""
        return len(self._heap) - self._dead

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve sleepers until :meth:`stop` (shielded from outer cancellation)."""
        heap = self._heap
        resolution = self._resolution
        with trio.CancelScope(shield=True) as self._stop:
            self._running = True
            task_status.started()
            try:
                while True:
                    deadline = max(heap[0][0], self._not_before) if heap else math.inf  # type: ignore[call-overload]
                    with trio.CancelScope(deadline=deadline) as self._scope:
                        await trio.sleep_forever()
                    self._scope = None
                    now = trio.current_time()
                    self._not_before = now + resolution
                    woken = 0
                    while heap and heap[0][0] <= now:  # type: ignore[operator]
                        if woken == WAKE_BATCH:
                            # More are due: wake them in the next scheduler batch, so the
                            # other tasks (a request, a new connection) run in between.
                            self._not_before = now
                            break
                        entry = heapq.heappop(heap)
                        task = entry[2]
                        if task is None:
                            self._dead -= 1
                        else:
                            entry[2] = None
                            trio.lowlevel.reschedule(task)  # type: ignore[arg-type]
                            woken += 1
            finally:
                self._running = False
                self._scope = None
                # Anything still parked outlived the server's connections: let it finish
                # its sleep on trio's own timer (see ``sleep_until``).
                for entry in heap:
                    task = entry[2]
                    if task is not None:
                        entry[2] = _EARLY
                        trio.lowlevel.reschedule(task)  # type: ignore[arg-type]
                heap.clear()
                self._dead = 0

    def stop(self) -> None:
        """Stop :meth:`run` (sync)."""
        if self._stop is not None:
            self._stop.cancel()

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until *deadline* on this timer (trio's if it is not running)."""
        if math.isnan(deadline):
            raise ValueError("deadline: must not be NaN")
        if self._running:
            if deadline <= trio.current_time():
                await trio.lowlevel.checkpoint()
                return
            entry = self.park(deadline)
            await trio.lowlevel.wait_task_rescheduled(entry[3])  # type: ignore[arg-type]
            if entry[2] is not _EARLY:
                return
            # Woken early: only the service stopping does that. Finish on trio's timer.
        await trio.sleep_until(deadline)

    def park(self, deadline: float) -> _Entry:
        """Put the current task on the heap; return its entry (abort function last).

        The caller then awaits ``trio.lowlevel.wait_task_rescheduled(entry[3])``, which
        returns at the deadline (or after :meth:`wake`); ``entry[2] is _EARLY`` then means
        the service stopped first.
        """
        heap = self._heap

        def abort(_: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
            self._drop(entry)
            return trio.lowlevel.Abort.SUCCEEDED

        entry: _Entry = [deadline, next(self._seq), trio.lowlevel.current_task(), abort]
        heapq.heappush(heap, entry)
        scope = self._scope
        if scope is not None and deadline < scope.deadline:
            scope.deadline = max(deadline, self._not_before)
        return entry

    def wake(self, entry: _Entry) -> None:
        """Wake the task parked with *entry* now, before its deadline (sync; a no-op once
        it was woken or cancelled)."""
        task = entry[2]
        if isinstance(task, trio.lowlevel.Task):
            self._drop(entry)
            trio.lowlevel.reschedule(task)

    def _drop(self, entry: _Entry) -> None:
        """Mark *entry* dead (it leaves the heap when popped, or at a compaction)."""
        heap = self._heap
        entry[2] = None
        self._dead += 1
        if self._dead > _COMPACT_MIN and self._dead * 2 > len(heap):
            heap[:] = [e for e in heap if e[2] is not None]
            heapq.heapify(heap)
            self._dead = 0


class Alarm:
    """A sleep that synchronous code can end early (:meth:`ring`): an HTTP/2 stream's watch.

    :meth:`sleep_until` parks the task on the current server's shared timer, as
    :func:`sleep_until` does, without a cancel scope: an idle stream's wait costs a heap
    entry instead of a cancel scope, its cancel status and a ``sleep_forever`` frame.
    Outside a server (or once its timer has stopped) it sleeps in a cancel scope, which
    :meth:`ring` cancels. Either way, cancelling the sleeping task interrupts it at once.
    One task at a time.
    """

    __slots__ = ("_entry", "_scope", "_timer")

    def __init__(self) -> None:
        self._timer: TimerService | None = None
        self._entry: _Entry | None = None
        self._scope: trio.CancelScope | None = None

    @property
    def sleeping(self) -> bool:
        """Whether a task is in :meth:`sleep_until`."""
        return self._entry is not None or self._scope is not None

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until *deadline* (never early) or until :meth:`ring`; a checkpoint."""
        timer = CURRENT_TIMER.get(None)
        if timer is not None and timer.running and deadline > trio.current_time():
            self._timer = timer
            entry = self._entry = timer.park(deadline)
            try:
                await trio.lowlevel.wait_task_rescheduled(entry[3])  # type: ignore[arg-type]
            finally:
                self._entry = None
            if entry[2] is not _EARLY:
                return
        with trio.CancelScope(deadline=deadline) as scope:
            self._scope = scope
            try:
                await trio.sleep_forever()
            finally:
                self._scope = None

    def ring(self) -> None:
        """End the current sleep now (sync; a no-op when nothing sleeps)."""
        if self._entry is not None:
            assert self._timer is not None
            self._timer.wake(self._entry)
        elif self._scope is not None:
            self._scope.cancel()


#: The timer serving the current task's sleeps: set by the server in each connection's
#: task (Trio gives every task a copy of its parent's context, so the tasks a handler or a
#: producer starts inherit it).
CURRENT_TIMER: contextvars.ContextVar[TimerService] = contextvars.ContextVar("trio_sse_timer")


def sleep_until(deadline: float) -> Coroutine[Any, Any, None]:
    """Sleep until *deadline* (``trio.current_time()`` units): ``trio.sleep_until``, cheaper.

    ``await trio_sse.lowlevel.sleep_until(deadline)``. Inside a trio-sse connection (a
    handler, a stream's producer, and the tasks they start) the sleep is served by the
    server's shared timer: one service task wakes every sleeper that is due, with no cancel
    scope and no ``Cancelled`` exception per wake-up, which makes a tick of thousands of
    periodic streams about twice as cheap. Elsewhere it is exactly ``trio.sleep_until``.

    Semantics are those of ``trio.sleep_until``: awaiting it is a checkpoint, a deadline in
    the past returns after yielding once, and cancellation (a client disconnecting)
    interrupts it at once with ``trio.Cancelled``. It works with
    ``trio.testing.MockClock`` and ``autojump_clock``.

    This is a plain function that returns the awaitable (the shared timer's own
    ``sleep_until`` coroutine), so a sleeping task's stack holds no frame of its own for
    it: thousands of idle tickers, one frame fewer each. Always ``await`` it at once.

    Args:
        deadline: When to wake up, on Trio's clock.

    Raises:
        ValueError: *deadline* is NaN.
    """
    timer = CURRENT_TIMER.get(None)
    if timer is None:
        timer = _IDLE
    return timer.sleep_until(deadline)


#: Stands in outside a server: never running, so it sleeps on trio's timer.
_IDLE: Final = TimerService()
