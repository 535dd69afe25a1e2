"""The Trio peer: hypercorn (its trio worker) + starlette + sse-starlette, the seed's job.

``GET /`` accepting ``text/event-stream``: a per-connection ticker sending ``event:
message``, ``data: hello``, ``id: N`` every ``--interval`` seconds (tick n due at start +
n x interval, the first one interval after the stream opens); ``GET /ticks``: the number of
live tickers; anything else on ``/``: ``ok``. No pings, no compression, no access log.
HTTP/1.1, and HTTP/2 in cleartext with prior knowledge (at most 100 streams a connection).
Loopback only: ``python benchmarks/peers/hypercorn_trio_app.py --port P --interval S``.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

import trio
from _common import (
    BACKLOG,
    H2_MAX_CONCURRENT_STREAMS,
    HOST,
    NO_PING,
    SSE_ACCEPT,
    Tickers,
    parse_args,
)
from hypercorn.config import Config
from hypercorn.trio import serve
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from hypercorn.typing import ASGIFramework
    from starlette.requests import Request

TICKERS = Tickers()


def build_app(interval: float) -> Starlette:
    async def ticker() -> AsyncIterator[ServerSentEvent]:
        TICKERS.active += 1
        try:
            start = trio.current_time()
            n = 0
            while True:
                n += 1
                await trio.sleep_until(start + n * interval)
                yield ServerSentEvent(data="hello", event="message", id=str(n), sep="\n")
        finally:
            TICKERS.active -= 1

    async def root(request: Request) -> Response:
        if SSE_ACCEPT in request.headers.get("accept", ""):
            return EventSourceResponse(ticker(), ping=NO_PING, sep="\n")
        return PlainTextResponse("ok")

    async def ticks(request: Request) -> Response:
        return PlainTextResponse(TICKERS.text())

    return Starlette(routes=[Route("/", root), Route("/ticks", ticks)])


def main() -> None:
    args = parse_args(__doc__ or "")
    config = Config()
    config.bind = [f"{HOST}:{args.port}"]
    config.accesslog = None
    config.errorlog = "-"
    config.loglevel = "WARNING"
    config.backlog = BACKLOG
    # HTTP/2 (compare.py's h2-* scenarios): cleartext with prior knowledge needs no option
    # (hypercorn switches on the preface); the streams per connection as trio-sse's default.
    config.h2_max_concurrent_streams = H2_MAX_CONCURRENT_STREAMS
    print(f"serving on http://{HOST}:{args.port}/", flush=True)
    try:
        app = cast("ASGIFramework", build_app(args.interval))  # starlette's ASGI types differ
        trio.run(partial(serve, app, config))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
