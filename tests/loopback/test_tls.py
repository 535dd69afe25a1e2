"""TLS served directly, over real loopback sockets: HTTPS, SSE and wss://, clients that
speak plain HTTP or only TLS 1.1, curl, ``trio-sse serve --certfile`` and ``--self-signed``.

Certificates are made by trustme (the fixtures are in ``conftest.py``). The context's
checks are in ``tests/unit/test_tls_context.py``, the handshake timeout (on the virtual
clock) in ``tests/memory/test_tls_handshake.py``.
"""

from __future__ import annotations

import functools
import re
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

import trio_sse
from trio_sse._selfsigned import HOSTS, write_self_signed
from trio_sse.testing import TestClient

from ..helpers import running_server

if TYPE_CHECKING:
    from pathlib import Path

    import trustme


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


async def tls_client(port: int, context: ssl.SSLContext) -> trio.SSLStream[trio.SocketStream]:
    tcp = await trio.open_tcp_stream("127.0.0.1", port)
    tls = trio.SSLStream(tcp, context, server_hostname="localhost")
    await tls.do_handshake()
    return tls


# -- over loopback ----------------------------------------------------------------------


async def test_https_request_and_alpn(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    async with running_server(tls_app(), ssl_context=server_context) as server:
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
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    async with running_server(tls_app(), ssl_context=server_context) as server:
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
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    async with running_server(tls_app(), ssl_context=server_context) as server:
        async with trio_websocket.open_websocket(
            "localhost", server.port, "/ws", use_ssl=client_context
        ) as ws:
            await ws.send_message("über")
            assert await ws.get_message() == "über"
            await ws.send_message(b"\x00\xff")
            assert await ws.get_message() == b"\x00\xff"
        assert server.statistics().websockets_total == 1


async def test_plain_http_client_is_dropped_and_others_served(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    async with running_server(tls_app(), ssl_context=server_context) as server:
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
    server_context: ssl.SSLContext, ca: trustme.CA
) -> None:
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(old)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 is deprecated: the point
        old.minimum_version = ssl.TLSVersion.TLSv1_1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer it at all
    async with running_server(tls_app(), ssl_context=server_context) as server:
        tcp = await trio.open_tcp_stream("127.0.0.1", server.port)
        tls = trio.SSLStream(tcp, old, server_hostname="localhost")
        with trio.fail_after(5), pytest.raises(trio.BrokenResourceError):
            await tls.do_handshake()
        await tcp.aclose()


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
async def test_curl_over_https(
    server_context: ssl.SSLContext, ca: trustme.CA, tmp_path: Path
) -> None:
    async with running_server(tls_app(), ssl_context=server_context) as server:
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


# -- trio-sse serve --self-signed ----------------------------------------------------------


@pytest.mark.parametrize("tool", ["cryptography", "openssl"])
async def test_self_signed_certificate_is_valid_for_localhost_names(
    tool: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if tool == "openssl":
        if shutil.which("openssl") is None:
            pytest.skip("needs the openssl command line")
        monkeypatch.setitem(sys.modules, "cryptography", None)  # force the fallback
    certfile, keyfile, made_with = write_self_signed(tmp_path)
    assert made_with == tool
    assert (keyfile.stat().st_mode & 0o777) == 0o600
    monkeypatch.undo()  # the client side below may use cryptography again
    trusting = ssl.create_default_context(cafile=str(certfile))  # the certificate is its own CA
    trusting.set_alpn_protocols(["h2", "http/1.1"])
    async with running_server(
        tls_app(), ssl_context=trio_sse.tls_context(certfile, keyfile)
    ) as server:
        for name in HOSTS:  # checked against the subjectAltName, with verification on
            tcp = await trio.open_tcp_stream("127.0.0.1", server.port)
            tls = trio.SSLStream(tcp, trusting, server_hostname=name)
            await tls.do_handshake()
            assert tls.selected_alpn_protocol() == "h2"
            await tls.aclose()


@pytest.mark.parametrize("workers", [1, 2])
async def test_cli_self_signed_serves_https_and_warns(workers: int) -> None:
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE  # what "the browser warns, accept anyway" means
    unverified.set_alpn_protocols(["http/1.1"])
    command = [sys.executable, "-m", "trio_sse", "serve", "--port", "0", "--host", "127.0.0.1"]
    command += ["--self-signed", "--log-level", "warning", "--workers", str(workers)]
    async with trio.open_nursery() as nursery:
        process: trio.Process = await nursery.start(
            functools.partial(
                trio.run_process,
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                check=False,
            )
        )
        assert process.stdout is not None
        assert process.stderr is not None
        out = err = b""
        with trio.fail_after(30):
            while b"\n" not in out:
                out += await process.stdout.receive_some(1024)
            while b"\n" not in err:
                err += await process.stderr.receive_some(1024)
        first = out.split(b"\n")[0].decode()
        assert " serving on https://127.0.0.1:" in first
        assert (f"{workers} workers" in first) == (workers > 1)  # each serves the same files
        warning = err.split(b"\n")[0].decode()
        assert warning.startswith("trio-sse: warning: --self-signed: a throwaway certificate")
        assert "for testing only" in warning
        assert "browsers will warn" in warning
        where = re.search(r" in (\S+) and deleted at exit", warning)
        assert where, warning
        folder = trio.Path(where.group(1))
        assert sorted(p.name for p in await folder.iterdir()) == [
            "selfsigned-cert.pem",
            "selfsigned-key.pem",
        ]
        port = int(first.rsplit(":", 1)[1].strip("/"))
        client = TestClient(await tls_client(port, unverified))
        assert (await client.request("GET", "/")).body == b"ok"
        await client.aclose()
        process.terminate()
    assert process.returncode == 0
    assert not await folder.exists()  # removed at exit
