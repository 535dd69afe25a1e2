"""The demo's WebSocket sessions: ``/ws`` (ticker, broadcast relay, echo, control messages).

The same session class serves the comparison page's ``/demo/ws`` (registered with the
page's other routes) in its *feed* mode. The control messages and what is echoed are
described in the package documentation.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Final

import trio
import trio_websocket

from .._broadcast import BrokerUnavailableError
from .._exceptions import InvalidEventError
from .._parser import parse_event_stream
from .._timer import sleep_until
from .hub import RESUMED_EVENT
from .publishing import PUBLISH_EVENT, publish_problem
from .seed import resume_id

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .._broadcast import Broadcaster
    from .._redis import RedisBroadcaster
    from .._request import Request
    from .._routing import Router
    from .hub import DemoHub

__all__ = [
    "WS_CONTROL_TYPES",
    "WS_MAX_INTERVAL",
    "WS_MIN_INTERVAL",
    "WebSocketDemo",
    "add_websocket_route",
    "ws_control_message",
]

#: The ``"type"`` values that make a JSON text message a control message on ``/ws``.
WS_CONTROL_TYPES: Final = frozenset({"interval", "publish"})
WS_MIN_INTERVAL: Final = 0.05
WS_MAX_INTERVAL: Final = 3600.0


def ws_control_message(message: str | bytes) -> dict[str, object] | None:
    """The control message in *message* (see the package documentation), or ``None``.

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


class WebSocketDemo:
    """One ``/ws`` session (ticker, broadcast relay, echo and control) or ``/demo/ws`` one.

    A ``/demo/ws`` session (*feed* true) has no ticker: it relays the demo feed, resuming
    after *resume* when given, and drives the feed's schedule.
    """

    def __init__(
        self,
        ws: trio_websocket.WebSocketConnection,
        hub: DemoHub,
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
        problem = publish_problem(name, data)
        if problem is not None:
            await self._error("publish", problem)
            return
        try:
            event_id = await self.hub.publish(data, name)
        except (InvalidEventError, BrokerUnavailableError) as exc:  # e.g. a lone surrogate
            await self._error("publish", str(exc))
            return
        await self._send_json({"type": "ack", "of": "publish", "id": event_id})


def add_websocket_route(router: Router, hub: DemoHub) -> None:
    """Register ``/ws``: a :class:`WebSocketDemo` session with the hub's interval."""

    @router.websocket("/ws")
    async def ws(request: Request, ws: trio_websocket.WebSocketConnection) -> None:
        last_id = resume_id(request.query_param("last_event_id") or request.last_event_id)
        await WebSocketDemo(ws, hub, hub.interval, last_id).run()
