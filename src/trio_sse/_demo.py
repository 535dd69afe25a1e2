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
  for a body over the limit. A copy goes to the demo feed (below), with an id of its own.
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

The comparison page and the routes it uses (see ``docs/demo.rst``). They share the *demo
feed*: one :class:`~trio_sse.Broadcaster` carrying ``event: tick`` (data ``hello``) on the
schedule *start + n x interval*, a copy of everything published through ``/publish`` or a
WebSocket, and the ``binary`` events below. The feed's connections drive its schedule: a
tick due while nobody listened is published when the next one arrives (at most the last
:data:`FEED_MAX_CATCH_UP`), so a client that comes back after an outage finds in the
history what it missed, as it would with a feed fed by its own source. The query parameter
``client`` (1 to 64 characters from ``A-Z a-z 0-9 _ -``; optional, ``400`` when malformed)
names the page, so that ``/demo/drop`` can find its connections.

* ``GET /demo``: the page; ``GET /demo/demo.css`` and ``GET /demo/demo.js``: its assets,
  read from the package (``trio_sse/_static``). No CDN: it works offline.
* ``GET /demo/events?client=ID``: the feed as an event stream. It starts with ``retry:
  R`` (R = max(1 s, 2 x interval), in milliseconds). With a ``Last-Event-ID`` the
  broadcaster replays what the client missed, announced first by one ``event: resumed``
  without an id, data ``{"after": <Last-Event-ID>, "replayed": <count>}`` (or an ``event:
  reset`` when the id cannot be honoured).
