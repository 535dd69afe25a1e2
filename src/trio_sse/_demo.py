"""The demo application served by ``trio-sse serve``: the seed's behaviour and friends.

Routes:

* ``/`` (any method): a request that accepts ``text/event-stream`` gets an event stream
  whose ticker sends ``event: message``, ``data: hello``, ``id: N`` every *interval*
  seconds (the Workerman example's behaviour); any other request gets ``ok``.
* ``/metrics``: the server's statistics in the Prometheus text format.
* ``GET /events``: the demo's broadcast stream (:class:`~trio_sse.Broadcaster`): every
  body posted to ``/publish`` arrives as a named event (``event: publish`` unless the
  publisher chose another name) with an id; a client reconnecting with ``Last-Event-ID``
  is replayed what it missed, or told ``event: reset`` when that is no longer possible.
* ``POST /publish``: publish the request body, which must be non-empty UTF-8 text of at
  most 64 KiB, to ``/events`` (how a browser that only has SSE talks back). The optional
  query parameter ``event`` names the event: 1 to 64 characters from ``A-Z a-z 0-9 _ . :
  -``, starting with a letter or digit, and not ``reset``. Answers ``202`` with
  ``{"id": "<event id>"}``; ``400`` for an empty or non-UTF-8 body or a bad name, ``413``
  for a body over the limit.
* ``GET /ws``: a WebSocket (a plain request gets ``426 Upgrade Required``). The server
  sends the ticker's events as JSON text messages, ``{"event": "message", "data":
  "hello", "id": N}``, the first one *interval* after the handshake (ids continue after
  the query parameter ``last_event_id`` or a ``Last-Event-ID`` header, as on ``/``), and
  relays every ``/events`` broadcast as ``{"event": <name>, "data": <text>, "id":
  <broadcast id or null>, "source": "/events"}``. Nothing else is sent unasked.

  A text message from the client is a *control message* when it is a JSON object whose
  ``"type"`` member is the string ``"interval"`` or ``"publish"``; every other message,
  text or binary, is echoed back unchanged, byte for byte. Control messages:

  - ``{"type": "interval", "seconds": S}`` (a number from 0.05 to 3600): the ticker
    restarts its schedule with the new interval (next event S seconds later). Answer:
    ``{"type": "ack", "of": "interval", "seconds": S}``.
  - ``{"type": "publish", "data": TEXT, "event": NAME}`` (``event`` optional, the same
    rules as ``/publish``): publish to ``/events``, exactly as ``POST /publish`` does.
    Answer: ``{"type": "ack", "of": "publish", "id": "<event id>"}``; SSE clients and
    every WebSocket client (this one too) then receive the event.
  - A control message with bad values is answered with ``{"type": "error", "of":
    <type>, "detail": <text>}`` and changes nothing.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Final

import trio
import trio_websocket

from ._broadcast import RESET_EVENT, Broadcaster
from ._events import ServerSentEvent
from ._exceptions import InvalidEventError
from ._negotiation import accepts_event_stream
from ._parser import parse_event_stream
from ._response import BaseResponse, Response
from ._routing import Router
from ._server import current_server
from ._sse import EventStream, EventStreamResponse
from ._stats import render_prometheus

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._request import Request

__all__ = ["build_demo_app", "resume_id", "seed_ticker", "ws_control_message"]

DEFAULT_INTERVAL = 2.0
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PUBLISH_EVENT = "publish"
MAX_PUBLISH_BYTES = 64 * 1024
_EVENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
#: The ``"type"`` values that make a JSON text message a control message on ``/ws``.
WS_CONTROL_TYPES: Final = frozenset({"interval", "publish"})
WS_MIN_INTERVAL: Final = 0.05
WS_MAX_INTERVAL: Final = 3600.0


def resume_id(last_event_id: str | None) -> int:
    """The numeric id to continue after, from a ``Last-Event-ID`` (0 when absent or not numeric)."""
    if last_event_id and last_event_id.isascii() and last_event_id.isdigit():
        return int(last_event_id)
    return 0


async def seed_ticker(stream: EventStream, interval: float = DEFAULT_INTERVAL) -> None:
    """Send the seed's event every *interval* seconds, forever.

    Ticks are scheduled on the clock (start + n x interval) so lateness never accumulates;
    the first comes one interval after the stream opens, as with Workerman's timer. Ids
    continue after the client's ``Last-Event-ID``. There is no disconnect check: the task is
    cancelled by its connection's nursery the moment the client goes away.
    """
    n = resume_id(stream.last_event_id)
    start = trio.current_time()
    tick = 0
    while True:
        tick += 1
        await trio.sleep_until(start + tick * interval)
        n += 1
        await stream.send(ServerSentEvent("hello", event="message", id=str(n)))


def _event_name_problem(name: str) -> str | None:
    """Why ``/publish`` (or a ``/ws`` publish message) refuses the event *name*, or None."""
    if not _EVENT_NAME.fullmatch(name) or name == RESET_EVENT:
        return (
            f"event: must be 1 to 64 characters from A-Z a-z 0-9 _ . : -, starting with a "
            f"letter or digit, and not {RESET_EVENT!r}; got {name[:80]!r}"
        )
    return None


def _publish_problem(name: str, text: str) -> str | None:
    """Why a ``/ws`` publish message is refused (the rules of ``/publish``), or None."""
    problem = _event_name_problem(name)
    if problem is not None:
        return problem
    if not text:
        return "data: empty; give the text to publish"
    if len(text.encode("utf-8", "surrogatepass")) > MAX_PUBLISH_BYTES:
        return f"data: larger than {MAX_PUBLISH_BYTES} bytes"
    return None


def ws_control_message(message: str | bytes) -> dict[str, object] | None:
    """The control message in *message* (see the module documentation), or ``None``.

    ``None`` means the message is to be echoed: it is binary, not JSON, not a JSON
    object, or its ``"type"`` is not one of :data:`WS_CONTROL_TYPES`.
    """
    if not isinstance(message, str) or not message.lstrip().startswith("{"):
        return None
    try:
        value: object = json.loads(message)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in WS_CONTROL_TYPES:
        return None
    return value


class _WebSocketDemo:
    """One ``/ws`` session: ticker, receive loop (echo and control) and broadcast relay."""

    def __init__(
        self,
        ws: trio_websocket.WebSocketConnection,
        broadcaster: Broadcaster,
        interval: float,
        last_id: int,
    ) -> None:
        self.ws = ws
        self.broadcaster = broadcaster
        self.interval = interval
        self.last_id = last_id
        self._reschedule = False
        self._wake: trio.CancelScope | None = None

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            for part in (self._tick, self._relay, self._receive):
                nursery.start_soon(self._until_closed, part, nursery.cancel_scope)

    @staticmethod
    async def _until_closed(part: Callable[[], Awaitable[None]], scope: trio.CancelScope) -> None:
        # Whichever part sees the connection closed first ends the session (the server
        # usually cancels it first, when its reader task notices).
        try:
            await part()
        except trio_websocket.ConnectionClosed:
            scope.cancel()

    async def _send_json(self, value: dict[str, object]) -> None:
        await self.ws.send_message(json.dumps(value))

    async def _tick(self) -> None:
        start = trio.current_time()
        tick = 0
        while True:
            if self._reschedule:
                self._reschedule = False
                start = trio.current_time()
                tick = 0
            with trio.CancelScope() as wake:
                self._wake = wake
                await trio.sleep_until(start + (tick + 1) * self.interval)
            self._wake = None
            if wake.cancelled_caught:
                continue
            tick += 1
            self.last_id += 1
            await self._send_json({"event": "message", "data": "hello", "id": self.last_id})

    async def _relay(self) -> None:
        last_event_id: str | None = None
        while True:  # a subscription dropped for overflow resumes after the last id
            async with self.broadcaster.open_subscription(last_event_id) as subscription:
                async for block in subscription:
                    for event in parse_event_stream(block):
                        last_event_id = event.last_event_id or last_event_id
                        await self._send_json(
                            {
                                "event": event.type,
                                "data": event.data,
                                "id": event.last_event_id or None,
                                "source": "/events",
                            }
                        )

    async def _receive(self) -> None:
        while True:
            message = await self.ws.get_message()
            control = ws_control_message(message)
            if control is None:
                await self.ws.send_message(message)
            elif control["type"] == "interval":
                await self._set_interval(control.get("seconds"))
            else:
                await self._publish(control.get("data"), control.get("event", PUBLISH_EVENT))

    async def _error(self, of: str, detail: str) -> None:
        await self._send_json({"type": "error", "of": of, "detail": detail})

    async def _set_interval(self, seconds: object) -> None:
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not math.isfinite(seconds)
            or not WS_MIN_INTERVAL <= seconds <= WS_MAX_INTERVAL
        ):
            await self._error(
                "interval",
                f"seconds: must be a number from {WS_MIN_INTERVAL} to {WS_MAX_INTERVAL}",
            )
            return
        self.interval = float(seconds)
        self._reschedule = True
        if self._wake is not None:
            self._wake.cancel()
        await self._send_json({"type": "ack", "of": "interval", "seconds": seconds})

    async def _publish(self, data: object, name: object) -> None:
        if not isinstance(data, str) or not isinstance(name, str):
            await self._error("publish", "data and event: must be strings")
            return
        problem = _publish_problem(name, data)
        if problem is not None:
            await self._error("publish", problem)
            return
        try:
            event_id = await self.broadcaster.publish(data, event=name)
        except InvalidEventError as exc:  # e.g. a lone surrogate, which SSE cannot carry
            await self._error("publish", str(exc))
            return
        await self._send_json({"type": "ack", "of": "publish", "id": event_id})


def build_demo_app(*, interval: float = DEFAULT_INTERVAL) -> Router:
    """Build the demo application (see the module documentation for its routes)."""
    if not interval > 0:
        raise ValueError(f"interval: must be positive, got {interval!r}")
    router = Router()

    async def ticker(stream: EventStream) -> None:
        await seed_ticker(stream, interval)

    @router.route("/", methods=None)
    async def index(request: Request) -> BaseResponse:
        if accepts_event_stream(request):
            return EventStreamResponse(ticker)
        return Response("ok")

    @router.route("/metrics")
    async def metrics(request: Request) -> BaseResponse:
        text = render_prometheus(current_server().statistics())
        return Response(text, content_type=PROMETHEUS_CONTENT_TYPE)

    broadcaster = Broadcaster()

    @router.route("/events")
    async def events(request: Request) -> BaseResponse:
        return broadcaster.stream_response()

    @router.route("/publish", methods=("POST",))
    async def publish(request: Request) -> BaseResponse:
        name = request.query_param("event")
        if name is None:
            name = PUBLISH_EVENT
        problem = _event_name_problem(name)
        if problem is not None:
            return Response(f"{problem}\n", status=400)
        if len(request.body) > MAX_PUBLISH_BYTES:
            return Response(f"body: larger than {MAX_PUBLISH_BYTES} bytes\n", status=413)
        if not request.body:
            return Response("body: empty; post the text to publish\n", status=400)
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            return Response("body: not UTF-8 text\n", status=400)
        event_id = await broadcaster.publish(text, event=name)
        return Response(json.dumps({"id": event_id}), status=202, content_type="application/json")

    @router.websocket("/ws")
    async def ws(request: Request, ws: trio_websocket.WebSocketConnection) -> None:
        last_id = resume_id(request.query_param("last_event_id") or request.last_event_id)
        await _WebSocketDemo(ws, broadcaster, interval, last_id).run()

    return router
