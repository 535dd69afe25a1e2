"""Fuzzed HTTP/2 frames after a valid preface: nothing crashes, nothing hangs, nothing leaks.

Hypothesis draws sequences of frames of every type (well-formed or nearly so: random
stream ids, flags, lengths, HPACK blocks valid or not, unknown types) and raw garbage,
and sends them over a memory stream to the whole server on a virtual clock. Every case
must end in normal service, stream resets or a GOAWAY: the server writes only
well-formed frames of the types a server sends, logs nothing at error level, counts no
handler error, and its connection task ends once the client has closed, with no stream,
producer or connection left open.
"""

from __future__ import annotations

import logging

import trio
import trio.testing
from hpack import Encoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trio_sse

from ..h2_client import PREFACE, h2_app

REQUESTS = [
    [(":method", "GET"), (":scheme", "http"), (":authority", "t"), (":path", "/")],
    [(":method", "GET"), (":scheme", "http"), (":authority", "t"), (":path", "/ticker")],
    [
        (":method", "GET"),
        (":scheme", "http"),
        (":authority", "t"),
        (":path", "/"),
        ("accept", "text/event-stream"),
    ],
    [
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", "t"),
        (":path", "/echo"),
        ("content-length", "2"),
    ],
    [(":method", "HEAD"), (":scheme", "http"), (":authority", "t"), (":path", "/big")],
    [(":method", "GET"), (":scheme", "http"), (":path", "/")],  # no :authority
    [(":method", "CONNECT"), (":authority", "t:443")],
    [(":method", "GET"), (":path", "/"), ("connection", "close")],  # malformed in HTTP/2
    [(":path", "/"), (":method", "GET"), (":scheme", "http"), (":status", "200")],
]

#: (type, the flags worth drawing) of the frame types a client may send, and some it
#: may not (PUSH_PROMISE) or that no one knows (0x0a, 0xff).
FRAME_TYPES = {
    0x0: [0x0, 0x1, 0x8, 0x9],  # DATA: END_STREAM, PADDED
    0x1: [0x5, 0x4, 0x1, 0x0, 0x25, 0xD],  # HEADERS: END_STREAM, END_HEADERS, PRIORITY
    0x2: [0x0],  # PRIORITY
    0x3: [0x0],  # RST_STREAM
    0x4: [0x0, 0x1],  # SETTINGS (ACK)
    0x5: [0x4],  # PUSH_PROMISE
    0x6: [0x0, 0x1],  # PING (ACK)
    0x7: [0x0],  # GOAWAY
    0x8: [0x0],  # WINDOW_UPDATE
    0x9: [0x0, 0x4],  # CONTINUATION (END_HEADERS)
    0xA: [0x0, 0xFF],  # unknown
    0xFF: [0x0],  # unknown
}

#: The frame types a server writes.
SERVER_FRAME_TYPES = {0x0, 0x1, 0x3, 0x4, 0x6, 0x7, 0x8}

STREAM_IDS = st.sampled_from([1, 1, 3, 3, 5, 0, 2, 7, 2**31 - 1]) | st.integers(0, 2**31 - 1)


def frame(ftype: int, flags: int, sid: int, payload: bytes) -> bytes:
    head = len(payload).to_bytes(3, "big") + bytes([ftype, flags])
    return head + sid.to_bytes(4, "big") + payload


