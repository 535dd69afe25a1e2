"""Soak: thousands of SSE and WebSocket clients misbehaving in waves against one server.

The issue: "thousands of SSE and WebSocket clients connecting, reading, stalling, aborting
and reconnecting for a few minutes, printing server RSS, open file descriptors, task count
and sockets in CLOSE_WAIT at the start, during and at the end. Expected: all return to
baseline; the server still answers ``GET /`` within a few milliseconds during the storm."

It starts the demo server as a subprocess (``python -m trio_sse serve --host 127.0.0.1
--port 0 --interval 0.5``) and drives it over loopback:

* ``--clients`` client slots, each a loop of cycles picked at random: read an event stream
  for a while, stall on one (stop reading), use a WebSocket and close it properly, abort a
  WebSocket, stall on a WebSocket, or send half a request head; every cycle ends with an
  RST, a FIN or a proper close, and the slot reconnects. A publisher posts 16 KiB to
  ``/publish`` twice a second, so the stalled ``/events`` readers fill their socket
  buffers and meet the server's send timeout and the broadcaster's queue limit.
* Waves: the slots run for ``--wave`` seconds, then every client aborts at once (RST), a
  pause, and the next wave.
* A separate probe process sends a plain ``GET /`` on a fresh connection every 20 ms and
  reports the latencies (p50/p99/max) of each sampling period: a separate process, so
  the load client's own event loop does not inflate the figures. After each, it sends
  one more on a kept-alive connection (``ka p50``/``ka p99``): the fresh connection
  queues behind every connection the storm left in the accept backlog, the kept-alive
  one shows the server's own responsiveness. ``cpu %`` is the server's CPU use since the
  previous sample.
* Every ``--sample-every`` seconds, and at the start and the end: the server's RSS
  (``/proc/PID/status``), open fds (``/proc/PID/fd``), threads, the gauges of ``GET
  /metrics`` (connections, event streams, tickers, WebSockets), an estimate of its Trio
  tasks (the server does not export a task count), and its port's sockets in
  ``CLOSE_WAIT`` (``/proc/net/tcp{,6}``, de-duplicated).

Bounds: the storm stops after ``--duration`` seconds (at most 900) or ``--max-cycles``
client cycles; then up to 20 s to settle and 10 s for the server to exit. Linux only;
loopback only. It raises its soft ``RLIMIT_NOFILE`` to the hard limit (the server
inherits it). Exit status 0 unless the server died or could not be reached.

Run from the repository root with the project's environment::

    .venv/bin/python benchmarks/soak.py --duration 60 --clients 2000
"""

from __future__ import annotations

import argparse
import base64
import math
import multiprocessing
import os
import random
import re
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Final

import trio
import trio_websocket
from _procfs import close_wait_on, cpu_seconds, fd_count

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

HOST: Final = "127.0.0.1"  # loopback only, by design
MAX_DURATION: Final = 900.0
SETTLE_LIMIT: Final = 20.0
SHUTDOWN_LIMIT: Final = 10.0
STARTUP_LIMIT: Final = 20.0
OP_TIMEOUT: Final = 10.0
PROBE_EVERY: Final = 0.02
PUBLISH_EVERY: Final = 0.5
PUBLISH_BYTES: Final = 16 * 1024
WAVE_PAUSE: Final = 3.0
SERVING_LINE: Final = re.compile(rb"serving on http://127\.0\.0\.1:(\d+)/")
GAUGES: Final = (
    "trio_sse_connections_open",
    "trio_sse_event_streams_open",
    "trio_sse_tickers_active",
    "trio_sse_websockets_open",
)
COUNTERS: Final = (
    "trio_sse_connections_total",
    "trio_sse_connections_rejected_total",
    "trio_sse_stream_disconnects_total",
    "trio_sse_slow_clients_dropped_total",
    "trio_sse_websockets_total",
    "trio_sse_websocket_heartbeat_timeouts_total",
    "trio_sse_handler_errors_total",
    "trio_sse_memory_trims_total",
)
KINDS: Final = {  # cycle kind: weight
    "sse-read": 30,
    "sse-stall": 15,
    "ws-read": 20,
    "ws-abort": 15,
    "ws-stall": 10,
    "half-request": 5,
    "plain-get": 5,
}


