"""The seed's behaviour (the Workerman example): the ticker, ``/`` and ``/metrics``."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from .._events import ServerSentEvent
from .._negotiation import accepts_event_stream
from .._response import Response
from .._server import current_server
from .._sse import EventStreamResponse
from .._stats import render_prometheus
from .._timer import sleep_until

if TYPE_CHECKING:
    from .._request import Request
    from .._response import BaseResponse
    from .._routing import Router
    from .._sse import EventStream

__all__ = [
    "DEFAULT_INTERVAL",
    "PROMETHEUS_CONTENT_TYPE",
    "add_seed_routes",
    "resume_id",
    "seed_ticker",
]

DEFAULT_INTERVAL = 2.0
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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


def add_seed_routes(router: Router, interval: float) -> None:
    """Register ``/`` (``ok``, or the ticker's event stream) and ``/metrics``."""
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
