"""Disconnect storm: do aborted event streams leave anything behind in a trio-sse server?

The issue: "Over real sockets: open 200 SSE connections, close them abruptly, and within
1 s the server holds no socket for them (none left in CLOSE_WAIT) and no task; after 5,000
connect/close cycles memory is flat." This script measures exactly that and prints the
figures; ``tests/loopback/test_disconnect_storm.py`` is its smaller, deterministic
counterpart.

It starts the demo server as a subprocess (``python -m trio_sse serve`` on 127.0.0.1, a
free port) and drives it from a Trio client over loopback:

(a) storm: open ``--connections`` event streams, read the first event on each, abort them
    all (half with RST, half with a plain close), then time how long until ``/metrics``
    shows ``trio_sse_connections_open 1`` (the metrics request itself) and
    ``trio_sse_tickers_active 0``, and count the server port's ``CLOSE_WAIT`` sockets in
    ``/proc/net/tcp`` 1 s after the aborts;
(b) cycles: ``--cycles`` times connect, read the first event, abort (``--batch`` at a
    time), sampling the server's RSS and open fds before, every 1,000 cycles and after.

It reports; it does not judge, except for one line: whether the RSS at the end is within
1 MiB of the RSS after the warm-up. Exit status 0, unless the server died or something
failed outright (then 1). Linux only (``/proc``). Every loop is bounded in count and time,
and the whole run stops at ``--time-limit`` seconds (results are then marked partial).

Run from the repository root with the project's environment::

    .venv/bin/python benchmarks/disconnect_storm.py
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Final

import trio
from _procfs import cpu_seconds, fd_count, rss_kib
from _procfs import tcp_states as server_side_states

HOST: Final = "127.0.0.1"  # loopback only, by design
OP_TIMEOUT: Final = 10.0  # one connect + first event, or one /metrics request
SETTLE_TIMEOUT: Final = 10.0  # waiting for the server's gauges to return to idle
SHUTDOWN_BUDGET: Final = 10.0  # SIGINT to exit, within --time-limit
REPORT_BUDGET: Final = 15.0  # the last sample and the report, within --time-limit
SAMPLE_EVERY: Final = 1000  # cycles between memory samples
RSS_TOLERANCE_KIB: Final = 1024
STARTUP_TIMEOUT: Final = 20.0
MIN_TIME_LIMIT: Final = SHUTDOWN_BUDGET + REPORT_BUDGET + STARTUP_TIMEOUT
STDERR_KEEP: Final = 64 * 1024


SSE_REQUEST: Final = f"GET / HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/event-stream\r\n\r\n".encode(
    "ascii"
)
METRICS_REQUEST: Final = (
    f"GET /metrics HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode("ascii")
)
FIRST_EVENT: Final = b"data: hello\n\n"
MAX_RESPONSE_BYTES: Final = 1024 * 1024
SERVING_LINE: Final = re.compile(rb"serving on http://127\.0\.0\.1:(\d+)/")


class BenchmarkError(Exception):
    """A hard failure: the run cannot go on (the server died, a request failed or hung)."""


# -- observing the server process ---------------------------------------------------------


# -- the load client ----------------------------------------------------------------------


async def open_event_stream(port: int) -> trio.SocketStream:
    """Connect, request ``/`` as an event stream, and read until the first event arrived."""
    with trio.fail_after(OP_TIMEOUT):
        stream = await trio.open_tcp_stream(HOST, port)
        try:
            await stream.send_all(SSE_REQUEST)
            data = b""
            while len(data) < MAX_RESPONSE_BYTES:
                chunk = await stream.receive_some(65536)
                if not chunk:
                    raise BenchmarkError(f"the server closed a stream early: {data[:200]!r}")
                data += chunk
                head, sep, body = data.partition(b"\r\n\r\n")
                if sep and not head.startswith(b"HTTP/1.1 200 "):
                    raise BenchmarkError(f"unexpected response: {head[:200]!r}")
                if sep and FIRST_EVENT in body:
                    return stream
            raise BenchmarkError("no event in the first MiB of the response")
        except BaseException:
            await trio.aclose_forcefully(stream)
            raise


def abort(stream: trio.SocketStream, *, reset: bool) -> None:
    """Close at once: with RST when *reset* (SO_LINGER 0), else FIN first, then close().

    (A plain ``close()`` with unread bytes makes Linux send RST instead of FIN, and the
    ticker keeps writing: ``shutdown(SHUT_WR)`` first puts a FIN on the wire in every case.)
    Synchronous, so a storm's closes leave together, not one per scheduling round.
    """
    sock = stream.socket
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    else:
        sock.shutdown(socket.SHUT_WR)
    sock.close()


async def open_many(port: int, count: int, streams: list[trio.SocketStream]) -> None:
    async def one() -> None:
        streams.append(await open_event_stream(port))

    async with trio.open_nursery() as nursery:
        for _ in range(count):
            nursery.start_soon(one)


def abort_all(streams: list[trio.SocketStream]) -> tuple[int, int]:
    """Abort every stream, alternating RST and FIN; return (resets, FINs)."""
    for i, stream in enumerate(streams):
        abort(stream, reset=i % 2 == 0)
    resets = (len(streams) + 1) // 2
    return resets, len(streams) - resets


async def fetch_metrics(port: int) -> dict[str, float]:
    """GET /metrics on a fresh connection; return the unlabelled samples by name."""
    with trio.fail_after(OP_TIMEOUT):
        stream = await trio.open_tcp_stream(HOST, port)
        async with stream:
            await stream.send_all(METRICS_REQUEST)
            data = b""
            while chunk := await stream.receive_some(65536):
                data += chunk
                if len(data) > MAX_RESPONSE_BYTES:
                    raise BenchmarkError("/metrics response too large")
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200 "):
        raise BenchmarkError(f"/metrics answered {head[:200]!r}")
    samples: dict[str, float] = {}
    for line in body.decode("utf-8").splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, _, value = line.partition(" ")
            samples[name] = float(value)
    return samples


def idle(metrics: dict[str, float]) -> bool:
    return (
        metrics.get("trio_sse_connections_open") == 1  # the /metrics request itself
        and metrics.get("trio_sse_tickers_active") == 0
        and metrics.get("trio_sse_event_streams_open") == 0
    )


async def wait_idle(port: int, since: float) -> tuple[float | None, dict[str, float]]:
    """Poll /metrics every 10 ms until the server is idle; return (seconds since *since*
    when it was first seen idle, or None if not within SETTLE_TIMEOUT; last metrics)."""
    metrics: dict[str, float] = {}
    with trio.move_on_at(since + SETTLE_TIMEOUT):
        while True:
            metrics = await fetch_metrics(port)
            if idle(metrics):
                return trio.current_time() - since, metrics
            await trio.sleep(0.01)
    return None, metrics


# -- the server subprocess ----------------------------------------------------------------


@dataclass
class ServerProcess:
    process: trio.Process
    port: int
    stderr_tail: bytearray
    tracebacks: int = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise BenchmarkError(f"the server exited with status {self.process.returncode}")


async def start_server(interval: float) -> ServerProcess:
    process = await trio.lowlevel.open_process(
        [
            sys.executable,
            "-m",
            "trio_sse",
            "serve",
            "--host",
            HOST,
            "--port",
            "0",
            "--interval",
            repr(interval),
            "--log-level",
            "warning",  # no access log line per request
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    assert process.stderr is not None
    out = b""
    try:
        with trio.fail_after(STARTUP_TIMEOUT):
            while (match := SERVING_LINE.search(out)) is None:
                chunk = await process.stdout.receive_some(4096)
                if not chunk:
                    err = b""
                    with trio.move_on_after(2):
                        while len(err) < STDERR_KEEP and (
                            more := await process.stderr.receive_some()
                        ):
                            err += more
                    tail = err[-2000:].decode("utf-8", "replace")
                    raise BenchmarkError(f"the server exited before serving; stderr:\n{tail}")
                out += chunk
    except BaseException:
        process.kill()
        with trio.CancelScope(shield=True):
            await process.wait()
        raise
    return ServerProcess(process, int(match.group(1)), bytearray())


async def drain(stream: trio.abc.ReceiveStream, server: ServerProcess | None) -> None:
    """Read a pipe to its end; for stderr, keep the tail and count tracebacks."""
    while chunk := await stream.receive_some(65536):
        if server is not None:
            server.tracebacks += chunk.count(b"Traceback (most recent call last)")
            server.stderr_tail += chunk
            del server.stderr_tail[:-STDERR_KEEP]


async def stop_server(server: ServerProcess) -> str:
    """SIGINT, wait for the exit (SIGKILL after SHUTDOWN_BUDGET); describe how it went."""
    process = server.process
    start = trio.current_time()
    if process.poll() is not None:
        return f"had already exited, status {process.returncode}"
    process.send_signal(signal.SIGINT)
    with trio.move_on_after(SHUTDOWN_BUDGET):
        await process.wait()
    if process.returncode is None:
        print(f"server did not exit within {SHUTDOWN_BUDGET:.0f} s of SIGINT: SIGKILL")
        process.kill()
        await process.wait()
    took = trio.current_time() - start
    return f"SIGINT -> exit status {process.returncode} after {took:.2f} s"


# -- the two phases -----------------------------------------------------------------------


async def storm(server: ServerProcess, connections: int) -> None:
    port, pid = server.port, server.pid
    print(f"(a) storm: {connections} event streams, opened at once, then aborted at once")
    fds_before = fd_count(pid)
    streams: list[trio.SocketStream] = []
    try:
        t0 = trio.current_time()
        await open_many(port, connections, streams)
        opened = trio.current_time() - t0
        metrics = await fetch_metrics(port)
        print(
            f"    opened and read the first event on {len(streams)} in {opened:.3f} s; "
            f"server: connections_open {metrics['trio_sse_connections_open']:.0f} "
            f"(incl. /metrics), tickers_active {metrics['trio_sse_tickers_active']:.0f}, "
            f"fds {fd_count(pid)} (before: {fds_before})"
        )
        t_abort = trio.current_time()
        resets, fins = abort_all(streams)
    finally:
        for stream in streams:
            await trio.aclose_forcefully(stream)
    settled, metrics = await wait_idle(port, t_abort)
    print(f"    aborted {resets} with RST, {fins} with FIN (shutdown(SHUT_WR), then close())")
    if settled is None:
        print(
            f"    NOT idle within {SETTLE_TIMEOUT:.0f} s: connections_open "
            f"{metrics.get('trio_sse_connections_open')}, tickers_active "
            f"{metrics.get('trio_sse_tickers_active')}"
        )
    else:
        print(
            f"    /metrics shows connections_open 1 (itself), tickers_active 0 after "
            f"{settled * 1000:.1f} ms (polled every 10 ms; includes the /metrics round trip)"
        )
    await trio.sleep_until(t_abort + 1.0)
    looks = []
    for _ in range(3):  # /proc/net/tcp may skip a line while other sockets come and go
        looks.append(server_side_states(port))
        await trio.sleep(0.01)
    states = max(looks, key=lambda c: (c.get("CLOSE_WAIT", 0), c.total()))
    print(
        f"    1 s after the aborts: CLOSE_WAIT sockets on the server port: "
        f"{states.get('CLOSE_WAIT', 0)}; server-side states: {dict(sorted(states.items()))}; "
        f"server fds: {fd_count(pid)}"
    )


@dataclass(frozen=True)
class Sample:
    cycles: int
    rss_kib: int
    fds: int
    elapsed: float


async def cycles_phase(
    server: ServerProcess, cycles: int, batch: int, warmup: int, deadline: float
) -> None:
    """Run the connect / first event / abort cycles until done or *deadline*; report."""
    port, pid = server.port, server.pid
    print(
        f"(b) cycles: {cycles} x (connect, read the first event, abort: RST and FIN alternate), "
        f"{batch} at a time; samples after the gauges return to idle"
    )

    async def sample(done: int) -> Sample:
        settled, metrics = await wait_idle(port, trio.current_time())
        if settled is None:
            raise BenchmarkError(f"server not idle {SETTLE_TIMEOUT:.0f} s after a batch: {metrics}")
        return Sample(done, rss_kib(pid), fd_count(pid), trio.current_time() - t0)

    t0 = trio.current_time()
    samples = [await sample(0)]
    done = 0
    next_sample = SAMPLE_EVERY
    with trio.move_on_at(deadline):
        while done < cycles:
            server.check_alive()
            streams: list[trio.SocketStream] = []
            try:
                await open_many(port, min(batch, cycles - done), streams)
                abort_all(streams)
            finally:
                for stream in streams:
                    await trio.aclose_forcefully(stream)
            done += len(streams)
            if done >= next_sample or done == cycles:
                samples.append(await sample(done))
                next_sample += SAMPLE_EVERY
    if done < cycles:
        print(f"    PARTIAL: --time-limit reached after {done} of {cycles} cycles")
        if samples[-1].cycles != done:
            samples.append(await sample(done))
    elapsed = trio.current_time() - t0

    base = samples[0].rss_kib
    print(f"    {'cycles':>7} {'RSS KiB':>9} {'vs start':>9} {'fds':>5} {'elapsed s':>10}")
    for s in samples:
        print(
            f"    {s.cycles:>7} {s.rss_kib:>9,} {s.rss_kib - base:>+9,} {s.fds:>5} "
            f"{s.elapsed:>10.2f}"
        )
    rate = done / elapsed if elapsed > 0 else 0.0
    print(f"    {done} cycles in {elapsed:.2f} s ({rate:,.0f} cycles/s, sampling included)")

    warm = next((s for s in samples if s.cycles >= warmup), samples[-1])
    last = samples[-1]
    growth = last.rss_kib - warm.rss_kib
    if last is warm:
        print(f"    too few cycles past the {warmup}-cycle warm-up to judge memory")
    else:
        verdict = "yes" if abs(growth) <= RSS_TOLERANCE_KIB else "NO"
        per_k = growth / (last.cycles - warm.cycles) * 1000
        print(
            f"    RSS after warm-up ({warm.cycles} cycles): {warm.rss_kib:,} KiB; at the end "
            f"({last.cycles}): {last.rss_kib:,} KiB; change {growth:+,} KiB "
            f"({per_k:+.1f} KiB per 1,000 cycles). Within 1 MiB of the warm-up: {verdict}"
        )
    metrics = await fetch_metrics(port)
    print(
        "    server counters: connections_total "
        f"{metrics.get('trio_sse_connections_total', 0):.0f}, stream_disconnects_total "
        f"{metrics.get('trio_sse_stream_disconnects_total', 0):.0f}, handler_errors_total "
        f"{metrics.get('trio_sse_handler_errors_total', 0):.0f}, "
        f"slow_clients_dropped_total {metrics.get('trio_sse_slow_clients_dropped_total', 0):.0f}"
    )


# -- main -----------------------------------------------------------------------------------


def describe(exc: BaseException) -> str:
    """One line for an exception; for a group, its first leaf and how many there were."""
    leaves: list[BaseException] = []
    todo = [exc]
    while todo:
        e = todo.pop()
        nested = getattr(e, "exceptions", None)  # an exception group (3.10: the backport)
        if isinstance(nested, tuple):
            todo.extend(reversed(nested))
        else:
            leaves.append(e)
    first = f"{type(leaves[0]).__name__}: {str(leaves[0])[:300]}"
    return first if len(leaves) == 1 else f"{first} (and {len(leaves) - 1} more)"


async def run(args: argparse.Namespace) -> int:
    t_start = trio.current_time()
    report_deadline = t_start + args.time_limit - SHUTDOWN_BUDGET
    work_deadline = report_deadline - REPORT_BUDGET
    cpu_start = time.process_time()
    try:
        server = await start_server(args.interval)
    except (BenchmarkError, trio.TooSlowError, OSError) as exc:
        print(f"ERROR: could not start the server: {type(exc).__name__}: {exc}")
        return 1
    status = 0
    print(
        f"trio-sse disconnect storm: server pid {server.pid} on {HOST}:{server.port}, "
        f"demo ticker every {args.interval} s; time limit {args.time_limit:.0f} s"
    )
    async with trio.open_nursery() as nursery:
        assert server.process.stdout is not None
        assert server.process.stderr is not None
        nursery.start_soon(drain, server.process.stdout, None)
        nursery.start_soon(drain, server.process.stderr, server)
        try:
            with trio.move_on_at(report_deadline) as cap:
                with trio.move_on_at(work_deadline) as storm_cap:
                    await storm(server, args.connections)
                server.check_alive()
                if storm_cap.cancelled_caught:
                    print("PARTIAL: --time-limit reached during the storm; no cycles run")
                else:
                    await cycles_phase(server, args.cycles, args.batch, args.warmup, work_deadline)
                server.check_alive()
            if cap.cancelled_caught:
                print("PARTIAL: --time-limit reached while reporting")
        except Exception as exc:  # a hard failure (possibly grouped by a nursery)
            if server.process.poll() is not None:
                print(f"ERROR: the server died (exit status {server.process.returncode})")
            print(f"ERROR: {describe(exc)}")
            status = 1
        finally:
            server_cpu = cpu_seconds(server.pid) if server.process.poll() is None else None
            with trio.CancelScope(shield=True):
                stopped = await stop_server(server)
        # the pipes reach EOF when the server has exited: the drain tasks end by themselves

    cpu = os.times()
    print(
        f"client CPU time: {time.process_time() - cpu_start:.2f} s "
        f"(user {cpu.user:.2f} s, system {cpu.system:.2f} s); "
        + (f"server CPU time: {server_cpu:.2f} s" if server_cpu is not None else "server gone")
    )
    print(
        f"server: {stopped}; "
        f"{server.tracebacks} traceback(s) on its stderr; "
        f"total wall time {trio.current_time() - t_start:.1f} s"
    )
    if server.tracebacks:
        print("--- server stderr (tail) ---")
        print(server.stderr_tail.decode("utf-8", "replace"))
    if server.process.returncode != 0:
        status = 1
    return status


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--connections", type=positive_int, default=200, help="storm size")
    parser.add_argument("--cycles", type=positive_int, default=5000, help="connect/abort cycles")
    parser.add_argument("--batch", type=positive_int, default=50, help="cycles run at once")
    parser.add_argument(
        "--warmup", type=positive_int, default=1000, help="cycles before the RSS baseline"
    )
    parser.add_argument(
        "--interval", type=positive_float, default=0.05, help="demo ticker interval, seconds"
    )
    parser.add_argument(
        "--time-limit",
        type=positive_float,
        default=120.0,
        help=f"hard cap on the whole run, seconds (at least {MIN_TIME_LIMIT:.0f})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.time_limit < MIN_TIME_LIMIT:
        build_parser().error(f"--time-limit: at least {MIN_TIME_LIMIT:.0f} s")
    if not os.path.exists("/proc/net/tcp"):
        print("this benchmark needs Linux /proc", file=sys.stderr)
        return 1
    return trio.run(run, args)


if __name__ == "__main__":
    sys.exit(main())
