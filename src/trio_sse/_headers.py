"""Case-insensitive, order-preserving HTTP header collections. This file does no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Final, TypeAlias, TypeVar, final, overload

__all__ = ["Headers", "HeadersLike"]

_T = TypeVar("_T")

HeadersLike: TypeAlias = "Mapping[str, str] | Iterable[tuple[str, str]]"
"""Header fields given by a handler: a mapping, or ``(name, value)`` pairs (duplicates kept)."""


@final
class Headers(Mapping[str, str]):
    """An immutable, case-insensitive multi-mapping of HTTP header fields.

    Lookups ignore case (``headers["content-type"]`` and ``headers["Content-Type"]`` are the
    same); iteration yields lowercase names once each; :meth:`items_raw` keeps every field in
    the order it arrived. When a name occurs several times, ``headers[name]`` joins the values
    with ``", "`` as RFC 9110 §5.3 allows, and :meth:`get_all` returns them separately.

    Args:
        items: ``(name, value)`` pairs or a mapping. Names and values are ``str``; header
            bytes from the wire are decoded as ISO-8859-1, the only lossless choice.
    """

    # One flat tuple (name, value, name, value, ...) and no index: a request's few fields
    # are found faster by a scan than by hashing, and an open stream keeps its request (and
    # so its headers) for hours. ``_lower``: the names lowercased, or ``None`` when they
    # are lowercase already (always over HTTP/2).
    __slots__ = ("_fields", "_lower")

    def __init__(self, items: HeadersLike | None = None) -> None:
        fields: list[str] = []
        if items is not None:
            pairs = items.items() if isinstance(items, Mapping) else items
            for name, value in pairs:
                fields.append(str(name))
                fields.append(str(value))
        self._set(tuple(fields))

    def _set(self, fields: tuple[str, ...]) -> None:
        self._fields = fields
        names = fields[::2]
        lowered = _LOWERED
        lower = tuple([lowered.get(name) or name.lower() for name in names])
        self._lower: tuple[str, ...] | None = None if names == lower else lower

    @classmethod
    def from_wire(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        """Build from header fields as a protocol parser hands them over (``bytes`` pairs).

        For servers: the fields must have been validated already (h11 does); they are
        decoded as ISO-8859-1, which is lossless, and not checked again. Common names
        and values (an ``EventSource``'s) share one string with every other request's.
        """
        self = object.__new__(cls)
        fields: list[str] = []
        names = _NAMES
        values = _VALUES
        for name, value in raw:
            fields.append(names.get(name) or name.decode("latin-1"))
            fields.append(values.get(value) or value.decode("latin-1"))
        self._set(tuple(fields))
        return self

    def _names(self) -> tuple[str, ...]:
        """The names, lowercase, in order (duplicates kept)."""
        lower = self._lower
        return self._fields[::2] if lower is None else lower

    def _values(self, name: str) -> list[str]:
        key = name.lower()
        fields = self._fields
        return [fields[2 * i + 1] for i, n in enumerate(self._names()) if n == key]

    def __getitem__(self, name: str) -> str:
        values = self._values(name)
        if not values:
            raise KeyError(name)
        return values[0] if len(values) == 1 else ", ".join(values)

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, /, default: str | _T) -> str | _T: ...
    def get(self, name: str, /, default: object = None) -> object:
        """Return the value of *name* (values joined with ``", "``), or *default*."""
        values = self._values(name)
        if not values:
            return default
        return values[0] if len(values) == 1 else ", ".join(values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(self._names()))

    def __len__(self) -> int:
        return len(set(self._names()))

    def get_all(self, name: str) -> list[str]:
        """Return every value of *name* in arrival order (an empty list if absent)."""
        return self._values(name)

    def items_raw(self) -> list[tuple[str, str]]:
        """Return every ``(name, value)`` field in arrival order, duplicates included."""
        fields = self._fields
        return list(zip(fields[::2], fields[1::2], strict=True))

    def __repr__(self) -> str:
        return f"Headers({self.items_raw()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return _grouped(self.items_raw()) == _grouped(other.items_raw())
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]


def _common_names() -> tuple[dict[bytes, str], dict[str, str]]:
    """Common request header names as they arrive (lowercase, or capitalised as HTTP/1.1
    clients often send them), each mapped to one shared string; and each of those strings
    mapped to the shared lowercase one."""
    names = [
        "accept",
        "accept-encoding",
        "accept-language",
        "authorization",
        "cache-control",
        "connection",
        "content-length",
        "content-type",
        "cookie",
        "dnt",
        "forwarded",
        "host",
        "if-modified-since",
        "if-none-match",
        "last-event-id",
        "origin",
        "pragma",
        "priority",
        "referer",
        "sec-ch-ua",
        "sec-ch-ua-mobile",
        "sec-ch-ua-platform",
        "sec-fetch-dest",
        "sec-fetch-mode",
        "sec-fetch-site",
        "sec-websocket-extensions",
        "sec-websocket-key",
        "sec-websocket-protocol",
        "sec-websocket-version",
        "te",
        "transfer-encoding",
        "upgrade",
        "upgrade-insecure-requests",
        "user-agent",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-real-ip",
        "x-request-id",
    ]
    table: dict[bytes, str] = {}
    lowered: dict[str, str] = {}
    for name in names:
        title = "-".join(part.capitalize() for part in name.split("-"))
        for form in (name, title):
            table[form.encode("latin-1")] = form
            lowered[form] = name
    return table, lowered


#: Names :meth:`Headers.from_wire` shares between requests, and their shared lowercase
#: forms (fixed sets: nothing a client sends is added to them).
_NAMES, _LOWERED = _common_names()

#: Values that most requests for an event stream (or a WebSocket) carry, shared likewise.
_VALUES: Final = {
    value.encode("latin-1"): value
    for value in (
        "*/*",
        "?0",
        "?1",
        "cors",
        "empty",
        "keep-alive",
        "no-cache",
        "same-origin",
        "same-site",
        "text/event-stream",
        "Upgrade",
        "upgrade",
        "websocket",
        "13",
    )
}


def _grouped(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The values of *items* by case-folded name, in order (how Headers compare)."""
    grouped: dict[str, list[str]] = {}
    for name, value in items:
        grouped.setdefault(name.lower(), []).append(value)
    return grouped
