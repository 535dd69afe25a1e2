"""The shared timer of ``trio_sse.lowlevel.sleep_until``, on its own (no server).

No streams and no real sleeps: everything runs on Trio's virtual clock (``autojump_clock``),
so wake-up times are checked exactly. The deadlines are chosen exactly representable in
binary floating point (0.5, 1.5, 2.0, ...) so the clock lands on them without rounding.

A ``TimerService`` started directly runs shielded (as in the server), so these tests always
``stop()`` it themselves: a test that forgot would hang instead of ending. The timer inside
a server is tested in ``tests/memory/test_server_timer.py``.
"""

from __future__ import annotations

import gc
import math
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import pytest
import trio
import trio.testing

import trio_sse
from trio_sse._timer import _COMPACT_MIN, CURRENT_TIMER, WAKE_BATCH, Alarm, TimerService

from ..helpers import check_running

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

#: A bound in virtual seconds: a lost wake-up fails the test at once instead of hanging it.
VIRTUAL_LIMIT = 100_000.0


@asynccontextmanager
async def running_timer(resolution: float = 0.0) -> AsyncIterator[TimerService]:
    """A started ``TimerService``, stopped (and its task awaited) on exit."""
    timer = TimerService(resolution)
    with trio.fail_after(VIRTUAL_LIMIT):
        async with trio.open_nursery() as nursery:
            await nursery.start(timer.run)
            check_running(timer)
            try:
                yield timer
            finally:
                timer.stop()
    assert not timer.running
    assert len(timer) == 0


# -- outside any server: exactly trio.sleep_until ---------------------------------------


async def test_outside_a_server_wakes_at_the_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    assert CURRENT_TIMER.get(None) is None
    start = trio.current_time()
    await trio_sse.lowlevel.sleep_until(start + 3.5)
    assert trio.current_time() == start + 3.5
    await trio_sse.lowlevel.sleep_until(start + 3.5)  # the same deadline again: now in the past
    assert trio.current_time() == start + 3.5


async def test_outside_a_server_past_deadline_still_yields_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    now = trio.current_time()
    with trio.testing.assert_checkpoints():
        await trio_sse.lowlevel.sleep_until(now - 10)
    with trio.testing.assert_checkpoints():
        await trio_sse.lowlevel.sleep_until(-math.inf)
    assert trio.current_time() == now


async def test_outside_a_server_is_cancellable(autojump_clock: trio.testing.MockClock) -> None:
    start = trio.current_time()
    with trio.move_on_after(2.5) as scope:
        await trio_sse.lowlevel.sleep_until(start + 100)
    assert scope.cancelled_caught
    assert trio.current_time() == start + 2.5


async def test_nan_deadline_is_a_value_error_naming_deadline() -> None:
    with pytest.raises(ValueError, match="deadline"):
        await trio_sse.lowlevel.sleep_until(math.nan)
    idle = TimerService()  # never started: trio's own check
    with pytest.raises(ValueError, match="deadline"):
        await idle.sleep_until(math.nan)
    async with running_timer() as timer:
        with pytest.raises(ValueError, match="deadline"):
            await timer.sleep_until(math.nan)
        token = CURRENT_TIMER.set(timer)
        try:
            with pytest.raises(ValueError, match="deadline"):
                await trio_sse.lowlevel.sleep_until(math.nan)
        finally:
            CURRENT_TIMER.reset(token)
        assert len(timer) == 0
        assert timer._heap == []


# -- TimerService on its own ------------------------------------------------------------


async def test_sleepers_wake_exactly_at_their_deadlines_in_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    offsets = {"a": 5.0, "b": 1.0, "c": 3.0, "d": 3.0, "e": 0.5, "f": 3.0, "g": 8.25}
    woke: list[tuple[float, str]] = []
    async with running_timer() as timer:
        start = trio.current_time()

        async def sleeper(name: str) -> None:
            await timer.sleep_until(start + offsets[name])
            woke.append((trio.current_time(), name))

        async with trio.open_nursery() as nursery:
            for name in offsets:
                nursery.start_soon(sleeper, name)
            await trio.testing.wait_all_tasks_blocked()
            assert len(timer) == len(offsets)
            assert trio.current_time() == start
            await trio.sleep_until(start + 3.0)
            await trio.testing.wait_all_tasks_blocked()
            assert len(timer) == 2  # a and g still parked
        assert len(timer) == 0
    # each at its own deadline, exactly; in deadline order (ties in any order)
    assert sorted(woke) == sorted((start + offset, name) for name, offset in offsets.items())
    assert [t for t, _ in woke] == sorted(t for t, _ in woke)
    assert trio.current_time() == start + 8.25