class SoakError(Exception):
    """The run cannot go on: the server died or cannot be reached."""


# -- observing the server -----------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """``VmRSS`` (KiB) and ``Threads`` from ``/proc/PID/status``."""
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "Threads"):
                found[name] = int(value.split()[0])
    return found


async def http_get(port: int, target: str, *, body: bytes | None = None) -> tuple[int, bytes]:
    """One request on a fresh connection with ``Connection: close``; (status, body)."""
    method = "GET" if body is None else "POST"
    head = f"{method} {target} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n"
    if body is not None:
        head += f"Content-Length: {len(body)}\r\n"
    with trio.fail_after(OP_TIMEOUT):
        stream = await trio.open_tcp_stream(HOST, port)
        async with stream:
            await stream.send_all(head.encode("ascii") + b"\r\n" + (body or b""))
            data = bytearray()
            while chunk := await stream.receive_some(65536):
                data += chunk
    status_line, _, rest = bytes(data).partition(b"\r\n")
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise SoakError(f"bad response to {target}: {bytes(data[:200])!r}")
    return int(parts[1]), rest.partition(b"\r\n\r\n")[2]


async def fetch_metrics(port: int) -> dict[str, float]:
    status, body = await http_get(port, "/metrics")
    if status != 200:
        raise SoakError(f"/metrics answered {status}")
    samples: dict[str, float] = {}
    for line in body.decode("utf-8").splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, _, value = line.partition(" ")
            samples[name] = float(value)
    return samples


# -- the latency probe (its own process) --------------------------------------------------


def probe_main(port: int, pipe: Connection) -> None:
    """Every PROBE_EVERY s: ``GET /`` on a new blocking socket, then on a kept-alive one.

    The fresh connection waits behind every connection the storm queued in the accept
    backlog; the kept-alive one measures only the server's own responsiveness.
    """
    latencies: list[float] = []
    kept: list[float] = []
    failures = 0
    request = f"GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode("ascii")
    again = f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode("ascii")
    persistent: socket.socket | None = None
    while True:
        if pipe.poll():
            if pipe.recv() == "stop":
                if persistent is not None:
                    persistent.close()
                return
            pipe.send((latencies, failures, kept))
            latencies, kept, failures = [], [], 0
        t0 = time.perf_counter()
        try:
            with socket.create_connection((HOST, port), timeout=OP_TIMEOUT) as sock:
                sock.sendall(request)
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
            if not data.startswith(b"HTTP/1.1 200 ") or not data.endswith(b"\r\n\r\nok"):
                failures += 1
            else:
                latencies.append((time.perf_counter() - t0) * 1000)
        except OSError:
            failures += 1
        try:
            if persistent is None:
                persistent = socket.create_connection((HOST, port), timeout=OP_TIMEOUT)
            t0 = time.perf_counter()
            persistent.sendall(again)
            data = b""
            while not data.endswith(b"\r\n\r\nok"):
                chunk = persistent.recv(65536)
                if not chunk:
                    raise OSError("closed")
                data += chunk
            kept.append((time.perf_counter() - t0) * 1000)
        except OSError:
            if persistent is not None:
                persistent.close()
            persistent = None  # (closed by the server's keep-alive timeout: reconnect)
        time.sleep(PROBE_EVERY)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# -- the clients --------------------------------------------------------------------------


@dataclass
class Tally:
    cycles: Counter[str] = field(default_factory=Counter)
    endings: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    live: int = 0  # client connections open right now

    @property
    def total_cycles(self) -> int:
        return sum(self.cycles.values())


def abort(stream: trio.SocketStream, *, reset: bool) -> None:
    """Close at once: RST (``SO_LINGER`` 0) when *reset*, else FIN then close."""
    sock = stream.socket
    try:
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    sock.close()


def ws_handshake(path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
    ).encode("ascii")


