"""The clients of ``stream_memory.py``: idle event streams over HTTP/1.1 and HTTP/2.

They live in a file of their own so that ``stream_memory.py`` can leave out every
allocation made with one of their frames on the stack.
"""

from __future__ import annotations

from typing import Final

import h2.config
import h2.connection
import h2.events
import h2.settings
import trio

__all__ = ["PER_CONNECTION", "open_h1", "open_h2"]

#: Streams per HTTP/2 connection (trio-sse's default SETTINGS_MAX_CONCURRENT_STREAMS).
PER_CONNECTION: Final = 100
WINDOW: Final = (1 << 31) - 1
H1_REQUEST: Final = b"GET / HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n"


async def open_h1(port: int, count: int) -> list[trio.SocketStream]:
    """*count* HTTP/1.1 event streams, each on its own connection, heads read."""
    streams = []
    for _ in range(count):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(H1_REQUEST)
        head = b""
        while b"\r\n\r\n" not in head:
            head += await stream.receive_some(65536)
        assert head.startswith(b"HTTP/1.1 200"), head[:40]
        streams.append(stream)
    return streams


async def open_h2(port: int, count: int) -> list[trio.SocketStream]:
    """*count* HTTP/2 event streams, ``PER_CONNECTION`` to a connection, heads read."""
    sockets = []
    while count > 0:
        n = min(count, PER_CONNECTION)
        count -= n
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        conn.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: WINDOW,
            },
        )
        conn.initiate_connection()
        ids = set()
        for _ in range(n):
            sid = conn.get_next_available_stream_id()
            fields = [
                (b":method", b"GET"),
                (b":scheme", b"http"),
                (b":authority", b"bench"),
                (b":path", b"/"),
                (b"accept", b"text/event-stream"),
            ]
            conn.send_headers(sid, fields, end_stream=True)
            ids.add(sid)
        await stream.send_all(conn.data_to_send())
        while ids:
            data = await stream.receive_some(65536)
            assert data, "the server closed the connection"
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    assert dict(event.headers)[b":status"] == b"200"
                    ids.discard(event.stream_id)
            if out := conn.data_to_send():
                await stream.send_all(out)
        sockets.append(stream)
    return sockets
