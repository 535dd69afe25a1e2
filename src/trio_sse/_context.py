"""What a connection gets from its server, and what drivers get from a connection.

This file does no I/O (it calls the application, nothing else). It defines the seams
of the server's centre:

* :class:`ServerContext`: the small context every connection is given instead of the
  :class:`~trio_sse.Server` (as hypercorn hands its ``TCPServer`` a ``WorkerContext``):
  the application, the configuration, the counters, the shared timer and the shutdown
  state. Connections register here so a shutdown reaches each of them.
* :class:`ResponseChannel`: "the stream this response is written to", the interface the
  body driver (``_body.py``) writes event streams and streamed bodies through. An HTTP/1.1
  connection implements it (``_h11_channel.py``), and so does an HTTP/2 stream
  (``_h2_stream.py``).
* :class:`SessionHost`: what the WebSocket driver (``_ws_session.py``) needs from the
  connection it takes over.

Both interfaces are ``typing.Protocol`` classes: implementations do not inherit from them,
and no driver reaches into a connection's private state.
"""

from __future__ import annotations

import enum
import logging
from typing import TYPE_CHECKING, Protocol, final

from ._response import BaseResponse, Response

if TYPE_CHECKING:
    from ._config import Config
    from ._request import Request
    from ._response import App
    from ._stats import ServerStatistics
    from ._timer import TimerService

__all__ = ["Interruptible", "ResponseChannel", "ServerContext", "SessionHost", "Watch"]

logger = logging.getLogger("trio_sse")


class Interruptible(Protocol):
    """A connection, as the context sees it: something a shutdown must reach."""

    def begin_shutdown(self) -> None:
        """Stop keep-alive and interrupt a long wait (synchronous)."""


@final
class ServerContext:
    """The server's state a connection may use: app, config, counters, timer, shutdown.

    Attributes:
        app: The application every request goes to.
        config: Limits and timeouts.
        counters: The live counters (``Server.statistics()`` copies them).
        timer: The shared timer of :func:`trio_sse.lowlevel.sleep_until`.
        shutting_down: Whether graceful shutdown has begun.
    """

    __slots__ = ("app", "config", "connections", "counters", "shutting_down", "timer")

    def __init__(
        self, app: App, config: Config, counters: ServerStatistics, timer: TimerService
    ) -> None:
        self.app = app
        self.config = config
        self.counters = counters
        self.timer = timer
        self.shutting_down = False
        #: The connections being served, for :meth:`begin_shutdown`.
        self.connections: set[Interruptible] = set()

    async def call_app(self, request: Request) -> BaseResponse:
        """Run the application on *request*; a failure becomes a logged ``500``."""
        try:
            response: object = await self.app(request)
        except Exception:
            self.counters.handler_errors += 1
            logger.exception("handler failed for %s %s", request.method, request.target)
            return Response("Internal Server Error\n", status=500)
        if not isinstance(response, BaseResponse):
            self.counters.handler_errors += 1
            logger.error(
                "handler for %s %s returned %r, not a response",
                request.method,
                request.target,
                response,
            )
            return Response("Internal Server Error\n", status=500)
        return response

    def begin_shutdown(self) -> None:
        """Mark the shutdown and tell every registered connection (synchronous, once)."""
        if self.shutting_down:
            return
        self.shutting_down = True
        for connection in list(self.connections):
            connection.begin_shutdown()


class Watch(enum.Enum):
    """Why :meth:`ResponseChannel.watch` returned."""

    #: The peer is gone (EOF, reset, a stream reset): stop producing at once.
    PEER_GONE = "peer gone"
    #: The server is shutting down: send the farewell and end the body.
    SHUTDOWN = "shutdown"
    #: The deadline passed with nothing else happening (time for a heartbeat).
    DEADLINE = "deadline"


class ResponseChannel(Protocol):
    """The stream a streamed response body is written to (one HTTP/1.1 connection).

    The body driver owns the producer task; the channel owns the bytes. Its contract:

    * :meth:`write_body` writes one piece of the body, flushed, serialised with the
      driver's own writes (heartbeats, the farewell), and is a checkpoint;
    * :meth:`end_body` terminates the body properly (the last chunk);
    * :meth:`watch` waits for the peer to leave, the server to shut down or a deadline,
      in the task that runs the driver, while the producer runs beside it;
    * the counters are the server's, for the driver's event counts.
    """

    @property
    def counters(self) -> ServerStatistics:
        """The server's live counters."""
        ...

    @property
    def peer(self) -> str:
        """The peer's address for log messages (``"-"`` when unknown)."""
        ...

    @property
    def idle_since(self) -> float | None:
        """When the last write ended (``trio.current_time()``); ``None`` while writing."""
        ...

    async def write_body(self, data: bytes) -> None:
        """Write one piece of the body, flushed.

        Raises:
            StreamClosedError: the peer is gone or the body can no longer be written.
            SlowClientError: the peer did not read within ``send_timeout``.
        """
        ...

    async def end_body(self) -> None:
        """Terminate the body (the peer sees a complete response). Never raises."""
        ...

    async def watch(self, deadline: float) -> Watch:
        """Wait until the peer leaves, the server shuts down, or *deadline* passes."""
        ...


class SessionHost(Protocol):
    """What the WebSocket driver needs from the connection it takes over."""

    @property
    def counters(self) -> ServerStatistics:
        """The server's live counters."""
        ...

    @property
    def peer(self) -> str:
        """The peer's address for log messages."""
        ...

    async def wait_shutdown(self) -> None:
        """Return when the server begins to shut down (at once if it has)."""
        ...