async def read_head(stream: trio.SocketStream, tally: Tally) -> tuple[int, bytes]:
    """Read a response head; return (status, bytes already read behind it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = await stream.receive_some(65536)
        if not chunk:
            raise trio.BrokenResourceError("closed before the response head")
        data += chunk
        if len(data) > 65536:
            raise SoakError("response head too large")
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    tally.statuses[status] += 1
    return status, rest


async def drain_for(stream: trio.SocketStream, seconds: float) -> None:
    with trio.move_on_after(seconds):
        while await stream.receive_some(65536):
            pass


class Client:
    def __init__(self, port: int, rng: random.Random, tally: Tally) -> None:
        self.port = port
        self.rng = rng
        self.tally = tally

    async def cycle(self) -> None:
        kind = self.rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
        self.tally.cycles[kind] += 1
        try:
            if kind == "ws-read":
                await self.ws_read()
            else:
                await self.raw(kind)
        except Exception as exc:  # counted and shown: resets of dropped clients, timeouts
            self.tally.errors[f"{kind}: {type(exc).__name__}"] += 1

    async def raw(self, kind: str) -> None:
        rng = self.rng
        with trio.fail_after(OP_TIMEOUT):
            stream = await trio.open_tcp_stream(HOST, self.port)
        self.tally.live += 1
        reset = True
        try:
            if kind == "half-request":
                await stream.send_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                await drain_for(stream, rng.uniform(1, 12))  # 408 after 10 s
                return
            if kind == "plain-get":
                await stream.send_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                with trio.fail_after(OP_TIMEOUT):
                    await read_head(stream, self.tally)
                reset = rng.random() < 0.5
                return
            if kind.startswith("sse"):
                target = "/events" if kind == "sse-stall" and rng.random() < 0.5 else "/"
                request = f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\n"
                request += "Accept: text/event-stream\r\n"
                if rng.random() < 0.3:
                    request += f"Last-Event-ID: {rng.randrange(1, 100)}\r\n"
                await stream.send_all(request.encode("ascii") + b"\r\n")
            else:
                await stream.send_all(ws_handshake("/ws"))
            with trio.fail_after(OP_TIMEOUT):
                status, _ = await read_head(stream, self.tally)
            if status not in (101, 200):
                return
            if kind.endswith("stall"):
                await trio.sleep(rng.uniform(5, 25))  # not reading
            else:
                await drain_for(stream, rng.uniform(1, 5))
                reset = rng.random() < 0.5
        finally:
            self.tally.endings["RST" if reset else "FIN"] += 1
            self.tally.live -= 1
            abort(stream, reset=reset)

    async def ws_read(self) -> None:
        url = f"ws://{HOST}:{self.port}/ws"
        with trio.fail_after(OP_TIMEOUT + 10):
            async with trio_websocket.open_websocket_url(url, connect_timeout=OP_TIMEOUT) as ws:
                self.tally.live += 1
                self.tally.statuses[101] += 1
                try:
                    await ws.send_message("echo me")
                    got = 0
                    with trio.move_on_after(self.rng.uniform(1, 4)):
                        while True:
                            await ws.get_message()
                            got += 1
                    if got == 0:
                        self.tally.errors["ws-read: no message"] += 1
                finally:
                    self.tally.live -= 1
                    self.tally.endings["WS close 1000"] += 1


async def run_slot(client: Client, stop_at: float, max_cycles: int) -> None:
    await trio.sleep(client.rng.uniform(0, 2))  # stagger the first connects
    while trio.current_time() < stop_at and client.tally.total_cycles < max_cycles:
        await client.cycle()


async def publisher(port: int, tally: Tally) -> None:
    body = b"x" * PUBLISH_BYTES
    while True:
        try:
            status, _ = await http_get(port, "/publish", body=body)
            tally.statuses[status] += 1
        except (OSError, trio.TooSlowError) as exc:
            tally.errors[f"publish: {type(exc).__name__}"] += 1
        await trio.sleep(PUBLISH_EVERY)


# -- sampling and the report --------------------------------------------------------------


@dataclass
class Sample:
    label: str
    rss_kib: int
    fds: int
    threads: int
    gauges: dict[str, float]
    counters: dict[str, float]
    close_wait: int
    probe: list[float]
    probe_failures: int
    client_live: int
    kept: list[float]
    cpu_pct: float

    @property
    def tasks_estimate(self) -> int:
        # one task per connection, one per ticker, about three per WebSocket session
        # (session body, reader host, reader; the handler is counted as the ticker-like
        # task), plus the server's fixed tasks (main, signal, accept loop, nurseries).
        g = self.gauges
        return int(
            4
            + g.get("trio_sse_connections_open", 0)
            + g.get("trio_sse_tickers_active", 0)
            + 3 * g.get("trio_sse_websockets_open", 0)
        )


HEADER: Final = (
    f"{'when':>10} {'RSS KiB':>9} {'fds':>6} {'thr':>4} {'conns':>6} {'sse':>5} {'tick':>5} "
    f"{'ws':>5} {'~tasks':>7} {'CW':>4} {'probe n':>7} {'p50 ms':>7} {'p99 ms':>7} "
    f"{'max ms':>7} {'fail':>4} {'client':>6} {'ka p50':>7} {'ka p99':>7} {'cpu %':>6}"
)


def sample_line(s: Sample) -> str:
    g = s.gauges
    return (
        f"{s.label:>10} {s.rss_kib:>9,} {s.fds:>6} {s.threads:>4} "
        f"{g.get('trio_sse_connections_open', 0):>6.0f} "
        f"{g.get('trio_sse_event_streams_open', 0):>5.0f} "
        f"{g.get('trio_sse_tickers_active', 0):>5.0f} "
        f"{g.get('trio_sse_websockets_open', 0):>5.0f} {s.tasks_estimate:>7} "
        f"{s.close_wait:>4} {len(s.probe):>7} {percentile(s.probe, 0.5):>7.2f} "
        f"{percentile(s.probe, 0.99):>7.2f} {max(s.probe, default=math.nan):>7.2f} "
        f"{s.probe_failures:>4} {s.client_live:>6} {percentile(s.kept, 0.5):>7.2f} "
        f"{percentile(s.kept, 0.99):>7.2f} {s.cpu_pct:>6.1f}"
    )


class Sampler:
    def __init__(self, pid: int, port: int, pipe: Connection, tally: Tally) -> None:
        self.pid = pid
        self.port = port
        self.pipe = pipe
        self.tally = tally
        self._last_cpu: tuple[float, float] | None = None

    async def probe_report(self) -> tuple[list[float], int, list[float]]:
        self.pipe.send("report")
        ready = await trio.to_thread.run_sync(self.pipe.poll, OP_TIMEOUT + 5)
        if not ready:
            return [], -1, []
        latencies, failures, kept = self.pipe.recv()
        return list(latencies), int(failures), list(kept)

    def cpu_pct(self) -> float:
        """The server's CPU use (user + system) since the previous sample, in %."""
        now, cpu = time.monotonic(), cpu_seconds(self.pid)
        last = self._last_cpu
        self._last_cpu = (now, cpu)
        if last is None or now <= last[0]:
            return math.nan
        return float(100 * (cpu - last[1]) / (now - last[0]))

    async def take(self, label: str) -> Sample:
        try:
            status = proc_status(self.pid)
        except FileNotFoundError:
            raise SoakError("the server process is gone") from None
        fds = fd_count(self.pid)  # before our /metrics connection opens
        metrics = await fetch_metrics(self.port)
        probe, failures, kept = await self.probe_report()
        return Sample(
            label=label,
            rss_kib=status.get("VmRSS", 0),
            fds=fds,
            threads=status.get("Threads", 0),
            gauges={name: metrics.get(name, math.nan) for name in GAUGES},
            counters={name: metrics.get(name, math.nan) for name in COUNTERS},
            close_wait=close_wait_on(self.port),
            probe=probe,
            probe_failures=failures,
            client_live=self.tally.live,
            kept=kept,
            cpu_pct=self.cpu_pct(),
        )


