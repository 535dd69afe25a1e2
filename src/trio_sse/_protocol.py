"""Which HTTP a connection speaks: ALPN over TLS, the HTTP/2 preface in cleartext.

After the TLS handshake (if any), :func:`open_connection` picks the driver:

* TLS with ALPN ``h2``: HTTP/2 (``_h2_connection.py``);
* otherwise, the first read decides: bytes starting with the HTTP/2 connection preface
  (``PRI * HTTP/2.0``...; "prior knowledge", RFC 9113 §3.3) go to HTTP/2, anything else
  to HTTP/1.1 (``_connection.py``). The bytes of that read are handed to the chosen
  driver, so HTTP/1.1 pays nothing for the check: the request loop would have done the
  same read, within the same request-head deadline, as its first step.

With :attr:`Config.http2 <trio_sse.Config.http2>` off, cleartext connections go straight
to HTTP/1.1 and a TLS connection that negotiated ``h2`` is closed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from ._connection import HTTPConnection
from ._h2_connection import HTTP2Connection
from ._h2_wire import PREFACE
from ._tls import ALPN_H2
from ._transport import Transport

if TYPE_CHECKING:
    from ._context import ServerContext

__all__ = ["open_connection"]

logger = logging.getLogger("trio_sse")


async def open_connection(
    context: ServerContext, stream: trio.abc.Stream, client: tuple[str, int] | None
) -> HTTPConnection | HTTP2Connection | None:
    """The connection object that serves *stream* (its ``run()`` is the caller's to await:
    this frame is gone by then, one frame fewer on every open stream's stack), or
    ``None`` when there is nothing to serve. Never raises ``Exception``.
    """
    config = context.config
    transport = Transport(stream, config.send_timeout)
    alpn = stream.selected_alpn_protocol() if isinstance(stream, trio.SSLStream) else None
    connection: HTTPConnection | HTTP2Connection
    if alpn == ALPN_H2:
        if not config.http2:
            logger.warning("closing a TLS connection that negotiated h2: Config.http2 is off")
            return None
        connection = HTTP2Connection(context, transport, client)
    elif not config.http2 or alpn is not None:
        connection = HTTPConnection(context, transport, client)
    else:
        started = trio.current_time()
        received: bytes | None = None
        try:
            # Usually the first bytes are here already: no timer then. (A deadline scope
            # stays in Trio's deadline heap until its deadline, even once exited: some
            # 230 B per connection for request_head_timeout.)
            received = transport.read_nowait()
            if received is None or _preface_begun(received):
                with trio.move_on_at(started + config.request_head_timeout):
                    if received is None:
                        received = await transport.read()
                    # (the preface split over reads: rare, and only its first bytes)
                    while _preface_begun(received):
                        more = await transport.read()
                        received += more
                        if not more:
                            break
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return None
        if received is not None and received.startswith(PREFACE):
            connection = HTTP2Connection(context, transport, client, received)
        else:
            connection = HTTPConnection(context, transport, client, received, started)
    return connection


def _preface_begun(received: bytes) -> bool:
    """Whether *received* is the start of the HTTP/2 preface, but not all of it."""
    return 0 < len(received) < len(PREFACE) and PREFACE.startswith(received)
