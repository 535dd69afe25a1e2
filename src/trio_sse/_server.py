"""The server: listeners, accept loops, per-connection tasks and graceful shutdown.

Task tree (every task has a parent nursery; nothing is detached)::

    serve() / Server.serve_listeners()
    └── service nursery
        ├── the shared timer of ``trio_sse.lowlevel.sleep_until`` (shielded; stopped last)
        ├── the connection host: one shielded cancel scope around the connection nursery
        │   └── one task per connection
        │       └── (streamed responses) a nursery with the producer task
        └── (in the body of serve_listeners) accept nursery ── one accept loop per listener

Shutdown: when ``serve`` is cancelled (or fails), the accept loops stop first. Then every
connection is told to finish (idle keep-alive connections close at once, streams send their
farewell), and the connection host's scope gets the deadline ``now +
shutdown_grace_period``; its shield keeps the outer cancellation from reaching the
connections before that. When the last connection has ended, the timer stops and the
cancellation continues outward.
"""

from __future__ import annotations

import contextvars
import errno
import logging
import math
import socket
from typing import TYPE_CHECKING, Final, NoReturn, final

import trio

from ._config import Config
from ._context import ServerContext
from ._memory import StormTracker, malloc_trim, trim_is_available
from ._protocol import open_connection
from ._stats import ServerStatistics
from ._timer import CURRENT_TIMER, TimerService
from ._tls import tls_handshake
from ._transport import accept_backlog, backlog_socket, drain_and_close

if TYPE_CHECKING:
    import ssl
    from collections.abc import Sequence

    from ._response import App

__all__ = ["Server", "current_server", "serve"]

logger = logging.getLogger("trio_sse")

#: accept() errors that mean "out of resources for now": log, wait, retry (as trio does).
_ACCEPT_CAPACITY_ERRNOS: Final = frozenset(
    {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
)
_ACCEPT_RETRY_SLEEP: Final = 0.1
_OVERLOADED: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 20\r\n"
    b"retry-after: 1\r\n"
    b"connection: close\r\n"
    b"\r\n"
    b"Service Unavailable\n"
)


_current_server: contextvars.ContextVar[Server] = contextvars.ContextVar("trio_sse_server")


def current_server() -> Server:
    """Return the :class:`Server` running the calling handler (e.g. for its statistics).

    Raises:
        RuntimeError: when called outside a connection served by trio-sse.
    """
    try:
        return _current_server.get()
    except LookupError:
        raise RuntimeError("current_server() called outside a trio-sse connection") from None


def _socket_options(config: Config) -> list[tuple[int, int, int]]:
    """The ``setsockopt`` calls applied to each accepted TCP socket (half-open peers)."""
    options: list[tuple[int, int, int]] = []
    if config.tcp_keepalive_idle is not None:
        options.append((socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1))
        for name, value in (
            ("TCP_KEEPIDLE", config.tcp_keepalive_idle),
            ("TCP_KEEPINTVL", config.tcp_keepalive_interval),
            ("TCP_KEEPCNT", config.tcp_keepalive_count),
        ):
            if hasattr(socket, name):  # Linux, recent macOS
                options.append(
                    (socket.IPPROTO_TCP, getattr(socket, name), max(1, math.ceil(value)))
                )
    if config.tcp_user_timeout is not None and hasattr(socket, "TCP_USER_TIMEOUT"):
        millis = max(1, math.ceil(config.tcp_user_timeout * 1000))
        options.append((socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, millis))
    return options


def _peer_of(stream: trio.abc.Stream) -> tuple[str, int] | None:
    if isinstance(stream, trio.SocketStream):
        try:
            addr = stream.socket.getpeername()
        except OSError:
            return None
        if isinstance(addr, tuple) and len(addr) >= 2:
            return (str(addr[0]), int(addr[1]))
    return None


