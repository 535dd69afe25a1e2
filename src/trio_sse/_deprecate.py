"""Deprecated names: an old public name keeps working, with a warning, for one release.

After trio's ``_deprecate.deprecate_attributes``. A public module lists its deprecated
names in a table and installs the module-level ``__getattr__`` this module builds::

    if TYPE_CHECKING:
        from .client import parse_events as parse_events
    else:
        __getattr__ = deprecate_attributes(__name__, {
            "parse_events": DeprecatedAttribute(client.parse_events, "0.2.0", "0.3.0",
                                                "trio_sse.client.parse_events"),
        })

Rules:

* A deprecated name is not a module global, so Python calls ``__getattr__`` for it (for
  ``module.name`` and for ``from module import name``, which warns once, not twice), which
  warns and returns the very same object: ``except trio_sse.ConnectionClosed`` still
  catches, ``is`` still holds.
* The warning is a ``DeprecationWarning`` pointing at the user's line (``stacklevel=2``:
  the interpreter calls ``__getattr__`` straight from the accessing frame), and it names
  the release that deprecated the name, the release that removes it, and the replacement.
* A deprecated name is in neither ``__all__`` nor ``dir(module)``: star imports, tab
  completion and ``help()`` show only current names.
* Type checkers do not see ``__getattr__`` (it sits in the ``else:`` of ``if
  TYPE_CHECKING:``, so a typo stays an error); the module declares each old name in the
  ``if TYPE_CHECKING:`` branch instead, so code that still uses it keeps its types until
  the name is removed.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["DeprecatedAttribute", "deprecate_attributes"]


@final
@dataclass(frozen=True, slots=True)
class DeprecatedAttribute:
    """One deprecated module attribute.

    Attributes:
        value: What the old name still returns (the same object as the replacement).
        deprecated_in: The release that deprecated the name, e.g. ``"0.2.0"``.
        removed_in: The release that will remove it, e.g. ``"0.3.0"``.
        instead: The fully qualified replacement, e.g. ``"trio_sse.client.parse_events"``.
    """

    value: object
    deprecated_in: str
    removed_in: str
    instead: str

    def message(self, qualified_name: str) -> str:
        """The warning text for an access to *qualified_name* (``"trio_sse.parse_events"``)."""
        return (
            f"{qualified_name} is deprecated in {self.deprecated_in}, removed in "
            f"{self.removed_in}; use {self.instead} instead"
        )


def deprecate_attributes(
    module_name: str, attributes: Mapping[str, DeprecatedAttribute]
) -> Callable[[str], object]:
    """Return a module ``__getattr__`` that serves *attributes* with a ``DeprecationWarning``.

    Any other name raises the usual ``AttributeError``.
    """

    def __getattr__(name: str) -> object:  # noqa: N807 - the module hook's own name
        try:
            attribute = attributes[name]
        except KeyError:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}") from None
        # ``from package import name`` asks twice: importlib's ``_handle_fromlist`` probes
        # with ``hasattr``, then the import statement gets the value. Warn once, on the get.
        caller = inspect.currentframe()
        caller = caller.f_back if caller is not None else None
        if caller is None or caller.f_code.co_name != "_handle_fromlist":
            warnings.warn(
                attribute.message(f"{module_name}.{name}"), DeprecationWarning, stacklevel=2
            )
        return attribute.value

    __getattr__.__qualname__ = "__getattr__"
    __getattr__.__module__ = module_name
    return __getattr__
