"""The HTTP/1.1 core over memory streams: framing, keep-alive, limits, errors."""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

import trio_sse
from trio_sse.testing import TestClient

from ..helpers import raw_pair, read_until_eof, start_client


def echo_app() -> trio_sse.Router:
    router = trio_sse.Router()

    @router.route("/", methods=None)
    async def index(request: trio_sse.Request) -> trio_sse.Response:
        return trio_sse.Response("ok")

    @router.route("/echo", methods=["POST", "PUT"])
    async def echo(request: trio_sse.Request) -> trio_sse.Response:
        return trio_sse.Response(request.body, content_type="application/octet-stream")

    @router.route("/info")
    async def info(request: trio_sse.Request) -> trio_sse.Response:
        return trio_sse.Response(
            f"{request.method} {request.path} {request.query} {request.http_version}"
        )

    @router.route("/boom")
    async def boom(request: trio_sse.Request) -> trio_sse.Response:
        raise RuntimeError("handler exploded")

    @router.route("/not-a-response")
    async def bad(request: trio_sse.Request) -> trio_sse.Response:
        return "oops"  # type: ignore[return-value]

    @router.route("/chunks")
    async def chunks(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.StreamingResponse(["a", b"b", b"", "c"], content_type="text/plain")

    @router.route("/sleep")
    async def sleep(request: trio_sse.Request) -> trio_sse.Response:
        await trio.sleep(3600)
        return trio_sse.Response("late")

    return router


async def test_keep_alive_serves_several_requests(nursery: trio.Nursery) -> None:
    server, client = await start_client(nursery, echo_app())
    for _ in range(3):
        response = await client.request("GET", "/")
        assert (response.status, response.body) == (200, b"ok")
        assert response.headers["content-length"] == "2"
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert "date" in response.headers
        assert "connection" not in response.headers
    stats = server.statistics()
    assert stats.requests_total == 3
    assert stats.connections_total == 1
    assert stats.connections_open == 1
    assert stats.responses_by_status == {200: 3}


async def test_pipelined_requests_are_answered_in_order(nursery: trio.Nursery) -> None:
    server = trio_sse.Server(echo_app())
    stream = raw_pair(nursery, server)
    await stream.send_all(
        b"GET /info?a=1 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /info?b=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    data = await read_until_eof(stream)
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert data.index(b"{'a': ['1']}") < data.index(b"{'b': ['2']}")


async def test_http10_gets_answer_and_close(nursery: trio.Nursery) -> None:
    server = trio_sse.Server(echo_app())
    stream = raw_pair(nursery, server)
    await stream.send_all(b"GET /info HTTP/1.0\r\n\r\n")
    data = await read_until_eof(stream)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"connection: close" in head.lower()
    assert body == b"GET /info {} 1.0"


async def test_head_has_length_but_no_body(nursery: trio.Nursery) -> None:
    server = trio_sse.Server(echo_app())
    stream = raw_pair(nursery, server)
    await stream.send_all(b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = await read_until_eof(stream)
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"content-length: 2" in head.lower()
    assert body == b""


async def test_not_found_and_method_not_allowed(nursery: trio.Nursery) -> None:
    _, client = await start_client(nursery, echo_app())
    missing = await client.request("GET", "/nope")
    assert missing.status == 404
    wrong = await client.request("DELETE", "/echo")
    assert wrong.status == 405
    assert wrong.headers["allow"] == "OPTIONS, POST, PUT"
    head_on_get = await client.request("HEAD", "/info")
    assert head_on_get.status == 200
    options = await client.request("OPTIONS", "/info")
    assert options.status == 204
    assert options.headers["allow"] == "GET, HEAD, OPTIONS"
    assert "content-length" not in options.headers


async def test_query_and_percent_decoded_path(nursery: trio.Nursery) -> None:
    router = trio_sse.Router()

    @router.route("/a b")
    async def spaced(request: trio_sse.Request) -> trio_sse.Response:
        return trio_sse.Response(f"{request.query_param('x')}|{request.query_param('y', 'd')}")

    _, client = await start_client(nursery, router)
    response = await client.request("GET", "/a%20b?x=1&x=2")
    assert response.text == "1|d"


async def test_request_bodies_content_length_and_chunked(nursery: trio.Nursery) -> None:
    _, client = await start_client(nursery, echo_app())
    response = await client.request("POST", "/echo", body=b"hello body")
    assert response.body == b"hello body"
    response = await client.request(
        "PUT", "/echo", headers=[("Transfer-Encoding", "chunked")], body=b"chunked!"
    )
    assert response.body == b"chunked!"


async def test_expect_100_continue(nursery: trio.Nursery) -> None:
    server = trio_sse.Server(echo_app())
    stream = raw_pair(nursery, server)
    await stream.send_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    )
    interim = await stream.receive_some(1000)
    assert interim == b"HTTP/1.1 100 \r\n\r\n"
    await stream.send_all(b"12345")
    client = TestClient(stream)
    # feed the client the rest of the exchange
    client.conn.send(
        __import__("h11").Request(method="POST", target="/echo", headers=[("Host", "x")])
    )
    head = await client.receive_head()
    assert head.status == 200
    assert await client.receive_body() == b"12345"


async def test_body_too_large_is_413_without_reading(nursery: trio.Nursery) -> None:
    config = trio_sse.Config(max_body_bytes=10)
    server = trio_sse.Server(echo_app(), config=config)
    stream = raw_pair(nursery, server)
    await stream.send_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n"
    )
    data = await read_until_eof(stream)
    assert data.startswith(
        (b"HTTP/1.1 413 Content Too Large\r\n", b"HTTP/1.1 413 Request Entity Too Large\r\n")
    )
    assert b" 100 " not in data


async def test_chunked_body_too_large_is_413(nursery: trio.Nursery) -> None:
    config = trio_sse.Config(max_body_bytes=10)
    server = trio_sse.Server(echo_app(), config=config)
    stream = raw_pair(nursery, server)
    await stream.send_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"6\r\n123456\r\n6\r\n789012\r\n0\r\n\r\n"
    )
    data = await read_until_eof(stream)
    assert data.split(b" ", 2)[1] == b"413"
    assert server.statistics().responses_by_status == {413: 1}


