"""Exporting a server's statistics to monitoring systems.

:meth:`trio_sse.Server.statistics` returns a :class:`trio_sse.ServerStatistics` snapshot;
:func:`render_prometheus` turns it into the Prometheus text exposition format, for a
``GET /metrics`` route of your application.

.. versionadded:: 0.2.0
   ``render_prometheus`` was ``trio_sse.render_prometheus`` before; the old name is a
   deprecated alias until 0.3.0.
"""

from __future__ import annotations

from ._stats import render_prometheus
from ._util import fixup_module_metadata

__all__ = ["render_prometheus"]

fixup_module_metadata(__name__, __all__, globals())
del fixup_module_metadata
