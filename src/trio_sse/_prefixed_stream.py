"""A stream that replays bytes already read before delegating to the real one.

This file does no I/O of its own: every call is passed to the wrapped stream.

Why it exists: a protocol switch (here the WebSocket upgrade) happens after h11 has read
the request, and maybe some bytes behind it, from the socket. trio-websocket reads the
handshake from its stream and has no API for a request parsed elsewhere (its issue #1),
so the connection hands it a :class:`PrefixedStream` that first returns those bytes again,
then the socket's. httpcore's ``AsyncHTTP11UpgradeStream`` has the same shape.
"""

from __future__ import annotations

import trio

__all__ = ["PrefixedStream"]


class PrefixedStream(trio.abc.Stream):
    """A ``trio.abc.Stream`` whose first received bytes are *prefix*, then *stream*'s.

    Receiving serves the prefix first, in pieces of at most ``max_bytes``, each call a
    checkpoint as the :class:`trio.abc.ReceiveStream` contract requires; once it is used
    up, calls go straight to *stream*. Sending and closing always go to *stream*.

    Args:
        stream: The stream to delegate to; closing this object closes it.
        prefix: The bytes to replay first (may be empty).
    """

    __slots__ = ("_prefix", "_receive_guard", "stream")

    def __init__(self, stream: trio.abc.Stream, prefix: bytes = b"") -> None:
        self.stream = stream
        self._prefix = memoryview(bytes(prefix))
        self._receive_guard = False

    @property
    def pending(self) -> int:
        """How many prefix bytes have not been received yet."""
        return len(self._prefix)

    def extend(self, data: bytes) -> None:
        """Queue *data* to be received after the pending prefix bytes, before the stream's."""
        if data:
            self._prefix = memoryview(bytes(self._prefix) + bytes(data))

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if max_bytes is not None:
            given: object = max_bytes  # checked at run time, as trio's own streams do
            if not isinstance(given, int) or isinstance(given, bool):
                raise TypeError("max_bytes must be an int or None")
            if max_bytes < 1:
                raise ValueError("max_bytes must be >= 1")
        if not self._prefix:
            return await self.stream.receive_some(max_bytes)
        if self._receive_guard:
            raise trio.BusyResourceError("another task is already receiving from this stream")
        self._receive_guard = True
        try:
            await trio.lowlevel.checkpoint()
        finally:
            self._receive_guard = False
        size = len(self._prefix) if max_bytes is None else min(max_bytes, len(self._prefix))
        piece = bytes(self._prefix[:size])
        self._prefix = self._prefix[size:]
        return piece

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        self._prefix = memoryview(b"")
        await self.stream.aclose()

    def __repr__(self) -> str:
        return f"<PrefixedStream {len(self._prefix)} bytes pending, over {self.stream!r}>"
