"""The client side of an event stream: a browser-exact ``text/event-stream`` parser.

For programs that *consume* event streams (a worker that follows another service's
stream, a test, a proxy) rather than serve them. The parser does no I/O: feed it the
response body's bytes, however they are chunked, and it returns what a browser's
``EventSource`` would dispatch (:class:`EventStreamParser`, :class:`MessageEvent`,
:func:`parse_event_stream`), or every field as written (:func:`parse_events`, the inverse
of :meth:`trio_sse.ServerSentEvent.encode`). See WHATWG HTML §9.2.

.. versionadded:: 0.2.0
   These names were in the top-level ``trio_sse`` namespace before; the old names are
   deprecated aliases until 0.3.0.
"""

from __future__ import annotations

from ._parser import EventStreamParser, MessageEvent, parse_event_stream, parse_events
from ._util import fixup_module_metadata

__all__ = ["EventStreamParser", "MessageEvent", "parse_event_stream", "parse_events"]

fixup_module_metadata(__name__, __all__, globals())
del fixup_module_metadata
