"""Fixtures and pytest configuration only; the shared helpers are in ``helpers.py``."""

from __future__ import annotations

import importlib.util

import pytest
import trio

from trio_sse import _transport

from .helpers import WriteSpy

# Browser tests need Playwright, which only the e2e (and typecheck) environments install.
collect_ignore_glob = [] if importlib.util.find_spec("playwright") else ["e2e/*"]


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> WriteSpy:
    """Observe (not replace) the server's raw socket writes and its waits for writability."""
    spy = WriteSpy()
    monkeypatch.setattr(_transport, "os", spy)
    real_wait_writable = trio.lowlevel.wait_writable

    async def wait_writable(fd: int) -> None:
        spy.waits += 1
        spy.blocked.set()
        await real_wait_writable(fd)

    monkeypatch.setattr(trio.lowlevel, "wait_writable", wait_writable)
    return spy
