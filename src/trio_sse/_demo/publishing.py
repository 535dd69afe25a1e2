"""Publishing to the demo's broadcast: ``GET /events``, ``POST /publish`` and their rules.

The rules for a published event (its name, its text) are shared with the WebSocket
``publish`` control message, which publishes exactly as ``POST /publish`` does.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from .._broadcast import BrokerUnavailableError
from .._fanout import RESET_EVENT
from .._response import Response

if TYPE_CHECKING:
    from .._request import Request
    from .._response import BaseResponse
    from .._routing import Router
    from .hub import DemoHub

__all__ = [
    "MAX_PUBLISH_BYTES",
    "PUBLISH_EVENT",
    "add_broadcast_routes",
    "event_name_problem",
    "json_response",
    "publish_problem",
]

PUBLISH_EVENT = "publish"
MAX_PUBLISH_BYTES = 64 * 1024
_EVENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def event_name_problem(name: str) -> str | None:
    """Why ``/publish`` (or a ``/ws`` publish message) refuses the event *name*, or None."""
    if not _EVENT_NAME.fullmatch(name) or name == RESET_EVENT:
        return (
            f"event: must be 1 to 64 characters from A-Z a-z 0-9 _ . : -, starting with a "
            f"letter or digit, and not {RESET_EVENT!r}; got {name[:80]!r}"
        )
    return None


def publish_problem(name: str, text: str) -> str | None:
    """Why a ``/ws`` publish message is refused (the rules of ``/publish``), or None."""
    problem = event_name_problem(name)
    if problem is not None:
        return problem
    if not text:
        return "data: empty; give the text to publish"
    if len(text.encode("utf-8", "surrogatepass")) > MAX_PUBLISH_BYTES:
        return f"data: larger than {MAX_PUBLISH_BYTES} bytes"
    return None


def json_response(value: dict[str, object], status: int = 200) -> Response:
    """A response whose body is *value* as JSON."""
    return Response(json.dumps(value), status=status, content_type="application/json")


def add_broadcast_routes(router: Router, hub: DemoHub) -> None:
    """Register ``/events`` (the broadcast stream) and ``/publish``."""

    @router.route("/events")
    async def events(request: Request) -> BaseResponse:
        return hub.events.stream_response()

    @router.route("/publish", methods=("POST",))
    async def publish(request: Request) -> BaseResponse:
        name = request.query_param("event")
        if name is None:
            name = PUBLISH_EVENT
        problem = event_name_problem(name)
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
        return json_response({"id": event_id}, status=202)