async def test_resolution_batches_close_deadlines_late_never_early(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With a resolution of 0.25 s, a deadline less than 0.25 s after the previous wake-up
    is served at that wake-up + 0.25 (late by less than the resolution, never early);
    a deadline after a quiet moment is served exactly."""
    woke: dict[str, float] = {}
    async with running_timer(resolution=0.25) as timer:
        start = trio.current_time()
        offsets = {"a": 1.0, "b": 1.0625, "c": 1.125, "d": 1.5, "e": 3.0}

        async def sleeper(name: str) -> None:
            await timer.sleep_until(start + offsets[name])
            woke[name] = trio.current_time()

        async with trio.open_nursery() as nursery:
            for name in offsets:
                nursery.start_soon(sleeper, name)
    assert woke == {
        "a": start + 1.0,  # first wake-up: exact
        "b": start + 1.25,  # within 0.25 of it: with the next allowed wake-up
        "c": start + 1.25,
        "d": start + 1.5,  # 0.25 after that wake-up: exact
        "e": start + 3.0,  # after a quiet moment: exact
    }
    assert all(woke[name] >= start + offsets[name] for name in offsets)


async def test_resolution_holds_for_an_earlier_deadline_added_while_waiting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A deadline added while the service waits does not wake it before the resolution."""
    woke: dict[str, float] = {}
    async with running_timer(resolution=0.5) as timer:
        start = trio.current_time()

        async def sleeper(name: str, offset: float) -> None:
            await timer.sleep_until(start + offset)
            woke[name] = trio.current_time()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sleeper, "first", 1.0)
            nursery.start_soon(sleeper, "far", 10.0)
            await trio.sleep(1.125)  # "first" woke at 1.0: no wake-up before 1.5 now
            assert woke == {"first": start + 1.0}
            nursery.start_soon(sleeper, "soon", 1.25)
    assert woke == {"first": start + 1.0, "soon": start + 1.5, "far": start + 10.0}


async def test_more_due_than_a_wake_batch_all_wake_on_time_in_several_batches(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """WAKE_BATCH sleepers per scheduler batch; the rest follow at once (same instant,
    not a resolution later), while other tasks get to run in between."""
    count = WAKE_BATCH * 2 + 10
    woke: list[float] = []
    batches_seen: list[int] = []
    async with running_timer(resolution=0.25) as timer:
        start = trio.current_time()

        async def sleeper() -> None:
            await timer.sleep_until(start + 1.0)
            woke.append(trio.current_time())

        async def observer() -> None:
            # runs once per scheduler batch while the sleepers wake
            await trio.sleep_until(start + 1.0)
            for _ in range(5):
                batches_seen.append(len(woke))
                await trio.lowlevel.cancel_shielded_checkpoint()

        async with trio.open_nursery() as nursery:
            for _ in range(count):
                nursery.start_soon(sleeper)
            nursery.start_soon(observer)
    assert woke == [start + 1.0] * count
    # at some batch boundary only part of them had woken
    assert any(0 < n < count for n in batches_seen), batches_seen


def test_config_timer_resolution_default_and_off() -> None:
    assert trio_sse.Config().timer_resolution == 0.001
    exact = trio_sse.Server(trio_sse.Router(), config=trio_sse.Config(timer_resolution=None))
    assert exact._timer._resolution == 0.0
    with pytest.raises(ValueError, match="timer_resolution"):
        trio_sse.Config(timer_resolution=0)


async def test_public_sleep_until_uses_the_timer_of_the_context(
    autojump_clock: trio.testing.MockClock,
) -> None:
    woke: list[float] = []
    async with running_timer() as timer:
        start = trio.current_time()

        async def sleeper() -> None:
            CURRENT_TIMER.set(timer)  # this task's context only
            await trio_sse.lowlevel.sleep_until(start + 2.0)
            woke.append(trio.current_time())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sleeper)
            await trio.testing.wait_all_tasks_blocked()
            assert len(timer) == 1
        assert CURRENT_TIMER.get(None) is None
    assert woke == [start + 2.0]


