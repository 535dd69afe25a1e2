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
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import trio

from ._broadcast import RESET_EVENT, Broadcaster
from ._events import ServerSentEvent
from ._negotiation import accepts_event_stream
from ._response import BaseResponse, Response
from ._routing import Router
from ._server import current_server
from ._sse import EventStream, EventStreamResponse
from ._stats import render_prometheus

if TYPE_CHECKING:
    from ._request import Request

__all__ = ["build_demo_app", "resume_id", "seed_ticker"]

DEFAULT_INTERVAL = 2.0
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PUBLISH_EVENT = "publish"
MAX_PUBLISH_BYTES = 64 * 1024
_EVENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


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
        if not _EVENT_NAME.fullmatch(name) or name == RESET_EVENT:
            return Response(
                f"event: must be 1 to 64 characters from A-Z a-z 0-9 _ . : -, starting with a "
                f"letter or digit, and not {RESET_EVENT!r}; got {name[:80]!r}\n",
                status=400,
            )
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

    return router
