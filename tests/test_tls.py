"""TLS served directly: the context, the handshake and its timeout, HTTPS, SSE and wss://.

Loopback tests use real sockets and certificates made by trustme; the handshake-timeout
test runs over memory streams on the virtual clock.
"""

from __future__ import annotations

import functools
import shutil
import ssl
import subprocess
import sys
import warnings
from typing import TYPE_CHECKING

import pytest
import trio
import trio.testing
import trio_websocket
import trustme

import trio_sse
from trio_sse.testing import TestClient

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def pem_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(certfile, keyfile) for localhost and 127.0.0.1."""
    folder = tmp_path_factory.mktemp("tls")
    cert = ca.issue_cert("localhost", "127.0.0.1")
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    return certfile, keyfile


@pytest.fixture
def server_context(pem_files: tuple[Path, Path]) -> ssl.SSLContext:
    return trio_sse.tls_context(*pem_files)


@pytest.fixture
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    context.set_alpn_protocols(["http/1.1"])
    return context


async def ticker(stream: trio_sse.EventStream) -> None:
    for n in range(1, 4):
        await trio.sleep(0.01)
        await stream.send(trio_sse.ServerSentEvent("hello", event="message", id=str(n)))


def tls_app() -> trio_sse.Router:
    router = trio_sse.Router()

    @router.route("/")
    async def index(request: trio_sse.Request) -> trio_sse.BaseResponse:
        if trio_sse.accepts_event_stream(request):
            return trio_sse.EventStreamResponse(ticker)
        return trio_sse.Response("ok")

    @router.websocket("/ws")
    async def echo(request: trio_sse.Request, ws: trio_websocket.WebSocketConnection) -> None:
        while True:
            await ws.send_message(await ws.get_message())

    return router


async def open_tls_server(
    nursery: trio.Nursery, context: ssl.SSLContext, config: trio_sse.Config | None = None
) -> trio_sse.Server:
    server: trio_sse.Server = await nursery.start(
        functools.partial(
            trio_sse.serve, tls_app(), "127.0.0.1", 0, config=config, ssl_context=context
        )
    )
    return server


async def tls_client(port: int, context: ssl.SSLContext) -> trio.SSLStream[trio.SocketStream]:
    tcp = await trio.open_tcp_stream("127.0.0.1", port)
    tls = trio.SSLStream(tcp, context, server_hostname="localhost")
    await tls.do_handshake()
    return tls


# -- the context ------------------------------------------------------------------------


def test_context_is_tls12_or_later_with_alpn(server_context: ssl.SSLContext) -> None:
    assert server_context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert server_context.verify_mode is ssl.CERT_NONE  # no client certificates asked


def test_context_from_one_file(ca: trustme.CA, tmp_path: Path) -> None:
    both = tmp_path / "both.pem"
    ca.issue_cert("localhost").private_key_and_cert_chain_pem.write_to_path(str(both))
    assert isinstance(trio_sse.tls_context(both), ssl.SSLContext)


def test_missing_files_are_named(pem_files: tuple[Path, Path], tmp_path: Path) -> None:
    certfile, keyfile = pem_files
    with pytest.raises(FileNotFoundError, match=r"certfile: no such file: .*nope\.pem"):
        trio_sse.tls_context(tmp_path / "nope.pem", keyfile)
    with pytest.raises(FileNotFoundError, match=r"keyfile: no such file: .*gone\.pem"):
        trio_sse.tls_context(certfile, tmp_path / "gone.pem")


def test_mismatched_key_is_a_clear_error(
    ca: trustme.CA, pem_files: tuple[Path, Path], tmp_path: Path
) -> None:
    other = tmp_path / "other-key.pem"
    ca.issue_cert("other").private_key_pem.write_to_path(str(other))
    with pytest.raises(ValueError, match="certfile and keyfile do not match"):
        trio_sse.tls_context(pem_files[0], other)


def test_not_pem_is_a_clear_error(pem_files: tuple[Path, Path], tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ValueError, match="cannot load the certificate chain"):
        trio_sse.tls_context(junk, pem_files[1])


# -- over loopback ----------------------------------------------------------------------


async def test_https_request_and_alpn(
    nursery: trio.Nursery, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = await open_tls_server(nursery, server_context)
    tls = await tls_client(server.port, client_context)
    assert tls.selected_alpn_protocol() == "http/1.1"
    assert tls.version() in ("TLSv1.2", "TLSv1.3")
    client = TestClient(tls)
    response = await client.request("GET", "/")
    assert (response.status, response.body) == (200, b"ok")
    again = await client.request("GET", "/")  # keep-alive over TLS
    assert again.body == b"ok"
    await client.aclose()


async def test_event_stream_over_tls(
    nursery: trio.Nursery, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = await open_tls_server(nursery, server_context)
    client = TestClient(await tls_client(server.port, client_context))
    await client.send_request("GET", "/", headers=[("Accept", "text/event-stream")])
    head = await client.receive_head()
    assert head.status == 200
    assert head.headers["content-type"] == "text/event-stream; charset=utf-8"
    events = await client.receive_events(3)
    assert [(e.type, e.data, e.last_event_id) for e in events] == [
        ("message", "hello", "1"),
        ("message", "hello", "2"),
        ("message", "hello", "3"),
    ]
    await client.aclose()


async def test_websocket_over_wss(
    nursery: trio.Nursery, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = await open_tls_server(nursery, server_context)
    async with trio_websocket.open_websocket(
        "localhost", server.port, "/ws", use_ssl=client_context
    ) as ws:
        await ws.send_message("über")
        assert await ws.get_message() == "über"
        await ws.send_message(b"\x00\xff")
        assert await ws.get_message() == b"\x00\xff"
    assert server.statistics().websockets_total == 1


async def test_plain_http_client_is_dropped_and_others_served(
    nursery: trio.Nursery, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = await open_tls_server(nursery, server_context)
    plain = await trio.open_tcp_stream("127.0.0.1", server.port)
    await plain.send_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    received = b""
    with trio.fail_after(5):
        try:
            while data := await plain.receive_some(4096):
                received += data
        except trio.BrokenResourceError:
            pass
    assert b"HTTP/1.1" not in received  # no plaintext answer on a TLS port
    await plain.aclose()
    client = TestClient(await tls_client(server.port, client_context))
    assert (await client.request("GET", "/")).body == b"ok"
    await client.aclose()
    assert server.statistics().tls_handshake_failures == 1


async def test_client_without_tls12_is_refused(
    nursery: trio.Nursery, server_context: ssl.SSLContext, ca: trustme.CA
) -> None:
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(old)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 is deprecated: the point
        old.minimum_version = ssl.TLSVersion.TLSv1_1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer it at all
    server = await open_tls_server(nursery, server_context)
    tcp = await trio.open_tcp_stream("127.0.0.1", server.port)
    tls = trio.SSLStream(tcp, old, server_hostname="localhost")
    with trio.fail_after(5), pytest.raises(trio.BrokenResourceError):
        await tls.do_handshake()
    await tcp.aclose()


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
async def test_curl_over_https(
    nursery: trio.Nursery, server_context: ssl.SSLContext, ca: trustme.CA, tmp_path: Path
) -> None:
    server = await open_tls_server(nursery, server_context)
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    url = f"https://localhost:{server.port}/"
    result = await trio.run_process(
        ["curl", "-sS", "--cacert", str(cafile), url], capture_stdout=True, capture_stderr=True
    )
    assert result.stdout == b"ok"
    result = await trio.run_process(
        ["curl", "-sSN", "--cacert", str(cafile), "-H", "Accept: text/event-stream", url],
        capture_stdout=True,
        capture_stderr=True,
    )
    assert result.stdout.count(b"data: hello\n") == 3


# -- the handshake timeout, on the virtual clock -----------------------------------------


async def test_silent_peer_is_dropped_at_the_handshake_timeout(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
) -> None:
    config = trio_sse.Config(tls_handshake_timeout=5)
    server = trio_sse.Server(tls_app(), config=config, ssl_context=server_context)
    silent, server_end = trio.testing.memory_stream_pair()
    ended = trio.Event()

    async def serve_silent() -> None:
        await server.serve_stream(server_end)
        ended.set()

    start = trio.current_time()
    nursery.start_soon(serve_silent)
    # Meanwhile another client is served at once.
    good, good_end = trio.testing.memory_stream_pair()
    nursery.start_soon(server.serve_stream, good_end)
    tls = trio.SSLStream(good, client_context, server_hostname="localhost")
    client = TestClient(tls)
    assert (await client.request("GET", "/")).body == b"ok"
    assert trio.current_time() - start < 5
    await ended.wait()
    assert trio.current_time() - start == pytest.approx(5)
    assert await silent.receive_some(1) == b""  # closed without a byte
    assert server.statistics().tls_handshake_failures == 1
    await client.aclose()


# -- the command line -------------------------------------------------------------------


def test_cli_tls_errors(tmp_path: Path, pem_files: tuple[Path, Path]) -> None:
    missing = subprocess.run(
        [sys.executable, "-m", "trio_sse", "serve", "--certfile", str(tmp_path / "no.pem")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2
    assert "trio-sse: TLS: certfile: no such file" in missing.stderr
    keyonly = subprocess.run(
        [sys.executable, "-m", "trio_sse", "serve", "--keyfile", str(pem_files[1])],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert keyonly.returncode == 2
    assert "--keyfile needs --certfile" in keyonly.stderr


async def test_cli_serves_https(pem_files: tuple[Path, Path], ca: trustme.CA) -> None:
    cafile_context = ssl.create_default_context()
    ca.configure_trust(cafile_context)
    command = [
        sys.executable,
        "-m",
        "trio_sse",
        "serve",
        "--port",
        "0",
        "--host",
        "127.0.0.1",
        "--certfile",
        str(pem_files[0]),
        "--keyfile",
        str(pem_files[1]),
    ]
    async with trio.open_nursery() as nursery:
        process: trio.Process = await nursery.start(
            functools.partial(trio.run_process, command, stdout=subprocess.PIPE, check=False)
        )
        assert process.stdout is not None
        line = b""
        with trio.fail_after(30):
            while b"\n" not in line:
                line += await process.stdout.receive_some(1024)
        first = line.split(b"\n")[0].decode()
        assert " serving on https://127.0.0.1:" in first
        port = int(first.rsplit(":", 1)[1].strip("/"))
        client = TestClient(await tls_client(port, cafile_context))
        assert (await client.request("GET", "/")).body == b"ok"
        await client.aclose()
        process.terminate()
    assert process.returncode == 0
