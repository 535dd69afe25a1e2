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

#: Sleepers woken per scheduler batch at most: a thousand tickers due at the same moment
#: then take turns with everything else instead of holding up the whole server at once.
WAKE_BATCH: Final = 64


class _Sleeper:
    """One sleep's parking record on a timer (its own abort function).

    A sleep allocates this and a ``(deadline, sequence)`` heap tuple, and nothing else:
    no closure, and above all no reference cycle that outlives the sleep. (A per-sleep
    closure over its own heap entry made a cycle per tick; with thousands of tickers that
    garbage kept the cyclic collector busy, and its full collections paused the whole
    server for tens of milliseconds.) It holds its task only while the task is parked.
    It is not kept between sleeps: a record kept per task in a context variable cost
    more (the task's context copied on its first sleep) than it saved.
    """

    __slots__ = ("early", "seq", "task", "timer")

    def __init__(self, timer: TimerService, task: trio.lowlevel.Task, seq: int) -> None:
        self.timer = timer
        self.task: trio.lowlevel.Task | None = task  # while parked
        self.seq = seq  # the key of the sleep in the timer's parked table
        self.early = False  # woken before the deadline (the service stopping)

    def __call__(self, _: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
        """Abort the sleep (cancellation): off the parked table at once."""
        self.task = None
        self.timer.discard(self.seq)
        return trio.lowlevel.Abort.SUCCEEDED

    def wake(self) -> None:
        task = self.task
        assert task is not None
        self.task = None
        trio.lowlevel.reschedule(task)


class TimerService:
    """Wakes parked tasks at their deadlines. Internal: one per :class:`Server`.

    The heap holds ``(deadline, sequence)`` tuples (floats and ints only, which the cyclic
    collector untracks at its first look) and ``_parked`` maps a sequence number to its
    sleeper; a cancelled sleep leaves its heap tuple behind as a dead entry.
    """

    __slots__ = (
        "_dead",
        "_heap",
        "_not_before",
        "_parked",
        "_resolution",
        "_running",
        "_scope",
        "_seq",
        "_stop",
    )

    def __init__(self, resolution: float = 0.0) -> None:
        self._resolution = resolution  # see Config.timer_resolution
        self._not_before = -math.inf  # the earliest next wake-up, by the resolution
        self._heap: list[tuple[float, int]] = []
        self._parked: dict[int, _Sleeper] = {}
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
        return len(self._parked)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve sleepers until :meth:`stop` (shielded from outer cancellation)."""
        heap = self._heap
        parked = self._parked
        resolution = self._resolution
        with trio.CancelScope(shield=True) as self._stop:
            self._running = True
            task_status.started()
            try:
                while True:
                    deadline = max(heap[0][0], self._not_before) if heap else math.inf
                    with trio.CancelScope(deadline=deadline) as self._scope:
                        await trio.sleep_forever()
                    self._scope = None
                    now = trio.current_time()
                    self._not_before = now + resolution
                    woken = 0
                    while heap and heap[0][0] <= now:
                        if woken == WAKE_BATCH:
                            # More are due: wake them in the next scheduler batch, so the
                            # other tasks (a request, a new connection) run in between.
                            self._not_before = now
                            break
                        sleeper = parked.pop(heapq.heappop(heap)[1], None)
                        if sleeper is None:
                            self._dead -= 1
                        else:
                            sleeper.wake()
                            woken += 1
            finally:
                self._running = False
                self._scope = None
                # Anything still parked outlived the server's connections: let it finish
                # its sleep on trio's own timer (see ``sleep_until``).
                for sleeper in parked.values():
                    sleeper.early = True
                    sleeper.wake()
                parked.clear()
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
            sleeper = self.park(deadline)
            await trio.lowlevel.wait_task_rescheduled(sleeper)
            if not sleeper.early:
                return
            # Woken early: only the service stopping does that. Finish on trio's timer.
        await trio.sleep_until(deadline)

    def discard(self, seq: int) -> None:
        """Forget the sleep *seq* (its task was cancelled); its heap tuple goes dead."""
        if self._parked.pop(seq, None) is None:
            return
        self._dead += 1
        heap = self._heap
        if self._dead > _COMPACT_MIN and self._dead * 2 > len(heap):
            parked = self._parked
            heap[:] = [entry for entry in heap if entry[1] in parked]
            heapq.heapify(heap)
            self._dead = 0

    def park(self, deadline: float) -> _Sleeper:
        """Put the current task on the heap; return its sleeper.

        The caller then awaits ``trio.lowlevel.wait_task_rescheduled(sleeper)``, which
        returns at the deadline or after :meth:`wake`; ``sleeper.early`` then tells that
        the service stopped first (finish the sleep elsewhere).
        """
        seq = next(self._seq)
        sleeper = _Sleeper(self, trio.lowlevel.current_task(), seq)
        self._parked[seq] = sleeper
        heapq.heappush(self._heap, (deadline, seq))
        scope = self._scope
        if scope is not None and deadline < scope.deadline:
            scope.deadline = max(deadline, self._not_before)
        return sleeper

    def wake(self, sleeper: _Sleeper) -> None:
        """Wake *sleeper*'s task now, before its deadline (sync; a no-op unless it is
        parked here)."""
        if sleeper.task is not None and sleeper.timer is self:
            self.discard(sleeper.seq)
            sleeper.wake()


class Alarm:
    """A sleep that synchronous code can end early (:meth:`ring`): an HTTP/2 stream's watch.

    :meth:`sleep_until` parks the task on the current server's shared timer, as
    :func:`sleep_until` does, without a cancel scope: an idle stream's wait costs a heap
    tuple instead of a cancel scope, its cancel status and a ``sleep_forever`` frame, and
    allocates no closure and no cycle.
    Outside a server (or once its timer has stopped) it sleeps in a cancel scope, which
    :meth:`ring` cancels. Either way, cancelling the sleeping task interrupts it at once.
    One task at a time.
    """

    __slots__ = ("_rung", "_scope", "_sleeper")

    def __init__(self) -> None:
        self._sleeper: _Sleeper | None = None  # while parked on a timer
        self._scope: trio.CancelScope | None = None  # while sleeping on trio's timer
        self._rung = False

    @property
    def sleeping(self) -> bool:
        """Whether a task is in :meth:`sleep_until`."""
        return self._sleeper is not None or self._scope is not None

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until *deadline* (never early) or until :meth:`ring`; a checkpoint."""
        timer = CURRENT_TIMER.get(None)
        if timer is not None and timer.running and deadline > trio.current_time():
            self._rung = False
            sleeper = self._sleeper = timer.park(deadline)
            try:
                await trio.lowlevel.wait_task_rescheduled(sleeper)
            finally:
                self._sleeper = None
            if self._rung or not sleeper.early:
                return
            # The timer stopped first: finish the sleep on trio's timer.
        with trio.CancelScope(deadline=deadline) as scope:
            self._scope = scope
            try:
                await trio.sleep_forever()
            finally:
                self._scope = None

    def ring(self) -> None:
        """End the current sleep now (sync; a no-op when nothing sleeps)."""
        sleeper = self._sleeper
        if sleeper is not None:
            self._rung = True
            sleeper.timer.wake(sleeper)
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
