"""What the peer servers share: the command line and the live-ticker counter."""

from __future__ import annotations

import argparse
from typing import Final

HOST: Final = "127.0.0.1"  # loopback only
BACKLOG: Final = 4096  # trio's default (net.core.somaxconn); the frameworks' own are 100-2048
NO_PING: Final = 24 * 3600  # the SSE libraries' keep-alive comments: one a day, i.e. never
SSE_ACCEPT: Final = "text/event-stream"
#: HTTP/2 peers' SETTINGS_MAX_CONCURRENT_STREAMS: trio-sse's default
#: (``Config.http2_max_concurrent_streams``), hypercorn's too.
H2_MAX_CONCURRENT_STREAMS: Final = 100


def make_parser(description: str) -> argparse.ArgumentParser:
    """``--port`` and ``--interval``; a peer may add options of its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--interval", type=float, default=1.0, help="ticker interval (s)")
    return parser


def parse_args(description: str) -> argparse.Namespace:
    return make_parser(description).parse_args()


class Tickers:
    """The number of per-connection tickers running now (served on ``/ticks``)."""

    def __init__(self) -> None:
        self.active = 0

    def text(self) -> str:
        return f"tickers_active {self.active}\n"
