"""The SSE / WebSocket comparison page (``/demo``), its assets and the routes it uses.

The page, its CSS and its JavaScript are read from the package's ``_static`` folder with
:mod:`importlib.resources` when the app is built (no CDN: it works offline). The routes
are listed in the package documentation.
"""

from __future__ import annotations

import base64
import json
import re
from importlib import resources
from typing import TYPE_CHECKING, Final

import trio

from .._events import ServerSentEvent
from .._response import Response
from .._sse import EventStreamResponse
from .._websocket import WebSocketResponse
from .hub import RESUMED_EVENT
from .publishing import json_response
from .websocket import WebSocketDemo

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import trio_websocket

    from .._request import Request
    from .._response import BaseResponse
    from .._routing import Router
    from .._sse import EventStream
    from .hub import DemoHub

__all__ = [
    "BINARY_EVENT",
    "DROP_CLOSE_CODE",
    "MAX_BINARY_BYTES",
    "TRANSPORTS",
    "add_compare_routes",
    "demo_retry_ms",
]

#: The event the ``/demo/binary`` route publishes.
BINARY_EVENT: Final = "binary"
MAX_BINARY_BYTES: Final = 48 * 1024
#: The close code of a WebSocket ended by ``/demo/drop`` (4000-4999: private use).
DROP_CLOSE_CODE: Final = 4000
TRANSPORTS: Final = ("sse", "ws")
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: The package whose ``_static`` folder holds the page (this package's parent).
_ASSETS_PACKAGE: Final = __name__.rsplit(".", 2)[0]
_ASSETS: Final = {
    "demo.html": "text/html; charset=utf-8",
    "demo.css": "text/css; charset=utf-8",
    "demo.js": "text/javascript; charset=utf-8",
}


def demo_retry_ms(interval: float) -> int:
    """The reconnection time of the demo page's transports: max(1 s, 2 x interval), in ms.

    Two intervals, so an outage always misses at least one tick: there is something to
    replay (SSE) or to lose (a WebSocket reconnected by hand without resuming).
    """
    return round(max(1.0, 2 * interval) * 1000)


def _load_assets(interval: float) -> dict[str, tuple[bytes, str]]:
    """The page and its assets from the package, by file name: (body, content type)."""
    folder = resources.files(_ASSETS_PACKAGE).joinpath("_static")
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


def _client_param(request: Request) -> tuple[str | None, Response | None]:
    """The optional ``client`` query parameter, or the ``400`` refusing a malformed one."""
    client = request.query_param("client")
    if client is not None and not _CLIENT_ID.fullmatch(client):
        detail = f"client: must be 1 to 64 characters from A-Z a-z 0-9 _ -; got {client[:80]!r}"
        return None, Response(f"{detail}\n", status=400)
    return client, None


def add_compare_routes(router: Router, hub: DemoHub) -> None:
    """Register ``/demo`` and its routes (see the package documentation)."""
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
                await WebSocketDemo(ws, hub, hub.interval, 0, feed=True, resume=resume).run()
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
        return json_response({"dropped": hub.live.drop(client, transport)})

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
        return json_response(
            {"id": event_id, "bytes": size, "base64_chars": len(text), "wire_bytes": len(wire)},
            status=202,
        )
