"""WebSocket on the HTTP port: the response type, the handshake checks and the hand-off.

The only socket work here happens inside :meth:`WebSocketResponse._run_session`, which the
connection task calls (``_connection.py``); everything else is plain data and checks.

Theory of operation
-------------------
h11 parses every request, WebSocket handshakes included. When a handler (or a
:meth:`Router.websocket <trio_sse.Router.websocket>` route) answers a handshake with a
:class:`WebSocketResponse`, the connection first checks the handshake itself
(:func:`handshake_refusal`), so that anything trio-websocket and wsproto would refuse gets
a proper HTTP answer (``400`` or ``426``) through h11 instead of a hang. Then:

1. **Hand-off.** h11 has read the request and paused (``MIGHT_SWITCH_PROTOCOL``). The
   request head is serialised again by an ``h11.Connection(h11.CLIENT)``; a
   :class:`~trio_sse._stream.PrefixedStream` replays it, then reads the socket.
   ``trio_websocket.wrap_server_stream`` reads the handshake from it as if nobody had
   before (trio-websocket has no API for a parsed request: its issue #1), and
   ``accept()`` writes the ``101``. h11's ``trailing_data`` (frames the client sent
   right behind its handshake) is replayed only after that, because wsproto's server
   forgets whatever arrives before its ``101``. That h11 connection is abandoned.
2. **Task tree.** Everything runs in a *session* nursery opened by the connection task,
   inside the connection's own (shielded, deadline-bound) cancel scope::

       connection task ── session nursery (body: waits for server shutdown)
                          ├── reader host ── readers nursery ── trio-websocket reader
                          ├── the application's handler(request, ws)
                          └── (optional) heartbeat: ping every N s

   The reader task is trio-websocket's; it ends when the peer closes or vanishes, or
   the close handshake completes. Its host then cancels the session: a client that
   disconnects cancels the handler (and whatever it started) at once, by structure.
3. **Closing.** A handler that returns closes with ``1000``; one that raises is logged
   and closes with ``1011``. A heartbeat without a pong in time closes with ``1011``.
   Server shutdown cancels the session body's wait (the connection's interrupt scope)
   and closes with ``1001``: the close frame queues behind any frame the handler is
   writing (trio-websocket serialises writes), so no frame is ever cut in half. Every
   close waits at most ``disconnect_timeout`` for the peer's answer, then the socket is
   closed anyway.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Final, TypeAlias, final

import h11
import trio
import trio_websocket

from ._request import Request
from ._response import BaseResponse, Response
from ._stream import PrefixedStream

if TYPE_CHECKING:
    from ._connection import HTTPConnection
    from ._headers import HeadersLike
    from ._stats import _Counters

__all__ = [
    "DEFAULT_WEBSOCKET_CONNECT_TIMEOUT",
    "DEFAULT_WEBSOCKET_DISCONNECT_TIMEOUT",
    "DEFAULT_WEBSOCKET_HEARTBEAT_TIMEOUT",
    "DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE",
    "DEFAULT_WEBSOCKET_MESSAGE_QUEUE_SIZE",
    "WebSocketHandler",
    "WebSocketResponse",
    "handshake_refusal",
    "is_websocket_upgrade",
    "upgrade_required",
]

logger = logging.getLogger("trio_sse")

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


class _UpgradeRequired(Response):
    """``426 Upgrade Required`` with ``Upgrade: websocket`` and ``Connection: upgrade``.

    RFC 9110 §7.8: a 426 must carry ``Upgrade``, and a sender of ``Upgrade`` must list
    ``upgrade`` in ``Connection``. ``Connection`` is managed by the server, so handlers
    cannot set it; this private type adds it at serialisation.
    """

    __slots__ = ()

    def _h11_headers(self) -> list[tuple[bytes, bytes]]:
        return [*super()._h11_headers(), (b"connection", b"upgrade")]


def upgrade_required(detail: str = "this resource is a WebSocket endpoint") -> Response:
    """Build the ``426 Upgrade Required`` answer to a plain request on a WebSocket route."""
    return _UpgradeRequired(
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
        return _UpgradeRequired(
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


class _SessionStream(PrefixedStream):
    """The session's stream: the replayed head, then the held-back frames, then the socket.

    wsproto's server drops whatever it received between the request and its own ``101``
    (it starts the frame parser empty on accept), so frames the client sent right behind
    its handshake (h11's ``trailing_data``) are held back until :meth:`release`, called
    once the handshake is accepted; the socket is not read before them. The stream also
    counts WebSocket bytes, leaving out the replayed head.
    """

    __slots__ = ("_counters", "_held", "_released", "_uncounted")

    def __init__(
        self, stream: trio.abc.Stream, head: bytes, held: bytes, counters: _Counters
    ) -> None:
        super().__init__(stream, head)
        self._held = held
        self._released = trio.Event()
        if not held:
            self._released.set()
        self._uncounted = len(head)
        self._counters = counters

    def release(self) -> None:
        """Let the held-back frames (and then the socket) be received."""
        if not self._released.is_set():
            self.extend(self._held)
            self._held = b""
            self._released.set()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if not self.pending and not self._released.is_set():
            await self._released.wait()
        data = await super().receive_some(max_bytes)
        skip = min(self._uncounted, len(data))
        self._uncounted -= skip
        self._counters.websocket_bytes_received += len(data) - skip
        return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await super().send_all(data)
        self._counters.websocket_bytes_sent += len(data)


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
        subprotocols: The subprotocols the server speaks, in order of preference; the
            first one the client also proposed is selected (none if there is no match).
        headers: Extra header fields for the ``101`` response (not ``Upgrade`` or
            ``Sec-WebSocket-*``, which wsproto writes, nor the server-managed ones).
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
        TypeError: *handler* is not callable, or a setting has the wrong type.
        ValueError: A setting is out of range, a subprotocol is not a token, or a header
            is reserved.
    """

    __slots__ = (
        "connect_timeout",
        "disconnect_timeout",
        "handler",
        "heartbeat_interval",
        "heartbeat_timeout",
        "max_message_size",
        "message_queue_size",
        "subprotocols",
    )

    def __init__(
        self,
        handler: WebSocketHandler,
        *,
        subprotocols: Iterable[str] = (),
        headers: HeadersLike | None = None,
        max_message_size: int = DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE,
        message_queue_size: int = DEFAULT_WEBSOCKET_MESSAGE_QUEUE_SIZE,
        heartbeat_interval: float | None = None,
        heartbeat_timeout: float = DEFAULT_WEBSOCKET_HEARTBEAT_TIMEOUT,
        connect_timeout: float = DEFAULT_WEBSOCKET_CONNECT_TIMEOUT,
        disconnect_timeout: float = DEFAULT_WEBSOCKET_DISCONNECT_TIMEOUT,
    ) -> None:
        if not callable(handler):
            raise TypeError(f"handler: must be an async function, not {handler!r}")
        protocols = (subprotocols,) if isinstance(subprotocols, str) else tuple(subprotocols)
        for protocol in protocols:
            item: object = protocol  # checked at run time: settings are often untyped
            if not isinstance(item, str) or not _TOKEN.fullmatch(item):
                raise ValueError(f"subprotocols: {protocol!r} is not an HTTP token")
        _check_positive("max_message_size", max_message_size, integer=True)
        _check_positive("message_queue_size", message_queue_size, integer=True, zero=True)
        if heartbeat_interval is not None:
            _check_positive("heartbeat_interval", heartbeat_interval)
        _check_positive("heartbeat_timeout", heartbeat_timeout)
        _check_positive("connect_timeout", connect_timeout)
        _check_positive("disconnect_timeout", disconnect_timeout)
        # 101 is written by wsproto, not through the HTTP response path, and is outside
        # the range BaseResponse accepts from handlers; set it after the checks.
        super().__init__(status=200, headers=headers, content_type=None)
        for name in self.headers:
            if name in _WS_RESERVED or name.startswith("sec-websocket-"):
                raise ValueError(f"headers: {name!r} is written by the WebSocket handshake")
        self.status = 101
        self.handler = handler
        self.subprotocols = protocols
        self.max_message_size = max_message_size
        self.message_queue_size = message_queue_size
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.connect_timeout = connect_timeout
        self.disconnect_timeout = disconnect_timeout

    def select_subprotocol(self, proposed: Iterable[str]) -> str | None:
        """The subprotocol to accept from the client's *proposed* ones (``None``: none)."""
        offered = set(proposed)
        return next((p for p in self.subprotocols if p in offered), None)

    def __repr__(self) -> str:
        return f"<WebSocketResponse {self.handler!r}>"

    # -- the session (called by the connection task) ------------------------------------

    async def _run_session(
        self, conn: HTTPConnection, event: h11.Request, request: Request
    ) -> tuple[int, int]:
        """Hand the connection to trio-websocket and run the handler; (status, bytes sent)."""
        counters = conn._counters
        h11_conn = conn._conn
        # h11 read the request and stopped at the protocol switch (MIGHT_SWITCH_PROTOCOL).
        assert h11_conn.next_event() is h11.PAUSED
        leading, _ = h11_conn.trailing_data
        head = h11.Connection(h11.CLIENT).send(
            h11.Request(method=event.method, target=event.target, headers=event.headers.raw_items())
        )
        assert head is not None
        stream = _SessionStream(conn._stream, head, leading, counters)
        sent_before = counters.websocket_bytes_sent
        async with trio.open_nursery() as session:
            ws: trio_websocket.WebSocketConnection | None = await session.start(
                self._host_reader, stream, session.cancel_scope
            )
            if ws is None:
                logger.debug("WebSocket handshake timed out or peer left: %s", conn._peer())
                return 101, 0
            counters.count_response(101)
            counters.websockets_total += 1
            counters.websockets_open += 1
            try:
                session.start_soon(self._run_handler, conn, request, ws)
                if self.heartbeat_interval is not None:
                    session.start_soon(self._heartbeat, conn, ws, self.heartbeat_interval)
                with trio.CancelScope() as interrupt:
                    conn._interrupt = interrupt
                    if conn._server.shutting_down:
                        interrupt.cancel()
                    await trio.sleep_forever()
                conn._interrupt = None
                # Server shutdown: "going away". The reader's end cancels the rest.
                with trio.move_on_after(self.disconnect_timeout):
                    await ws.aclose(CLOSE_GOING_AWAY, "server shutting down")
                session.cancel_scope.cancel()
            finally:
                conn._interrupt = None
                counters.websockets_open -= 1
        return 101, counters.websocket_bytes_sent - sent_before

    async def _host_reader(
        self,
        stream: _SessionStream,
        session_scope: trio.CancelScope,
        *,
        task_status: trio.TaskStatus[trio_websocket.WebSocketConnection | None],
    ) -> None:
        """Do the handshake; host trio-websocket's reader; cancel the session when it ends."""
        ws: trio_websocket.WebSocketConnection | None = None
        try:
            async with trio.open_nursery() as readers:
                with trio.move_on_after(self.connect_timeout):
                    ws_request = await trio_websocket.wrap_server_stream(
                        readers,
                        stream,
                        message_queue_size=self.message_queue_size,
                        max_message_size=self.max_message_size,
                    )
                    try:
                        ws = await ws_request.accept(
                            subprotocol=self.select_subprotocol(ws_request.proposed_subprotocols),
                            extra_headers=self._h11_headers(),
                        )
                    except trio_websocket.ConnectionClosed:
                        ws = None  # the peer left before the 101 was written: end quietly
                    else:
                        stream.release()
                if ws is None:
                    readers.cancel_scope.cancel()
                task_status.started(ws)
        finally:
            # The reader ended: the peer closed or left, or the close handshake is done.
            session_scope.cancel()

    async def _run_handler(
        self, conn: HTTPConnection, request: Request, ws: trio_websocket.WebSocketConnection
    ) -> None:
        code, reason = CLOSE_NORMAL, None
        try:
            await self.handler(request, ws)
        except trio_websocket.ConnectionClosed:
            pass  # the connection closed under the handler: nothing went wrong here
        except Exception:
            conn._counters.handler_errors += 1
            logger.exception("WebSocket handler failed for %s %s", request.method, request.target)
            code, reason = CLOSE_INTERNAL_ERROR, "internal error"
        with trio.move_on_after(self.disconnect_timeout):
            await ws.aclose(code, reason)

    async def _heartbeat(
        self, conn: HTTPConnection, ws: trio_websocket.WebSocketConnection, interval: float
    ) -> None:
        while True:
            await trio.sleep(interval)
            with trio.move_on_after(self.heartbeat_timeout) as waiting:
                try:
                    await ws.ping()
                except trio_websocket.ConnectionClosed:
                    return
            if waiting.cancelled_caught:
                conn._counters.websocket_heartbeat_timeouts += 1
                logger.info("WebSocket peer %s did not answer a ping; closing", conn._peer())
                with trio.move_on_after(self.disconnect_timeout):
                    await ws.aclose(CLOSE_INTERNAL_ERROR, "heartbeat timeout")
                return
