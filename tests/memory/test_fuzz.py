"""Fuzzed request bytes and WebSocket frames: nothing crashes, nothing hangs, nothing leaks.

The fuzz tests run the whole server over memory streams with a virtual clock: every input
must end with well-formed responses (4xx for what is malformed) and a clean close, with no
error logged, no connection left open and the server task finished. The exact answers to
known malformed requests are in ``test_http_errors.py``.
"""

from __future__ import annotations

import logging
import re

import trio
import trio.testing
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import trio_sse

VALID_REQUESTS = [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /?a=1 HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc",
    b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
]

_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_STATUS_LINE = re.compile(rb"HTTP/1\.1 (\d{3}) ")
ALLOWED_STATUSES = {
    b"100",
    b"101",
    b"200",
    b"204",
    b"400",
    b"404",
    b"405",
    b"408",
    b"413",
    b"426",
    b"431",
    b"501",
    b"505",
}


def fuzz_app() -> trio_sse.Router:
    router = trio_sse.Router()

    async def few(stream: trio_sse.EventStream) -> None:
        for n in range(3):
            await trio.sleep(1)
            await stream.send(trio_sse.ServerSentEvent("tick", id=str(n)))

    @router.route("/", methods=["GET", "POST"])
    async def index(request: trio_sse.Request) -> trio_sse.BaseResponse:
        if trio_sse.accepts_event_stream(request):
            return trio_sse.EventStreamResponse(few)
        return trio_sse.Response("ok")

    @router.route("/echo", methods=["POST"])
    async def echo(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.Response(request.body)

    @router.websocket("/ws")
    async def ws(request: trio_sse.Request, conn: object) -> None:
        import trio_websocket

        assert isinstance(conn, trio_websocket.WebSocketConnection)
        try:
            while True:
                await conn.send_message(await conn.get_message())
        except trio_websocket.ConnectionClosed:
            pass

    return router


class _ErrorCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def _serve_bytes(
    chunks: list[bytes], config: trio_sse.Config
) -> tuple[bytes, trio_sse.Server]:
    server = trio_sse.Server(fuzz_app(), config=config)
    client, server_end = trio.testing.memory_stream_pair()
    output: list[bytes] = []
    with trio.fail_after(600):  # virtual seconds: generous, but a hang fails
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server.serve_stream, server_end)
            try:
                for chunk in chunks:
                    await client.send_all(chunk)
                    await trio.testing.wait_all_tasks_blocked()
                await client.send_eof()
            except trio.BrokenResourceError:
                pass  # the server closed first: fine
            while True:
                try:
                    data = await client.receive_some(65536)
                except trio.BrokenResourceError:
                    break
                if not data:
                    break
                output.append(bytes(data))
    await client.aclose()
    return b"".join(output), server


def _mutate(data: bytes, draw: st.DrawFn) -> bytes:
    buf = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "dup", "crlf"]))
        pos = draw(st.integers(0, max(0, len(buf) - 1)))
        if op == "flip" and buf:
            buf[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and buf:
            del buf[pos : pos + draw(st.integers(1, 6))]
        elif op == "dup":
            buf[pos:pos] = buf[pos : pos + draw(st.integers(1, 30))]
        elif op == "crlf":
            buf[pos:pos] = draw(st.sampled_from([b"\r\n", b"\n", b"\r", b"\r\n\r\n", b":"]))
    return bytes(buf)


@st.composite
def request_streams(draw: st.DrawFn) -> list[bytes]:
    kind = draw(st.sampled_from(["mutated", "pipelined", "random"]))
    if kind == "random":
        data = draw(st.binary(min_size=1, max_size=300))
    elif kind == "pipelined":
        picks = draw(st.lists(st.sampled_from(VALID_REQUESTS[:4]), min_size=1, max_size=3))
        data = b"".join(picks) + _mutate(draw(st.sampled_from(VALID_REQUESTS)), draw)
    else:
        data = _mutate(draw(st.sampled_from(VALID_REQUESTS)), draw)
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=4)))
    pieces, last = [], 0
    for cut in [*cuts, len(data)]:
        pieces.append(data[last:cut])
        last = cut
    return [p for p in pieces if p]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request_streams())
@example([_H2_PREFACE])  # found by hypothesis: prior-knowledge HTTP/2 is on by default
def test_fuzzed_requests_end_well_formed_and_clean(chunks: list[bytes]) -> None:
    errors = _ErrorCounter()
    logger = logging.getLogger("trio_sse")
    logger.addHandler(errors)
    try:
        config = trio_sse.Config(max_header_bytes=2048, max_body_bytes=64)
        output, server = trio.run(
            _serve_bytes, chunks, config, clock=trio.testing.MockClock(autojump_threshold=0)
        )
    finally:
        logger.removeHandler(errors)
    assert errors.records == [], [r.getMessage() for r in errors.records]
    stats = server.statistics()
    assert stats.connections_open == 0
    assert stats.tickers_active == 0
    assert stats.event_streams_open == 0
    if b"".join(chunks).startswith(_H2_PREFACE):
        # HTTP/2 with prior knowledge (on by default in cleartext): the server's
        # SETTINGS frame comes first, on stream 0; the HTTP/2 fuzz is test_http2's.
        assert output[3:4] == b"\x04", output[:80]
        assert output[5:9] == b"\x00\x00\x00\x00", output[:80]
        return
    if output:
        assert output.startswith(b"HTTP/1.1 "), output[:80]
    statuses = _STATUS_LINE.findall(output) if b"\r\n\r\n\x88" not in output else []
    assert set(statuses) <= ALLOWED_STATUSES, statuses


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=6))
def test_fuzzed_websocket_frames_after_upgrade(frames: list[bytes]) -> None:
    errors = _ErrorCounter()
    logger = logging.getLogger("trio_sse")
    logger.addHandler(errors)
    try:
        output, server = trio.run(
            _serve_bytes,
            [VALID_REQUESTS[-1], *frames],
            trio_sse.Config(),
            clock=trio.testing.MockClock(autojump_threshold=0),
        )
    finally:
        logger.removeHandler(errors)
    assert output.startswith(b"HTTP/1.1 101 ")
    assert errors.records == [], [r.getMessage() for r in errors.records]
    stats = server.statistics()
    assert stats.connections_open == 0
