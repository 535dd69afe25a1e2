"""Low-level tools, for applications that tune their hot loops.

:func:`sleep_until` is ``trio.sleep_until`` with the same semantics, served inside a
trio-sse connection by the server's shared timer task, which makes the tick of thousands
of periodic event streams about twice as cheap. Most applications use
``trio.sleep_until`` and never need it.

.. versionadded:: 0.2.0
   ``sleep_until`` was ``trio_sse.sleep_until`` before; the old name is a deprecated alias
   until 0.3.0.
"""

from __future__ import annotations

from ._timer import sleep_until
from ._util import fixup_module_metadata

__all__ = ["sleep_until"]

fixup_module_metadata(__name__, __all__, globals())
del fixup_module_metadata
