"""WebSocket and SSE on one port: an echo socket, and a chat room with both kinds of client.

Run it, then talk to it (``python -m websockets`` is the ``websockets`` package's client)::

    python examples/websocket.py --port 8080
    python -m websockets ws://127.0.0.1:8080/echo                 # type: it comes back
    python -m websockets ws://127.0.0.1:8080/chat                 # type: everyone sees it
    curl -N http://127.0.0.1:8080/events                          # the room, over SSE
    curl -d 'hi from curl' http://127.0.0.1:8080/say              # say it over HTTP

Routes, all served by one :class:`trio_sse.Router` on one port:

* ``/echo`` (WebSocket): every message, text or binary, is sent back unchanged.
* ``/chat`` (WebSocket): every text message the client sends is published to the room;
  every message of the room (this client's own included) arrives as a JSON text message
  ``{"id": ..., "event": "chat", "data": ...}``. With the query parameter
  ``last_event_id`` the socket first gets what was said after that id (the WebSocket
  counterpart of ``Last-Event-ID``), or one ``{"event": "reset", "data": "expired" |
  "unknown"}`` when that is impossible. Binary messages are refused with close code
  ``1003`` (unsupported data).
* ``GET /events`` (SSE): the same room as an event stream, ``event: chat`` with the text as
  data, resumable with ``Last-Event-ID``.
* ``POST /say``: publish the body (UTF-8 text) to the room; answers ``202`` and the id.
* ``GET /``: this list, and how many clients (SSE and ``/chat``) are in the room.
* ``/echo`` and ``/chat`` without a WebSocket handshake get ``426 Upgrade Required``.

Policy choices:

* **One room, two transports.** A :class:`trio_sse.Broadcaster` holds the room; SSE
  streams relay it with :meth:`~trio_sse.BroadcastBackend.stream_response`, WebSocket
  sessions with :meth:`~trio_sse.Broadcaster.open_subscription`, decoding each encoded
  block with the package's own parser (:func:`trio_sse.client.parse_event_stream`).
* **One task per direction.** A ``/chat`` session runs a writer (room -> client) and a
  reader (client -> room) in a nursery; whichever sees the socket closed cancels the
  other. When the client goes away the server cancels the handler anyway: no
  "still connected?" check anywhere.
* **Subscribe before reading.** The writer is started with ``nursery.start`` and reports
  ready only once it is subscribed, so a message the client sends right after the
  handshake is already delivered back to it.
* **Slow sockets resume.** A socket that falls ``--queue-size`` messages behind is
  dropped by the broadcaster; the writer then re-subscribes after the last id it sent,
  and the history fills the gap (or it sends a ``reset``).
* **Heartbeats.** With ``--ws-heartbeat S`` the server pings each WebSocket every S
  seconds and closes one that does not answer (``1011``); event streams send a comment
  after ``--heartbeat`` idle seconds. Both keep proxies from timing the connection out.
* **Graceful shutdown.** Ctrl-C or SIGTERM: WebSockets are closed with ``1001`` (going
  away), event streams end, all within ``--grace`` seconds; exit status 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

import trio
import trio_websocket
from trio_websocket import WebSocketConnection

import trio_sse

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger("websocket")

CHAT_EVENT = "chat"


async def echo(request: trio_sse.Request, ws: WebSocketConnection) -> None:
    """``/echo``: send every message back, until the client closes the connection.

    Then ``ws.get_message()`` raises ``trio_websocket.ConnectionClosed``, which ends the handler.
    """
    logger.info("echo: %s connected", request.client)
    while True:
        await ws.send_message(await ws.get_message())


class ChatSession:
    """One ``/chat`` WebSocket: a reader and a writer task, sharing the room."""

    def __init__(
        self, room: trio_sse.Broadcaster, ws: WebSocketConnection, last_event_id: str | None
    ) -> None:
        self.room = room
        self.ws = ws
        self.last_event_id = last_event_id

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            # Subscribe first, read second: a client's first message must come back to
            # it, so the writer is subscribed before anything the client says is read.
            await nursery.start(self._write, nursery.cancel_scope)
            nursery.start_soon(self._read, nursery.cancel_scope)

    async def _read(self, scope: trio.CancelScope) -> None:
        """Client -> room."""
        try:
            while True:
                message = await self.ws.get_message()
                if isinstance(message, bytes):
                    await self.ws.aclose(1003, "text messages only")
                    break
                await self.room.publish(message, event=CHAT_EVENT)
        except trio_websocket.ConnectionClosed:
            pass
        # Whichever direction ends first ends the session (usually the server has
        # cancelled it already, when trio-websocket's reader task saw the close).
        scope.cancel()

    async def _write(
        self,
        scope: trio.CancelScope,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Room -> client; re-subscribes after an overflow, resuming after the last id."""
        try:
            while True:
                async with self.room.open_subscription(self.last_event_id) as subscription:
                    task_status.started()
                    task_status = trio.TASK_STATUS_IGNORED  # only the first time counts
                    async for block in subscription:
                        for event in trio_sse.client.parse_event_stream(block):
                            if event.last_event_id:
                                self.last_event_id = event.last_event_id
                            message = {
                                "id": event.last_event_id or None,
                                "event": event.type,
                                "data": event.data,
                            }
                            await self.ws.send_message(json.dumps(message))
                logger.info("chat: a socket fell behind; resuming after %s", self.last_event_id)
        except trio_websocket.ConnectionClosed:
            scope.cancel()


