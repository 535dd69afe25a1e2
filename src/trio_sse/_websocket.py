"""WebSocket on the HTTP port: the response type, its options and the handshake checks.

This file does no I/O: the hand-off to trio-websocket and the session's tasks live in
``_ws_session.py``, the driver the connection calls with a :class:`WebSocketResponse`.

The checks: h11 parses every request, WebSocket handshakes included. When a handler (or a
:meth:`Router.websocket <trio_sse.Router.websocket>` route) answers a handshake with a
:class:`WebSocketResponse`, the connection first checks the handshake itself
(:func:`handshake_refusal`), so that anything trio-websocket and wsproto would refuse gets
a proper HTTP answer (``400`` or ``426``) through h11 instead of a hang.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeAlias, final

import trio_websocket

from ._request import Request
from ._response import BaseResponse, Response

if TYPE_CHECKING:
    from ._headers import HeadersLike

__all__ = [
    "CLOSE_GOING_AWAY",
    "CLOSE_INTERNAL_ERROR",
    "CLOSE_NORMAL",
    "DEFAULT_WEBSOCKET_CONNECT_TIMEOUT",
    "DEFAULT_WEBSOCKET_DISCONNECT_TIMEOUT",
    "DEFAULT_WEBSOCKET_HEARTBEAT_TIMEOUT",
    "DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE",
    "DEFAULT_WEBSOCKET_MESSAGE_QUEUE_SIZE",
    "WebSocketHandler",
    "WebSocketOptions",
    "WebSocketResponse",
    "handshake_refusal",
    "is_websocket_upgrade",
    "upgrade_required",
    "websocket_options",
]


DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE: Final = 2**20
DEFAULT_WEBSOCKET_MESSAGE_QUEUE_SIZE: Final = 1
DEFAULT_WEBSOCKET_HEARTBEAT_TIMEOUT: Final = 10.0
DEFAULT_WEBSOCKET_CONNECT_TIMEOUT: Final = 10.0
DEFAULT_WEBSOCKET_DISCONNECT_TIMEOUT: Final = 5.0

WEBSOCKET_VERSION: Final = "13"
CLOSE_NORMAL: Final = 1000
CLOSE_GOING_AWAY: Final = 1001
CLOSE_INTERNAL_ERROR: Final = 1011

WebSocketHandler: TypeAlias = Callable[
    [Request, trio_websocket.WebSocketConnection], Awaitable[None]
]
"""A WebSocket handler: ``async def handler(request, ws) -> None``."""

# RFC 9110 §5.6.2 token: what a subprotocol name must be (RFC 6455 §4.1).
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Header fields wsproto writes in the 101 response; a handler may not set them.
_WS_RESERVED: Final = frozenset({"upgrade", "sec-websocket-accept", "sec-websocket-protocol"})


def _tokens(values: Iterable[str]) -> list[str]:
    return [t.strip().lower() for v in values for t in v.split(",") if t.strip()]


def is_websocket_upgrade(request: Request) -> bool:
    """Whether *request* asks for a WebSocket: ``GET`` with ``websocket`` in ``Upgrade``.

    This is the routing test (a :class:`~trio_sse.Router` sends such requests to its
    WebSocket route); the rest of the handshake is checked when a
    :class:`WebSocketResponse` answers it.
    """
    return request.method == "GET" and "websocket" in _tokens(request.headers.get_all("upgrade"))


class UpgradeRequired(Response):
    """``426 Upgrade Required`` with ``Upgrade: websocket`` and ``Connection: upgrade``.

    RFC 9110 §7.8: a 426 must carry ``Upgrade``, and a sender of ``Upgrade`` must list
    ``upgrade`` in ``Connection``. ``Connection`` is managed by the server, so handlers
    cannot set it; this private type adds it at serialisation.
    """

    __slots__ = ()

    def header_fields(self) -> list[tuple[bytes, bytes]]:
        return [*super().header_fields(), (b"connection", b"upgrade")]


def upgrade_required(detail: str = "this resource is a WebSocket endpoint") -> Response:
    """Build the ``426 Upgrade Required`` answer to a plain request on a WebSocket route."""
    return UpgradeRequired(
        f"Upgrade Required: {detail}\n",
        status=426,
        headers=[("Upgrade", "websocket"), ("Sec-WebSocket-Version", WEBSOCKET_VERSION)],
    )


def _bad_handshake(detail: str, headers: HeadersLike | None = None) -> Response:
    return Response(f"Bad Request: WebSocket handshake: {detail}\n", status=400, headers=headers)


def handshake_refusal(request: Request) -> Response | None:
    """Check *request* as an RFC 6455 opening handshake; return the refusal, or ``None``.

    The checks are a superset of what wsproto's server handshake accepts, so a request
    that passes is always accepted by trio-websocket (a refused one would otherwise leave
    it waiting for a handshake that never comes):

    * no ``websocket`` in ``Upgrade``: ``426 Upgrade Required`` (a plain request);
    * ``Sec-WebSocket-Version`` other than ``13``: ``426`` with
      ``Sec-WebSocket-Version: 13`` (RFC 6455 §4.4);
    * anything else wrong (not ``GET``, not HTTP/1.1, a body, ``Upgrade`` not exactly
      ``websocket``, no ``upgrade`` in ``Connection``, a missing or malformed
      ``Sec-WebSocket-Key``, fields that are not ASCII, a bad ``Host``): ``400``.
    """
    headers = request.headers
    upgrades = headers.get_all("upgrade")
    if "websocket" not in _tokens(upgrades):
        return upgrade_required()
    if request.method != "GET":
        return _bad_handshake("the method must be GET")
    if request.http_version != "1.1":
        return _bad_handshake("needs HTTP/1.1")
    if request.body or "transfer-encoding" in headers:
        return _bad_handshake("a handshake request has no body")
    if [u.strip().lower() for u in upgrades] != ["websocket"]:
        return _bad_handshake("Upgrade must be exactly 'websocket'")
    for name in ("connection", "sec-websocket-protocol", "sec-websocket-extensions", "host"):
        if not all(v.isascii() for v in headers.get_all(name)):
            return _bad_handshake(f"{name} must be ASCII")
    # wsproto reads only the last Connection field (and the last version and key).
    if "upgrade" not in _tokens(headers.get_all("connection")[-1:]):
        return _bad_handshake("Connection must include 'upgrade' (in its last field)")
    versions = headers.get_all("sec-websocket-version")
    if not versions:
        return _bad_handshake(
            "missing Sec-WebSocket-Version",
            [("Sec-WebSocket-Version", WEBSOCKET_VERSION)],
        )
    if versions[-1].strip() != WEBSOCKET_VERSION:
        return UpgradeRequired(
            f"Upgrade Required: WebSocket version {WEBSOCKET_VERSION} only\n",
            status=426,
            headers=[("Upgrade", "websocket"), ("Sec-WebSocket-Version", WEBSOCKET_VERSION)],
        )
    keys = headers.get_all("sec-websocket-key")
    try:
        if len(keys) != 1 or len(base64.b64decode(keys[0].strip(), validate=True)) != 16:
            return _bad_handshake("Sec-WebSocket-Key must be one base64-encoded 16-byte nonce")
    except (binascii.Error, ValueError):
        return _bad_handshake("Sec-WebSocket-Key must be one base64-encoded 16-byte nonce")
    hosts = headers.get_all("host")
    try:
        if len(hosts) != 1:
            raise ValueError
        hosts[0].encode("ascii").decode("idna")  # what wsproto does with it
    except (UnicodeError, ValueError):
        return _bad_handshake("Host must be one valid host name")
    return None


def _check_positive(name: str, value: float, *, integer: bool = False, zero: bool = False) -> None:
    given: object = value
    kinds = (int,) if integer else (int, float)
    if isinstance(given, bool) or not isinstance(given, kinds):
        kind = "an int" if integer else "a number"
        raise TypeError(f"{name}: must be {kind}, not {type(given).__name__}")
    if math.isnan(value) or value < 0 or (value == 0 and not zero):
        bound = ">= 0" if zero else "positive"
        raise ValueError(f"{name}: must be {bound}, got {value!r}")


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class WebSocketOptions:
    """The settings of a WebSocket route or response, checked when built.

    One value serves a :class:`~trio_sse.Router` route and the
    :class:`WebSocketResponse` it answers with; both also take the fields as keyword
    arguments (``router.websocket("/ws", max_message_size=2**16)``).

    Attributes:
        subprotocols: The subprotocols the server speaks, in order of preference; the
            first one the client also proposed is selected (none if there is no match).
            A single string is one subprotocol.
        max_message_size: The largest message received, in bytes (characters for text);
            a larger one closes the connection with ``1009`` (Message Too Big).
        message_queue_size: Received messages buffered before trio-websocket stops
            reading the socket (backpressure; ``0`` hands each message over directly).
        heartbeat_interval: Send a ping every this many seconds, or ``None`` (the
            default) for no heartbeat. trio-websocket answers the client's pings always.
        heartbeat_timeout: Time a pong may take; without one the connection is closed
            with ``1011``.
        connect_timeout: Time the handshake (writing the ``101``) may take.
        disconnect_timeout: Time a closing handshake may take before the socket is
            closed without it.

    Raises:
        TypeError: A setting has the wrong type.
        ValueError: A setting is out of range, or a subprotocol is not an HTTP token.
    """

    subprotocols: tuple[str, ...] | str = ()
    max_message_size: int = DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE
    message_queue_size: int = DEFAULT_WEBSOCKET_MESSAGE_QUEUE_SIZE
    heartbeat_interval: float | None = None
    heartbeat_timeout: float = DEFAULT_WEBSOCKET_HEARTBEAT_TIMEOUT
    connect_timeout: float = DEFAULT_WEBSOCKET_CONNECT_TIMEOUT
    disconnect_timeout: float = DEFAULT_WEBSOCKET_DISCONNECT_TIMEOUT

    def __post_init__(self) -> None:
        given: object = self.subprotocols  # checked at run time: settings are often untyped
        items: Iterable[object] = (
            (given,)
            if isinstance(given, str)
            else given
            if isinstance(given, Iterable)
            else (given,)
        )
        protocols: list[str] = []
        for protocol in items:
            if not isinstance(protocol, str) or not _TOKEN.fullmatch(protocol):
                raise ValueError(f"subprotocols: {protocol!r} is not an HTTP token")
            protocols.append(protocol)
        object.__setattr__(self, "subprotocols", tuple(protocols))
        _check_positive("max_message_size", self.max_message_size, integer=True)
        _check_positive("message_queue_size", self.message_queue_size, integer=True, zero=True)
        if self.heartbeat_interval is not None:
            _check_positive("heartbeat_interval", self.heartbeat_interval)
        _check_positive("heartbeat_timeout", self.heartbeat_timeout)
        _check_positive("connect_timeout", self.connect_timeout)
        _check_positive("disconnect_timeout", self.disconnect_timeout)

    def select_subprotocol(self, proposed: Iterable[str]) -> str | None:
        """The subprotocol to accept from the client's *proposed* ones (``None``: none)."""
        offered = set(proposed)
        return next((p for p in self.subprotocols if p in offered), None)


