"""The Redis Streams broadcast backend, for several processes and hosts.

Needs the ``redis`` extra (``pip install 'trio-sse[redis]'``, which installs ``coredis``)
and Redis >= 6.2. Importing this module does not import ``coredis``: that happens only
when :func:`open_redis_broadcaster` is called, which raises ``ImportError`` with the
install command if it is missing.

.. versionadded:: 0.2.0
   These names were ``trio_sse.RedisBroadcaster`` and ``trio_sse.open_redis_broadcaster``
   before; the old names are deprecated aliases until 0.3.0.
"""

from __future__ import annotations

from ._redis import RedisBroadcaster, open_redis_broadcaster
from ._util import fixup_module_metadata

__all__ = ["RedisBroadcaster", "open_redis_broadcaster"]

fixup_module_metadata(__name__, __all__, globals())
del fixup_module_metadata
