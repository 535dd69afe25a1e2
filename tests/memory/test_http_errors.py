"""Malformed requests get exact error answers, and leave nothing behind (memory streams).

Every test checks the exact bytes the client receives (the ``date`` header, the only
variable part, is checked for its format and then masked) and that nothing is left behind
once the connection has ended: the server's gauges are zero, the nursery that ran the
connections has no child task left, and Trio's whole task tree is back to what it was
before the connections started. Every timing is asserted exactly, on the virtual clock
(``autojump_clock``). The hostile peers and the exact answers are in ``tests/helpers.py``.

Related tests elsewhere: ``test_http.py`` checks that the server keeps serving other
connections after each malformed request; ``test_fuzz.py`` fuzzes request bytes and
WebSocket frames; ``test_limits.py`` has the size and time limits.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

import trio_sse
from trio_sse._transport import DRAIN_TIMEOUT

from ..helpers import BAD_REQUEST, error_response, exchange, hostile_app, ok_response


# test_http.py::test_malformed_requests_get_400_and_server_keeps_serving sends some of
# these too, and checks the status line and that the server keeps serving; here: the exact
# response, when the connection closes, and that no task is left.
@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"garbage\r\n\r\n", id="request-line-one-word"),
        pytest.param(b"GET/ HTTP/1.1\r\nHost: x\r\n\r\n", id="request-line-no-spaces"),
        pytest.param(b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", id="request-line-4-parts"),
        pytest.param(b"GET / HTTP/1.1\r\nHost x\r\n\r\n", id="header-without-colon"),
        pytest.param(b"GET / HTTP/1.1\r\n: v\r\nHost: x\r\n\r\n", id="header-empty-name"),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", id="cl-not-digits"
        ),
        pytest.param(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", id="cl-neg"),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            id="cl-conflicting-fields",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!",
            id="cl-conflicting-list",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n",
            id="chunk-size-not-hex",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n",
            id="chunk-size-negative",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n",
            id="chunk-data-without-crlf",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"f" * 40
            + b"\r\n",
            id="chunk-size-40-hex-digits",
        ),
        pytest.param(b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", id="non-ascii-target"),
        pytest.param(b"G\xc3\x89T / HTTP/1.1\r\nHost: x\r\n\r\n", id="non-ascii-method"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\nX-N\xc3\xa9: v\r\n\r\n", id="non-ascii-name"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\nX-N: a\x00b\r\n\r\n", id="nul-in-value"),
    ],
)
async def test_malformed_request_gets_exact_400_and_leaves_nothing(
    autojump_clock: trio.testing.MockClock, request_bytes: bytes
) -> None:
    server = trio_sse.Server(hostile_app())
    start = trio.current_time()
    output, closed_at = await exchange(server, request_bytes)
    assert output == BAD_REQUEST
    # The answer is sent at once; the server then drains what the client still sends for
    # DRAIN_TIMEOUT (this client sends nothing more, and does not close), then closes.
    assert closed_at - start == DRAIN_TIMEOUT
    stats = server.statistics()
    assert stats.responses_by_status == {400: 1}
    assert stats.handler_errors == 0


async def test_content_length_and_chunked_together_is_rejected_and_closed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """RFC 9112 §6.1: both headers may be a smuggling attempt; the server may reject the
    request and must close the connection. The smuggled request behind it is never read."""
    server = trio_sse.Server(hostile_app())
    request = (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n"
    )
    start = trio.current_time()
    output, closed_at = await exchange(server, request + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert output == BAD_REQUEST
    assert closed_at - start == DRAIN_TIMEOUT


async def test_http_version_2_in_http1_syntax_is_505(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = trio_sse.Server(hostile_app())
    start = trio.current_time()
    output, closed_at = await exchange(server, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")
    assert output == error_response(505, b"HTTP Version Not Supported")
    assert closed_at - start == DRAIN_TIMEOUT


async def test_non_ascii_header_value_reaches_the_handler_as_latin_1(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """h11 accepts obs-text (bytes 0x80-0xFF) in field values (RFC 9110 §5.5: "historically
    allowed"); trio-sse decodes them as Latin-1, losslessly, and serves the request. (Non-
    ASCII bytes in the method, the target or a field name are 400: see the table above.)"""
    server = trio_sse.Server(hostile_app())
    request = (
        b"GET /header HTTP/1.1\r\nHost: x\r\nX-Name: caf\xc3\xa9\xff\r\nConnection: close\r\n\r\n"
    )
    start = trio.current_time()
    output, closed_at = await exchange(server, request)
    # the handler saw the UTF-8 bytes of "café" and 0xFF as Latin-1 characters
    assert output == ok_response(b"'caf\\xc3\\xa9\\xff'", close=True)
    assert closed_at == start
    assert "caf\xc3\xa9\xff".encode("latin-1") == b"caf\xc3\xa9\xff"


async def test_pipelined_garbage_after_a_valid_request(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The valid request is answered 200, the garbage behind it 400, then the connection
    closes (after the drain)."""
    server = trio_sse.Server(hostile_app())
    start = trio.current_time()
    output, closed_at = await exchange(
        server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\ngarbage\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert output == ok_response(b"ok") + BAD_REQUEST
    assert closed_at - start == DRAIN_TIMEOUT
    assert server.statistics().responses_by_status == {200: 1, 400: 1}