async def test_cancelled_sleeper_leaves_at_once(autojump_clock: trio.testing.MockClock) -> None:
    outcomes: list[tuple[str, float]] = []
    async with running_timer() as timer:
        start = trio.current_time()
        scopes: dict[str, trio.CancelScope] = {}

        async def sleeper(name: str, offset: float) -> None:
            with trio.CancelScope() as scope:
                scopes[name] = scope
                try:
                    await timer.sleep_until(start + offset)
                except trio.Cancelled:
                    outcomes.append(("cancelled " + name, trio.current_time()))
                    raise
                outcomes.append(("woke " + name, trio.current_time()))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sleeper, "early", 4.0)
            nursery.start_soon(sleeper, "late", 6.0)
            await trio.sleep(1.5)
            assert len(timer) == 2
            cancelled_at = trio.current_time()
            scopes["early"].cancel()
            assert len(timer) == 1  # synchronously, before the task even runs
            await trio.testing.wait_all_tasks_blocked()
            assert outcomes == [("cancelled early", cancelled_at)]
            assert trio.current_time() == cancelled_at  # no virtual time passed
        assert scopes["early"].cancelled_caught
    assert outcomes == [("cancelled early", start + 1.5), ("woke late", start + 6.0)]


async def test_already_cancelled_task_raises_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running_timer() as timer:
        now = trio.current_time()
        for offset in (5.0, 0.0, -1.0):  # parks; past deadline; past deadline
            raised = False
            with trio.CancelScope() as scope:
                scope.cancel()
                try:
                    await timer.sleep_until(now + offset)
                except trio.Cancelled:
                    raised = True
                    raise
            assert raised, offset
            assert scope.cancelled_caught, offset
            assert trio.current_time() == now
            assert len(timer) == 0


async def test_earlier_deadline_while_the_service_sleeps_on_a_later_one(
    autojump_clock: trio.testing.MockClock,
) -> None:
    woke: list[tuple[str, float]] = []
    async with running_timer() as timer:
        start = trio.current_time()

        async def sleeper(name: str, offset: float) -> None:
            await timer.sleep_until(start + offset)
            woke.append((name, trio.current_time()))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sleeper, "late", 10.0)
            await trio.testing.wait_all_tasks_blocked()
            assert timer._scope is not None
            assert timer._scope.deadline == start + 10.0  # the service sleeps until 10
            await trio.sleep(1.0)
            nursery.start_soon(sleeper, "early", 3.0)  # registers at 1 for 3
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(sleeper, "earlier", 1.5)  # then one for 1.5
            await trio.testing.wait_all_tasks_blocked()
            assert len(timer) == 3
    assert woke == [("earlier", start + 1.5), ("early", start + 3.0), ("late", start + 10.0)]


