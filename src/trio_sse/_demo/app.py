"""The demo application: the seed's routes, the broadcast, ``/ws`` and the comparison page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._routing import Router
from .compare import add_compare_routes
from .hub import DemoHub
from .publishing import add_broadcast_routes
from .seed import DEFAULT_INTERVAL, add_seed_routes
from .websocket import add_websocket_route

if TYPE_CHECKING:
    from .._broadcast import Broadcaster
    from .._redis import RedisBroadcaster

__all__ = ["build_demo_app"]


def build_demo_app(
    *,
    interval: float = DEFAULT_INTERVAL,
    backend: Broadcaster | RedisBroadcaster | None = None,
) -> Router:
    """Build the demo application (see the package documentation for its routes).

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
    add_seed_routes(router, interval)
    hub = DemoHub(interval, backend)
    add_broadcast_routes(router, hub)
    add_websocket_route(router, hub)
    add_compare_routes(router, hub)
    return router
