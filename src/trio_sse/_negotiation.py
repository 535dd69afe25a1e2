"""HTTP content negotiation (RFC 9110 §12.5.1 ``Accept``). This file does no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    from ._request import Request

__all__ = ["MediaRange", "accepts_event_stream", "parse_accept"]

EVENT_STREAM = "text/event-stream"


@final
@dataclass(frozen=True, slots=True)
class MediaRange:
    """One media range of an ``Accept`` header.

    Attributes:
        type: The lowercase top-level type, or ``"*"``.
        subtype: The lowercase subtype, or ``"*"``.
        q: The quality value, between 0 and 1.
        params: Media-type parameters other than ``q``, names lowercased.
    """

    type: str
    subtype: str
    q: float = 1.0
    params: tuple[tuple[str, str], ...] = ()

    def matches(self, media_type: str) -> bool:
        """Whether this range covers *media_type* (``"type/subtype"``), wildcards included."""
        t, _, s = media_type.lower().partition("/")
        return (self.type in ("*", t)) and (self.subtype in ("*", s))

    @property
    def specificity(self) -> int:
        """2 for ``type/subtype``, 1 for ``type/*``, 0 for ``*/*`` (RFC 9110 precedence)."""
        if self.type == "*":
            return 0
        return 1 if self.subtype == "*" else 2


_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


def _parse_q(value: str) -> float | None:
    # RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
    value = value.strip()
    return float(value) if _QVALUE.fullmatch(value) else None


def _split_unquoted(text: str, separator: str) -> list[str]:
    # Split on *separator* outside quoted strings (RFC 9110 §5.6.4), keeping escapes.
    parts: list[str] = []
    buf: list[str] = []
    quoted = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == separator and not quoted:
            parts.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    parts.append("".join(buf))
    return parts


def parse_accept(header: str) -> list[MediaRange]:
    """Parse an ``Accept`` header value into its media ranges, in the order given.

    Malformed ranges (no ``/``, empty type, a bad ``q``) are skipped rather than rejected,
    as RFC 9110 lets a server ignore what it cannot parse.

    Args:
        header: The field value; several ``Accept`` fields may be joined with commas.

    Returns:
        The media ranges that parsed.
    """
    ranges: list[MediaRange] = []
    for item in _split_unquoted(header, ","):
        pieces = _split_unquoted(item, ";")
        media = pieces[0].strip().lower()
        t, slash, s = media.partition("/")
        if not slash or not t or not s or (t == "*" and s != "*"):
            continue
        q: float | None = 1.0
        params: list[tuple[str, str]] = []
        for raw in pieces[1:]:
            name, eq, value = raw.strip().partition("=")
            name = name.strip().lower()
            if not name:
                continue
            value = value.strip()
            if name == "q":
                q = _parse_q(value) if eq else None
                break  # parameters after q are accept-extensions (obsolete): ignore them
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            params.append((name, value))
        if q is None:
            continue
        ranges.append(MediaRange(t.strip(), s.strip(), q, tuple(params)))
    return ranges


def accepts_event_stream(request_or_header: Request | str | None) -> bool:
    """Whether a request explicitly asks for ``text/event-stream``.

    True when the most specific ``Accept`` range that covers ``text/event-stream`` names it
    exactly (``text/event-stream``, with any parameters) with ``q > 0``. Wildcards
    (``*/*``, ``text/*``) do **not** count: every browser sends ``*/*`` for ordinary page
    loads, while ``EventSource`` sends ``Accept: text/event-stream``. An explicit
    ``text/event-stream;q=0`` refuses the stream.

    Args:
        request_or_header: A :class:`~trio_sse.Request`, or the raw ``Accept`` value, or
            ``None`` for a request without the header.

    Returns:
        Whether to answer with an event stream.
    """
    if request_or_header is None:
        return False
    if isinstance(request_or_header, str):
        header = request_or_header
    else:
        header = request_or_header.headers.get("accept", "")
    if "event-stream" not in header.lower():  # fast path: most requests never mention it
        return False
    exact = [r for r in parse_accept(header) if r.specificity == 2 and r.matches(EVENT_STREAM)]
    if not exact:
        return False
    return max(r.q for r in exact) > 0
