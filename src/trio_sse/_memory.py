"""Giving freed heap memory back to the operating system after a storm of connections.

After thousands of connections close, CPython has freed their objects but the process
keeps much of the memory: CPython's own allocator (pymalloc) releases an arena only when
every object in it is gone, and glibc's ``malloc`` keeps freed pages for reuse. The memory
is reused by the next storm (RSS stays flat across storms: no leak), but a server that
peaked once holds most of its peak. ``malloc_trim(0)`` returns the free pages of glibc's
heap, where CPython puts every object larger than 512 bytes; this module calls it (Linux
with glibc only; elsewhere it does nothing). See :attr:`Config.memory_trim_interval
<trio_sse.Config.memory_trim_interval>`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["malloc_trim", "trim_is_available"]

#: Trim once the open connections fell to this fraction of their peak since the last trim
#: and at least STORM_DROP connections closed: the end of a storm (or of a large part of
#: one), not every quiet moment.
TRIM_FRACTION: Final = 0.5
STORM_DROP: Final = 250


def _load_malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        trim = libc.malloc_trim  # glibc only (not musl)
    except (OSError, AttributeError):  # pragma: no cover - non-glibc Linux
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_malloc_trim = _load_malloc_trim()


def trim_is_available() -> bool:
    """Whether :func:`malloc_trim` can do anything on this platform."""
    return _malloc_trim is not None


def malloc_trim() -> bool:
    """Return free heap pages to the OS (glibc ``malloc_trim(0)``); False if unavailable."""
    if _malloc_trim is None:
        return False
    _malloc_trim(0)
    return True


class StormTracker:
    """Decides when a storm has ended: the connection count fell well below its peak."""

    __slots__ = ("peak",)

    def __init__(self) -> None:
        self.peak = 0

    def should_trim(self, open_now: int) -> bool:
        """Call periodically with the open connections; True once per storm's end."""
        self.peak = max(self.peak, open_now)
        if self.peak - open_now >= STORM_DROP and open_now <= self.peak * TRIM_FRACTION:
            self.peak = open_now
            return True
        return False
