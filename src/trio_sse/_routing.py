"""A small router: exact paths, per-method handlers, 404 and 405. This file does no I/O."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeAlias, TypeVar, final

from ._request import Request
from ._response import BaseResponse, Response

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["App", "Handler", "Router"]

# Real (runtime) aliases, so ``trio_sse.Handler`` can be used in annotations and docs.
Handler: TypeAlias = Callable[[Request], Awaitable[BaseResponse]]
"""An application handler: an async function from a request to a response."""

App: TypeAlias = Callable[[Request], Awaitable[BaseResponse]]
"""What :func:`trio_sse.serve` runs: any handler, often a :class:`Router`."""

_H = TypeVar("_H", bound=Callable[[Request], Awaitable[BaseResponse]])

ANY_METHOD = "*"


@final
class Router:
    """Route requests to handlers by exact path and method.

    An unknown path gets ``404 Not Found``; a known path with a method it does not serve
    gets ``405 Method Not Allowed`` with an ``Allow`` header. A handler registered for
    ``GET`` also serves ``HEAD`` (the server sends the headers without the body), and
    ``OPTIONS`` on a known path is answered with ``204`` and ``Allow`` unless registered.

    Example::

        router = trio_sse.Router()

        @router.route("/")
        async def index(request: trio_sse.Request) -> trio_sse.Response:
            return trio_sse.Response("ok")
    """

    __slots__ = ("_routes",)

    def __init__(self) -> None:
        self._routes: dict[str, dict[str, Handler]] = {}

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

    def allowed_methods(self, path: str) -> list[str]:
        """The methods *path* serves (``HEAD`` implied by ``GET``); empty if unknown."""
        table = self._routes.get(path)
        if table is None:
            return []
        if ANY_METHOD in table:
            return [ANY_METHOD]
        methods = set(table)
        if "GET" in methods:
            methods.add("HEAD")
        methods.add("OPTIONS")
        return sorted(methods)

    async def __call__(self, request: Request) -> BaseResponse:
        """Dispatch *request* to its handler, or answer 404/405."""
        table = self._routes.get(request.path)
        if table is None:
            return Response("Not Found\n", status=404)
        method = request.method
        handler = table.get(method) or table.get(ANY_METHOD)
        if handler is None and method == "HEAD":
            handler = table.get("GET")
        if handler is not None:
            return await handler(request)
        allow = ", ".join(self.allowed_methods(request.path))
        if method == "OPTIONS":
            return Response(status=204, headers={"Allow": allow})
        return Response("Method Not Allowed\n", status=405, headers={"Allow": allow})
