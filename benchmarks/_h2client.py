"""A small HTTP/2 client for ``compare.py``'s *h2-cancel* scenario: event streams on one
cleartext connection (prior knowledge, RFC 9113 §3.3), each ended with ``RST_STREAM``.

It runs in ``compare.py``'s own process, with Trio, as the HTTP/1.1 *cancel* scenario's
client does; it drives h2's client-side state machine (h2 is a trio-sse dependency). The
idle and ticker loads over HTTP/2 come from ``loadclient.c`` (``h2streams``) instead.

Import it from a script in this folder (``from _h2client import ...``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
import trio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["H2ClientError", "H2EventStreams", "h2_cancel_samples"]

#: The connection window and every stream's: large enough never to need an update here.
WINDOW: Final = (1 << 31) - 1
REQUEST: Final = (
    (b":method", b"GET"),
    (b":scheme", b"http"),
    (b":path", b"/"),
    (b"accept", b"text/event-stream"),
)


class H2ClientError(Exception):
    """The server answered something other than an open event stream, or went away."""


class H2EventStreams:
    """One HTTP/2 connection on which event streams are opened and reset, one at a time.

    Reading happens only while waiting for a stream's response headers: the frames that
    arrived since (the reset stream's last DATA, SETTINGS, PING) are handled then.
    """

    def __init__(self, stream: trio.SocketStream, authority: str) -> None:
        self.stream = stream
        self.authority = authority.encode()
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.conn.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: WINDOW,
            },
        )

    @classmethod
    async def connect(cls, host: str, port: int) -> H2EventStreams:
        client = cls(await trio.open_tcp_stream(host, port), f"{host}:{port}")
        client.conn.initiate_connection()
        client.conn.increment_flow_control_window(WINDOW - 65535)
        await client.flush()
        return client

    async def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            await self.stream.send_all(data)

    async def open_event_stream(self) -> int:
        """Send ``GET /`` for an event stream; its stream id once ``200`` headers arrive."""
        sid = self.conn.get_next_available_stream_id()
        fields = [*REQUEST[:2], (b":authority", self.authority), *REQUEST[2:]]
        self.conn.send_headers(sid, fields, end_stream=True)
        await self.flush()
        while True:
            data = await self.stream.receive_some(65536)
            if not data:
                raise H2ClientError("the server closed the HTTP/2 connection")
            for event in self.conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == sid:
                    status = dict(event.headers).get(b":status")
                    if status != b"200":
                        raise H2ClientError(f"stream {sid}: status {status!r}")
                    await self.flush()
                    return sid
                if isinstance(event, h2.events.StreamReset) and event.stream_id == sid:
                    raise H2ClientError(f"stream {sid} reset by the server: {event.error_code}")
                if isinstance(event, h2.events.ConnectionTerminated):
                    raise H2ClientError(f"GOAWAY from the server: {event.error_code}")
            await self.flush()  # SETTINGS and PING acknowledgements

    async def reset(self, sid: int) -> None:
        """``RST_STREAM`` (``CANCEL``) for *sid*, written at once."""
        self.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        await self.flush()

    async def aclose(self) -> None:
        await self.stream.aclose()


async def h2_cancel_samples(
    host: str,
    port: int,
    samples: int,
    tickers: Callable[[], Awaitable[int]],
) -> list[float]:
    """*samples* times: open an event stream on one HTTP/2 connection, wait until
    ``tickers()`` (the server's live-ticker counter) shows 1, reset the stream, then call
    ``tickers()`` back to back until it shows 0. Returns the seconds from the reset's write
    to that answer, one per sample; each sample bounded by 10 s."""
    delays: list[float] = []
    with trio.fail_after(10.0):
        client = await H2EventStreams.connect(host, port)
    try:
        for _ in range(samples):
            with trio.fail_after(10.0):
                sid = await client.open_event_stream()
                # polling is the point: the counter lives in another process
                while await tickers() != 1:  # noqa: ASYNC110 (bounded by fail_after)
                    await trio.sleep(0.001)
                await client.reset(sid)  # RST_STREAM: the client cancels this stream only
                reset_at = trio.current_time()
                while await tickers() != 0:  # back to back, bounded by fail_after
                    pass
                delays.append(trio.current_time() - reset_at)
            await trio.sleep(0.05)
    finally:
        await client.aclose()
    return delays