@final
class Server:
    """An HTTP/1.1 and HTTP/2 server running one application, with live statistics.

    Most programs call :func:`serve`, which creates a ``Server`` and hands it back through
    ``task_status``. Create one yourself to serve listeners you opened (for example a
    :class:`trio_sse.testing.MemoryListener`) or single streams.

    Args:
        app: The application: an async function from :class:`~trio_sse.Request` to a
            response, often a :class:`~trio_sse.Router`.
        config: Limits and timeouts; defaults to ``Config()``.
        ssl_context: Serve TLS with this context (see :func:`trio_sse.tls_context`):
            every connection, accepted or given to :meth:`serve_stream`, first does the
            TLS handshake, within :attr:`Config.tls_handshake_timeout
            <trio_sse.Config.tls_handshake_timeout>`. ``None`` serves plain HTTP.
    """

    __slots__ = (
        "_connection_scope",
        "_context",
        "_listeners",
        "_shutdown_started",
        "_socket_options",
        "_timer",
        "app",
        "config",
        "ssl_context",
    )

    def __init__(
        self,
        app: App,
        *,
        config: Config | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.app = app
        self.config = config if config is not None else Config()
        self.ssl_context = ssl_context
        self._timer = TimerService(self.config.timer_resolution or 0.0)
        self._context = ServerContext(app, self.config, ServerStatistics(), self._timer)
        self._socket_options = _socket_options(self.config)
        self._listeners: list[trio.abc.Listener[trio.abc.Stream]] = []
        self._connection_scope: trio.CancelScope | None = None
        self._shutdown_started = trio.Event()

    @property
    def listeners(self) -> list[trio.abc.Listener[trio.abc.Stream]]:
        """The listeners being served."""
        return list(self._listeners)

    @property
    def port(self) -> int:
        """The TCP port of the first socket listener (useful after binding port 0)."""
        for port in self.ports:
            return port
        raise RuntimeError("the server has no TCP listener")

    @property
    def ports(self) -> list[int]:
        """The TCP ports of all socket listeners, in listener order."""
        ports: list[int] = []
        for listener in self._listeners:
            if isinstance(listener, trio.SocketListener):
                ports.append(int(listener.socket.getsockname()[1]))
        return ports

    @property
    def shutting_down(self) -> bool:
        """Whether graceful shutdown has begun."""
        return self._context.shutting_down

    def statistics(self) -> ServerStatistics:
        """Return a snapshot of the server's counters (open connections, requests, errors)."""
        return self._context.counters.snapshot()

    async def serve_listeners(
        self,
        listeners: Sequence[trio.abc.Listener[trio.abc.Stream]],
        *,
        task_status: trio.TaskStatus[Server] = trio.TASK_STATUS_IGNORED,
    ) -> NoReturn:
        """Accept and serve connections on *listeners* until cancelled.

        Reports ``self`` through ``task_status`` once every accept loop runs. When
        cancelled, stops accepting, gives open connections ``shutdown_grace_period`` seconds
        to finish, cancels what is left, closes the listeners and re-raises.
        """
        if not listeners:
            raise ValueError("listeners: need at least one listener")
        self._listeners = list(listeners)
        try:
            async with trio.open_nursery() as service_nursery:
                owns_timer = not self._timer.running  # serve_listeners may run twice at once
                if owns_timer:
                    await service_nursery.start(self._timer.run)
                connection_nursery: trio.Nursery = await service_nursery.start(
                    self._host_connections, owns_timer
                )
                if self.config.memory_trim_interval is not None and trim_is_available():
                    service_nursery.start_soon(self._trim_memory, self.config.memory_trim_interval)
                try:
                    async with trio.open_nursery() as accept_nursery:
                        for listener in listeners:
                            accept_nursery.start_soon(
                                self._accept_loop, listener, connection_nursery
                            )
                        task_status.started(self)
                finally:
                    self._begin_shutdown()
        finally:
            with trio.CancelScope(shield=True):
                for listener in listeners:
                    await trio.aclose_forcefully(listener)
        raise AssertionError("unreachable: accept loops only end by an exception")

    async def _accept_loop(
        self, listener: trio.abc.Listener[trio.abc.Stream], nursery: trio.Nursery
    ) -> None:
        # Set once here, inherited by each connection task's copy of this context: no
        # per-connection context change (which allocates) in ``_serve``.
        self._enter_context()
        backlog = backlog_socket(listener)
        try:
            while True:
                try:
                    stream = await listener.accept()
                except OSError as exc:
                    if exc.errno in _ACCEPT_CAPACITY_ERRNOS:
                        logger.error(
                            "accept() failed (%s); retrying in %.0f ms",
                            errno.errorcode.get(exc.errno or 0, exc.errno),
                            _ACCEPT_RETRY_SLEEP * 1000,
                        )
                        await trio.sleep(_ACCEPT_RETRY_SLEEP)
                        continue
                    raise
                nursery.start_soon(self._serve, stream, None, True)
                if backlog is not None:
                    for stream in accept_backlog(backlog):
                        nursery.start_soon(self._serve, stream, None, True)
        finally:
            if backlog is not None:
                backlog.close()

    async def _trim_memory(self, interval: float) -> NoReturn:
        """Give freed memory back to the OS when a storm of connections has ended."""
        storm = StormTracker()
        while True:
            await trio.sleep(interval)
            counters = self._context.counters
            if storm.should_trim(counters.connections_open):
                malloc_trim()
                counters.memory_trims += 1

    async def _host_connections(
        self, stop_timer: bool, *, task_status: trio.TaskStatus[trio.Nursery]
    ) -> None:
        """Open the connection nursery, shielded, and keep it open until shutdown.

        One shielded scope for all connections (not one per connection, which every open
        stream would pay for): the server's cancellation does not reach them; shutdown
        gives this scope the grace-period deadline instead.
        """
        try:
            with trio.CancelScope(shield=True) as self._connection_scope:
                async with trio.open_nursery() as nursery:
                    task_status.started(nursery)
                    await self._shutdown_started.wait()
                # Every connection has ended here (or was cancelled at the deadline).
        finally:
            if stop_timer:  # nothing of ours sleeps on the timer any more
                self._timer.stop()

    async def serve_stream(
        self, stream: trio.abc.Stream, *, client: tuple[str, int] | None = None
    ) -> None:
        """Serve one already-accepted connection until it closes, then close *stream*.

        Never raises ``Exception`` (errors are answered and logged). Cancelling it closes
        the connection at once; only connections accepted by :meth:`serve_listeners` get a
        shutdown grace period. This is also the way to run the server over a
        ``trio.testing.memory_stream_pair`` in tests.

        Args:
            stream: The connection's byte stream.
            client: The peer address to report; read from the socket when omitted.
        """
        await self._serve(stream, client)

    def _enter_context(self) -> None:
        """Make this server (and its running timer) current in the calling task's context
        (trio gives every task a copy of its spawner's)."""
        if _current_server.get(None) is not self:
            _current_server.set(self)
        timer = self._timer
        if timer.running and CURRENT_TIMER.get(None) is not timer:
            CURRENT_TIMER.set(timer)

    async def _serve(
        self, stream: trio.abc.Stream, client: tuple[str, int] | None, accepted: bool = False
    ) -> None:
        # An *accepted* connection runs in the connection nursery, whose shielded scope
        # gets the grace-period deadline at shutdown (``_host_connections``).
        context = self._context
        counters = context.counters
        counters.connections_total += 1
        self._enter_context()
        if (
            accepted
            and isinstance(stream, trio.SocketStream)
            and stream.socket.family != socket.AF_UNIX
        ):
            try:
                for level, option, value in self._socket_options:
                    stream.setsockopt(level, option, value)
            except OSError as exc:  # e.g. the peer reset already: serving will notice
                logger.debug("setsockopt failed on an accepted socket: %s", exc)
        try:
            if counters.connections_open >= self.config.max_connections:
                counters.connections_rejected += 1
                if self.ssl_context is None:  # (a TLS client could not read a plain 503)
                    counters.count_response(503)
                    await self._reject_overloaded(stream)
                return
            counters.connections_open += 1
            try:
                client = client or _peer_of(stream)
                if self.ssl_context is not None:
                    tls = None
                    with trio.move_on_after(self.config.tls_handshake_timeout):
                        tls = await tls_handshake(stream, self.ssl_context)
                    if tls is None:
                        counters.tls_handshake_failures += 1
                        return
                    stream = tls
                connection = await open_connection(context, stream, client)
                if connection is None:
                    return
                context.connections.add(connection)
                try:
                    await connection.run()
                finally:
                    context.connections.discard(connection)
            finally:
                counters.connections_open -= 1
        finally:
            await trio.aclose_forcefully(stream)

    async def _reject_overloaded(self, stream: trio.abc.Stream) -> None:
        try:
            with trio.move_on_after(self.config.send_timeout):
                await stream.send_all(_OVERLOADED)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return
        await drain_and_close(stream)

    def _begin_shutdown(self) -> None:
        context = self._context
        if context.shutting_down:
            return
        grace = self.config.shutdown_grace_period
        if context.connections:
            logger.info(
                "shutting down: %d open connection(s), grace period %.1f s",
                len(context.connections),
                grace,
            )
        if self._connection_scope is not None:
            self._connection_scope.deadline = trio.current_time() + grace
        self._shutdown_started.set()
        context.begin_shutdown()


async def serve(
    app: App,
    host: str | None = "127.0.0.1",
    port: int = 8080,
    *,
    config: Config | None = None,
    ssl_context: ssl.SSLContext | None = None,
    backlog: int | None = None,
    task_status: trio.TaskStatus[Server] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Serve *app* over HTTP/1.1 and HTTP/2 on *host*:*port* until cancelled.

    Works with ``nursery.start``, which returns the running :class:`Server` once the port
    is bound (pass ``port=0`` for a free port and read :attr:`Server.port`)::

        async with trio.open_nursery() as nursery:
            server = await nursery.start(trio_sse.serve, app, "127.0.0.1", 0)
            print(server.port)

    Cancelling it shuts down gracefully: see :meth:`Server.serve_listeners`.

    Args:
        app: The application (an async request handler, often a :class:`Router`).
        host: The address to bind; ``None`` or ``""`` binds every interface,
            ``"0.0.0.0"`` every IPv4 one.
        port: The TCP port; ``0`` picks a free one.
        config: Limits and timeouts.
        ssl_context: Serve HTTPS (and ``wss://``) with this context, for example from
            :func:`trio_sse.tls_context`; plain HTTP when ``None``.
        backlog: The listen backlog (trio's default when ``None``).
        task_status: Filled in by ``nursery.start``.
    """
    listeners = await trio.open_tcp_listeners(port, host=host or None, backlog=backlog)
    server = Server(app, config=config, ssl_context=ssl_context)
    await server.serve_listeners(listeners, task_status=task_status)
