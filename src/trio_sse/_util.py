"""Helpers for the public modules (``trio_sse``, ``trio_sse.client``, ...), at import time."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["fixup_module_metadata"]


def fixup_module_metadata(
    module_name: str, names: Iterable[str], namespace: Mapping[str, object]
) -> None:
    """Make the classes and functions *names* of *namespace* report *module_name*.

    A public module re-exports objects defined in private modules (``trio_sse._parser``);
    this rewrites their ``__module__`` so tracebacks, ``repr``, pickle and the docs say
    ``trio_sse.client.MessageEvent``, not ``trio_sse._parser.MessageEvent`` (trio does the
    same). Objects defined outside trio-sse's private modules are left alone.
    """
    for name in names:
        obj = namespace[name]
        if getattr(obj, "__module__", "").startswith("trio_sse._"):
            try:
                obj.__module__ = module_name
            except (AttributeError, TypeError):  # pragma: no cover - builtins, aliases
                pass