@pytest.mark.parametrize(
    "garbage",
    [
        b"garbage\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET / HTTP/1.1\r\n\r\n",  # no Host in HTTP/1.1
        b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
)
async def test_malformed_requests_get_400_and_server_keeps_serving(
    nursery: trio.Nursery, garbage: bytes
) -> None:
    server = trio_sse.Server(echo_app())
    stream = raw_pair(nursery, server)
    await stream.send_all(garbage)
    data = await read_until_eof(stream)
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n"), data
    assert b"connection: close" in data.lower()
    # the server is fine: another connection is served
    other = raw_pair(nursery, server)
    await other.send_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (await read_until_eof(other)).endswith(b"\r\n\r\nok")


async def test_oversized_head_in_one_read_is_431(nursery: trio.Nursery) -> None:
    server = trio_sse.Server(echo_app(), config=trio_sse.Config(max_header_bytes=1024))
    stream = raw_pair(nursery, server)
    # complete head, in a single write: h11's incomplete-event limit would not catch it
    await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n")
    data = await read_until_eof(stream)
    assert data.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")


async def test_oversized_incomplete_head_is_431(nursery: trio.Nursery) -> None:
    server = trio_sse.Server(echo_app(), config=trio_sse.Config(max_header_bytes=1024))
    stream = raw_pair(nursery, server)
    await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000)
    data = await read_until_eof(stream)
    assert data.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")


async def test_slow_head_gets_408_at_the_deadline(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(echo_app(), config=trio_sse.Config(request_head_timeout=10))
    stream = raw_pair(nursery, server)
    await stream.send_all(b"GET / HTTP/1.1\r\nHo")
    start = trio.current_time()
    data = await read_until_eof(stream)
    assert trio.current_time() - start == pytest.approx(10)
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


async def test_slow_body_gets_408(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    config = trio_sse.Config(request_body_timeout=7)
    server = trio_sse.Server(echo_app(), config=config)
    stream = raw_pair(nursery, server)
    await stream.send_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n123")
    start = trio.current_time()
    data = await read_until_eof(stream)
    assert trio.current_time() - start == pytest.approx(7)
    assert data.startswith(b"HTTP/1.1 408 ")


async def test_idle_keepalive_connection_closes_silently(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server, client = await start_client(nursery, echo_app(), trio_sse.Config(keepalive_timeout=5))
    await client.request("GET", "/")
    start = trio.current_time()
    assert await client.stream.receive_some(100) == b""  # EOF, no 408 on an idle connection
    assert trio.current_time() - start == pytest.approx(5)
    assert server.statistics().connections_open == 0


async def test_handler_exception_is_500_logged_and_server_survives(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    server, client = await start_client(nursery, echo_app())
    with caplog.at_level(logging.ERROR, logger="trio_sse"):
        response = await client.request("GET", "/boom")
    assert response.status == 500
    assert response.text == "Internal Server Error\n"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert "handler exploded" in str(errors[0].exc_info[1])
    # the same connection keeps working
    assert (await client.request("GET", "/")).status == 200
    bad = await client.request("GET", "/not-a-response")
    assert bad.status == 500
    assert server.statistics().handler_errors == 2


async def test_streaming_response_chunks(nursery: trio.Nursery) -> None:
    _, client = await start_client(nursery, echo_app())
    response = await client.request("GET", "/chunks")
    assert response.body == b"abc"
    assert response.headers["transfer-encoding"] == "chunked"
    assert (await client.request("GET", "/")).status == 200  # keep-alive after a stream


async def test_overload_gets_503_with_retry_after(nursery: trio.Nursery) -> None:
    server = trio_sse.Server(echo_app(), config=trio_sse.Config(max_connections=1))
    first = raw_pair(nursery, server)
    await first.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await first.receive_some(1000)
    second = raw_pair(nursery, server)
    data = await read_until_eof(second)
    assert data.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"retry-after: 1\r\n" in data
    assert server.statistics().connections_rejected == 1


async def test_access_log_line(nursery: trio.Nursery, caplog: pytest.LogCaptureFixture) -> None:
    _, client = await start_client(nursery, echo_app())
    with caplog.at_level(logging.INFO, logger="trio_sse.access"):
        await client.request("GET", "/info?q=1")
    (record,) = [r for r in caplog.records if r.name == "trio_sse.access"]
    assert '"GET /info?q=1 HTTP/1.1" 200' in record.getMessage()


async def test_shutdown_closes_idle_at_once_and_cancels_stuck_after_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    listener = trio_sse.testing.MemoryListener()
    server = trio_sse.Server(echo_app(), config=trio_sse.Config(shutdown_grace_period=3))
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve_listeners, [listener])
        idle = TestClient(await listener.connect())
        assert (await idle.request("GET", "/")).status == 200
        stuck = TestClient(await listener.connect())
        await stuck.send_request("GET", "/sleep")
        await trio.testing.wait_all_tasks_blocked()
        assert server.statistics().connections_open == 2
        start = trio.current_time()
        nursery.cancel_scope.cancel()
    # the nursery exited: the stuck handler was cancelled exactly at the grace deadline
    assert trio.current_time() - start == pytest.approx(3)
    assert server.statistics().connections_open == 0
    assert await idle.stream.receive_some(100) == b""
