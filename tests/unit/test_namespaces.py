"""The public namespaces: what each exports, and the names deprecated in 0.2.0.

``trio_sse`` serves; ``trio_sse.client``, ``.metrics``, ``.redis``, ``.lowlevel`` and
``.testing`` are sub-namespaces by audience. The old top-level names of what moved, and
``ConnectionClosed`` (now ``StreamClosedError``), still work until 0.3.0, with a warning.
"""

from __future__ import annotations

import inspect
import warnings
from typing import TYPE_CHECKING

import pytest

import trio_sse
import trio_sse.client
import trio_sse.lowlevel
import trio_sse.metrics
import trio_sse.redis
import trio_sse.testing

if TYPE_CHECKING:
    from types import ModuleType

#: Every deprecated top-level name: (new home, new name).
DEPRECATED: dict[str, tuple[ModuleType, str]] = {
    "ConnectionClosed": (trio_sse, "StreamClosedError"),
    "EventStreamParser": (trio_sse.client, "EventStreamParser"),
    "MessageEvent": (trio_sse.client, "MessageEvent"),
    "parse_event_stream": (trio_sse.client, "parse_event_stream"),
    "parse_events": (trio_sse.client, "parse_events"),
    "render_prometheus": (trio_sse.metrics, "render_prometheus"),
    "RedisBroadcaster": (trio_sse.redis, "RedisBroadcaster"),
    "open_redis_broadcaster": (trio_sse.redis, "open_redis_broadcaster"),
    "sleep_until": (trio_sse.lowlevel, "sleep_until"),
}

#: The sub-namespaces that re-export names defined in private modules.
SUBMODULES = {
    trio_sse.client: {"EventStreamParser", "MessageEvent", "parse_event_stream", "parse_events"},
    trio_sse.metrics: {"render_prometheus"},
    trio_sse.redis: {"RedisBroadcaster", "open_redis_broadcaster"},
    trio_sse.lowlevel: {"sleep_until"},
}
PUBLIC_MODULES = [trio_sse, *SUBMODULES, trio_sse.testing]


def public_globals(module: ModuleType) -> set[str]:
    """The names a module defines without a leading underscore (``annotations`` is the
    ``from __future__`` import every module has)."""
    return {name for name in vars(module) if not name.startswith("_")} - {"annotations"}


# -- the deprecated names ---------------------------------------------------------------


@pytest.mark.parametrize("old", sorted(DEPRECATED))
def test_deprecated_name_warns_and_returns_the_new_object(old: str) -> None:
    module, new = DEPRECATED[old]
    qualified = f"{module.__name__}.{new}"
    with pytest.warns(DeprecationWarning, match=rf"use {qualified} instead") as record:
        value = getattr(trio_sse, old)
    assert value is getattr(module, new)
    (warning,) = record
    assert str(warning.message) == (
        f"trio_sse.{old} is deprecated in 0.2.0, removed in 0.3.0; use {qualified} instead"
    )
    assert warning.filename == __file__  # the user's line, not trio-sse's


def test_from_import_of_a_deprecated_name_warns_once_at_the_import() -> None:
    with pytest.warns(DeprecationWarning, match=r"use trio_sse\.client\.parse_events") as record:
        from trio_sse import parse_events
    assert parse_events is trio_sse.client.parse_events
    assert [(w.filename, w.category) for w in record] == [(__file__, DeprecationWarning)]


def test_deprecated_names_are_not_advertised() -> None:
    assert not set(DEPRECATED) & set(trio_sse.__all__)
    assert not set(DEPRECATED) & set(dir(trio_sse))
    namespace: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec("from trio_sse import *", namespace)
    assert not set(DEPRECATED) & set(namespace)


def test_unknown_names_still_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'trio_sse' has no attribute 'nope'"):
        trio_sse.nope  # type: ignore[attr-defined]  # noqa: B018
    assert not hasattr(trio_sse, "_private_nope")


def catch_with_the_old_name(exc: trio_sse.TrioSSEError) -> trio_sse.TrioSSEError | None:
    """Raise *exc* in a handler written for 0.1 (``except trio_sse.ConnectionClosed``)."""
    try:
        raise exc
    except trio_sse.ConnectionClosed as caught:
        return caught
    except trio_sse.TrioSSEError:
        return None


@pytest.mark.parametrize(
    "exc", [trio_sse.StreamClosedError("the client disconnected"), trio_sse.SlowClientError()]
)
def test_except_connection_closed_still_catches_stream_closed_error(
    exc: trio_sse.TrioSSEError,
) -> None:
    with pytest.warns(DeprecationWarning, match=r"use trio_sse\.StreamClosedError instead"):
        caught = catch_with_the_old_name(exc)
    assert caught is exc


def test_except_connection_closed_catches_nothing_else() -> None:
    with pytest.warns(DeprecationWarning, match=r"use trio_sse\.StreamClosedError instead"):
        caught = catch_with_the_old_name(trio_sse.InvalidEventError("data", "nope"))
    assert caught is None


def _old_names_keep_their_types(old: trio_sse.MessageEvent) -> trio_sse.client.MessageEvent:
    """Checked by mypy only (annotations are not evaluated): the old names stay typed."""
    return old


# -- StreamClosedError ------------------------------------------------------------------


def test_stream_closed_error_is_the_one_exception_of_a_closed_stream() -> None:
    assert issubclass(trio_sse.StreamClosedError, trio_sse.TrioSSEError)
    assert issubclass(trio_sse.SlowClientError, trio_sse.StreamClosedError)
    assert trio_sse.StreamClosedError.__module__ == "trio_sse"
    assert "StreamClosedError" in trio_sse.__all__


# -- what each namespace exports --------------------------------------------------------


@pytest.mark.parametrize("module", list(SUBMODULES), ids=lambda m: m.__name__)
def test_sub_namespace_exports_exactly_its_all(module: ModuleType) -> None:
    assert set(module.__all__) == SUBMODULES[module]
    assert public_globals(module) == set(module.__all__)


def test_testing_is_unchanged() -> None:
    assert set(trio_sse.testing.__all__) == {
        "ClientResponse",
        "MemoryListener",
        "TestClient",
        "open_memory_client",
    }


def test_top_level_defines_only_its_all_and_the_sub_namespaces() -> None:
    # testing is imported on demand (this file imports it); the others with trio_sse
    assert public_globals(trio_sse) | {"__version__"} == {
        *trio_sse.__all__,
        "client",
        "lowlevel",
        "metrics",
        "redis",
        "testing",
    }
    assert len(trio_sse.__all__) == len(set(trio_sse.__all__))


@pytest.mark.parametrize("module", PUBLIC_MODULES, ids=lambda m: m.__name__)
def test_public_names_report_their_public_module(module: ModuleType) -> None:
    checked = 0
    for name in module.__all__:
        obj = getattr(module, name)
        # classes and functions; type aliases (GenericAlias proxies __class__ on 3.10) skipped
        if issubclass(type(obj), type) or inspect.isfunction(obj):
            assert obj.__module__ == module.__name__, name
            checked += 1
    assert checked >= (25 if module is trio_sse else 1)


def test_sub_namespaces_are_not_top_level_names() -> None:
    moved = {name for names in SUBMODULES.values() for name in names}
    assert not moved & set(trio_sse.__all__)
