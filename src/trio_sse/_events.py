"""The server-sent event value type and its wire encoder.

This file does no I/O. It turns :class:`ServerSentEvent` values into the bytes of the
``text/event-stream`` format (WHATWG HTML §9.2), and it refuses, at construction time,
every value that format cannot carry. Rules implemented here, derived from the
client's parsing rules (§9.2.5-9.2.7):

* Output is UTF-8 without a BOM. A ``str`` that cannot be encoded as UTF-8 (lone
  surrogates such as ``"\\ud800"``) is rejected.
* Lines end with LF, and only LF.
* Every block ends with exactly one empty line, so the bytes end with ``b"\\n\\n"``,
  and all of an event's fields come before it.
* Fields are written as ``name: value`` with exactly one space after the colon, so a
  value that starts with a space survives the client's single-space strip.
* ``data`` is split on exactly CRLF, LF and lone CR (never ``str.splitlines()``),
  one ``data:`` line per piece, empty pieces kept: ``"a\\n"`` becomes ``data: a`` then
  ``data: ``.
* ``data=None`` writes no data line; ``data=""`` writes ``data: `` and dispatches an
  empty message.
* ``event`` must not contain CR or LF: rejected, never stripped.
* ``id`` must not contain CR, LF or NUL; ``id=""`` (reset) differs from ``None``.
* ``retry`` is an ``int`` (not ``bool``) from 0 to :data:`~trio_sse.MAX_RETRY`,
  written in base ten.
* A ``str`` or ``int`` subclass is stored as a plain ``str`` or ``int``, so no overridden
  method (``__contains__``, ``replace``, ``__str__``, ...) can slip past the checks or
  change what is written.
* Comments may span lines: each piece becomes its own ``: text`` line (a bare ``:``
  for an empty piece).

Order within a block: comment lines, ``event``, ``id``, ``retry``, then ``data`` lines.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Final, final

from ._exceptions import InvalidEventError

__all__ = ["MAX_RETRY", "ServerSentEvent", "encode_comment"]

#: The largest ``retry`` value, in milliseconds: 2**31 - 1, about 24.8 days. JavaScript
#: clients wait with ``setTimeout``, whose delay is a signed 32-bit integer: browsers run
#: a larger delay at once (it wraps around) and Node.js replaces it with 1 ms, so a bigger
#: ``retry`` would make such clients reconnect immediately, the opposite of what was asked.
#: (It also keeps the value far from Python's int-to-str digit limit.)
MAX_RETRY: Final = 2**31 - 1


def _check_str(field: str, value: object) -> str:
    """Return ``value`` as a plain ``str`` if UTF-8 can encode it, else raise."""
    if not isinstance(value, str):
        raise InvalidEventError(field, f"field must be str, not {type(value).__name__}")
    if type(value) is not str:
        # A subclass may override the methods used below and in encode(); keep its text.
        value = str.__str__(value)
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidEventError(
                field, "field must not contain lone surrogates (not encodable as UTF-8)"
            ) from None
    return value


def _int_text(value: int) -> str:
    """``value`` in base ten for a message, or its size if it is too long to print.

    ``str()`` of an int with thousands of digits raises ``ValueError`` (Python's
    int-to-str digit limit), and would make an unreadable message anyway.
    """
    if value.bit_length() <= 64:
        return str(value)
    return f"an int of {value.bit_length()} bits"


def _normalise_newlines(text: str) -> str:
    """Turn every CRLF and lone CR into LF (the event-stream's three line endings)."""
    if "\r" in text:
        return text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _comment_lines(text: str) -> str:
    """Encode ``text`` as one ``:`` line per line of text, each ending in LF."""
    text = _normalise_newlines(text)
    if "\n" not in text:
        return ": " + text + "\n" if text else ":\n"
    return "".join(": " + piece + "\n" if piece else ":\n" for piece in text.split("\n"))


@final
@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One block of a ``text/event-stream``: an event, a comment, or both.

    Instances are immutable and validated when constructed, so an event that exists can
    always be encoded. Compare them with ``==``; they are hashable.

    Args:
        data: The payload, or ``None`` for a block with no ``data`` line (which the
            client does not dispatch; useful for ``id``/``retry``-only blocks). Any
            text; CRLF, LF and CR split it into several ``data`` lines, which the
            client joins with LF. ``""`` dispatches an event with empty data.
        event: The event type (the ``addEventListener`` name). ``None`` or ``""``
            means ``"message"``. Must not contain CR or LF.
        id: The event id, sent back by a reconnecting client as ``Last-Event-ID``.
            ``""`` resets the client's last event id; ``None`` leaves it unchanged.
            Must not contain CR, LF or NUL.
        retry: The client's reconnection time in milliseconds, an ``int`` from 0 to
            :data:`~trio_sse.MAX_RETRY` (2**31 - 1, the longest delay JavaScript's
            ``setTimeout`` honours).
        comment: Comment text, ignored by clients (padding, heartbeats, debugging).
            CRLF, LF and CR split it into several comment lines.

    Raises:
        InvalidEventError: If a field has the wrong type, holds a character its line
            cannot carry (or a lone surrogate, which UTF-8 cannot), if ``retry`` is out
            of range, or if every field is ``None``. The error's
            :attr:`~InvalidEventError.field` names the field.
    """

    data: str | None = None
    _: KW_ONLY
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    comment: str | None = None

    def __post_init__(self) -> None:
        # Subclass values are replaced by plain ones (frozen: hence object.__setattr__).
        if self.data is not None:
            data = _check_str("data", self.data)
            if data is not self.data:
                object.__setattr__(self, "data", data)
        if self.event is not None:
            event = _check_str("event", self.event)
            if "\r" in event or "\n" in event:
                raise InvalidEventError("event", "field must not contain CR or LF")
            if event is not self.event:
                object.__setattr__(self, "event", event)
        if self.id is not None:
            id_ = _check_str("id", self.id)
            if "\r" in id_ or "\n" in id_:
                raise InvalidEventError("id", "field must not contain CR or LF")
            if "\0" in id_:
                raise InvalidEventError("id", "field must not contain NUL")
            if id_ is not self.id:
                object.__setattr__(self, "id", id_)
        if self.retry is not None:
            retry: object = self.retry
            if not isinstance(retry, int) or isinstance(retry, bool):
                raise InvalidEventError("retry", f"field must be int, not {type(retry).__name__}")
            if type(retry) is not int:
                retry = int.__int__(retry)  # a plain int: no overridden __lt__ or __str__
                object.__setattr__(self, "retry", retry)
            if retry < 0:
                raise InvalidEventError(
                    "retry", f"field must be non-negative, not {_int_text(retry)}"
                )
            if retry > MAX_RETRY:
                raise InvalidEventError(
                    "retry",
                    f"field must be at most {MAX_RETRY} (MAX_RETRY), not {_int_text(retry)}",
                )
        if self.comment is not None:
            comment = _check_str("comment", self.comment)
            if comment is not self.comment:
                object.__setattr__(self, "comment", comment)
        elif self.data is None and self.event is None and self.id is None and self.retry is None:
            raise InvalidEventError(
                "data", "an event needs at least one field (data, event, id, retry or comment)"
            )

    def encode(self) -> bytes:
        """Serialise this event as one block of the event-stream format.

        The result is immutable ``bytes``: a broadcaster should encode an event once and
        write the same bytes to every connection.

        Returns:
            The UTF-8 bytes of the block, LF line endings, ending with ``b"\\n\\n"``.
        """
        out = "" if self.comment is None else _comment_lines(self.comment)
        if self.event is not None:
            out += "event: " + self.event + "\n"
        if self.id is not None:
            out += "id: " + self.id + "\n"
        if self.retry is not None:
            out += "retry: " + str(self.retry) + "\n"
        data = self.data
        if data is not None:
            data = _normalise_newlines(data)
            if "\n" in data:
                data = data.replace("\n", "\ndata: ")
            out += "data: " + data + "\n"
        return (out + "\n").encode("utf-8")


def encode_comment(text: str = "") -> bytes:
    """Encode a comment-only block, e.g. a heartbeat.

    Clients ignore comments, so this dispatches nothing; it only keeps the connection
    busy. ``encode_comment()`` is ``b":\\n\\n"`` and ``encode_comment("ping")`` is
    ``b": ping\\n\\n"``. CRLF, LF and CR split ``text`` into several comment lines.

    Args:
        text: The comment text.

    Returns:
        The UTF-8 bytes of the block, ending with ``b"\\n\\n"``.

    Raises:
        InvalidEventError: If ``text`` is not a ``str`` or cannot be encoded as UTF-8
            (the error names the field ``comment``).
    """
    return (_comment_lines(_check_str("comment", text)) + "\n").encode("utf-8")
