"""HTTP/2: requests, responses, event streams, resets, flow control and shutdown.

Memory-stream tests drive the server with h2's client-side connection on the virtual
clock; the loopback tests use real clients (curl, Node's ``http2``).
"""

from __future__ import annotations

import functools
import json
import shutil
import ssl as ssl_module
from pathlib import Path
from typing import TYPE_CHECKING

import h2.errors
import h2.settings
import pytest
import trio
import trio.testing
import trustme

import trio_sse
from trio_sse.testing import MemoryListener

from .h2_client import H2TestClient, open_h2_client

if TYPE_CHECKING:
    import ssl

    import trio_websocket

SSE = [("accept", "text/event-stream")]


async def ticker(stream: trio_sse.EventStream) -> None:
    n = 0
    while True:
        n += 1
        await stream.send(trio_sse.ServerSentEvent(f"tick {n}", id=str(n)))
        await trio.sleep(1)


async def three(stream: trio_sse.EventStream) -> None:
    for n in range(1, 4):
        await trio.sleep(0.01)
        await stream.send(trio_sse.ServerSentEvent("hello", id=str(n)))


def h2_app() -> trio_sse.Router:
    router = trio_sse.Router()

    @router.route("/")
    async def index(request: trio_sse.Request) -> trio_sse.BaseResponse:
        if trio_sse.accepts_event_stream(request):
            return trio_sse.EventStreamResponse(three)
        return trio_sse.Response(f"ok {request.http_version}")

    @router.route("/ticker")
    async def ticks(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.EventStreamResponse(
            ticker, farewell=trio_sse.ServerSentEvent("bye", event="shutdown")
        )

    @router.route("/big")
    async def big(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.Response(b"x" * 200_000, headers={"keep-alive": "timeout=5"})

    @router.route("/echo", methods=["POST"])
    async def echo(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.Response(request.body + b"|" + request.headers.get("host", "").encode())

    @router.route("/chunks")
    async def chunks(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.StreamingResponse([b"a", b"b", b"c"])

    async def never(request: trio_sse.Request, ws: trio_websocket.WebSocketConnection) -> None:
        raise AssertionError("never reached over HTTP/2")

    router.websocket("/ws")(never)

    @router.route("/ws-direct")
    async def ws_direct(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.WebSocketResponse(never)

    return router


async def start(
    nursery: trio.Nursery, config: trio_sse.Config | None = None, **kwargs: object
) -> tuple[trio_sse.Server, H2TestClient]:
    server = trio_sse.Server(h2_app(), config=config)
    return server, await open_h2_client(nursery, server, **kwargs)


# -- requests and responses ---------------------------------------------------------------


async def test_get_ok(nursery: trio.Nursery, autojump_clock: trio.testing.MockClock) -> None:
    server, client = await start(nursery)
    with trio.fail_after(5):
        headers, body = await client.get("/")
    assert headers[b":status"] == b"200"
    assert body == b"ok 2"
    assert headers[b"content-length"] == b"4"
    stats = server.statistics()
    assert stats.http2_connections_total == 1
    assert stats.http2_streams_total == 1
    assert stats.http2_streams_open == 0
    assert stats.responses_by_status == {200: 1}


async def test_large_body_follows_the_windows_and_no_connection_headers(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    _, client = await start(nursery)
    with trio.fail_after(5):
        headers, body = await client.get("/big")
    assert body == b"x" * 200_000  # more than the 65535-byte initial windows
    assert b"keep-alive" not in headers
    assert b"connection" not in headers


async def test_post_body_host_and_limits(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    _, client = await start(nursery, trio_sse.Config(max_body_bytes=10))
    with trio.fail_after(5):
        _, body = await client.get("/echo", method="POST", body=b"hi")
        assert body == b"hi|test"  # :authority becomes Host
        headers, _ = await client.get("/echo", method="POST", body=b"x" * 11)
        assert headers[b":status"] == b"413"
        headers, body = await client.get("/", headers=[("x-big", "y" * 20_000)])
        assert headers[b":status"] == b"431"


async def test_streaming_response_head_and_websocket(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    _, client = await start(nursery)
    with trio.fail_after(5):
        _, body = await client.get("/chunks")
        assert body == b"abc"
        headers, body = await client.get("/", method="HEAD")
        assert (headers[b":status"], body) == (b"200", b"")
        for path in ("/ws", "/ws-direct"):  # the router's 426, or a handler's answer
            headers, body = await client.get(path)
            assert headers[b":status"] == b"501"
            assert b"HTTP/1.1" in body
            assert b"upgrade" not in headers


# -- event streams and resets ---------------------------------------------------------------


async def test_events_arrive_and_a_reset_stops_only_that_producer(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server, client = await start(nursery)
    with trio.fail_after(30):
        a = await client.request("/ticker")
        b = await client.request("/ticker")
        await client.wait_for(lambda: client.events_of(a) >= 2 and client.events_of(b) >= 2)
        assert client.headers[a][b"content-type"].startswith(b"text/event-stream")
        assert server.statistics().tickers_active == 2
        await client.reset(a)
        await trio.testing.wait_all_tasks_blocked()
        stats = server.statistics()
        assert stats.tickers_active == 1  # at once, not at the next tick
        assert stats.http2_resets_received == 1
        assert stats.http2_streams_open == 1
        assert stats.stream_disconnects == 1
        seen_a, seen_b = client.events_of(a), client.events_of(b)
        await client.wait_for(lambda: client.events_of(b) >= seen_b + 3)  # b keeps ticking
        assert client.events_of(a) == seen_a
    assert b"data: tick 5\n" in client.data[b]


async def test_peer_goaway_cancels_every_stream(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server, client = await start(nursery)
    with trio.fail_after(30):
        ids = [await client.request("/ticker") for _ in range(3)]
        await client.wait_for(lambda: all(client.events_of(s) for s in ids))
        assert server.statistics().tickers_active == 3
        client.conn.close_connection()
        await client.flush()
        await client.wait_for(lambda: client.eof)
        await trio.testing.wait_all_tasks_blocked()
    stats = server.statistics()
    assert (stats.tickers_active, stats.http2_streams_open, stats.connections_open) == (0, 0, 0)
    assert stats.stream_disconnects == 3


async def test_client_closing_the_connection_cancels_every_stream(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server, client = await start(nursery)
    with trio.fail_after(30):
        ids = [await client.request("/ticker") for _ in range(2)]
        await client.wait_for(lambda: all(client.events_of(s) for s in ids))
        await client.stream.aclose()
        await trio.testing.wait_all_tasks_blocked()
    stats = server.statistics()
    assert (stats.tickers_active, stats.http2_streams_open, stats.connections_open) == (0, 0, 0)
    assert stats.stream_disconnects == 2


# -- flow control ---------------------------------------------------------------------------


async def test_shut_window_resets_the_stream_after_send_timeout(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server, client = await start(
        nursery,
        trio_sse.Config(send_timeout=5),
        auto_ack=False,
        settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 40},
    )
    with trio.fail_after(30):
        sid = await client.request("/ticker")
        await client.wait_for(lambda: sid in client.headers)
        started = trio.current_time()
        await client.wait_for(lambda: sid in client.resets)
        # Ticks at 0 and 1 fill the 40-byte window; the one at 2 waits 5 s for more.
        assert trio.current_time() - started == pytest.approx(2 + 5)
        await trio.testing.wait_all_tasks_blocked()
    assert len(client.data[sid]) == 40  # the window, and not a byte more
    assert client.resets[sid] == h2.errors.ErrorCodes.CANCEL
    stats = server.statistics()
    assert stats.slow_clients_dropped == 1
    assert (stats.tickers_active, stats.http2_streams_open, stats.event_streams_open) == (0, 0, 0)
    # The connection itself is still served.
    with trio.fail_after(5):
        assert (await client.get("/"))[1] == b"ok 2"


# -- limits -----------------------------------------------------------------------------------


async def test_streams_beyond_the_limit_are_refused(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server, client = await start(nursery, trio_sse.Config(http2_max_concurrent_streams=2))
    with trio.fail_after(30):
        # Sent before the server's SETTINGS could be read.
        ids = [await client.request("/ticker", flush=False) for _ in range(3)]
        await client.flush()
        await client.wait_for(lambda: ids[2] in client.resets)
        assert client.resets[ids[2]] == h2.errors.ErrorCodes.REFUSED_STREAM
        await client.wait_for(lambda: min(client.events_of(ids[0]), client.events_of(ids[1])) > 0)
        assert server.statistics().tickers_active == 2
        await client.reset(ids[0])
        _, body = await client.get("/")  # room again
        assert body == b"ok 2"


# -- shutdown ---------------------------------------------------------------------------------


async def test_shutdown_sends_goaway_and_farewell(autojump_clock: trio.testing.MockClock) -> None:
    listener = MemoryListener()
    server = trio_sse.Server(h2_app(), config=trio_sse.Config(shutdown_grace_period=30))
    async with trio.open_nursery() as outer:
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve_listeners, [listener])
            client = H2TestClient(await listener.connect())
            await client.start(outer)
            with trio.fail_after(5):
                sid = await client.request("/ticker")
                await client.wait_for(lambda: client.events_of(sid) >= 1)
            start = trio.current_time()
            nursery.cancel_scope.cancel()
        assert trio.current_time() == start  # no waiting for the grace period
        with trio.fail_after(5):
            await client.wait_for(lambda: client.eof or sid in client.ended)
        assert client.goaway is not None
        assert client.goaway.error_code == h2.errors.ErrorCodes.NO_ERROR
        assert client.goaway.last_stream_id == sid
        assert sid in client.ended
        assert bytes(client.data[sid]).endswith(b"event: shutdown\ndata: bye\n\n")
        assert server.statistics().connections_open == 0
        outer.cancel_scope.cancel()


# -- protocol selection -------------------------------------------------------------------------


async def test_http11_still_served_in_cleartext(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    from trio_sse.testing import open_memory_client

    server = trio_sse.Server(h2_app())
    client = await open_memory_client(server, nursery)
    response = await client.request("GET", "/")
    assert response.body == b"ok 1.1"
    assert server.statistics().http2_connections_total == 0


async def test_http2_off_serves_http11_only(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = trio_sse.Server(h2_app(), config=trio_sse.Config(http2=False))
    client_end, server_end = trio.testing.memory_stream_pair()
    nursery.start_soon(server.serve_stream, server_end)
    await client_end.send_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    with trio.fail_after(5):
        answer = await client_end.receive_some(65536)
    assert answer.startswith(b"HTTP/1.1 505 ")  # the preface, read as HTTP/1.1
    assert server.statistics().http2_connections_total == 0


def test_config_http2_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="http2: must be a bool"):
        trio_sse.Config(http2=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="http2_max_concurrent_streams"):
        trio_sse.Config(http2_max_concurrent_streams=0)


# -- real clients on loopback -------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server_context(ca: trustme.CA, tmp_path: Path) -> ssl.SSLContext:
    cert = ca.issue_cert("localhost", "127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    return trio_sse.tls_context(certfile, keyfile)


async def curl(*args: str) -> bytes:
    result = await trio.run_process(
        ["curl", "-sS", "--max-time", "10", "--write-out", "|%{http_version}", *args],
        capture_stdout=True,
        capture_stderr=True,
    )
    return result.stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
async def test_curl_prior_knowledge(nursery: trio.Nursery) -> None:
    server = await nursery.start(functools.partial(trio_sse.serve, h2_app(), "127.0.0.1", 0))
    url = f"http://127.0.0.1:{server.port}/"
    assert await curl("--http2-prior-knowledge", url) == b"ok 2|2"
    events = await curl("--http2-prior-knowledge", "-N", "-H", "Accept: text/event-stream", url)
    assert events.count(b"data: hello\n") == 3
    assert events.endswith(b"|2")
    assert await curl(url) == b"ok 1.1|1.1"  # and HTTP/1.1 on the same port


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
async def test_curl_http2_over_tls(
    nursery: trio.Nursery, tls_server_context: ssl.SSLContext, ca: trustme.CA, tmp_path: Path
) -> None:
    server = await nursery.start(
        functools.partial(trio_sse.serve, h2_app(), "127.0.0.1", 0, ssl_context=tls_server_context)
    )
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    url = f"https://localhost:{server.port}/"
    assert await curl("--http2", "--cacert", str(cafile), url) == b"ok 2|2"
    events = await curl(
        "--http2", "-N", "--cacert", str(cafile), "-H", "Accept: text/event-stream", url
    )
    assert events.count(b"data: hello\n") == 3
    assert events.endswith(b"|2")
    assert await curl("--http1.1", "--cacert", str(cafile), url) == b"ok 1.1|1.1"
    assert server.statistics().http2_connections_total == 2


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
async def test_node_three_streams_on_one_connection_one_reset(nursery: trio.Nursery) -> None:
    config = trio_sse.Config(timer_resolution=None)
    server = await nursery.start(
        functools.partial(trio_sse.serve, fast_app(), "127.0.0.1", 0, config=config)
    )
    script = Path(__file__).parent / "js" / "h2_three_streams.js"
    with trio.fail_after(20):
        result = await trio.run_process(
            ["node", str(script), f"http://127.0.0.1:{server.port}"],
            capture_stdout=True,
            capture_stderr=True,
        )
        counts = json.loads(result.stdout)["counts"]
        assert counts[0] >= 1
        assert min(counts[1:]) >= 3
        while server.statistics().connections_open:  # the client's close reaches us
            await trio.sleep(0.01)
    stats = server.statistics()
    assert stats.http2_connections_total == 1
    assert stats.http2_streams_total == 3
    assert stats.http2_resets_received >= 1
    assert stats.tickers_active == 0


def fast_app() -> trio_sse.Router:
    router = trio_sse.Router()

    async def fast_ticker(stream: trio_sse.EventStream) -> None:
        n = 0
        while True:
            n += 1
            await stream.send(trio_sse.ServerSentEvent(f"tick {n}"))
            await trio.sleep(0.02)

    @router.route("/ticker")
    async def ticks(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.EventStreamResponse(fast_ticker)

    return router


async def test_tls_h2_with_http2_off_is_closed(
    nursery: trio.Nursery, tls_server_context: ssl.SSLContext, ca: trustme.CA
) -> None:
    server = await nursery.start(
        functools.partial(
            trio_sse.serve,
            h2_app(),
            "127.0.0.1",
            0,
            config=trio_sse.Config(http2=False),
            ssl_context=tls_server_context,
        )
    )
    context = ssl_module.create_default_context()
    ca.configure_trust(context)
    context.set_alpn_protocols(["h2"])
    tcp = await trio.open_tcp_stream("127.0.0.1", server.port)
    tls = trio.SSLStream(tcp, context, server_hostname="localhost")
    with trio.fail_after(10):
        await tls.do_handshake()
        assert tls.selected_alpn_protocol() == "h2"
        await tls.send_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        try:
            assert await tls.receive_some(100) == b""
        except trio.BrokenResourceError:
            pass
    await trio.aclose_forcefully(tls)
    assert server.statistics().http2_connections_total == 0
