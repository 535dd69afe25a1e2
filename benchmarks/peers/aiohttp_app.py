"""aiohttp + aiohttp-sse, the seed's job.

``GET /`` accepting ``text/event-stream``: a per-connection ticker sending ``event:
message``, ``data: hello``, ``id: N`` every ``--interval`` seconds (tick n due at start +
n x interval, the first one interval after the stream opens); ``GET /ticks``: the number of
live tickers; anything else on ``/``: ``ok``. No pings, no compression, no access log.
Loopback only: ``python benchmarks/peers/aiohttp_app.py --port P --interval S``.
"""

from __future__ import annotations

import asyncio

from _common import BACKLOG, HOST, NO_PING, SSE_ACCEPT, Tickers, parse_args
from aiohttp import web
from aiohttp_sse import EventSourceResponse

TICKERS = Tickers()


def build_app(interval: float) -> web.Application:
    async def root(request: web.Request) -> web.StreamResponse:
        if SSE_ACCEPT not in request.headers.get("Accept", ""):
            return web.Response(text="ok")
        response = EventSourceResponse(sep="\n", ping_interval=NO_PING)
        await response.prepare(request)
        TICKERS.active += 1
        try:
            loop = asyncio.get_running_loop()
            start = loop.time()
            n = 0
            while response.is_connected():
                n += 1
                await asyncio.sleep(max(0.0, start + n * interval - loop.time()))
                await response.send("hello", event="message", id=str(n))
        except ConnectionResetError:  # the client went away: aiohttp-sse's usual ending
            pass
        finally:
            TICKERS.active -= 1
            response.stop_streaming()
        return response

    async def ticks(request: web.Request) -> web.StreamResponse:
        return web.Response(text=TICKERS.text())

    app = web.Application()
    app.add_routes([web.get("/", root), web.get("/ticks", ticks)])
    return app


def main() -> None:
    args = parse_args(__doc__ or "")
    print(f"serving on http://{HOST}:{args.port}/", flush=True)
    web.run_app(
        build_app(args.interval),
        host=HOST,
        port=args.port,
        backlog=BACKLOG,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
