"""Importing trio-sse in a fresh interpreter (a subprocess): no coredis, no warning."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_import_needs_no_coredis_and_warns_nothing() -> None:
    script = textwrap.dedent(
        """
        import sys

        import trio

        import trio_sse
        import trio_sse.client, trio_sse.lowlevel, trio_sse.metrics, trio_sse.redis
        import trio_sse.testing
        from trio_sse.redis import RedisBroadcaster, open_redis_broadcaster

        assert "coredis" not in sys.modules, "importing trio_sse.redis imported coredis"

        sys.modules["coredis"] = None  # as if the redis extra were not installed


        async def main():
            try:
                async with open_redis_broadcaster():
                    raise AssertionError("opened without coredis")
            except ImportError as exc:
                assert "pip install 'trio-sse[redis]'" in str(exc), exc
            else:
                raise AssertionError("no ImportError")


        trio.run(main)
        """
    )
    subprocess.run([sys.executable, "-W", "error", "-c", script], check=True, timeout=60)
