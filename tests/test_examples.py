"""Smoke tests of the runnable examples: each starts on port 0 and is talked to for real."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import trio

from trio_sse.testing import TestClient

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SSE = [("Accept", "text/event-stream")]


async def _start(script: str, *args: str) -> tuple[trio.Process, int]:
    proc = await trio.lowlevel.open_process(
        [sys.executable, str(EXAMPLES / script), "--host", "127.0.0.1", "--port", "0", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stderr is not None
    log = b""
    with trio.fail_after(20):
        while (match := re.search(rb"serving on http://127\.0\.0\.1:(\d+)/", log)) is None:
            chunk = await proc.stderr.receive_some(4096)
            assert chunk, f"{script} exited early: {log!r}"
            log += chunk
    return proc, int(match.group(1))


async def _stop(proc: trio.Process) -> bytes:
    assert proc.stderr is not None
    proc.send_signal(signal.SIGINT)
    rest = b""
    with trio.fail_after(20):
        while chunk := await proc.stderr.receive_some(65536):
            rest += chunk
        assert await proc.wait() == 0
    assert b"Traceback" not in rest, rest.decode()
    return rest


async def test_workerman_seed_and_the_consumer_example() -> None:
    proc, port = await _start("workerman_seed.py", "--interval", "0.1")
    try:
        client = TestClient(await trio.open_tcp_stream("127.0.0.1", port))
        assert (await client.request("GET", "/")).body == b"ok"
        await client.send_request("GET", "/", headers=SSE)
        assert (await client.receive_head()).headers["content-type"].startswith("text/event-stream")
        events = await client.receive_events(2)
        assert [(e.type, e.data) for e in events] == [("message", "hello")] * 2
        await client.aclose()
        consumer = await trio.run_process(
            [
                sys.executable,
                str(EXAMPLES / "consume_stream.py"),
                "--port",
                str(port),
                "--count",
                "3",
            ],
            capture_stdout=True,
            capture_stderr=True,
        )
        lines = consumer.stdout.decode().splitlines()
        assert len(lines) == 3
        assert all(line.endswith("message: hello") for line in lines), lines
    finally:
        await _stop(proc)


async def test_embed_example_streams_samples_and_shuts_down() -> None:
    proc, port = await _start("embed.py", "--sample-interval", "0.1")
    try:
        client = TestClient(await trio.open_tcp_stream("127.0.0.1", port))
        metrics = await client.request("GET", "/metrics")
        assert "trio_sse_connections_open 1" in metrics.text
        await client.send_request("GET", "/load", headers=SSE)
        assert (await client.receive_head()).status == 200
        events = await client.receive_events(2)
        assert len({e.last_event_id for e in events}) == 2
        await client.aclose()
    finally:
        log = await _stop(proc)
    assert b"shutting down" in log
