"""Response types returned by application handlers. This file does no I/O.

A handler returns one of these; the connection (``_connection.py``) does the writing. The
types are plain data so handlers and tests can build and inspect them without a server.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, TypeAlias

from ._headers import Headers
from ._request import Request

if TYPE_CHECKING:
    from ._headers import HeadersLike

__all__ = ["App", "BaseResponse", "Handler", "Response", "StreamingResponse"]

_TEXT = "text/plain; charset=utf-8"
_BYTES = "application/octet-stream"

_RESERVED = frozenset({"content-length", "transfer-encoding", "connection"})


def _check_headers(items: list[tuple[str, str]]) -> None:
    for name, value in items:
        if name.lower() in _RESERVED:
            raise ValueError(
                f"headers: {name!r} is managed by the server (framing and keep-alive) "
                "and may not be set by a handler"
            )
        if not name or any(c in name for c in " \t\r\n:") or not name.isascii():
            raise ValueError(f"headers: invalid field name {name!r}")
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"headers: value of {name!r} must not contain CR, LF or NUL")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(f"headers: value of {name!r} is not ISO-8859-1") from None


def header_items(headers: HeadersLike | None) -> list[tuple[str, str]]:
    """Header fields as ``(name, value)`` pairs, duplicates and order kept."""
    if headers is None:
        return []
    if isinstance(headers, Headers):
        return headers.items_raw()
    if isinstance(headers, Mapping):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


class BaseResponse:
    """Common part of every response: a status code and header fields.

    Do not instantiate it directly; use :class:`Response`, :class:`StreamingResponse` or
    :class:`~trio_sse.EventStreamResponse`. ``Content-Length``, ``Transfer-Encoding`` and
    ``Connection`` are set by the server and rejected here with :exc:`ValueError`.

    Attributes:
        status: The status code.
        headers: The header fields the handler set.
    """

    __slots__ = ("headers", "status")

    def __init__(self, *, status: int, headers: HeadersLike | None, content_type: str | None):
        value: object = status  # checked at run time: handlers are often untyped
        if isinstance(value, bool) or not isinstance(value, int) or not 200 <= value <= 999:
            raise ValueError(f"status: must be an int from 200 to 999, got {status!r}")
        if headers is None:  # (the common case: nothing to check)
            items = [] if content_type is None else [("Content-Type", content_type)]
        else:
            items = header_items(headers)
            _check_headers(items)
            if content_type is not None and not any(n.lower() == "content-type" for n, _ in items):
                items.insert(0, ("Content-Type", content_type))
        self.status = status
        self.headers = Headers(items)

    def header_fields(self) -> list[tuple[bytes, bytes]]:
        """The header fields as the server writes them: ``(name, value)`` byte pairs."""
        return [(n.encode("ascii"), v.encode("latin-1")) for n, v in self.headers.items_raw()]


# Real (runtime) aliases, so ``trio_sse.Handler`` can be used in annotations and docs.
Handler: TypeAlias = Callable[[Request], Awaitable[BaseResponse]]
"""An application handler: an async function from a request to a response."""

App: TypeAlias = Handler
"""What :func:`trio_sse.serve` runs: any handler, often a :class:`~trio_sse.Router`."""


class Response(BaseResponse):
    """A response with a complete body, sent with ``Content-Length``.

    Args:
        body: The body; ``str`` is encoded as UTF-8.
        status: The status code (default 200).
        headers: Extra header fields, as a mapping or ``(name, value)`` pairs.
        content_type: The ``Content-Type``; defaults to ``text/plain; charset=utf-8``
            for ``str`` bodies and ``application/octet-stream`` for non-empty ``bytes``.
            A ``Content-Type`` in *headers* wins.

    Raises:
        ValueError: for a status outside 200-999 or a header the server manages.
    """

    __slots__ = ("body",)

    def __init__(
        self,
        body: str | bytes = b"",
        *,
        status: int = 200,
        headers: HeadersLike | None = None,
        content_type: str | None = None,
    ) -> None:
        if isinstance(body, str):
            data = body.encode("utf-8")
            default_type: str | None = _TEXT
        elif isinstance(body, (bytes, bytearray, memoryview)):
            data = bytes(body)
            default_type = _BYTES if data else None
        else:
            raise TypeError(f"body: must be str or bytes, not {type(body).__name__}")
        super().__init__(status=status, headers=headers, content_type=content_type or default_type)
        self.body = data

    def __repr__(self) -> str:
        return f"<Response {self.status} {len(self.body)} bytes>"


class StreamingResponse(BaseResponse):
    """A response whose body is produced piece by piece while it is sent.

    Each piece is written and flushed as soon as it is produced, framed with chunked
    transfer coding on HTTP/1.1 and by closing the connection on HTTP/1.0. The iteration
    runs in a child task of the connection: when the client disconnects, it is cancelled at
    once.

    Args:
        content: An async iterable (or a plain iterable) of ``bytes`` or ``str`` pieces.
        status: The status code (default 200).
        headers: Extra header fields.
        content_type: The ``Content-Type`` (default ``application/octet-stream``).
    """

    __slots__ = ("content",)

    def __init__(
        self,
        content: AsyncIterable[bytes | str] | Iterable[bytes | str],
        *,
        status: int = 200,
        headers: HeadersLike | None = None,
        content_type: str | None = _BYTES,
    ) -> None:
        given: object = content
        if not isinstance(given, (AsyncIterable, Iterable)) or isinstance(given, (str, bytes)):
            raise TypeError(
                f"content: must be an iterable of bytes or str, not {type(content).__name__}"
            )
        super().__init__(status=status, headers=headers, content_type=content_type)
        self.content = content

    def __repr__(self) -> str:
        return f"<StreamingResponse {self.status}>"