@pytest.mark.parametrize("how", ["one by one", "all at once"])
async def test_compaction_drops_dead_entries_and_keeps_live_ones(
    how: str, autojump_clock: trio.testing.MockClock
) -> None:
    dead_count, live_offsets = 3000, [1.0, 2.0, 2.0, 3.5, 7.0]
    woke: list[float] = []
    cancelled: list[float] = []
    async with running_timer() as timer:
        start = trio.current_time()
        scopes: list[trio.CancelScope] = []

        async def doomed() -> None:
            with trio.CancelScope() as scope:
                scopes.append(scope)
                try:
                    await timer.sleep_until(start + 1000.0)
                except trio.Cancelled:
                    cancelled.append(trio.current_time())
                    raise
                raise AssertionError("not reached: woken instead of cancelled")

        async def live(offset: float) -> None:
            await timer.sleep_until(start + offset)
            woke.append(trio.current_time())

        async with trio.open_nursery() as nursery:
            for offset in live_offsets:
                nursery.start_soon(live, offset)
            async with trio.open_nursery() as doomed_nursery:
                for _ in range(dead_count):
                    doomed_nursery.start_soon(doomed)
                await trio.testing.wait_all_tasks_blocked()
                assert len(timer) == dead_count + len(live_offsets)
                assert len(timer._heap) == dead_count + len(live_offsets)
                await trio.sleep(0.5)
                if how == "one by one":
                    for scope in scopes:
                        scope.cancel()
                else:
                    doomed_nursery.cancel_scope.cancel()
                # the aborts ran synchronously: only the live sleepers are counted
                assert len(timer) == len(live_offsets)
            assert cancelled == [start + 0.5] * dead_count
            # compaction happened (more than _COMPACT_MIN dead entries were dropped), and
            # what is left dead is bounded again
            assert len(timer._heap) <= dead_count + len(live_offsets) - (_COMPACT_MIN + 1)
            assert timer._dead <= _COMPACT_MIN
            assert len(timer._heap) == len(timer) + timer._dead
            assert sorted(e[0] for e in timer._heap if e[1] in timer._parked) == [
                start + o for o in live_offsets
            ]
        assert len(timer) == 0
    assert woke == [start + o for o in live_offsets]
    assert trio.current_time() == start + 7.0  # not 1000: dead entries were not waited for


async def test_stop_wakes_parked_tasks_which_still_finish_on_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    woke: list[tuple[str, float]] = []
    timer = TimerService()
    start = trio.current_time()

    async def sleeper(name: str, offset: float) -> None:
        await timer.sleep_until(start + offset)
        woke.append((name, trio.current_time()))

    with trio.fail_after(VIRTUAL_LIMIT):
        async with trio.open_nursery() as nursery:
            service_done: list[float] = []

            async def service(*, task_status: trio.TaskStatus[None]) -> None:
                await timer.run(task_status=task_status)
                service_done.append(trio.current_time())

            await nursery.start(service)
            try:
                nursery.start_soon(sleeper, "a", 5.0)
                nursery.start_soon(sleeper, "b", 7.5)
                nursery.start_soon(sleeper, "c", 1.0)
                await trio.sleep(2.0)
                assert woke == [("c", start + 1.0)]
                assert len(timer) == 2
            finally:
                timer.stop()
            await trio.testing.wait_all_tasks_blocked()
            assert service_done == [start + 2.0]  # the service ended at once
            assert not timer.running
            assert len(timer) == 0
            assert timer._heap == []
            assert woke == [("c", start + 1.0)]  # a and b did not wake early
            nursery.start_soon(sleeper, "d", 3.0)  # on the stopped timer: trio's sleep
        assert woke == [
            ("c", start + 1.0),
            ("d", start + 3.0),
            ("a", start + 5.0),
            ("b", start + 7.5),
        ]
    timer.stop()  # stopping a stopped timer is harmless
    assert not timer.running


async def test_never_started_timer_falls_back_to_trio(
    autojump_clock: trio.testing.MockClock,
) -> None:
    timer = TimerService()
    timer.stop()  # harmless before run
    assert not timer.running
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(timer.sleep_until, start + 4.0)
        await trio.testing.wait_all_tasks_blocked()
        assert len(timer) == 0  # sleeping on trio's timer, not here
    assert trio.current_time() == start + 4.0
    with trio.testing.assert_checkpoints():
        await timer.sleep_until(start)
    with trio.move_on_after(1.0) as scope:
        await timer.sleep_until(start + 100.0)
    assert scope.cancelled_caught
    assert trio.current_time() == start + 5.0


async def test_running_timer_past_deadline_yields_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running_timer() as timer:
        now = trio.current_time()
        with trio.testing.assert_checkpoints():
            await timer.sleep_until(now)
        with trio.testing.assert_checkpoints():
            await timer.sleep_until(now - 3.0)
        assert trio.current_time() == now
        assert timer._heap == []


async def test_timer_can_run_again_after_stop(autojump_clock: trio.testing.MockClock) -> None:
    timer = TimerService()
    with trio.fail_after(VIRTUAL_LIMIT):
        for round_ in range(2):
            async with trio.open_nursery() as nursery:
                await nursery.start(timer.run)
                try:
                    start = trio.current_time()
                    nursery.start_soon(timer.sleep_until, start + 1.5)
                    await trio.testing.wait_all_tasks_blocked()
                    assert len(timer) == 1, round_
                    await trio.sleep(2.0)
                    assert len(timer) == 0, round_
                finally:
                    timer.stop()
            assert not timer.running