def build_app(room: trio_sse.Broadcaster, *, ws_heartbeat: float | None) -> trio_sse.Router:
    router = trio_sse.Router()
    # One value for the settings both sockets share (the keywords work too:
    # ``add_websocket_route("/echo", echo, heartbeat_interval=ws_heartbeat)``).
    options = trio_sse.WebSocketOptions(heartbeat_interval=ws_heartbeat)
    router.add_websocket_route("/echo", echo, options=options)

    # Chat lines are short: a message over 16 KiB closes the socket with 1009.
    @router.websocket("/chat", options=replace(options, max_message_size=16 * 1024))
    async def chat(request: trio_sse.Request, ws: WebSocketConnection) -> None:
        # A browser's WebSocket cannot set headers: the resume point comes in the query.
        resume = request.query_param("last_event_id") or request.last_event_id
        logger.info("chat: %s joined (resume after %r)", request.client, resume)
        await ChatSession(room, ws, resume).run()

    @router.route("/events")
    async def events(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return room.stream_response(retry=2000)

    @router.route("/say", methods=("POST",))
    async def say(request: trio_sse.Request) -> trio_sse.BaseResponse:
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            return trio_sse.Response("body: not UTF-8\n", status=400)
        if not text:
            return trio_sse.Response("body: empty\n", status=400)
        event_id = await room.publish(text, event=CHAT_EVENT)
        return trio_sse.Response(f"{event_id}\n", status=202)

    @router.route("/")
    async def index(request: trio_sse.Request) -> trio_sse.BaseResponse:
        subscribers = room.statistics().subscribers
        return trio_sse.Response(
            "WebSocket: /echo, /chat (?last_event_id=ID); SSE: GET /events; POST /say\n"
            f"{subscribers} subscriber(s) in the room\n"
        )

    return router


async def main(args: argparse.Namespace) -> None:
    room = trio_sse.Broadcaster(history=args.history, queue_size=args.queue_size)
    app = build_app(room, ws_heartbeat=args.ws_heartbeat)
    config = trio_sse.Config(heartbeat_interval=args.heartbeat, shutdown_grace_period=args.grace)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            server: trio_sse.Server = await nursery.start(
                partial(trio_sse.serve, app, args.host, args.port, config=config)
            )
            shown = "127.0.0.1" if args.host in ("0.0.0.0", "", "::") else args.host
            logger.info("serving on http://%s:%d/ (Ctrl-C to stop)", shown, server.port)
            async for signum in signals:
                logger.info("%s: shutting down", signal.Signals(signum).name)
                nursery.cancel_scope.cancel()  # WebSockets close with 1001, streams end
                break
    stats = server.statistics()
    logger.info(
        "stopped: %d WebSocket(s) and %d event stream message(s) served",
        stats.websockets_total,
        stats.events_sent,
    )


def _at_least(least: int) -> Callable[[str], int]:
    def check(text: str) -> int:
        value = int(text)
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {text}")
        return value

    return check


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="WebSocket and SSE on one trio-sse port.")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="TCP port; 0 picks a free one (default: 8080)"
    )
    parser.add_argument(
        "--history",
        type=_at_least(0),
        default=100,
        help="messages kept for resuming (default: 100)",
    )
    parser.add_argument(
        "--queue-size",
        type=_at_least(1),
        default=64,
        help="messages a client may fall behind before it is dropped (default: 64)",
    )
    parser.add_argument(
        "--ws-heartbeat",
        type=_positive,
        default=None,
        help="seconds between WebSocket pings (default: no pings)",
    )
    parser.add_argument(
        "--heartbeat",
        type=_positive,
        default=15.0,
        help="idle seconds before an event stream sends a comment (default: 15)",
    )
    parser.add_argument(
        "--grace", type=_positive, default=5.0, help="shutdown grace period (default: 5 s)"
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default: INFO)")
    return parser.parse_args(argv)


def run(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        trio.run(main, args)
    except KeyboardInterrupt:  # Ctrl-C before the signal receiver was installed
        logger.info("interrupted")
    return 0


if __name__ == "__main__":
    sys.exit(run())
