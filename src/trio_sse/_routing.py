"""A small router: exact paths, per-method handlers, WebSocket routes, 404, 405 and 426.

This file does no I/O.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, final

from ._request import Request
from ._response import BaseResponse, Handler, Response
from ._websocket import (
    WebSocketHandler,
    WebSocketOptions,
    WebSocketResponse,
    is_websocket_upgrade,
    upgrade_required,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Router"]

_H = TypeVar("_H", bound=Callable[[Request], Awaitable[BaseResponse]])
_W = TypeVar("_W", bound=WebSocketHandler)

ANY_METHOD = "*"


@final
class Router:
    """Route requests to handlers by exact path and method.

    An unknown path gets ``404 Not Found``; a known path with a method it does not serve
    gets ``405 Method Not Allowed`` with an ``Allow`` header. A handler registered for
    ``GET`` also serves ``HEAD`` (the server sends the headers without the body), and
    ``OPTIONS`` on a known path is answered with ``204`` and ``Allow`` unless registered.

    WebSocket routes (:meth:`websocket`) live in the same router, on the same port. The
    dispatch rules:

    * a WebSocket request (:func:`~trio_sse.is_websocket_upgrade`: ``GET`` with
      ``Upgrade: websocket``) to a WebSocket route goes to its handler; the server then
      checks the rest of the handshake (``400``/``426`` if it is wrong);
    * any other request to a path that has a WebSocket route goes to the path's HTTP
      handlers if there are any (a page and its socket may share a path); failing that,
      ``GET`` and ``HEAD`` get ``426 Upgrade Required`` with ``Upgrade: websocket``;
    * a WebSocket request to a path without a WebSocket route is served as plain HTTP,
      ignoring ``Upgrade`` as RFC 9110 §7.8 allows (a ``404`` for an unknown path, the
      route's answer otherwise): the client sees a status other than ``101`` and fails
      its handshake cleanly.

    Example::

        router = trio_sse.Router()

        @router.route("/")
        async def index(request: trio_sse.Request) -> trio_sse.Response:
            return trio_sse.Response("ok")

        @router.websocket("/ws")
        async def echo(request: trio_sse.Request, ws: WebSocketConnection) -> None:
            while True:
                await ws.send_message(await ws.get_message())
    """

    __slots__ = ("_routes", "_websockets")

    def __init__(self) -> None:
        self._routes: dict[str, dict[str, Handler]] = {}
        self._websockets: dict[str, WebSocketResponse] = {}

    def add_route(
        self, path: str, handler: Handler, *, methods: Iterable[str] | None = ("GET",)
    ) -> None:
        """Register *handler* for *path* and *methods*.

        Args:
            path: The exact, percent-decoded path, starting with ``/``.
            handler: The async handler.
            methods: HTTP methods served, or ``None`` for any method.

        Raises:
            ValueError: if the path does not start with ``/`` or a method is already taken.
        """
        if not path.startswith("/"):
            raise ValueError(f"path: must start with '/', got {path!r}")
        table = self._routes.setdefault(path, {})
        wanted = [ANY_METHOD] if methods is None else [m.upper() for m in methods]
        if not wanted:
            raise ValueError("methods: must name at least one method, or be None for any")
        for method in wanted:
            if method in table:
                raise ValueError(f"methods: {method} {path} is already routed")
        for method in wanted:
            table[method] = handler

    def route(self, path: str, *, methods: Iterable[str] | None = ("GET",)) -> Callable[[_H], _H]:
        """Decorator form of :meth:`add_route`."""

        def decorator(handler: _H) -> _H:
            self.add_route(path, handler, methods=methods)
            return handler

        return decorator

    def add_websocket_route(
        self,
        path: str,
        handler: WebSocketHandler,
        *,
        options: WebSocketOptions | None = None,
        **settings: Any,
    ) -> None:
        """Serve WebSocket connections on *path* with *handler*.

        The handler is ``async def handler(request: Request, ws: WebSocketConnection) ->
        None``, where *ws* is trio-websocket's connection, already accepted.

        Args:
            path: The exact, percent-decoded path, starting with ``/``.
            handler: The async WebSocket handler.
            options: The session's settings (:class:`~trio_sse.WebSocketOptions`).
            settings: Or the fields of :class:`~trio_sse.WebSocketOptions` as keyword
                arguments (``max_message_size=2**16``), checked here.

        Raises:
            ValueError: if the path does not start with ``/``, already has a WebSocket
                route, or a setting is out of range.
            TypeError: a setting has the wrong type or name.
        """
        if not path.startswith("/"):
            raise ValueError(f"path: must start with '/', got {path!r}")
        if path in self._websockets:
            raise ValueError(f"path: {path} already has a WebSocket route")
        self._websockets[path] = WebSocketResponse(handler, options=options, **settings)

    def websocket(
        self, path: str, *, options: WebSocketOptions | None = None, **settings: Any
    ) -> Callable[[_W], _W]:
        """Decorator form of :meth:`add_websocket_route`."""

        def decorator(handler: _W) -> _W:
            self.add_websocket_route(path, handler, options=options, **settings)
            return handler

        return decorator

    def allowed_methods(self, path: str) -> list[str]:
        """The methods *path* serves (``HEAD`` implied by ``GET``); empty if unknown.

        A WebSocket route counts as ``GET`` (its handshake's method).
        """
        table = self._routes.get(path)
        if table is None:
            return ["GET", "OPTIONS"] if path in self._websockets else []
        if ANY_METHOD in table:
            return [ANY_METHOD]
        methods = set(table)
        if "GET" in methods:
            methods.add("HEAD")
        if path in self._websockets:
            methods.add("GET")
        methods.add("OPTIONS")
        return sorted(methods)

    async def __call__(self, request: Request) -> BaseResponse:
        """Dispatch *request* to its handler, or answer 404/405/426."""
        path = request.path
        websocket = self._websockets.get(path)
        if websocket is not None and is_websocket_upgrade(request):
            return websocket
        table = self._routes.get(path)
        method = request.method
        handler = None
        if table is not None:
            handler = table.get(method) or table.get(ANY_METHOD)
            if handler is None and method == "HEAD":
                handler = table.get("GET")
        if handler is not None:
            return await handler(request)
        if websocket is not None and method in ("GET", "HEAD"):
            return upgrade_required()
        if table is None and websocket is None:
            return Response("Not Found\n", status=404)
        allow = ", ".join(self.allowed_methods(path))
        if method == "OPTIONS":
            return Response(status=204, headers={"Allow": allow})
        return Response("Method Not Allowed\n", status=405, headers={"Allow": allow})