@st.composite
def payloads(draw: st.DrawFn, ftype: int) -> bytes:
    """A payload that is right for *ftype* more often than not."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=40))  # anything at all
    u32 = st.sampled_from([0, 1, 0x8, 65535, 2**31 - 1, 2**32 - 1]) | st.integers(0, 2**32 - 1)
    if ftype in (0x1, 0x9):  # a header block (fragment)
        block = Encoder().encode(draw(st.sampled_from(REQUESTS)))
        cut = draw(st.integers(0, len(block)))
        return block if ftype == 0x1 and cut % 2 else block[cut:]
    if ftype in (0x3, 0x8):
        return draw(u32).to_bytes(4, "big")
    if ftype == 0x2:
        return draw(u32).to_bytes(4, "big") + bytes([draw(st.integers(0, 255))])
    if ftype == 0x4:
        pairs = st.tuples(st.integers(0, 8), u32)
        items = draw(st.lists(pairs, max_size=3))
        return b"".join(k.to_bytes(2, "big") + v.to_bytes(4, "big") for k, v in items)
    if ftype == 0x6:
        return draw(st.binary(min_size=8, max_size=8))
    if ftype == 0x7:
        debug = draw(st.binary(max_size=8))
        return draw(u32).to_bytes(4, "big") + draw(u32).to_bytes(4, "big") + debug
    return draw(st.binary(max_size=64))


@st.composite
def frame_sequences(draw: st.DrawFn) -> list[bytes]:
    """A few writes after the client's SETTINGS: requests on fresh streams, frames of any
    type on streams old, new or invalid, and now and then raw garbage."""
    writes = [PREFACE + frame(0x4, 0, 0, b"")]
    sid = 1  # the next new stream
    for _ in range(draw(st.integers(1, 10))):
        choice = draw(st.integers(0, 29))
        if choice == 0:
            writes.append(draw(st.binary(min_size=1, max_size=32)))
        elif choice < 12:  # a request, most often well-formed
            block = Encoder().encode(draw(st.sampled_from(REQUESTS[:5])))
            flags = draw(st.sampled_from([0x5, 0x5, 0x4, 0x1]))
            writes.append(frame(0x1, flags, sid, block))
            sid += 2
        else:
            ftype = draw(st.sampled_from(sorted(FRAME_TYPES)))
            flags = draw(st.sampled_from(FRAME_TYPES[ftype]))
            if ftype in (0x4, 0x6, 0x7):  # the connection's frames
                right = st.just(0)
            else:  # a stream's: a recent one, or the next
                right = st.sampled_from([max(1, sid - 2), max(1, sid - 4), sid])
            target = draw(right | right | STREAM_IDS)
            writes.append(frame(ftype, flags, target, draw(payloads(ftype))))
    return writes


class ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def serve_frames(writes: list[bytes]) -> tuple[bytes, trio_sse.Server]:
    """Send *writes*, let 3 virtual seconds pass, close our side; return all the server
    wrote. The server's connection task must end (a hang fails on the virtual clock)."""
    config = trio_sse.Config(max_body_bytes=64, http2_ping_interval=2, http2_ping_timeout=1)
    server = trio_sse.Server(h2_app(), config=config)
    client, server_end = trio.testing.memory_stream_pair()
    output = bytearray()

    async def read_all() -> None:
        while data := await client.receive_some(65536):
            output.extend(data)

    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server.serve_stream, server_end)
            nursery.start_soon(read_all)
            try:
                for data in writes:
                    await client.send_all(data)
                    await trio.testing.wait_all_tasks_blocked()
                await trio.sleep(3)
                await client.send_eof()
            except trio.BrokenResourceError:
                pass  # the server closed first: fine
    await client.aclose()
    return bytes(output), server


def frame_types(output: bytes) -> list[int]:
    """The types of the frames in *output*, which must be frames and nothing else."""
    types, i = [], 0
    while i < len(output):
        assert len(output) - i >= 9, output[i:]
        length = int.from_bytes(output[i : i + 3], "big")
        types.append(output[i + 3])
        i += 9 + length
    assert i == len(output)
    return types


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame_sequences())
def test_fuzzed_frames_end_in_service_resets_or_goaway(writes: list[bytes]) -> None:
    errors = ErrorRecords()
    logger = logging.getLogger("trio_sse")
    logger.addHandler(errors)
    try:
        output, server = trio.run(
            serve_frames, writes, clock=trio.testing.MockClock(autojump_threshold=0)
        )
    finally:
        logger.removeHandler(errors)
    assert errors.records == [], [r.getMessage() for r in errors.records]
    types = frame_types(output)
    assert types[:1] == [0x4], types  # the server's preface: SETTINGS
    assert set(types) <= SERVER_FRAME_TYPES, types
    stats = server.statistics()
    assert stats.handler_errors == 0
    assert stats.http2_connections_total == 1
    assert (stats.connections_open, stats.http2_streams_open) == (0, 0)
    assert (stats.event_streams_open, stats.tickers_active) == (0, 0)
