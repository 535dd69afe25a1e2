"""The request object handed to application handlers. This file does no I/O."""

from __future__ import annotations

from typing import TYPE_CHECKING, final
from urllib.parse import parse_qs, unquote

if TYPE_CHECKING:
    from ._headers import Headers

__all__ = ["Request"]


@final
class Request:
    """An HTTP request, parsed by h11, with its body already read.

    Attributes:
        method: The method, uppercase (``"GET"``).
        target: The raw request target as sent (``"/a%20b?x=1"``).
        path: The percent-decoded path (``"/a b"``).
        query_string: The raw query, without ``?`` (``"x=1"``).
        headers: The header fields, case-insensitive.
        body: The request body (``b""`` when there is none). Its size is bounded by
            :attr:`Config.max_body_bytes <trio_sse.Config.max_body_bytes>`.
        http_version: ``"1.1"`` or ``"1.0"``.
        client: The peer's ``(host, port)``, or ``None`` when unknown (memory streams).
    """

    __slots__ = (
        "_query",
        "body",
        "client",
        "headers",
        "http_version",
        "method",
        "path",
        "query_string",
        "target",
    )

    def __init__(
        self,
        *,
        method: str,
        target: str,
        headers: Headers,
        body: bytes = b"",
        http_version: str = "1.1",
        client: tuple[str, int] | None = None,
    ) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.http_version = http_version
        self.client = client
        raw_path, _, self.query_string = target.partition("?")
        if raw_path.startswith(("http://", "https://")):
            # absolute-form (RFC 9112 §3.2.2): keep only the path
            after_scheme = raw_path.split("://", 1)[1]
            slash = after_scheme.find("/")
            raw_path = after_scheme[slash:] if slash >= 0 else "/"
        self.path = unquote(raw_path) if "%" in raw_path else raw_path
        self._query: dict[str, list[str]] | None = None

    @property
    def query(self) -> dict[str, list[str]]:
        """The query parameters, each name with the list of its values (blank values kept)."""
        if self._query is None:
            self._query = parse_qs(self.query_string, keep_blank_values=True)
        return self._query

    def query_param(self, name: str, default: str | None = None) -> str | None:
        """Return the first value of query parameter *name*, or *default*."""
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def last_event_id(self) -> str | None:
        """The ``Last-Event-ID`` header an ``EventSource`` sends when it reconnects."""
        return self.headers.get("last-event-id")

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.target} HTTP/{self.http_version}>"
