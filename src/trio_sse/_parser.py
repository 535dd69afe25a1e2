"""An incremental ``text/event-stream`` parser that behaves like a browser's EventSource.

This file does no I/O: bytes go in, values come out. It follows WHATWG HTML §9.2.5
(the event-stream grammar) and §9.2.6 (interpreting it):

* The stream is decoded as UTF-8, incrementally (a character may be split across
  chunks); invalid bytes become U+FFFD. Exactly one U+FEFF at the start of a stream is
  dropped; any other U+FEFF is content.
* A line ends at CRLF, LF or a lone CR. A CR at the end of one chunk followed by an LF at
  the start of the next is one line ending, not two.
* A line starting with ``:`` is a comment. Otherwise the field name is everything before
  the first ``:`` and the value everything after it, minus one leading U+0020; a line
  with no ``:`` is a field with an empty value. Field names are case-sensitive.
* ``event`` sets the event type buffer; ``data`` appends its value and an LF to the data
  buffer; ``id`` sets the last event ID buffer unless the value contains NUL; ``retry``
  sets the reconnection time if the value is ASCII digits only; other names are ignored.
* An empty line dispatches: the last event ID is set from its buffer (even if no event
  fires); then, if the data buffer is empty, the data and event type buffers are reset
  and nothing fires; otherwise one final LF is removed from the data and an event of
  the buffered type (``"message"`` if empty) fires.
* At end of stream an incomplete event (no final empty line) is discarded.

Two layers share one line reader. :class:`EventStreamParser` is the browser's view
(:class:`MessageEvent` values, which lose comments, ``retry`` and data-less blocks);
:func:`parse_events` is the field-level view, the inverse of
:meth:`ServerSentEvent.encode() <trio_sse.ServerSentEvent.encode>`.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import final

from ._events import ServerSentEvent

__all__ = ["EventStreamParser", "MessageEvent", "parse_event_stream", "parse_events"]

_LINE_END = re.compile(r"\r\n|\r|\n")


class _LineReader:
    """Bytes in, complete lines out (without their line endings).

    Decodes UTF-8 incrementally with U+FFFD replacement, drops one leading BOM, and
    splits on CRLF, LF and lone CR, treating a CRLF split across two chunks as one line
    ending. An unterminated last line is kept until more data arrives.
    """

    __slots__ = ("_at_start", "_decoder", "_partial", "_skip_lf")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial: list[str] = []
        self._at_start = True
        self._skip_lf = False

    def feed(self, data: bytes) -> list[str]:
        text = self._decoder.decode(data)
        if self._at_start:
            if not text:
                return []
            self._at_start = False
            if text[0] == "\ufeff":
                text = text[1:]
        if self._skip_lf and text:
            # The previous chunk ended with a CR that already ended a line.
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
        if "\n" not in text and "\r" not in text:
            if text:
                self._partial.append(text)
            return []
        if self._partial:
            self._partial.append(text)
            text = "".join(self._partial)
            self._partial.clear()
        lines = _LINE_END.split(text)
        rest = lines.pop()
        if rest:
            self._partial.append(rest)
        self._skip_lf = text[-1] == "\r"
        return lines

    def reset(self) -> None:
        """Forget any partial line and start a new stream (a new BOM may follow)."""
        self._decoder.reset()
        self._partial.clear()
        self._at_start = True
        self._skip_lf = False


def _split_field(line: str) -> tuple[str, str]:
    """Split a non-empty line into field name and value (``""`` is a comment's name)."""
    name, _, value = line.partition(":")
    if value[:1] == " ":
        value = value[1:]
    return name, value


def _parse_retry(value: str) -> int | None:
    """Return the reconnection time a ``retry`` value sets, or ``None`` to ignore it."""
    if value.isascii() and value.isdigit():
        try:
            return int(value)
        except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
            return None
    return None


@final
@dataclass(frozen=True, slots=True)
class MessageEvent:
    """An event as a browser's ``EventSource`` would dispatch it.

    Args:
        type: The event type: the ``event`` field, or ``"message"`` if it was absent
            or empty.
        data: The ``data`` lines joined with LF.
        last_event_id: The stream's last event ID at dispatch time (``lastEventId``).
    """

    type: str
    data: str
    last_event_id: str


@final
class EventStreamParser:
    """A sans-IO, incremental parser of a ``text/event-stream`` body.

    Feed it the body's bytes as they arrive, in chunks of any size; it returns the
    events a browser would dispatch. Call :meth:`end` when the body ends. After
    :meth:`end` the parser may be fed the body of a new response, as an
    ``EventSource`` does after reconnecting: :attr:`last_event_id` and :attr:`retry`
    carry over.

    Attributes:
        last_event_id: The last event ID string: what a reconnecting client would send
            as ``Last-Event-ID`` (nothing if empty). Updated at each empty line.
        retry: The latest reconnection time in milliseconds sent by the server, or
            ``None`` if it never sent a valid ``retry`` field.
    """

    __slots__ = ("_data", "_event_type", "_id_buffer", "_lines", "last_event_id", "retry")

    def __init__(self) -> None:
        self._lines = _LineReader()
        self._data: list[str] = []
        self._event_type = ""
        self._id_buffer = ""
        self.last_event_id = ""
        self.retry: int | None = None

    def feed(self, data: bytes) -> list[MessageEvent]:
        """Parse the next chunk of the stream.

        Args:
            data: The next bytes of the body; may end anywhere, even inside a UTF-8
                character or between the CR and LF of a CRLF.

        Returns:
            The events dispatched by the complete lines seen so far, in order (often
            none).
        """
        events: list[MessageEvent] = []
        for line in self._lines.feed(data):
            if not line:
                self.last_event_id = self._id_buffer
                if self._data:
                    events.append(
                        MessageEvent(
                            self._event_type or "message",
                            "\n".join(self._data),
                            self.last_event_id,
                        )
                    )
                    self._data = []
                self._event_type = ""
                continue
            name, value = _split_field(line)
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event_type = value
            elif name == "id":
                if "\0" not in value:
                    self._id_buffer = value
            elif name == "retry":
                retry = _parse_retry(value)
                if retry is not None:
                    self.retry = retry
            # Comments (name "") and unknown fields are ignored.
        return events

    def end(self) -> None:
        """Signal the end of the stream: discard any incomplete event.

        Fields seen since the last empty line are dropped, as is an unterminated last
        line, so an event that did not end with an empty line is never dispatched
        (a ``retry`` field already took effect when its line ended). The parser is then
        ready for a new stream.
        """
        self._lines.reset()
        self._data = []
        self._event_type = ""
        self._id_buffer = self.last_event_id


def parse_event_stream(data: bytes) -> list[MessageEvent]:
    """Parse a complete ``text/event-stream`` body into browser-dispatched events.

    Args:
        data: The whole body.

    Returns:
        The events an ``EventSource`` would dispatch, in order. A trailing event with
        no final empty line is not included.
    """
    parser = EventStreamParser()
    events = parser.feed(data)
    parser.end()
    return events


def parse_events(data: bytes) -> list[ServerSentEvent]:
    """Parse a complete ``text/event-stream`` body field by field.

    This is the inverse of :meth:`ServerSentEvent.encode()
    <trio_sse.ServerSentEvent.encode>`, for tests: unlike :func:`parse_event_stream`
    it keeps comments, ``retry``, and blocks without ``data``. Each block (lines up to
    an empty line) holding at least one comment or known field becomes one
    :class:`~trio_sse.ServerSentEvent` with exactly the fields that appeared: ``data``
    lines and comment lines joined with LF, and the last ``event``, ``id`` and
    ``retry``. As for a browser, an ``id`` containing NUL and a ``retry`` that is not
    all ASCII digits are ignored, unknown fields are ignored, and a trailing block with
    no final empty line is dropped. CRLF and CR in the original values come back as LF.

    Args:
        data: The whole body.

    Returns:
        One event per non-empty block, in order.
    """
    events: list[ServerSentEvent] = []
    data_lines: list[str] = []
    comments: list[str] = []
    event: str | None = None
    id_: str | None = None
    retry: int | None = None
    seen = False
    for line in _LineReader().feed(data):
        if not line:
            if seen:
                events.append(
                    ServerSentEvent(
                        "\n".join(data_lines) if data_lines else None,
                        event=event,
                        id=id_,
                        retry=retry,
                        comment="\n".join(comments) if comments else None,
                    )
                )
                data_lines = []
                comments = []
                event = id_ = retry = None
                seen = False
            continue
        name, value = _split_field(line)
        if not name:
            comments.append(value)
        elif name == "data":
            data_lines.append(value)
        elif name == "event":
            event = value
        elif name == "id" and "\0" not in value:
            id_ = value
        elif name == "retry" and (parsed := _parse_retry(value)) is not None:
            retry = parsed
        else:
            continue
        seen = True
    return events
