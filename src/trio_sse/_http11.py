"""HTTP/1.1 pieces around h11 that the connection needs: heads, dates, error answers.

This file does no I/O: it builds h11 events and checks parsed ones. The connection
(``_connection.py``) sends what it builds.
"""

from __future__ import annotations

import logging
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING, Final

import h11

if TYPE_CHECKING:
    from ._request import Request

__all__ = [
    "NO_BODY_STATUSES",
    "HTTPError",
    "access_logger",
    "error_response",
    "head_size",
    "http_date",
    "log_access",
    "request_head",
    "response_head",
]

access_logger = logging.getLogger("trio_sse.access")

_REASONS: Final = {s.value: s.phrase.encode("ascii") for s in HTTPStatus}
#: Statuses whose responses never have a body (RFC 9110 §15.3.5, §15.4.5).
NO_BODY_STATUSES: Final = frozenset({204, 304})


class HTTPError(Exception):
    """An error status to answer with, after which the connection closes.

    Attributes:
        status: The status code (4xx or 5xx).
        detail: What was wrong, for the debug and access logs.
    """

    def __init__(self, status: int, detail: str = "") -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class _DateCache:
    """The ``Date`` header value (RFC 9110 §6.6.1), formatted at most once a second."""

    __slots__ = ("_second", "_value")

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def get(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = formatdate(now, usegmt=True).encode("ascii")
        return self._value


http_date = _DateCache().get
"""The current ``Date`` header value (cached for the second)."""


def head_size(event: h11.Request) -> int:
    """The size of a request head as it was on the wire (modulo optional whitespace)."""
    size = len(event.method) + len(event.target) + 12
    for name, value in event.headers.raw_items():  # (a list: faster than the Sequence)
        size += len(name) + len(value) + 4
    return size


def response_head(
    status: int, headers: list[tuple[bytes, bytes]], length: int | None, *, close: bool
) -> h11.Response:
    """The h11 head of a response: *headers* plus ``Date``, ``Content-Length`` when the
    *length* is known, and ``Connection: close`` when *close* (shutdown has begun)."""
    headers.append((b"date", http_date()))
    if length is not None and status not in NO_BODY_STATUSES:
        headers.append((b"content-length", str(length).encode("ascii")))
    if close:
        headers.append((b"connection", b"close"))
    return h11.Response(status_code=status, headers=headers, reason=_REASONS.get(status, b""))


def error_response(status: int) -> tuple[h11.Response, h11.Data, h11.EndOfMessage]:
    """The events of a plain-text error answer that closes the connection."""
    body = _REASONS.get(status, b"Error") + b"\n"
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
    return (
        response_head(status, headers, len(body), close=False),
        h11.Data(data=body),
        h11.EndOfMessage(),
    )


def request_head(request: Request) -> bytes:
    """*request*'s head serialised again (for a protocol switch: the WebSocket hand-off).

    The header fields are written as they were received (ISO-8859-1 decoding is lossless).
    """
    fields = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in request.headers.items_raw()]
    head = h11.Connection(h11.CLIENT).send(
        h11.Request(method=request.method, target=request.target, headers=fields)
    )
    assert head is not None
    return head


def log_access(peer: str, request: Request, status: int, size: int, started: float) -> None:
    """One line on the ``trio_sse.access`` logger at INFO (when enabled): the peer, the
    request line, the status, the body bytes sent and the time since *started*
    (``time.perf_counter()``), whatever the protocol."""
    if access_logger.isEnabledFor(logging.INFO):
        access_logger.info(
            '%s - "%s %s HTTP/%s" %d %d %.1fms',
            peer,
            request.method,
            request.target,
            request.http_version,
            status,
            size,
            (time.perf_counter() - started) * 1000,
        )
