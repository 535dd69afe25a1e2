"""Redis Streams entry ids and the resume rules of the Redis backend. This file does no I/O.

``coredis`` is imported only inside :func:`is_connection_failure`, which runs only when the
backend is in use (the ``redis`` extra is optional).
"""

from __future__ import annotations

from typing import Any

import trio

from ._fanout import RESET_EXPIRED, RESET_UNKNOWN

__all__ = ["StreamId", "classify_resume", "format_id", "is_connection_failure", "parse_id"]

StreamId = tuple[int, int]
"""A Redis Streams entry id, ``<ms>-<seq>``, as a pair of ints."""


def parse_id(value: str | bytes) -> StreamId | None:
    """``"<ms>-<seq>"`` as a pair of ints, or ``None`` when malformed."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    ms, sep, seq = text.partition("-")
    for part in (ms, seq):
        if not (0 < len(part) <= 20 and part.isascii() and part.isdigit()):
            return None
    if not sep:
        return None
    return int(ms), int(seq)


def format_id(value: StreamId) -> str:
    return f"{value[0]}-{value[1]}"


def is_connection_failure(exc: BaseException) -> bool:
    """Whether *exc* (or every member of an exception group) means "Redis unreachable"."""
    from coredis.exceptions import ConnectionError as RedisConnectionError

    members: object = getattr(exc, "exceptions", None)
    if isinstance(members, tuple) and members:
        return all(is_connection_failure(member) for member in members)
    return isinstance(exc, (RedisConnectionError, OSError, TimeoutError, trio.TooSlowError))


def classify_resume(after: StreamId, info: dict[str, Any] | None) -> str | None:
    """``None`` if the entries after *after* are all in the stream, else the reset."""
    if info is None:
        return RESET_UNKNOWN
    last = parse_id(info["last-generated-id"]) or (0, 0)
    if after > last:
        return RESET_UNKNOWN
    first_entry = info.get("first-entry")
    first = parse_id(first_entry.identifier) if first_entry is not None else None
    if first is not None and after >= first:
        return None
    if first is None and after == last:
        return None
    if int(info.get("entries-added", 0)) > int(info["length"]):
        return RESET_EXPIRED  # trimmed: entries after *after* may be gone
    return RESET_UNKNOWN  # nothing was ever removed: *after* is not from this stream
