"""What most Python users pick: uvicorn (uvloop + httptools) + starlette + sse-starlette.

``--http h11`` swaps httptools for h11, the parser trio-sse uses (compare.py's
``uvicorn-h11``); the event loop stays uvloop, so only the HTTP/1.1 parser differs.

``GET /`` accepting ``text/event-stream``: a per-connection ticker sending ``event:
message``, ``data: hello``, ``id: N`` every ``--interval`` seconds (tick n due at start +
n x interval, the first one interval after the stream opens); ``GET /ticks``: the number of
live tickers; anything else on ``/``: ``ok``. No pings, no compression, no access log.
Loopback only: ``python benchmarks/peers/uvicorn_app.py --port P --interval S [--http h11]``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import uvicorn
from _common import BACKLOG, HOST, NO_PING, SSE_ACCEPT, Tickers, make_parser
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request

TICKERS = Tickers()


def build_app(interval: float) -> Starlette:
    async def ticker() -> AsyncIterator[ServerSentEvent]:
        TICKERS.active += 1
        try:
            loop = asyncio.get_running_loop()
            start = loop.time()
            n = 0
            while True:
                n += 1
                await asyncio.sleep(max(0.0, start + n * interval - loop.time()))
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
    parser = make_parser(__doc__ or "")
    parser.add_argument(
        "--http",
        choices=("httptools", "h11"),
        default="httptools",
        help="uvicorn's HTTP/1.1 parser (default httptools: what uvicorn's 'auto' picks)",
    )
    args = parser.parse_args()
    print(f"serving on http://{HOST}:{args.port}/", flush=True)
    uvicorn.run(
        build_app(args.interval),
        host=HOST,
        port=args.port,
        loop="uvloop",
        http=args.http,
        ws="none",
        lifespan="off",
        access_log=False,
        log_level="warning",
        backlog=BACKLOG,
    )


if __name__ == "__main__":
    main()
