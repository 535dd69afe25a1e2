"""The command line, run as a real subprocess: start, serve, stream, SIGINT, exit 0.

The parser on its own is tested in ``tests/unit/test_cli.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import trio

from trio_sse.testing import TestClient


async def _start(*args: str) -> tuple[trio.Process, int, trio.abc.ReceiveStream]:
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-m", "trio_sse", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    out = b""
    with trio.fail_after(20):
        while b"serving on http://" not in out:
            chunk = await proc.stdout.receive_some(4096)
            assert chunk, f"server exited early: {out!r}"
            out += chunk
    line = next(x for x in out.decode().splitlines() if "serving on" in x)
    port = int(line.rsplit(":", 1)[1].strip("/"))
    return proc, port, proc.stderr


async def _drain(stream: trio.abc.ReceiveStream) -> bytes:
    data = b""
    while chunk := await stream.receive_some(65536):
        data += chunk
    return data


async def test_serve_streams_and_exits_cleanly_on_sigint() -> None:
    proc, port, stderr = await _start(
        "serve", "--host", "127.0.0.1", "--port", "0", "--interval", "0.2", "--grace", "2"
    )
    async with trio.open_nursery() as nursery:
        errors: list[bytes] = []

        async def collect() -> None:
            errors.append(await _drain(stderr))

        nursery.start_soon(collect)
        with trio.fail_after(20):
            client = TestClient(await trio.open_tcp_stream("127.0.0.1", port))
            assert (await client.request("GET", "/")).body == b"ok"
            sse = TestClient(await trio.open_tcp_stream("127.0.0.1", port))
            await sse.send_request("GET", "/", headers=[("Accept", "text/event-stream")])
            assert (await sse.receive_head()).status == 200
            events = await sse.receive_events(2)
            assert [(e.type, e.data, e.last_event_id) for e in events] == [
                ("message", "hello", "1"),
                ("message", "hello", "2"),
            ]
            proc.send_signal(signal.SIGINT)
            assert await proc.wait() == 0
            # the open stream was ended by the shutdown, not left hanging
            rest = await _drain(sse.stream)
            assert rest.endswith(b"0\r\n\r\n")  # terminating chunk, then EOF
            await client.aclose()
            await sse.aclose()
    log = errors[0].decode()
    assert "Traceback" not in log
    assert "SIGINT received: shutting down" in log
    assert '"GET / HTTP/1.1" 200' in log


async def test_sigterm_also_shuts_down() -> None:
    proc, _, stderr = await _start("--port", "0", "--host", "127.0.0.1")
    proc.send_signal(signal.SIGTERM)
    with trio.fail_after(20):
        assert await proc.wait() == 0
        assert b"Traceback" not in await _drain(stderr)


async def test_port_in_use_is_a_clear_error() -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    try:
        result = await trio.run_process(
            [sys.executable, "-m", "trio_sse", "serve", "--host", "127.0.0.1", "--port", str(port)],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    finally:
        await listeners[0].aclose()
    assert result.returncode == 1
    assert f"port {port} on '127.0.0.1' is already in use" in result.stderr.decode()
