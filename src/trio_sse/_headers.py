"""Case-insensitive, order-preserving HTTP header collections. This file does no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TypeAlias, TypeVar, final, overload

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

    # Two tuples and no index: a request's few fields are found faster by a scan than by
    # hashing, and an open stream keeps its request (and so its headers) for hours.
    __slots__ = ("_items", "_lower")

    def __init__(self, items: HeadersLike | None = None) -> None:
        pairs: list[tuple[str, str]]
        if items is None:
            pairs = []
        elif isinstance(items, Mapping):
            pairs = [(str(k), str(v)) for k, v in items.items()]
        else:
            pairs = [(str(k), str(v)) for k, v in items]
        self._items: tuple[tuple[str, str], ...] = tuple(pairs)
        names = tuple([name for name, _ in pairs])
        lower = tuple([name.lower() for name in names])
        # Share the name strings when they are lowercase already (always, from h11).
        self._lower: tuple[str, ...] = names if names == lower else lower

    @classmethod
    def from_wire(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        """Build from header fields as a protocol parser hands them over (``bytes`` pairs).

        For servers: the fields must have been validated already (h11 does); they are
        decoded as ISO-8859-1, which is lossless, and not checked again.
        """
        self = object.__new__(cls)
        items = tuple([(n.decode("latin-1"), v.decode("latin-1")) for n, v in raw])
        self._items = items
        self._lower = tuple([n if n.islower() else n.lower() for n, _ in items])
        return self

    def _values(self, name: str) -> list[str]:
        key = name.lower()
        items = self._items
        return [items[i][1] for i, n in enumerate(self._lower) if n == key]

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
        return isinstance(name, str) and name.lower() in self._lower

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(self._lower))

    def __len__(self) -> int:
        return len(set(self._lower))

    def get_all(self, name: str) -> list[str]:
        """Return every value of *name* in arrival order (an empty list if absent)."""
        return self._values(name)

    def items_raw(self) -> list[tuple[str, str]]:
        """Return every ``(name, value)`` field in arrival order, duplicates included."""
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({list(self._items)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return _grouped(self.items_raw()) == _grouped(other.items_raw())
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]


def _grouped(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The values of *items* by case-folded name, in order (how Headers compare)."""
    grouped: dict[str, list[str]] = {}
    for name, value in items:
        grouped.setdefault(name.lower(), []).append(value)
    return grouped
