"""trio-sse: Server-Sent Events for Trio, the structured-concurrency way.

General layout (as in trio and h11): the code lives in private modules (``_events``,
``_parser``, ``_connection``, ``_server``, ...); the public modules only re-export names
(here written ``from ._x import Y as Y`` for type checkers; the sub-namespaces list theirs
in ``__all__``) and fix their ``__module__`` so tracebacks and the docs say ``trio_sse.Y``
or ``trio_sse.client.Y``.

Namespaces by audience, as trio has ``trio.lowlevel`` and ``trio.testing``:

* ``trio_sse``: serving (server, routing, responses, event streams, WebSocket,
  broadcasting, negotiation, statistics, exceptions).
* ``trio_sse.client``: the browser-exact parser for programs that consume event streams.
* ``trio_sse.metrics``: ``render_prometheus``.
* ``trio_sse.redis``: the Redis Streams backend. Its client library (``coredis``, the
  ``redis`` extra) is imported only when ``open_redis_broadcaster`` is called.
* ``trio_sse.lowlevel``: ``sleep_until``, the shared-timer ``trio.sleep_until``.
* ``trio_sse.testing``: in-memory test helpers; imported on demand only (it imports
  ``trio.testing``). The others are imported here, so ``import trio_sse`` is enough to
  use ``trio_sse.client.parse_events``.

Deprecated names (``_deprecate.py``): the names that moved to a sub-namespace in 0.2.0,
and ``ConnectionClosed`` (now ``StreamClosedError``), still work until 0.3.0 through the
module ``__getattr__`` at the end of this file, which warns. They are not in ``__all__``
nor in ``dir(trio_sse)``; type checkers see them through the ``if TYPE_CHECKING:`` block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import client as client
from . import lowlevel as lowlevel
from . import metrics as metrics
from . import redis as redis
from ._broadcast import BroadcastBackend as BroadcastBackend
from ._broadcast import Broadcaster as Broadcaster
from ._broadcast import BroadcasterStatistics as BroadcasterStatistics
from ._broadcast import BrokerUnavailableError as BrokerUnavailableError
from ._broadcast import Subscription as Subscription
from ._config import Config as Config
from ._deprecate import DeprecatedAttribute, deprecate_attributes
from ._events import MAX_RETRY as MAX_RETRY
from ._events import ServerSentEvent as ServerSentEvent
from ._events import encode_comment as encode_comment
from ._exceptions import InvalidEventError as InvalidEventError
from ._exceptions import SlowClientError as SlowClientError
from ._exceptions import StreamClosedError as StreamClosedError
from ._exceptions import TrioSSEError as TrioSSEError
from ._headers import Headers as Headers
from ._headers import HeadersLike as HeadersLike
from ._negotiation import MediaRange as MediaRange
from ._negotiation import accepts_event_stream as accepts_event_stream
from ._negotiation import parse_accept as parse_accept
from ._request import Request as Request
from ._response import App as App
from ._response import BaseResponse as BaseResponse
from ._response import Handler as Handler
from ._response import Response as Response
from ._response import StreamingResponse as StreamingResponse
from ._routing import Router as Router
from ._server import Server as Server
from ._server import current_server as current_server
from ._server import serve as serve
from ._sse import EventStream as EventStream
from ._sse import EventStreamResponse as EventStreamResponse
from ._sse import Producer as Producer
from ._stats import ServerStatistics as ServerStatistics
from ._tls import tls_context as tls_context
from ._util import fixup_module_metadata
from ._version import __version__ as __version__
from ._websocket import WebSocketHandler as WebSocketHandler
from ._websocket import WebSocketOptions as WebSocketOptions
from ._websocket import WebSocketResponse as WebSocketResponse
from ._websocket import is_websocket_upgrade as is_websocket_upgrade

__all__ = [
    "App",
    "BaseResponse",
    "BroadcastBackend",
    "Broadcaster",
    "BroadcasterStatistics",
    "BrokerUnavailableError",
    "Config",
    "EventStream",
    "EventStreamResponse",
    "Handler",
    "Headers",
    "HeadersLike",
    "MAX_RETRY",
    "InvalidEventError",
    "MediaRange",
    "Producer",
    "Request",
    "Response",
    "Router",
    "Server",
    "ServerSentEvent",
    "ServerStatistics",
    "SlowClientError",
    "StreamClosedError",
    "StreamingResponse",
    "Subscription",
    "TrioSSEError",
    "WebSocketHandler",
    "WebSocketOptions",
    "WebSocketResponse",
    "__version__",
    "accepts_event_stream",
    "current_server",
    "encode_comment",
    "is_websocket_upgrade",
    "parse_accept",
    "serve",
    "tls_context",
]


fixup_module_metadata(__name__, __all__, globals())
del fixup_module_metadata

# -- Deprecated names (0.2.0): see _deprecate.py ---------------------------------------

if TYPE_CHECKING:
    # The old names, typed, for code that still uses them; at run time they come from
    # __getattr__ below, with a DeprecationWarning. (Never import coredis here.)
    from .client import EventStreamParser as EventStreamParser
    from .client import MessageEvent as MessageEvent
    from .client import parse_event_stream as parse_event_stream
    from .client import parse_events as parse_events
    from .lowlevel import sleep_until as sleep_until
    from .metrics import render_prometheus as render_prometheus
    from .redis import RedisBroadcaster as RedisBroadcaster
    from .redis import open_redis_broadcaster as open_redis_broadcaster

    ConnectionClosed = StreamClosedError
else:
    __getattr__ = deprecate_attributes(
        __name__,
        {
            old: DeprecatedAttribute(value, "0.2.0", "0.3.0", instead)
            for old, value, instead in [
                ("ConnectionClosed", StreamClosedError, "trio_sse.StreamClosedError"),
                (
                    "EventStreamParser",
                    client.EventStreamParser,
                    "trio_sse.client.EventStreamParser",
                ),
                ("MessageEvent", client.MessageEvent, "trio_sse.client.MessageEvent"),
                (
                    "parse_event_stream",
                    client.parse_event_stream,
                    "trio_sse.client.parse_event_stream",
                ),
                ("parse_events", client.parse_events, "trio_sse.client.parse_events"),
                (
                    "render_prometheus",
                    metrics.render_prometheus,
                    "trio_sse.metrics.render_prometheus",
                ),
                ("RedisBroadcaster", redis.RedisBroadcaster, "trio_sse.redis.RedisBroadcaster"),
                (
                    "open_redis_broadcaster",
                    redis.open_redis_broadcaster,
                    "trio_sse.redis.open_redis_broadcaster",
                ),
                ("sleep_until", lowlevel.sleep_until, "trio_sse.lowlevel.sleep_until"),
            ]
        },
    )

del TYPE_CHECKING, DeprecatedAttribute, deprecate_attributes