* ``GET /demo/ws?client=ID``: the feed over a WebSocket. No ticker of its own: each feed
  event arrives as ``{"event": <name>, "data": <text>, "id": <feed id>, "source":
  "feed"}``; with the query parameter ``last_event_id`` (the page's hand-written resume)
  the session first sends ``{"type": "resumed", "after": ID, "replayed": N}`` and the
  missed events. Echo and the ``publish`` control message work as on ``/ws``;
  ``interval`` is answered with an error (the feed keeps the server's schedule).
* ``POST /demo/drop?client=ID&transport=sse|ws``: end that page's feed connections of
  that transport, as a network failure would. The event stream ends (with its last chunk,
  or by closing the connection if the drop interrupts a write), so ``EventSource``
  reconnects by itself, with ``Last-Event-ID``; the WebSocket closes with code ``4000``.
  Answers ``200`` with ``{"dropped": <connections ended>}``; ``400`` without a valid
  ``client`` or ``transport``.
* ``POST /demo/binary``: the body (1 byte to 48 KiB, any bytes) is published to the feed
  base64-encoded, as ``event: binary``: SSE carries only UTF-8 text. Answers ``202`` with
  ``{"id": <feed id>, "bytes": <body size>, "base64_chars": <encoded size>, "wire_bytes":
  <size of the encoded event block>}``; ``400`` for an empty body, ``413`` over the limit.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import re
from contextlib import contextmanager
from importlib import resources
from typing import TYPE_CHECKING, Final, NoReturn

import trio
import trio_websocket

from ._broadcast import Broadcaster, BrokerUnavailableError
from ._events import ServerSentEvent
from ._exceptions import InvalidEventError
from ._fanout import RESET_EVENT
from ._negotiation import accepts_event_stream
from ._parser import parse_event_stream
from ._response import BaseResponse, Response
from ._routing import Router
from ._server import current_server
from ._sse import EventStream, EventStreamResponse
from ._stats import render_prometheus
from ._timer import sleep_until
from ._websocket import WebSocketResponse

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

    from ._redis import RedisBroadcaster
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

#: The feed's scheduled event, and the event the ``/demo/binary`` route publishes.
TICK_EVENT: Final = "tick"
BINARY_EVENT: Final = "binary"
#: Sent (without an id) before the events replayed to a resuming ``/demo/events`` client.
RESUMED_EVENT: Final = "resumed"
#: Due ticks published at once for a listener arriving after nobody listened, at most
#: (fewer than a subscriber's queue, so the catch-up never overflows one).
FEED_MAX_CATCH_UP: Final = 32
MAX_BINARY_BYTES: Final = 48 * 1024
#: The close code of a WebSocket ended by ``/demo/drop`` (4000-4999: private use).
DROP_CLOSE_CODE: Final = 4000
TRANSPORTS: Final = ("sse", "ws")
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ASSETS: Final = {
    "demo.html": "text/html; charset=utf-8",
    "demo.css": "text/css; charset=utf-8",
    "demo.js": "text/javascript; charset=utf-8",
}


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
    start = stream.opened_at  # when the client saw the stream open
    tick = 0
    while True:
        tick += 1
        await sleep_until(start + tick * interval)
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


def _json_response(value: dict[str, object], status: int = 200) -> Response:
    return Response(json.dumps(value), status=status, content_type="application/json")


def _client_param(request: Request) -> tuple[str | None, Response | None]:
    """The optional ``client`` query parameter, or the ``400`` refusing a malformed one."""
    client = request.query_param("client")
    if client is not None and not _CLIENT_ID.fullmatch(client):
        detail = f"client: must be 1 to 64 characters from A-Z a-z 0-9 _ -; got {client[:80]!r}"
        return None, Response(f"{detail}\n", status=400)
    return client, None


class _DemoFeed:
    """The demo page's feed: a broadcaster with scheduled ticks (see the module docs).

    Tick *n* is due at *start + n x interval*, *start* being the first listener's arrival.
    There is no task of its own: every listener runs :meth:`drive`, and whichever wakes
    first publishes the tick (the others find nothing due); :meth:`catch_up`, called before
    a listener subscribes, publishes the ticks that came due while nobody listened.
    """

    def __init__(self, interval: float) -> None:
        self.broadcaster = Broadcaster()
        self.interval = interval
        self._start: float | None = None
        self._ticks = 0  # ticks accounted for: published, or skipped by the catch-up cap

    def _due(self, n: int) -> float:
        assert self._start is not None
        return self._start + n * self.interval

    def catch_up(self) -> None:
        """Publish every tick due by now (at most :data:`FEED_MAX_CATCH_UP` at once)."""
        now = trio.current_time()
        if self._start is None:
            self._start = now
        behind = math.floor((now - self._start) / self.interval) - self._ticks
        if behind > FEED_MAX_CATCH_UP:
            self._ticks += behind - FEED_MAX_CATCH_UP
        while self._due(self._ticks + 1) <= now:
            self._ticks += 1
            self.broadcaster.publish_nowait("hello", event=TICK_EVENT)

    async def drive(self) -> NoReturn:
        """Publish the ticks on their schedule, for as long as the calling listener lives."""
        while True:
            self.catch_up()
            await trio.sleep_until(self._due(self._ticks + 1))


class _LiveConnections:
    """The demo pages' feed connections, by client id and transport, for ``/demo/drop``."""

    def __init__(self) -> None:
        self._scopes: dict[tuple[str, str], set[trio.CancelScope]] = {}

    @contextmanager
    def open(self, client: str | None, transport: str) -> Iterator[trio.CancelScope]:
        """Run the block in a cancel scope that :meth:`drop` cancels (when *client* is set).

        The scope is cancelled, never the task: a dropped connection's handler carries on
        after the block, to end its response or close its socket as it chooses.
        """
        with trio.CancelScope() as scope:
            if client is None:
                yield scope
                return
            key = (client, transport)
            scopes = self._scopes.setdefault(key, set())
            scopes.add(scope)
            try:
                yield scope
            finally:
                scopes.discard(scope)
                if not scopes and self._scopes.get(key) is scopes:
                    del self._scopes[key]

    def drop(self, client: str, transport: str) -> int:
        """Cancel the scopes of *client*'s *transport* connections; return how many."""
        scopes = self._scopes.get((client, transport), set())
        for scope in scopes:
            scope.cancel()
        return len(scopes)


class _DemoHub:
    """What the demo's routes share: the ``/events`` broadcaster, the feed, live connections."""

    def __init__(self, interval: float, events: Broadcaster | RedisBroadcaster | None) -> None:
        self.interval = interval
        self.events = Broadcaster() if events is None else events
        self.feed = _DemoFeed(interval)
        self.live = _LiveConnections()

    async def publish(self, text: str, name: str) -> str:
        """Publish to ``/events`` and copy to the feed; return the ``/events`` id."""
        event_id = await self.events.publish(text, event=name)
        self.feed.broadcaster.publish_nowait(text, event=name)
        return event_id


class _WebSocketDemo:
    """One ``/ws`` session (ticker, broadcast relay, echo and control) or ``/demo/ws`` one.

    A ``/demo/ws`` session (*feed* true) has no ticker: it relays the demo feed, resuming
    after *resume* when given, and drives the feed's schedule.
    """

    def __init__(
        self,
        ws: trio_websocket.WebSocketConnection,
        hub: _DemoHub,
        interval: float,
        last_id: int,
        *,
        feed: bool = False,
        resume: str | None = None,
    ) -> None:
        self.ws = ws
        self.hub = hub
        self.interval = interval
        self.last_id = last_id
        self.feed = feed
        self.resume = resume
        self._reschedule = False
        self._wake: trio.CancelScope | None = None

    async def run(self) -> None:
        parts: tuple[Callable[[], Awaitable[object]], ...]
        if self.feed:
            self.hub.feed.catch_up()  # what came due while nobody listened, before resuming
            parts = (self.hub.feed.drive, self._relay_feed, self._receive)
        else:
            parts = (self._tick, self._relay_events, self._receive)
        async with trio.open_nursery() as nursery:
            for part in parts:
                nursery.start_soon(self._until_closed, part, nursery.cancel_scope)

    @staticmethod
    async def _until_closed(part: Callable[[], Awaitable[object]], scope: trio.CancelScope) -> None:
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
                await sleep_until(start + (tick + 1) * self.interval)
            self._wake = None
            if wake.cancelled_caught:
                continue
            tick += 1
            self.last_id += 1
            await self._send_json({"event": "message", "data": "hello", "id": self.last_id})

    async def _relay_events(self) -> None:
        await self._relay(self.hub.events, None, "/events")

    async def _relay_feed(self) -> None:
        await self._relay(self.hub.feed.broadcaster, self.resume, "feed")

    async def _relay(
        self, broadcaster: Broadcaster | RedisBroadcaster, last_event_id: str | None, source: str
    ) -> None:
        announce = bool(last_event_id)
        while True:  # a subscription dropped for overflow resumes after the last id
            async with broadcaster.open_subscription(last_event_id) as subscription:
                if announce and subscription.reset is None:
                    await self._send_json(
                        {
                            "type": RESUMED_EVENT,
                            "after": last_event_id,
                            "replayed": subscription.replayed,
                        }
                    )
                announce = False
                async for block in subscription:
                    for event in parse_event_stream(block):
                        last_event_id = event.last_event_id or last_event_id
                        await self._send_json(
                            {
                                "event": event.type,
                                "data": event.data,
                                "id": event.last_event_id or None,
                                "source": source,
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
        if self.feed:
            await self._error("interval", "the demo feed keeps the server's schedule")
            return
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
            event_id = await self.hub.publish(data, name)
        except (InvalidEventError, BrokerUnavailableError) as exc:  # e.g. a lone surrogate
            await self._error("publish", str(exc))
            return
        await self._send_json({"type": "ack", "of": "publish", "id": event_id})


def demo_retry_ms(interval: float) -> int:
    """The reconnection time of the demo page's transports: max(1 s, 2 x interval), in ms.

    Two intervals, so an outage always misses at least one tick: there is something to
    replay (SSE) or to lose (a WebSocket reconnected by hand without resuming).
    """
    return round(max(1.0, 2 * interval) * 1000)


def _load_assets(interval: float) -> dict[str, tuple[bytes, str]]:
    """The page and its assets from the package, by file name: (body, content type)."""
    folder = resources.files(__package__ or "trio_sse").joinpath("_static")
    assets = {name: (folder.joinpath(name).read_bytes(), kind) for name, kind in _ASSETS.items()}
    page, kind = assets["demo.html"]
    settings = {
        b"{{interval}}": repr(interval).encode(),
        b"{{retry_ms}}": b"%d" % demo_retry_ms(interval),
    }
    for placeholder, value in settings.items():
        page = page.replace(placeholder, value)
    assets["demo.html"] = (page, kind)
    return assets


def _add_demo_routes(router: Router, hub: _DemoHub) -> None:
    """Register ``/demo`` and its routes (see the module documentation)."""
    assets = _load_assets(hub.interval)
    retry = demo_retry_ms(hub.interval)
    feed = hub.feed

    def asset(name: str) -> Callable[[Request], Awaitable[BaseResponse]]:
        body, kind = assets[name]

        async def serve_asset(request: Request) -> BaseResponse:
            return Response(body, content_type=kind, headers=[("Cache-Control", "no-cache")])

        return serve_asset

    router.add_route("/demo", asset("demo.html"))
    router.add_route("/demo/demo.css", asset("demo.css"))
    router.add_route("/demo/demo.js", asset("demo.js"))

    @router.route("/demo/events")
    async def demo_events(request: Request) -> BaseResponse:
        client, refusal = _client_param(request)
        if refusal is not None:
            return refusal

        async def relay_feed(stream: EventStream) -> None:
            with hub.live.open(client, "sse"):
                async with trio.open_nursery() as nursery:
                    feed.catch_up()  # what came due while nobody listened, before resuming
                    nursery.start_soon(feed.drive)
                    after = stream.last_event_id
                    async with feed.broadcaster.open_subscription(after) as subscription:
                        if after and subscription.reset is None:
                            data = json.dumps({"after": after, "replayed": subscription.replayed})
                            await stream.send(ServerSentEvent(data, event=RESUMED_EVENT))
                        async for block in subscription:
                            await stream.send(block)
                    nursery.cancel_scope.cancel()  # dropped for overflow: end, to resume

        return EventStreamResponse(relay_feed, retry=retry)

    @router.route("/demo/ws")
    async def demo_ws(request: Request) -> BaseResponse:
        client, refusal = _client_param(request)
        if refusal is not None:
            return refusal
        resume = request.query_param("last_event_id") or request.last_event_id

        async def session(request: Request, ws: trio_websocket.WebSocketConnection) -> None:
            with hub.live.open(client, "ws") as scope:
                await _WebSocketDemo(ws, hub, hub.interval, 0, feed=True, resume=resume).run()
            if scope.cancelled_caught:
                await ws.aclose(DROP_CLOSE_CODE, "dropped by /demo/drop")

        return WebSocketResponse(session)  # a plain request gets 426 from the server

    @router.route("/demo/drop", methods=("POST",))
    async def demo_drop(request: Request) -> BaseResponse:
        client, refusal = _client_param(request)
        if refusal is not None:
            return refusal
        transport = request.query_param("transport")
        if client is None or transport not in TRANSPORTS:
            return Response("give client=ID and transport=sse or transport=ws\n", status=400)
        return _json_response({"dropped": hub.live.drop(client, transport)})

    @router.route("/demo/binary", methods=("POST",))
    async def demo_binary(request: Request) -> BaseResponse:
        size = len(request.body)
        if size > MAX_BINARY_BYTES:
            return Response(f"body: larger than {MAX_BINARY_BYTES} bytes\n", status=413)
        if not size:
            return Response("body: empty; post the bytes to send\n", status=400)
        text = base64.b64encode(request.body).decode("ascii")
        event_id = feed.broadcaster.publish_nowait(text, event=BINARY_EVENT)
        wire = ServerSentEvent(text, event=BINARY_EVENT, id=event_id).encode()
        return _json_response(
            {"id": event_id, "bytes": size, "base64_chars": len(text), "wire_bytes": len(wire)},
            status=202,
        )


def build_demo_app(
    *,
    interval: float = DEFAULT_INTERVAL,
    backend: Broadcaster | RedisBroadcaster | None = None,
) -> Router:
    """Build the demo application (see the module documentation for its routes).

    Args:
        interval: Seconds between the ticker's events.
        backend: The broadcaster of ``/events`` and ``/publish``: a new in-memory
            :class:`~trio_sse.Broadcaster` by default, or e.g. a Redis one shared by
            several workers (``trio-sse serve --broker``). ``POST /publish`` answers
            ``503`` while that backend's broker is unreachable.
    """
    if not interval > 0:
        raise ValueError(f"interval: must be positive, got {interval!r}")
    router = Router()

    ticker = functools.partial(seed_ticker, interval=interval)

    @router.route("/", methods=None)
    async def index(request: Request) -> BaseResponse:
        if accepts_event_stream(request):
            return EventStreamResponse(ticker)
        return Response("ok")

    @router.route("/metrics")
    async def metrics(request: Request) -> BaseResponse:
        text = render_prometheus(current_server().statistics())
        return Response(text, content_type=PROMETHEUS_CONTENT_TYPE)

    hub = _DemoHub(interval, backend)

    @router.route("/events")
    async def events(request: Request) -> BaseResponse:
        return hub.events.stream_response()

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
        try:
            event_id = await hub.publish(text, name)
        except BrokerUnavailableError as exc:
            return Response(f"{exc}\n", status=503, headers=[("Retry-After", "1")])
        return _json_response({"id": event_id}, status=202)

    @router.websocket("/ws")
    async def ws(request: Request, ws: trio_websocket.WebSocketConnection) -> None:
        last_id = resume_id(request.query_param("last_event_id") or request.last_event_id)
        await _WebSocketDemo(ws, hub, interval, last_id).run()

    _add_demo_routes(router, hub)
    return router
