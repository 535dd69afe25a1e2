"""Giving memory back after a storm: the storm detector and ``malloc_trim`` (the server's
task is tested in ``tests/memory/test_memory_trim.py``)."""

from __future__ import annotations

import sys

import pytest

import trio_sse._memory as memory


def test_storm_tracker_trims_when_a_big_peak_halves_then_again_at_its_end() -> None:
    storm = memory.StormTracker()
    counts = [0, 100, 600, 900, 700, 451, 450, 449, 300, 201, 200, 199, 0, 10]
    decisions = [storm.should_trim(n) for n in counts]
    # peak 900: trim when 450 or fewer remain; from there (peak 450), trim again once
    # 250 more have closed and at most half remain (200); not again below that
    expected = [False] * 6 + [True] + [False] * 3 + [True] + [False] * 3
    assert decisions == expected


def test_storm_tracker_ignores_small_drops() -> None:
    storm = memory.StormTracker()
    assert not any(storm.should_trim(n) for n in [0, 249, 0, 499, 250])
    assert storm.should_trim(249) is True  # 499 -> 249: 250 closed, under half


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim")
def test_malloc_trim_runs_on_glibc_linux() -> None:
    assert memory.trim_is_available()
    assert memory.malloc_trim() is True


def test_malloc_trim_is_a_no_op_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_malloc_trim", None)
    assert not memory.trim_is_available()
    assert memory.malloc_trim() is False