def websocket_options(
    options: WebSocketOptions | None, settings: dict[str, Any]
) -> WebSocketOptions:
    """*options*, or the options the keyword *settings* describe (not both)."""
    if options is None:
        return WebSocketOptions(**settings) if settings else _DEFAULT_OPTIONS
    if settings:
        raise TypeError(f"pass options= or keyword settings, not both (got {sorted(settings)})")
    if not isinstance(options, WebSocketOptions):
        raise TypeError(f"options: must be WebSocketOptions, not {type(options).__name__}")
    return options


_DEFAULT_OPTIONS: Final = WebSocketOptions()


@final
class WebSocketResponse(BaseResponse):
    """The answer to a WebSocket handshake: hand the connection to trio-websocket.

    Return it from a handler for a request where :func:`is_websocket_upgrade` is true,
    or let :meth:`Router.websocket <trio_sse.Router.websocket>` do it. The server checks
    the handshake (a plain request gets ``426``, a malformed handshake ``400``: see
    :doc:`/howto-websocket`), accepts it through trio-websocket, and runs
    *handler* with the request and the ``trio_websocket.WebSocketConnection``, in the
    connection's task tree: when the client goes away the handler is cancelled at once,
    when the handler returns the WebSocket closes with ``1000`` (``1011`` if it raised),
    and server shutdown closes it with ``1001`` (the handler sees
    ``trio_websocket.ConnectionClosed``, then is cancelled). The connection is not
    reused for HTTP afterwards.

    Args:
        handler: ``async def handler(request: Request, ws: WebSocketConnection) -> None``.
        headers: Extra header fields for the ``101`` response (not ``Upgrade`` or
            ``Sec-WebSocket-*``, which wsproto writes, nor the server-managed ones).
        options: The session's settings (:class:`WebSocketOptions`).
        settings: Or the fields of :class:`WebSocketOptions` as keyword arguments.

    Attributes:
        handler: The handler.
        options: The settings.

    Raises:
        TypeError: *handler* is not callable, or a setting has the wrong type.
        ValueError: A setting is out of range, a subprotocol is not a token, or a header
            is reserved.
    """

    __slots__ = ("handler", "options")

    def __init__(
        self,
        handler: WebSocketHandler,
        *,
        headers: HeadersLike | None = None,
        options: WebSocketOptions | None = None,
        **settings: Any,
    ) -> None:
        if not callable(handler):
            raise TypeError(f"handler: must be an async function, not {handler!r}")
        self.options = websocket_options(options, settings)
        # 101 is written by wsproto, not through the HTTP response path, and is outside
        # the range BaseResponse accepts from handlers; set it after the checks.
        super().__init__(status=200, headers=headers, content_type=None)
        for name in self.headers:
            if name in _WS_RESERVED or name.startswith("sec-websocket-"):
                raise ValueError(f"headers: {name!r} is written by the WebSocket handshake")
        self.status = 101
        self.handler = handler

    def select_subprotocol(self, proposed: Iterable[str]) -> str | None:
        """The subprotocol to accept from the client's *proposed* ones (``None``: none)."""
        return self.options.select_subprotocol(proposed)

    def __repr__(self) -> str:
        return f"<WebSocketResponse {self.handler!r}>"
