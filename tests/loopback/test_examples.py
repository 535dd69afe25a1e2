"""Smoke tests of the runnable examples: each starts on port 0 and is talked to for real."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import trio
import trio_websocket

from trio_sse.testing import TestClient

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
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


async def test_chat_example_broadcasts_and_resumes() -> None:
    proc, port = await _start("chat.py", "--history", "3")
    try:
        with trio.fail_after(30):  # a hang fails here, with a traceback
            listener = TestClient(await trio.open_tcp_stream("127.0.0.1", port))
            await listener.send_request("GET", "/stream", headers=SSE)
            head = await listener.receive_head()
            assert head.status == 200
            assert head.headers["content-type"].startswith("text/event-stream")
            # The stream starts with its retry hint; then the listener is subscribed.
            speaker = TestClient(await trio.open_tcp_stream("127.0.0.1", port))
            # The example runs in a subprocess: its subscription shows only in /stats, so
            # that is polled (bounded).
            with trio.fail_after(10):
                while json.loads((await speaker.request("GET", "/stats")).text)["subscribers"] < 1:
                    await trio.sleep(0.01)
            ids = []
            for n in range(5):
                said = await speaker.request("POST", f"/say?name=ann{n}", body=f"hi {n}".encode())
                assert said.status == 202
                ids.append(json.loads(said.text)["id"])
            assert (await speaker.request("POST", "/say", body=b"")).status == 400
            assert (await speaker.request("POST", "/say?name=a%20b", body=b"x")).status == 400
            events = await listener.receive_events(5)
            assert [e.type for e in events] == ["chat"] * 5
            assert [e.last_event_id for e in events] == ids
            assert json.loads(events[0].data) == {"name": "ann0", "text": "hi 0"}
            await listener.aclose()

            # Resume after the 3rd message: the 4th and 5th are replayed, in order.
            resumed = TestClient(await trio.open_tcp_stream("127.0.0.1", port))
            await resumed.send_request("GET", "/stream", headers=[*SSE, ("Last-Event-ID", ids[2])])
            assert (await resumed.receive_head()).status == 200
            replay = await resumed.receive_events(2)
            assert [e.last_event_id for e in replay] == ids[3:]
            await resumed.aclose()

            # Older than the 3-message history: reset "expired"; a foreign id: "unknown".
            for last_id, reason in ((ids[0], "expired"), ("elsewhere-1", "unknown")):
                stale = TestClient(await trio.open_tcp_stream("127.0.0.1", port))
                await stale.send_request(
                    "GET", "/stream", headers=[*SSE, ("Last-Event-ID", last_id)]
                )
                assert (await stale.receive_head()).status == 200
                [reset] = await stale.receive_events(1)
                assert (reset.type, reset.data, reset.last_event_id) == ("reset", reason, "")
                await stale.aclose()

            page = await speaker.request("GET", "/")
            assert page.headers["content-type"].startswith("text/html")
            assert "addEventListener('reset'" in page.text
            await speaker.aclose()
    finally:
        log = await _stop(proc)
    assert b"shutting down" in log


async def test_websocket_example_echo_chat_and_sse_on_one_port() -> None:
    proc, port = await _start("websocket.py")
    try:
        with trio.fail_after(30):  # a hang fails here, with a traceback
            async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{port}/echo") as ws:
                await ws.send_message("hi")
                assert await ws.get_message() == "hi"
                await ws.send_message(b"\x00\xff")
                assert await ws.get_message() == b"\x00\xff"

            sse = TestClient(await trio.open_tcp_stream("127.0.0.1", port))
            await sse.send_request("GET", "/events", headers=SSE)
            assert (await sse.receive_head()).status == 200
            plain = TestClient(await trio.open_tcp_stream("127.0.0.1", port))
            # until the event stream is subscribed to the room (a subprocess: only its page
            # tells, so that is polled, bounded)
            with trio.fail_after(10):
                while "1 subscriber(s)" not in (await plain.request("GET", "/")).text:
                    await trio.sleep(0.01)

            async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{port}/chat") as ws:
                await ws.send_message("hello from a socket")
                echoed = json.loads(await ws.get_message())
                assert echoed["event"] == "chat"
                assert echoed["data"] == "hello from a socket"
                [event] = await sse.receive_events(1)
                assert (event.type, event.data) == ("chat", "hello from a socket")
                assert event.last_event_id == echoed["id"]

                said = await plain.request("POST", "/say", body=b"hi from http")
                assert said.status == 202
                from_http = json.loads(await ws.get_message())
                assert from_http["data"] == "hi from http"
                assert from_http["id"] == said.text.strip()
                assert (await plain.request("GET", "/chat")).status == 426

            # Resume over the WebSocket with the query parameter.
            url = f"ws://127.0.0.1:{port}/chat?last_event_id={echoed['id']}"
            async with trio_websocket.open_websocket_url(url) as ws:
                replayed = json.loads(await ws.get_message())
                assert (replayed["id"], replayed["data"]) == (from_http["id"], "hi from http")
            await sse.aclose()
            await plain.aclose()
    finally:
        log = await _stop(proc)
    assert b"shutting down" in log