async def test_periodic_sleeps_leave_no_cyclic_garbage(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Thousands of tickers each sleeping every interval must not feed the cyclic
    collector: a sleep's records die by reference counting when it ends. (Garbage in
    cycles made the collector's full passes pause a busy server for tens of ms.)"""
    tasks, ticks = 50, 20

    async with running_timer() as timer:
        start = trio.current_time()

        async def ticker() -> None:
            for tick in range(ticks + 1):
                await timer.sleep_until(start + 1.0 + tick)
            await trio.sleep_forever()

        async with trio.open_nursery() as nursery:
            for _ in range(tasks):
                nursery.start_soon(ticker)
            await trio.testing.wait_all_tasks_blocked()  # all parked for their first tick
            gc.collect()
            gc.disable()
            try:
                await trio.sleep_until(start + ticks + 1.5)  # every ticker has ticked `ticks` times
                garbage = gc.collect()
            finally:
                gc.enable()
            assert len(timer) == 0  # done ticking, parked on trio's sleep_forever
            nursery.cancel_scope.cancel()
    assert garbage == 0


# -- Alarm: a sleep that synchronous code ends early (an HTTP/2 stream's watch) --------------


async def _alarm_outcomes(
    alarm: Alarm, start: float, *, ring_at: float | None, cancel_at: float | None = None
) -> list[tuple[str, float]]:
    """Sleep on *alarm* until start + 5.0; ring it (or cancel the sleeper) at *ring_at*
    (*cancel_at*); return what happened when."""
    outcomes: list[tuple[str, float]] = []

    async def sleeper() -> None:
        try:
            await alarm.sleep_until(start + 5.0)
        except trio.Cancelled:
            outcomes.append(("cancelled", trio.current_time()))
            raise
        outcomes.append(("woke", trio.current_time()))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sleeper)
        await trio.testing.wait_all_tasks_blocked()
        assert alarm.sleeping
        if ring_at is not None:
            await trio.sleep_until(start + ring_at)
            alarm.ring()
        if cancel_at is not None:
            await trio.sleep_until(start + cancel_at)
            nursery.cancel_scope.cancel()
    alarm.ring()  # nothing sleeps: a no-op
    return outcomes


@pytest.mark.parametrize("on_timer", [True, False])
async def test_alarm_wakes_at_its_deadline_or_when_rung(
    autojump_clock: trio.testing.MockClock, on_timer: bool
) -> None:
    async with running_timer() as timer:
        if on_timer:
            CURRENT_TIMER.set(timer)
        start = trio.current_time()
        alarm = Alarm()
        assert await _alarm_outcomes(alarm, start, ring_at=None) == [("woke", start + 5.0)]
        start = trio.current_time()
        assert await _alarm_outcomes(alarm, start, ring_at=1.5) == [("woke", start + 1.5)]
        assert len(timer) == 0  # the rung entry is dead (dropped when popped)
        start = trio.current_time()
        outcomes = await _alarm_outcomes(alarm, start, ring_at=None, cancel_at=2.0)
        assert outcomes == [("cancelled", start + 2.0)]
        assert len(timer) == 0


async def test_alarm_on_a_timer_that_stops_finishes_on_trio_and_can_still_be_rung(
    autojump_clock: trio.testing.MockClock,
) -> None:
    alarm = Alarm()
    woke: list[float] = []
    async with running_timer() as timer:
        CURRENT_TIMER.set(timer)
        start = trio.current_time()

        async def sleeper() -> None:
            await alarm.sleep_until(start + 5.0)
            woke.append(trio.current_time())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sleeper)
            await trio.sleep(1.0)
            timer.stop()
            await trio.testing.wait_all_tasks_blocked()
            assert woke == []  # not early
            assert alarm.sleeping  # now in a cancel scope
            await trio.sleep(1.0)
            alarm.ring()
    assert woke == [start + 2.0]