def idle(sample: Sample) -> bool:
    g = sample.gauges
    return (
        # the /metrics request itself and the probe's kept-alive connection
        g["trio_sse_connections_open"] <= 2
        and g["trio_sse_event_streams_open"] == 0
        and g["trio_sse_tickers_active"] == 0
        and g["trio_sse_websockets_open"] == 0
        and sample.close_wait == 0
    )


async def soak(args: argparse.Namespace, pid: int, port: int, pipe: Connection) -> int:
    tally = Tally()
    sampler = Sampler(pid, port, pipe, tally)
    rng = random.Random(args.seed)
    print(HEADER)
    await trio.sleep(1.0)  # a probe period before the first sample
    start = await sampler.take("start")
    print(sample_line(start), flush=True)
    t0 = trio.current_time()
    stop_at = t0 + args.duration
    wave = 0

    async def sample_periodically() -> None:
        while True:
            await trio.sleep(args.sample_every)
            s = await sampler.take(f"t+{trio.current_time() - t0:.0f}s")
            print(sample_line(s), flush=True)

    async with trio.open_nursery() as background:
        background.start_soon(sample_periodically)
        background.start_soon(publisher, port, tally)
        while trio.current_time() < stop_at - 2 and tally.total_cycles < args.max_cycles:
            wave += 1
            wave_end = min(stop_at, trio.current_time() + args.wave)
            before = tally.total_cycles
            async with trio.open_nursery() as slots:
                for _ in range(args.clients):
                    client = Client(port, random.Random(rng.random()), tally)
                    slots.start_soon(run_slot, client, wave_end, args.max_cycles)
                await trio.sleep_until(wave_end)
                slots.cancel_scope.cancel()  # every client aborts at once (RST)
            print(
                f"  wave {wave}: {tally.total_cycles - before} cycles by {args.clients} "
                f"clients, then all aborted at once",
                flush=True,
            )
            if trio.current_time() < stop_at - 2:
                await trio.sleep(WAVE_PAUSE)
        background.cancel_scope.cancel()
    storm_s = trio.current_time() - t0

    # settle: every client is gone; wait for the server's gauges and CLOSE_WAIT to clear
    settle_start = trio.current_time()
    end = await sampler.take("clients 0")
    print(sample_line(end), flush=True)
    with trio.move_on_after(SETTLE_LIMIT):
        while not idle(end):
            await trio.sleep(0.5)
            end = await sampler.take("settling")
    settled = trio.current_time() - settle_start
    await trio.sleep(2.0)  # a quiet probe period
    end = await sampler.take("end")
    print(sample_line(end), flush=True)

    print(
        f"storm: {storm_s:.0f} s, {wave} wave(s), {tally.total_cycles:,} client cycles "
        f"({tally.total_cycles / max(storm_s, 1e-9):,.0f}/s); by kind: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(tally.cycles.items()))
    )
    print("client endings: " + ", ".join(f"{k} {v:,}" for k, v in sorted(tally.endings.items())))
    print("statuses seen: " + ", ".join(f"{k}: {v:,}" for k, v in sorted(tally.statuses.items())))
    print(
        "client-side errors (expected: resets of dropped stalled clients, aborts mid-cycle): "
        + (", ".join(f"{k} {v:,}" for k, v in tally.errors.most_common(8)) or "none")
    )
    print(
        "server counters: "
        + ", ".join(f"{k.removeprefix('trio_sse_')} {v:,.0f}" for k, v in end.counters.items())
    )
    print(f"settled (gauges idle, no CLOSE_WAIT) {settled:.1f} s after the last client left")
    print(
        f"baseline -> end: RSS {start.rss_kib:,} -> {end.rss_kib:,} KiB "
        f"({end.rss_kib - start.rss_kib:+,}); fds {start.fds} -> {end.fds}; "
        f"connections_open {start.gauges['trio_sse_connections_open']:.0f} -> "
        f"{end.gauges['trio_sse_connections_open']:.0f} (/metrics, the kept-alive probe); "
        f"tickers {start.gauges['trio_sse_tickers_active']:.0f} -> "
        f"{end.gauges['trio_sse_tickers_active']:.0f}; websockets "
        f"{start.gauges['trio_sse_websockets_open']:.0f} -> "
        f"{end.gauges['trio_sse_websockets_open']:.0f}; CLOSE_WAIT {start.close_wait} -> "
        f"{end.close_wait}; ~tasks {start.tasks_estimate} -> {end.tasks_estimate}"
    )
    back = end.fds <= start.fds and idle(end)
    print(f"back to baseline (fds, gauges, CLOSE_WAIT): {'yes' if back else 'NO'}")
    return 0


