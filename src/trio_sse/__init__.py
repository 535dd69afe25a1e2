"""trio-sse: Server-Sent Events for Trio, the structured-concurrency way.

General layout (as in trio and h11): the code lives in private modules (``_events``,
``_parser``, ``_connection``, ``_server``, ...); this file only re-exports the public names,
written ``from ._x import Y as Y`` for type checkers, and fixes their ``__module__`` so
tracebacks and the docs say ``trio_sse.Y``. ``trio_sse.testing`` is a separate public
module, imported on demand. The Redis backend (``RedisBroadcaster``,
``open_redis_broadcaster``) is exported here too, but its client library (``coredis``, the
``redis`` extra) is imported only when ``open_redis_broadcaster`` is called.
"""

from __future__ import annotations

from ._broadcast import BroadcastBackend as BroadcastBackend
from ._broadcast import Broadcaster as Broadcaster
from ._broadcast import BroadcasterStatistics as BroadcasterStatistics
from ._broadcast import BrokerUnavailableError as BrokerUnavailableError
from ._broadcast import Subscription as Subscription
from ._config import Config as Config
from ._events import MAX_RETRY as MAX_RETRY
from ._events import ServerSentEvent as ServerSentEvent
from ._events import encode_comment as encode_comment
from ._exceptions import ConnectionClosed as ConnectionClosed
from ._exceptions import InvalidEventError as InvalidEventError
from ._exceptions import SlowClientError as SlowClientError
from ._exceptions import TrioSSEError as TrioSSEError
from ._headers import Headers as Headers
from ._headers import HeadersLike as HeadersLike
from ._negotiation import MediaRange as MediaRange
from ._negotiation import accepts_event_stream as accepts_event_stream
from ._negotiation import parse_accept as parse_accept
from ._parser import EventStreamParser as EventStreamParser
from ._parser import MessageEvent as MessageEvent
from ._parser import parse_event_stream as parse_event_stream
from ._parser import parse_events as parse_events
from ._redis import RedisBroadcaster as RedisBroadcaster
from ._redis import open_redis_broadcaster as open_redis_broadcaster
from ._request import Request as Request
from ._response import BaseResponse as BaseResponse
from ._response import Response as Response
from ._response import StreamingResponse as StreamingResponse
from ._routing import App as App
from ._routing import Handler as Handler
from ._routing import Router as Router
from ._server import Server as Server
from ._server import current_server as current_server
from ._server import serve as serve
from ._sse import EventStream as EventStream
from ._sse import EventStreamResponse as EventStreamResponse
from ._sse import Producer as Producer
from ._stats import ServerStatistics as ServerStatistics
from ._stats import render_prometheus as render_prometheus
from ._timer import sleep_until as sleep_until
from ._version import __version__ as __version__
from ._websocket import WebSocketHandler as WebSocketHandler
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
    "ConnectionClosed",
    "EventStream",
    "EventStreamParser",
    "EventStreamResponse",
    "Handler",
    "Headers",
    "HeadersLike",
    "MAX_RETRY",
    "InvalidEventError",
    "MediaRange",
    "MessageEvent",
    "Producer",
    "RedisBroadcaster",
    "Request",
    "Response",
    "Router",
    "Server",
    "ServerSentEvent",
    "ServerStatistics",
    "SlowClientError",
    "StreamingResponse",
    "Subscription",
    "TrioSSEError",
    "WebSocketHandler",
    "WebSocketResponse",
    "__version__",
    "accepts_event_stream",
    "current_server",
    "encode_comment",
    "is_websocket_upgrade",
    "open_redis_broadcaster",
    "parse_accept",
    "parse_event_stream",
    "parse_events",
    "render_prometheus",
    "serve",
    "sleep_until",
]


def _fixup_module_metadata() -> None:
    # Make classes and functions report ``trio_sse`` as their module (trio does the same).
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith("trio_sse._"):
            try:
                obj.__module__ = __name__
            except (AttributeError, TypeError):  # pragma: no cover - builtins, aliases
                pass


_fixup_module_metadata()
del _fixup_module_metadata
