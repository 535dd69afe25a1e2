"""Fan-out through Redis Streams: N subscribers over 1, 2 and 4 workers.

Starts a private ``redis-server`` (loopback, no persistence) and, for each worker count,
``trio-sse serve --workers W --broker redis://...``; opens *subscribers* ``GET /events``
streams (the kernel spreads them over the workers, SO_REUSEPORT), then publishes
*events* events through ``POST /publish`` (one keep-alive client, sequentially) and
records, for every (event, subscriber), the time from sending the publish request to
receiving the event. Prints a table: publish rate (acknowledged publishes per second)
and publish-to-receive latency p50/p99. Loopback only; bounded in time.

Usage: ``python benchmarks/redis_fanout.py [--subscribers 200] [--events 200]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import trio

from trio_sse.testing import TestClient


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _start_server(workers: int, broker: str) -> tuple[trio.Process, int]:
    proc = await trio.lowlevel.open_process(
        [
            *(sys.executable, "-m", "trio_sse", "serve", "--host", "127.0.0.1", "--port", "0"),
            *("--workers", str(workers), "--broker", broker, "--log-level", "warning"),
            *("--max-connections", "5000", "--grace", "1"),
        ],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    out = b""
    with trio.fail_after(30):
        while b"serving on http://" not in out:
            chunk = await proc.stdout.receive_some(4096)
            if not chunk:
                raise RuntimeError(f"server exited: {out!r}")
            out += chunk
    line = next(x for x in out.decode().splitlines() if "serving on" in x)
    return proc, int(line.rsplit(":", 1)[1].strip("/"))


async def _round(workers: int, broker: str, subscribers: int, events: int) -> dict[str, float]:
    proc, port = await _start_server(workers, broker)
    sent: dict[str, float] = {}
    latencies: list[float] = []
    try:
        with trio.fail_after(120):
            async with trio.open_nursery() as nursery:
                ready = trio.Semaphore(0)

                async def subscriber() -> None:
                    client = TestClient(await trio.open_tcp_stream("127.0.0.1", port))
                    await client.send_request(
                        "GET", "/events", headers=[("Accept", "text/event-stream")]
                    )
                    await client.receive_head()
                    ready.release()
                    for _ in range(events):
                        (event,) = await client.receive_events(1)
                        latencies.append(time.perf_counter() - sent[event.data])
                    await client.aclose()

                for _ in range(subscribers):
                    nursery.start_soon(subscriber)
                for _ in range(subscribers):
                    await ready.acquire()
                await trio.sleep(0.2)
                publisher = TestClient(await trio.open_tcp_stream("127.0.0.1", port))
                start = time.perf_counter()
                for n in range(events):
                    key = f"e{n}"
                    sent[key] = time.perf_counter()
                    response = await publisher.request("POST", "/publish", body=key.encode())
                    assert response.status == 202, response.status
                elapsed = time.perf_counter() - start
                await publisher.aclose()
    finally:
        proc.send_signal(signal.SIGINT)
        with trio.move_on_after(15):
            await proc.wait()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return {
        "rate": events / elapsed,
        "p50": _percentile(latencies, 0.50) * 1000,
        "p99": _percentile(latencies, 0.99) * 1000,
        "deliveries": len(latencies),
    }


async def main(subscribers: int, events: int, worker_counts: list[int]) -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is needed (apt-get install redis-server)")
    with tempfile.TemporaryDirectory() as folder:
        port = _free_port()
        redis = await trio.lowlevel.open_process(
            [
                *(binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", folder),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            await trio.sleep(0.3)
            broker = f"redis://127.0.0.1:{port}/0"
            print(f"{subscribers} subscribers, {events} events published sequentially")
            print(f"{'workers':>7} {'publish/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'delivered':>10}")
            for workers in worker_counts:
                result = await _round(workers, broker, subscribers, events)
                print(
                    f"{workers:>7} {result['rate']:>10.0f} {result['p50']:>8.2f} "
                    f"{result['p99']:>8.2f} {int(result['deliveries']):>10}",
                    flush=True,
                )
        finally:
            redis.kill()
            await redis.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    options = parser.parse_args()
    trio.run(main, options.subscribers, options.events, options.workers)