# -- the server process -------------------------------------------------------------------


def raise_fd_limit() -> tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def start_server(
    interval: float, stderr: IO[bytes], pythonmalloc: str | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    command = [
        sys.executable,
        "-m",
        "trio_sse",
        "serve",
        "--host",
        HOST,
        "--port",
        "0",
        "--interval",
        str(interval),
        "--log-level",
        "warning",
    ]
    env = dict(os.environ)
    if pythonmalloc:
        env["PYTHONMALLOC"] = pythonmalloc
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=env)
    assert server.stdout is not None
    deadline = time.monotonic() + STARTUP_LIMIT
    line = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([server.stdout], [], [], 0.5)
        if ready:
            line = server.stdout.readline()
            if not line:
                break
            match = SERVING_LINE.search(line)
            if match:
                return server, int(match.group(1))
        if server.poll() is not None:
            break
    server.kill()
    server.wait()
    raise SoakError(f"the server did not start (last line {line!r})")


def stop_server(server: subprocess.Popen[bytes]) -> tuple[int, float]:
    t0 = time.monotonic()
    server.send_signal(signal.SIGINT)
    try:
        status = server.wait(SHUTDOWN_LIMIT)
    except subprocess.TimeoutExpired:
        server.kill()
        status = server.wait()
    return status, time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else "")
    parser.add_argument("--duration", type=float, default=120.0, help="storm seconds (<= 900)")
    parser.add_argument("--clients", type=int, default=2000, help="concurrent client slots")
    parser.add_argument("--wave", type=float, default=20.0, help="seconds per wave")
    parser.add_argument("--sample-every", type=float, default=10.0, help="seconds")
    parser.add_argument("--max-cycles", type=int, default=1_000_000, help="client cycles cap")
    parser.add_argument("--interval", type=float, default=0.5, help="demo ticker interval")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--pythonmalloc",
        default=None,
        help="PYTHONMALLOC for the server (e.g. malloc: every object in glibc's heap)",
    )
    args = parser.parse_args(argv)
    if not 0 < args.duration <= MAX_DURATION:
        parser.error(f"--duration: must be in (0, {MAX_DURATION:.0f}]")
    if not 0 < args.clients <= 20_000:
        parser.error("--clients: must be in [1, 20000]")
    soft, hard = raise_fd_limit()
    if args.clients * 2 + 200 > soft:
        print(f"warning: RLIMIT_NOFILE {soft} is tight for {args.clients} clients")

    with tempfile.TemporaryFile() as stderr:
        server, port = start_server(args.interval, stderr, args.pythonmalloc)
        print(
            f"trio-sse soak: server pid {server.pid} on {HOST}:{port} (demo ticker every "
            f"{args.interval} s); {args.clients} clients in waves of {args.wave:.0f} s for "
            f"{args.duration:.0f} s; RLIMIT_NOFILE {soft}/{hard} (inherited by the server)",
            flush=True,
        )
        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe()
        probe = ctx.Process(target=probe_main, args=(port, theirs), daemon=True)
        probe.start()
        status = 1
        try:
            limit = args.duration + SETTLE_LIMIT + 4 * OP_TIMEOUT + 30
            status = trio.run(bounded_soak, limit, args, server.pid, port, ours)
        except SoakError as exc:
            print(f"ERROR: {exc}")
        finally:
            ours.send("stop")
            probe.join(5)
            if probe.is_alive():
                probe.kill()
            cpu = os.times()
            exit_status, took = stop_server(server)
            stderr.seek(0)
            err = stderr.read()
            print(
                f"client CPU {cpu.user + cpu.system:.1f} s; server: SIGINT -> exit status "
                f"{exit_status} after {took:.2f} s; {err.count(b'Traceback')} traceback(s) "
                f"and {err.count(b' ERROR ')} ERROR line(s) on its stderr"
            )
            logged = Counter(
                line.split(" ERROR ", 1)[1][:100]
                for line in err.decode("utf-8", "replace").splitlines()
                if " ERROR " in line
            )
            causes = Counter(
                line.strip()[:120]
                for line in err.decode("utf-8", "replace").splitlines()
                if line.lstrip(" |").startswith(("trio_websocket.", "h11.", "trio."))
                or "Error: " in line
            )
            for text, count in logged.most_common(5):
                print(f"  {count:,} x ERROR {text}")
            for text, count in causes.most_common(5):
                print(f"  {count:,} x {text}")
        if exit_status != 0:
            status = 1
        return status


async def bounded_soak(
    limit: float, args: argparse.Namespace, pid: int, port: int, pipe: Connection
) -> int:
    with trio.fail_after(limit):  # the hard cap: a hang ends the run
        return await soak(args, pid, port, pipe)


if __name__ == "__main__":
    sys.exit(main())
