"""trio-sse side by side with its peers: the same job, the same scenarios, the same machine.

Servers (each a subprocess on 127.0.0.1, pinned to core 0 with ``taskset -c 0``):

* ``trio-sse``: ``python -m trio_sse serve`` (the demo's seed ticker) from the checkout this
  script is in (its ``src/`` first on ``PYTHONPATH``);
* ``trio-sse@SHA``: the same from another checkout, an earlier build to compare against
  (``--baseline PATH``, or ``--baseline-rev REV`` for a temporary ``git worktree``); every
  run checks that the server imported ``trio_sse`` from that checkout;
* ``hypercorn-trio``: hypercorn's trio worker + starlette + sse-starlette
  (``benchmarks/peers/hypercorn_trio_app.py``);
* ``uvicorn``: uvicorn with uvloop and httptools + starlette + sse-starlette
  (``benchmarks/peers/uvicorn_app.py``);
* ``uvicorn-h11``: the same with ``--http h11``: h11, trio-sse's parser, instead of
  httptools (still uvloop);
* ``aiohttp``: aiohttp + aiohttp-sse (``benchmarks/peers/aiohttp_app.py``).

Each does the seed's job: ``GET /`` accepting ``text/event-stream`` gets a per-connection
ticker (``event: message``, ``data: hello``, ``id: N``, tick n due at open + n x interval),
anything else ``ok``; each exposes its number of live tickers (trio-sse on ``/metrics``,
the peers on ``/ticks``).

The load comes from the other core (``taskset -c 1``): ``wrk`` for *plain*, a small epoll
client in C (``benchmarks/loadclient.c``, built here with ``cc -O2``) for *idle*, *ticker*
and *churn*, and this process (Trio) for *cancel*. Every run prints the load client's CPU
time next to the server's over the same span: the client must cost less.

Scenarios (every server through every scenario, A B A B ..., ``--rounds`` rounds; a fresh
server for every run):

* plain: keep-alive ``GET /`` -> ``ok``, 50 connections, 10 s: requests/s, p99;
* idle: 1,000 and 5,000 open event streams (interval 1 h): server RSS per connection
  (KiB), time to open them all (100 handshakes in flight);
* ticker: 1,000 streams at 0.1 s for 10 s: events/s against the ideal 10,000, server CPU %,
  events per server CPU-second, per-event lateness (mean, p99), drift of the last tick;
* churn: 10,000 x (connect, read the first bytes, abort: RST and FIN alternate), 50 at a
  time, after 1,000 warm-up cycles (interval 1 s): cycles/s, CLOSE_WAIT sockets after 1 s,
  RSS and fds before/after, ``GET /`` still answering;
* cancel: 20 x (open a stream, see its ticker counted, close it): how long until the
  counter shows it gone (interval 0.25 s; the counter is polled back to back);
* h2-idle, h2-ticker, h2-cancel: idle, ticker and cancel over cleartext HTTP/2 (prior
  knowledge), 100 streams a connection (``loadclient h2streams``; ``_h2client.py`` for
  h2-cancel, which ends each stream with ``RST_STREAM`` on a connection that stays open):
  KiB per stream, the ticker's measures, ms until the ticker stops. Only on the servers
  that speak HTTP/2 (trio-sse, hypercorn-trio); n/a for the others. After the table, a line
  compares trio-sse's HTTP/2 stream with its HTTP/1.1 connection.

Output: per-run lines, a table of medians with the ratio trio-sse/other (against a
``trio-sse@SHA`` build: after/before), and under
``--results-dir`` (default ``benchmarks/results/<UTC time>/``, not committed) a JSON file,
a PNG chart and the servers' logs. Loopback only; every loop is bounded in count and time;
``--time-limit`` caps the whole run (results are then marked partial).

    python benchmarks/compare.py --rounds 3 --scenarios plain,idle,ticker,churn,cancel \\
        --servers trio-sse,hypercorn-trio,uvicorn,uvicorn-h11,aiohttp
    python benchmarks/compare.py --servers trio-sse,hypercorn-trio \\
        --scenarios idle,ticker,cancel,h2-idle,h2-ticker,h2-cancel  # HTTP/2 vs HTTP/1.1
    python benchmarks/compare.py --baseline-rev main          # + trio-sse@<main's SHA>
    python benchmarks/compare.py --baseline ../old-checkout   # + trio-sse@<its HEAD>
    python benchmarks/compare.py --quick --servers trio-sse,trio-sse@base,uvicorn-h11 \\
        --baseline ../old-checkout    # smoke test: short runs, small counts, three servers

Needs the peers installed (``nox -s bench_peers`` does it: the ``bench`` dependency group),
a C compiler, ``taskset`` and Linux's ``/proc``; ``git`` for the ``trio-sse@SHA`` builds.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import json
import math
import os
import platform
import re
import resource
import select
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import trio
from _h2client import H2ClientError, h2_cancel_samples
from _procfs import close_wait_on, cpu_seconds, fd_count, rss_kib

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

HOST: Final = "127.0.0.1"  # loopback only, by design
HERE: Final = Path(__file__).resolve().parent
REPO: Final = HERE.parent  # the checkout "trio-sse" runs: the one this script is in
PEERS: Final = HERE / "peers"
SERVER_CORE: Final = "0"
CLIENT_CORE: Final = "1"
STARTUP_TIMEOUT: Final = 30.0
STOP_TIMEOUT: Final = 3.0
HTTP_TIMEOUT: Final = 5.0
NOFILE_WANTED: Final = 65536
SERVERS: Final = ("trio-sse", "hypercorn-trio", "uvicorn", "uvicorn-h11", "aiohttp")
SCENARIOS: Final = (
    "plain",
    "idle",
    "ticker",
    "churn",
    "cancel",
    "h2-idle",
    "h2-ticker",
    "h2-cancel",
)
#: Scenarios over cleartext HTTP/2 (prior knowledge): run on the servers that speak it
#: (``speaks_h2``), shown as n/a for the others.
H2_SCENARIOS: Final = frozenset({"h2-idle", "h2-ticker", "h2-cancel"})
H2_PEERS: Final = frozenset({"hypercorn-trio"})
NOT_APPLICABLE: Final = "n/a"
#: HTTP/2 stream vs HTTP/1.1 connection: a ratio within 1 +- LEVEL reads "level".
LEVEL: Final = 0.1
REFERENCE: Final = "trio-sse"
BUILD_PREFIX: Final = "trio-sse@"  # trio-sse@SHA: a --baseline / --baseline-rev build
BASELINE_ALIAS: Final = "trio-sse@base"  # in --servers: every baseline build
#: The peers: script in benchmarks/peers/ and its own options.
PEER_ARGV: Final[dict[str, tuple[str, ...]]] = {
    "hypercorn-trio": ("hypercorn_trio_app.py",),
    "uvicorn": ("uvicorn_app.py", "--http", "httptools"),
    "uvicorn-h11": ("uvicorn_app.py", "--http", "h11"),
    "aiohttp": ("aiohttp_app.py",),
}
#: trio-sse builds start as ``python -c TRIO_SSE_LAUNCH serve ...``: ``python -m trio_sse
#: serve`` (runpy, as ``-m`` does) after printing where ``trio_sse`` came from, which
#: ``running_server`` checks against the build's tree.
IMPORTED_FROM: Final = "trio_sse imported from "
TRIO_SSE_LAUNCH: Final = (
    "import runpy, trio_sse; "
    f"print({IMPORTED_FROM!r} + trio_sse.__file__, flush=True); "
    "runpy.run_module('trio_sse', run_name='__main__', alter_sys=True)"
)
IMPORT_CHECK: Final = "import trio_sse; print(trio_sse.__file__)"
TICKER_RE: Final = re.compile(rb"^(?:trio_sse_)?tickers_active (\d+)\s*$", re.MULTILINE)


class BenchError(Exception):
    """A run failed (the server did not start or died, the client failed or hung)."""


@dataclass(frozen=True)
class Sizes:
    """Counts and durations of the scenarios (the issue's, or ``--quick``'s)."""

    plain_seconds: int
    plain_connections: int
    idle_counts: tuple[int, ...]
    ticker_streams: int
    ticker_interval: float
    ticker_seconds: float
    churn_cycles: int
    churn_warmup: int
    churn_batch: int
    cancel_samples: int
    inflight: int = 100
    #: HTTP/2: streams per connection, the servers' SETTINGS_MAX_CONCURRENT_STREAMS
    h2_streams_per_connection: int = 100
    idle_interval: float = 3600.0
    churn_interval: float = 1.0
    cancel_interval: float = 0.25


FULL: Final = Sizes(
    plain_seconds=10,
    plain_connections=50,
    idle_counts=(1000, 5000),
    ticker_streams=1000,
    ticker_interval=0.1,
    ticker_seconds=10.0,
    churn_cycles=10_000,
    churn_warmup=1000,
    churn_batch=50,
    cancel_samples=20,
)
QUICK: Final = Sizes(
    plain_seconds=2,
    plain_connections=50,
    idle_counts=(200, 1000),
    ticker_streams=200,
    ticker_interval=0.1,
    ticker_seconds=3.0,
    churn_cycles=2000,
    churn_warmup=200,
    churn_batch=50,
    cancel_samples=5,
)


# -- metrics: name, unit, whether higher is better, shown in the summary ------------------


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    higher_is_better: bool
    headline: bool = True


METRICS: Final[dict[str, tuple[Metric, ...]]] = {
    "plain": (
        Metric("requests_per_s", "req/s", True),
        Metric("p99_ms", "p99 latency ms", False),
        Metric("server_cpu_pct", "server CPU %", False, headline=False),
    ),
    "idle": (
        Metric("kib_per_conn_1000", "KiB/conn @1k", False),
        Metric("kib_per_conn_5000", "KiB/conn @5k", False),
        Metric("open_s_1000", "open 1k s", False),
        Metric("open_s_5000", "open 5k s", False),
        # --quick's counts
        Metric("kib_per_conn_200", "KiB/conn @200", False),
        Metric("open_s_200", "open 200 s", False),
    ),
    "ticker": (
        Metric("pct_of_ideal", "% of ideal events/s", True),
        Metric("events_per_s", "events/s", True, headline=False),
        Metric("server_cpu_pct", "server CPU %", False),
        Metric("events_per_cpu_s", "events/CPU-s", True),
        Metric("lateness_mean_ms", "lateness mean ms", False),
        Metric("lateness_p99_ms", "lateness p99 ms", False),
        Metric("last_tick_drift_ms", "last-tick drift ms", False),
        Metric("open_s", "open s", False, headline=False),
    ),
    "churn": (
        Metric("cycles_per_s", "cycles/s", True),
        Metric("close_wait", "CLOSE_WAIT after 1 s", False),
        Metric("rss_delta_kib", "RSS after-before KiB", False),
        Metric("fds_delta", "fds after-before", False),
        Metric("get_ok", "GET / answers (1=yes)", True),
        Metric("server_cpu_pct", "server CPU %", False, headline=False),
    ),
    "cancel": (
        Metric("median_ms", "ticker outlives client ms (median)", False),
        Metric("max_ms", "max ms", False, headline=False),
    ),
    "h2-idle": (
        Metric("kib_per_stream_1000", "KiB/stream @1k", False),
        Metric("kib_per_stream_5000", "KiB/stream @5k", False),
        Metric("open_s_1000", "open 1k s", False),
        Metric("open_s_5000", "open 5k s", False),
        Metric("kib_per_stream_200", "KiB/stream @200", False),
        Metric("open_s_200", "open 200 s", False),
    ),
    "h2-cancel": (
        Metric("median_ms", "ticker outlives RST_STREAM ms (median)", False),
        Metric("max_ms", "max ms", False, headline=False),
    ),
}
METRICS["h2-ticker"] = METRICS["ticker"]  # the same measures, over HTTP/2 streams


def speaks_h2(server: str) -> bool:
    """Whether *server* serves cleartext HTTP/2 with prior knowledge: the trio-sse builds
    and hypercorn; uvicorn and aiohttp have no HTTP/2."""
    return server == REFERENCE or server.startswith(BUILD_PREFIX) or server in H2_PEERS


# -- observing a process -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def http_get(port: int, path: str, timeout: float = HTTP_TIMEOUT) -> tuple[int, bytes]:
    """One ``GET`` with ``Connection: close``: (status, body)."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(data) < 1 << 20:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.") else 0
    return status, body


# -- servers ------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    counter_path: str
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tickers(self) -> int:
        status, body = http_get(self.port, self.counter_path)
        match = TICKER_RE.search(body)
        if status != 200 or match is None:
            raise BenchError(f"{self.name}: no tickers_active on {self.counter_path}")
        return int(match.group(1))


@dataclass(frozen=True)
class ServerSpec:
    """One server of the comparison: its label and how to start it.

    ``tree`` is set for the trio-sse builds: the checkout whose ``src/`` goes first on the
    server's ``PYTHONPATH`` (this script's own for ``trio-sse``, a baseline's for
    ``trio-sse@SHA``). Every server runs with this script's interpreter and environment,
    so all builds share the installed trio, h11 and trio-websocket.
    """

    name: str
    tree: Path | None = None

    @property
    def counter_path(self) -> str:
        return "/metrics" if self.tree is not None else "/ticks"

    def argv(self, port: int, interval: float) -> list[str]:
        py = sys.executable
        common = ["--port", str(port), "--interval", repr(interval)]
        if self.tree is not None:
            serve = ["serve", "--host", HOST, *common, "--log-level", "warning"]
            return [py, "-c", TRIO_SSE_LAUNCH, *serve]
        script, *options = PEER_ARGV[self.name]
        return [py, str(PEERS / script), *common, *options]

    def shown(self) -> str:
        """The command line, as a shell would take it (``PORT`` and ``S`` for the values)."""
        argv = self.argv(0, 1.0)
        argv[argv.index("--port") + 1] = "PORT"
        argv[argv.index("--interval") + 1] = "S"
        env = f"PYTHONPATH={shlex.quote(str(self.tree / 'src'))}:... " if self.tree else ""
        return env + shlex.join(argv)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.tree is not None:
            src = str(self.tree / "src")
            old = env.get("PYTHONPATH")
            env["PYTHONPATH"] = f"{src}{os.pathsep}{old}" if old else src
        return env

    def check_origin(self, module_file: str) -> Path:
        """``module_file`` (``trio_sse.__file__``) resolved; BenchError unless in the tree."""
        assert self.tree is not None
        where = Path(module_file.strip()).resolve()
        src = (self.tree / "src").resolve()
        if not where.is_relative_to(src):
            raise BenchError(f"{self.name}: imported trio_sse from {where}, not from {src}")
        return where


def imported_from(spec: ServerSpec, cwd: Path) -> Path:
    """Where a child started like ``spec``'s servers (interpreter, environment, working
    directory) imports ``trio_sse`` from; BenchError unless from ``spec.tree``."""
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_CHECK],
        env=spec.env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if out.returncode != 0 or not out.stdout.strip():
        raise BenchError(f"{spec.name}: cannot import trio_sse: {out.stderr.strip()[-500:]}")
    return spec.check_origin(out.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def running_server(spec: ServerSpec, interval: float, logdir: Path, tag: str) -> Iterator[Server]:
    name = spec.name
    port = free_port()
    log = logdir / f"{tag}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, *spec.argv(port, interval)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=spec.env(),
            cwd=logdir,  # nothing importable there: PYTHONPATH decides which trio_sse
        )
    server = Server(name, proc, port, spec.counter_path, log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if not server.alive():
                raise BenchError(f"{name} exited at startup: see {log}")
            try:
                if http_get(port, "/", timeout=1.0) == (200, b"ok"):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"{name} did not answer GET / within {STARTUP_TIMEOUT} s")
            time.sleep(0.05)
        if spec.tree is not None:  # this very process: which trio_sse did it import?
            text = log.read_text(errors="replace")
            found = re.search(f"^{re.escape(IMPORTED_FROM)}(.+)$", text, re.MULTILINE)
            if found is None:
                raise BenchError(f"{name}: no {IMPORTED_FROM!r} line in {log}")
            spec.check_origin(found.group(1))
        yield server
        if not server.alive():
            raise BenchError(f"{name} died during the run: see {log}")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT)


# -- trio-sse builds: this checkout and the baselines -----------------------------------


@dataclass(frozen=True)
class Build:
    """A trio-sse checkout run as a server, and where its servers import trio_sse from."""

    spec: ServerSpec
    origin: str  # "this checkout", "--baseline PATH" or "--baseline-rev REV"
    commit: str
    dirty: bool  # uncommitted changes under src/: the build is not exactly ``commit``
    imports_from: Path

    def describe(self) -> str:
        changes = ", with uncommitted changes in src/" if self.dirty else ""
        return (
            f"{self.spec.name}: {self.origin}: {self.spec.tree} at {self.commit[:12]}{changes}; "
            f"imports {self.imports_from}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "tree": str(self.spec.tree),
            "commit": self.commit,
            "dirty": self.dirty,
            "imports_from": str(self.imports_from),
        }


def git(tree: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(tree), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"git -C {tree} {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def make_build(name: str | None, tree: Path, origin: str, cwd: Path) -> Build:
    """Describe ``tree`` (``name`` None: ``trio-sse@<short SHA of its HEAD>``) and check that
    a server started from it imports its ``src/trio_sse``."""
    tree = tree.resolve()
    if not (tree / "src" / "trio_sse" / "__init__.py").is_file():
        raise BenchError(f"{tree}: no src/trio_sse/__init__.py (not a trio-sse checkout)")
    try:
        short = git(tree, "rev-parse", "--short", "HEAD")
        commit = git(tree, "rev-parse", "HEAD")
        dirty = bool(git(tree, "status", "--porcelain", "--", "src"))
    except (BenchError, OSError, subprocess.SubprocessError):
        if name is None:  # a baseline is named after its commit: it needs one
            raise
        commit, dirty = "unknown (not a git checkout)", False
    else:
        name = name or BUILD_PREFIX + short
    spec = ServerSpec(name, tree)
    return Build(spec, origin, commit, dirty, imported_from(spec, cwd))


@contextlib.contextmanager
def temporary_worktree(rev: str) -> Iterator[Path]:
    """A detached ``git worktree`` of ``rev`` (this script's repository) in a temporary
    folder, removed (``git worktree remove --force``) when the run ends."""
    if rev.startswith("-"):
        raise BenchError(f"--baseline-rev {rev!r}: not a revision")
    try:
        commit = git(REPO, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except BenchError:
        raise BenchError(f"--baseline-rev {rev}: no such commit in {REPO}") from None
    parent = Path(tempfile.mkdtemp(prefix="trio-sse-baseline-"))
    tree = parent / f"trio-sse-{commit[:12]}"
    try:
        git(REPO, "worktree", "add", "--detach", "--quiet", str(tree), commit)
        yield tree
    finally:
        try:
            if tree.exists():
                git(REPO, "worktree", "remove", "--force", str(tree))
            parent.rmdir()
        except (BenchError, OSError, subprocess.SubprocessError) as e:
            print(f"WARNING: could not remove the temporary worktree {tree}: {e}", file=sys.stderr)
            print(
                f"  remove it with: git -C {REPO} worktree remove --force {tree}", file=sys.stderr
            )


def resolve_servers(requested: Sequence[str] | None, baselines: Sequence[str]) -> list[str]:
    """The servers to run, in order: ``--servers`` with ``trio-sse@base`` expanded to every
    baseline; a baseline left out goes right after ``trio-sse`` (or first)."""
    if requested is None:
        requested = [REFERENCE, *baselines, *SERVERS[1:]]
    out: list[str] = []
    for name in requested:
        if name == BASELINE_ALIAS:
            if not baselines:
                raise BenchError(f"--servers {BASELINE_ALIAS}: no --baseline or --baseline-rev")
            out += baselines
        elif name.startswith(BUILD_PREFIX) and name not in baselines:
            known = ", ".join(baselines) or "none"
            raise BenchError(f"--servers {name}: not a baseline of this run (baselines: {known})")
        else:
            out.append(name)
    missing = [b for b in baselines if b not in out]
    at = out.index(REFERENCE) + 1 if REFERENCE in out else 0
    out[at:at] = missing
    return list(dict.fromkeys(out))  # each once, first place kept


# -- load clients (other core) -----------------------------------------------------------


@dataclass
class ClientRun:
    lines: list[str]
    cpu_s: float
    wall_s: float
    server_cpu_s: float
    result: dict[str, Any] = field(default_factory=dict)
    marks: dict[str, tuple[float, float]] = field(default_factory=dict)  # line -> (wall, cpu)


def run_client(
    argv: Sequence[str],
    server: Server,
    timeout: float,
    on_line: Callable[[str, subprocess.Popen[bytes]], None] | None = None,
    *,
    expect_result: bool = True,
) -> ClientRun:
    """Run a load client pinned to the client core, reading its stdout line by line.

    Returns its lines, its own CPU time (from ``wait4``) and the server's CPU time over the
    client's life; ``marks`` records (wall, server CPU) when each line arrived.
    """
    cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
    proc = subprocess.Popen(
        ["taskset", "-c", CLIENT_CORE, *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    run = ClientRun([], 0.0, 0.0, 0.0)
    buf = b""
    deadline = t0 + timeout
    fd = proc.stdout.fileno()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"{argv[0]} {argv[1]}: no end after {timeout:.0f} s")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode(errors="replace")
                run.lines.append(line)
                run.marks[line.split(" ", 1)[0]] = (time.monotonic(), cpu_seconds(server.pid))
                if line.startswith("RESULT "):
                    run.result = json.loads(line[len("RESULT ") :])
                if on_line is not None:
                    on_line(line, proc)
    except BaseException:
        proc.kill()
        raise
    finally:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    run.wall_s = time.monotonic() - t0
    run.server_cpu_s = cpu_seconds(server.pid) - cpu0
    run.cpu_s = usage.ru_utime + usage.ru_stime
    if proc.returncode != 0 or (expect_result and not run.result):
        raise BenchError(f"load client failed ({proc.returncode}): {run.lines[-5:]}")
    return run


# -- scenarios -----------------------------------------------------------------------------


@dataclass
class Context:
    sizes: Sizes
    loadclient: Path
    logdir: Path
    tag: str


Metrics = dict[str, float]


def note_cpu(metrics: Metrics, run: ClientRun) -> None:
    metrics["client_cpu_s"] = run.cpu_s
    metrics["server_cpu_s_during_client"] = run.server_cpu_s


def wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise BenchError(f"wrk: cannot read the latency {text!r}")
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}[match.group(2)]
    return float(match.group(1)) * scale


def scenario_plain(spec: ServerSpec, ctx: Context) -> Metrics:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchError("wrk is not installed (apt-get install -y wrk)")
    sizes = ctx.sizes
    with running_server(spec, 1.0, ctx.logdir, ctx.tag) as server:
        argv = [
            wrk,
            "-t1",
            f"-c{sizes.plain_connections}",
            f"-d{sizes.plain_seconds}s",
            "--latency",
            f"http://{HOST}:{server.port}/",
        ]
        run = run_client(argv, server, sizes.plain_seconds + 30.0, expect_result=False)
    text = "\n".join(run.lines)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p99 = re.search(r"^\s*99%\s+(\S+)", text, re.MULTILINE)
    if rps is None or p99 is None:
        raise BenchError(f"wrk: unexpected output: {text[-500:]}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    metrics: Metrics = {
        "requests_per_s": float(rps.group(1)),
        "p99_ms": wrk_ms(p99.group(1)),
        "server_cpu_pct": 100.0 * run.server_cpu_s / run.wall_s,
        "non_2xx": float(non_2xx.group(1)) if non_2xx else 0.0,
        "socket_errors": float(sum(int(g) for g in errors.groups())) if errors else 0.0,
    }
    note_cpu(metrics, run)
    return metrics


def stream_argv(ctx: Context, port: int, count: int, *timing: str, http2: bool) -> list[str]:
    """``loadclient streams`` (HTTP/1.1: a connection a stream) or ``loadclient h2streams``
    (HTTP/2: ``h2_streams_per_connection`` streams a connection)."""
    sizes = ctx.sizes
    mode = "h2streams" if http2 else "streams"
    argv = [str(ctx.loadclient), mode, str(port), str(count), str(sizes.inflight), *timing]
    return [*argv, str(sizes.h2_streams_per_connection)] if http2 else argv


def scenario_idle(spec: ServerSpec, ctx: Context, *, http2: bool = False) -> Metrics:
    sizes = ctx.sizes
    metrics: Metrics = {}
    unit = "stream" if http2 else "conn"
    for count in sizes.idle_counts:
        with running_server(spec, sizes.idle_interval, ctx.logdir, f"{ctx.tag}-{count}") as srv:
            http_get(srv.port, "/")
            time.sleep(0.5)
            before = rss_kib(srv.pid)
            sample: dict[str, int] = {}

            def on_line(
                line: str,
                proc: subprocess.Popen[bytes],
                srv: Server = srv,
                sample: dict[str, int] = sample,
            ) -> None:
                if line.startswith("OPENED "):
                    time.sleep(1.0)  # let the last handshakes' garbage settle
                    sample["rss"] = rss_kib(srv.pid)
                    sample["fds"] = fd_count(srv.pid)
                    assert proc.stdin is not None
                    proc.stdin.write(b"\n")
                    proc.stdin.flush()

            argv = stream_argv(ctx, srv.port, count, "0", "0", "120", http2=http2)
            run = run_client(argv, srv, 130.0, on_line)
        opened = int(run.result["opened"])
        if opened != count or "rss" not in sample:
            raise BenchError(f"idle: opened {opened} of {count} ({run.result})")
        metrics[f"kib_per_{unit}_{count}"] = (sample["rss"] - before) / count
        if http2:
            metrics[f"connections_{count}"] = float(run.result["connections"])
        metrics[f"open_s_{count}"] = float(run.result["open_seconds"])
        metrics[f"rss_base_kib_{count}"] = float(before)
        metrics[f"client_cpu_s_{count}"] = run.cpu_s
        metrics[f"server_cpu_s_during_client_{count}"] = run.server_cpu_s
    return metrics


def scenario_ticker(spec: ServerSpec, ctx: Context, *, http2: bool = False) -> Metrics:
    sizes = ctx.sizes
    with running_server(spec, sizes.ticker_interval, ctx.logdir, ctx.tag) as server:
        timing = (
            repr(sizes.ticker_interval),
            repr(sizes.ticker_seconds),
            str(sizes.ticker_seconds + 60),
        )
        argv = stream_argv(ctx, server.port, sizes.ticker_streams, *timing, http2=http2)
        run = run_client(argv, server, sizes.ticker_seconds + 70)
    result = run.result
    if int(result["opened"]) != sizes.ticker_streams:
        raise BenchError(f"ticker: opened {result['opened']} of {sizes.ticker_streams}")
    (w0, c0), (w1, c1) = run.marks["OPENED"], run.marks["RESULT"]
    server_cpu = c1 - c0
    ideal = sizes.ticker_streams / sizes.ticker_interval
    metrics: Metrics = {
        "events_per_s": float(result["events_per_second"]),
        "pct_of_ideal": 100.0 * float(result["events_per_second"]) / ideal,
        "server_cpu_pct": 100.0 * server_cpu / (w1 - w0),
        "events_per_cpu_s": float(result["events"]) / server_cpu if server_cpu > 0 else 0.0,
        "lateness_mean_ms": float(result["lateness_mean_ms"]),
        "lateness_p99_ms": float(result["lateness_p99_ms"]),
        "last_tick_drift_ms": float(result["last_tick_drift_median_ms"]),
        "last_tick_drift_max_ms": float(result["last_tick_drift_max_ms"]),
        "open_s": float(result["open_seconds"]),
        "dropped": float(result["dropped"]),
    }
    if http2:
        metrics["connections"] = float(result["connections"])
    note_cpu(metrics, run)
    return metrics


def scenario_churn(spec: ServerSpec, ctx: Context) -> Metrics:
    sizes = ctx.sizes
    with running_server(spec, sizes.churn_interval, ctx.logdir, ctx.tag) as server:

        def churn(cycles: int) -> ClientRun:
            argv = [
                str(ctx.loadclient),
                "churn",
                str(server.port),
                str(cycles),
                str(sizes.churn_batch),
                "120",
            ]
            return run_client(argv, server, 130.0)

        churn(sizes.churn_warmup)
        time.sleep(1.0)
        rss0, fds0 = rss_kib(server.pid), fd_count(server.pid)
        run = churn(sizes.churn_cycles)
        time.sleep(1.0)
        close_wait = close_wait_on(server.port)
        rss1, fds1 = rss_kib(server.pid), fd_count(server.pid)
        try:
            get_ok = http_get(server.port, "/") == (200, b"ok")
        except OSError:
            get_ok = False
    result = run.result
    metrics: Metrics = {
        "cycles_per_s": float(result["cycles_per_second"]),
        "cycles": float(result["cycles"]),
        "errors": float(result["errors"]),
        "close_wait": float(close_wait),
        "rss_before_kib": float(rss0),
        "rss_after_kib": float(rss1),
        "rss_delta_kib": float(rss1 - rss0),
        "fds_before": float(fds0),
        "fds_after": float(fds1),
        "fds_delta": float(fds1 - fds0),
        "get_ok": 1.0 if get_ok else 0.0,
        "server_cpu_pct": 100.0 * run.server_cpu_s / run.wall_s,
    }
    note_cpu(metrics, run)
    return metrics


class Poller:
    """``GET counter_path`` on one keep-alive connection, back to back (reconnects on EOF)."""

    def __init__(self, port: int, path: str) -> None:
        self.port = port
        self.request = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
        self.stream: trio.SocketStream | None = None
        self.buf = b""

    async def tickers(self) -> int:
        with trio.fail_after(HTTP_TIMEOUT):
            for _ in range(2):
                if self.stream is None:
                    self.stream = await trio.open_tcp_stream(HOST, self.port)
                    self.buf = b""
                try:
                    await self.stream.send_all(self.request)
                    body = await self._response()
                except (trio.BrokenResourceError, trio.ClosedResourceError, EOFError):
                    await self.aclose()
                    continue
                match = TICKER_RE.search(body)
                if match is None:
                    raise BenchError(f"no tickers_active in {body[:200]!r}")
                return int(match.group(1))
        raise BenchError("the counter's connection keeps closing")

    async def _response(self) -> bytes:
        assert self.stream is not None
        while b"\r\n\r\n" not in self.buf:
            await self._more()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        if length is None:
            raise BenchError(f"no Content-Length in {head!r}")
        size = int(length.group(1))
        while len(self.buf) < size:
            await self._more()
        body, self.buf = self.buf[:size], self.buf[size:]
        return body

    async def _more(self) -> None:
        assert self.stream is not None
        chunk = await self.stream.receive_some(65536)
        if not chunk:
            raise EOFError
        self.buf += chunk

    async def aclose(self) -> None:
        if self.stream is not None:
            await self.stream.aclose()
        self.stream = None


async def _open_stream_headers(port: int) -> trio.SocketStream:
    stream = await trio.open_tcp_stream(HOST, port)
    await stream.send_all(
        f"GET / HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = await stream.receive_some(65536)
        if not chunk:
            raise BenchError("the server closed the event stream before its headers")
        data += chunk
    if not data.startswith(b"HTTP/1.1 200"):
        raise BenchError(f"unexpected response: {data[:200]!r}")
    return stream


async def _cancel_samples(server: Server, samples: int) -> list[float]:
    poller = Poller(server.port, server.counter_path)
    delays: list[float] = []
    try:
        for _ in range(samples):
            with trio.fail_after(10.0):
                stream = await _open_stream_headers(server.port)
                # polling is the point: the counter lives in another process
                while await poller.tickers() != 1:  # noqa: ASYNC110 (bounded by fail_after)
                    await trio.sleep(0.001)
                await stream.aclose()  # FIN: the client disconnects
                closed = trio.current_time()
                while await poller.tickers() != 0:  # back to back, bounded by fail_after
                    pass
                delays.append(trio.current_time() - closed)
            await trio.sleep(0.05)
    finally:
        await poller.aclose()
    return delays


async def _h2_cancel_samples(server: Server, samples: int) -> list[float]:
    poller = Poller(server.port, server.counter_path)
    try:
        return await h2_cancel_samples(HOST, server.port, samples, poller.tickers)
    except H2ClientError as e:
        raise BenchError(f"h2-cancel: {e}") from None
    finally:
        await poller.aclose()


def scenario_cancel(spec: ServerSpec, ctx: Context, *, http2: bool = False) -> Metrics:
    sizes = ctx.sizes
    with running_server(spec, sizes.cancel_interval, ctx.logdir, ctx.tag) as server:
        if server.tickers() != 0:
            raise BenchError("cancel: the counter is not 0 at the start")
        usage0, cpu0 = resource.getrusage(resource.RUSAGE_SELF), cpu_seconds(server.pid)
        t0 = time.monotonic()
        samples = _h2_cancel_samples if http2 else _cancel_samples
        delays = trio.run(samples, server, sizes.cancel_samples)
        wall = time.monotonic() - t0
        usage1, cpu1 = resource.getrusage(resource.RUSAGE_SELF), cpu_seconds(server.pid)
    client_cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    return {
        "median_ms": statistics.median(delays) * 1e3,
        "max_ms": max(delays) * 1e3,
        "min_ms": min(delays) * 1e3,
        "samples": float(len(delays)),
        "client_cpu_s": client_cpu,
        "server_cpu_s_during_client": cpu1 - cpu0,
        "wall_s": wall,
    }


SCENARIO_FUNCS: Final[dict[str, Callable[[ServerSpec, Context], Metrics]]] = {
    "plain": scenario_plain,
    "idle": scenario_idle,
    "ticker": scenario_ticker,
    "churn": scenario_churn,
    "cancel": scenario_cancel,
    "h2-idle": functools.partial(scenario_idle, http2=True),
    "h2-ticker": functools.partial(scenario_ticker, http2=True),
    "h2-cancel": functools.partial(scenario_cancel, http2=True),
}


# -- reporting -----------------------------------------------------------------------------


def fmt(value: float) -> str:
    if math.isnan(value):
        return "-"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio(ours: float, theirs: float) -> float:
    if theirs == 0 or math.isnan(ours) or math.isnan(theirs):
        return float("nan")
    return ours / theirs


def medians(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """scenario -> server -> metric -> median over the rounds that completed."""
    values: dict[str, dict[str, dict[str, list[float]]]] = {}
    for run in runs:
        if run.get("error") or "metrics" not in run:
            continue
        per = values.setdefault(run["scenario"], {}).setdefault(run["server"], {})
        for key, value in run["metrics"].items():
            per.setdefault(key, []).append(float(value))
    return {
        scenario: {
            server: {key: statistics.median(vals) for key, vals in per.items()}
            for server, per in by_server.items()
        }
        for scenario, by_server in values.items()
    }


def summary_rows(
    med: dict[str, dict[str, dict[str, float]]], servers: Sequence[str], everything: bool
) -> list[list[str]]:
    peers = [s for s in servers if s != REFERENCE]
    rows: list[list[str]] = []
    for scenario in SCENARIOS:
        by_server = med.get(scenario)
        if not by_server:
            continue
        for metric in METRICS[scenario]:
            if not (metric.headline or everything):
                continue
            if not any(metric.key in by_server.get(s, {}) for s in servers):
                continue
            nan = float("nan")
            vals = [by_server.get(s, {}).get(metric.key, nan) for s in servers]
            ours = by_server.get(REFERENCE, {}).get(metric.key, nan)
            arrow = "higher" if metric.higher_is_better else "lower"
            shown = [shown_value(scenario, s, v) for s, v in zip(servers, vals, strict=True)]
            row = [scenario, f"{metric.label} ({arrow} is better)", *shown]
            if REFERENCE in servers:
                row += [
                    shown_value(scenario, p, ratio(ours, by_server.get(p, {}).get(metric.key, nan)))
                    for p in peers
                ]
            rows.append(row)
    return rows


def shown_value(scenario: str, server: str, value: float) -> str:
    """``fmt(value)``, or n/a for an HTTP/2 scenario on a server without HTTP/2."""
    if scenario in H2_SCENARIOS and not speaks_h2(server):
        return NOT_APPLICABLE
    return fmt(value)


def h2_vs_h11(med: dict[str, dict[str, dict[str, float]]]) -> tuple[list[str], dict[str, Any]]:
    """trio-sse's idle memory: an HTTP/2 stream against an HTTP/1.1 connection (the issue's
    "an HTTP/2 stream cheaper than an HTTP/1.1 connection"), and its ticker's events per
    CPU-second over both; lines to print and the figures for the JSON."""
    h11 = med.get("idle", {}).get(REFERENCE, {})
    h2 = med.get("h2-idle", {}).get(REFERENCE, {})
    lines: list[str] = []
    figures: dict[str, Any] = {}
    for key, value in sorted(h2.items()):
        if not key.startswith("kib_per_stream_"):
            continue
        count = key.rsplit("_", 1)[1]
        conn = h11.get(f"kib_per_conn_{count}")
        if conn is None:
            continue
        share = ratio(value, conn)
        verdict = (
            "cheaper" if share < 1 - LEVEL else "dearer" if share > 1 + LEVEL else "level"
        ) + f" (beyond +-{LEVEL:.0%} counts)"
        figures[count] = {"h2_kib_per_stream": value, "h11_kib_per_conn": conn, "ratio": share}
        lines.append(
            f"{REFERENCE} idle @{int(count):,}: HTTP/2 stream {fmt(value)} KiB vs HTTP/1.1 "
            f"connection {fmt(conn)} KiB: {fmt(share)}x, {verdict}"
        )
    ticks = {
        name: med.get(name, {}).get(REFERENCE, {}).get("events_per_cpu_s")
        for name in ("ticker", "h2-ticker")
    }
    if ticks["ticker"] and ticks["h2-ticker"]:
        share = ratio(ticks["h2-ticker"], ticks["ticker"])
        figures["ticker_events_per_cpu_s"] = {"h2": ticks["h2-ticker"], "h11": ticks["ticker"]}
        lines.append(
            f"{REFERENCE} ticker: {fmt(ticks['h2-ticker'])} events/CPU-s over HTTP/2 vs "
            f"{fmt(ticks['ticker'])} over HTTP/1.1: {fmt(share)}x"
        )
    return lines, figures


def table(header: list[str], rows: list[list[str]], markdown: bool = False) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    if markdown:
        lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
        lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        lines += [
            "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
            for r in rows
        ]
        return "\n".join(lines)
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


#: A server's bar colour: trio-sse blue and its baselines lighter blues; each peer its own,
#: uvicorn-h11 a lighter shade of uvicorn's.
COLORS: Final = {
    "trio-sse": "#1f77b4",
    "hypercorn-trio": "#ff7f0e",
    "uvicorn": "#2ca02c",
    "uvicorn-h11": "#98df8a",
    "aiohttp": "#d62728",
}
BASELINE_COLORS: Final = ("#aec7e8", "#9edae5", "#c5b0d5", "#c7c7c7")


def bar_colors(servers: Sequence[str]) -> list[str]:
    builds = [s for s in servers if s not in COLORS]
    return [
        COLORS.get(s) or BASELINE_COLORS[builds.index(s) % len(BASELINE_COLORS)] for s in servers
    ]


def chart(med: dict[str, dict[str, dict[str, float]]], servers: Sequence[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        (scenario, metric)
        for scenario in SCENARIOS
        for metric in METRICS[scenario]
        if metric.headline
        and scenario in med
        and any(metric.key in med[scenario].get(s, {}) for s in servers)
    ]
    if not panels:
        return
    cols = 4
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    colors = bar_colors(servers)
    for ax, (scenario, metric) in zip(axes.flat, panels, strict=False):
        vals = [med[scenario].get(s, {}).get(metric.key, 0.0) for s in servers]
        ax.bar(range(len(servers)), vals, color=colors)
        ax.set_xticks(range(len(servers)))
        ax.set_xticklabels(servers, rotation=30, ha="right", fontsize=7)
        arrow = "higher" if metric.higher_is_better else "lower"
        ax.set_title(f"{scenario}: {metric.label}\n({arrow} is better)", fontsize=9)
        for i, (s, v) in enumerate(zip(servers, vals, strict=True)):
            ax.annotate(shown_value(scenario, s, v), (i, v), ha="center", va="bottom", fontsize=7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    builds = [s for s in servers if s.startswith(BUILD_PREFIX)]
    also = f", {', '.join(builds)}" if builds else ""
    fig.suptitle(f"trio-sse{also} and its peers (medians; server on core 0, load client on core 1)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- main ------------------------------------------------------------------------------------


def build_loadclient(outdir: Path) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise BenchError("no C compiler (cc) to build benchmarks/loadclient.c")
    exe = outdir / "loadclient"
    subprocess.run(
        [cc, "-O2", "-Wall", "-o", str(exe), str(HERE / "loadclient.c")], check=True, timeout=120
    )
    return exe


def prepare_process() -> list[str]:
    notes = []
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = NOFILE_WANTED if hard == resource.RLIM_INFINITY else min(NOFILE_WANTED, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    notes.append(f"RLIMIT_NOFILE {resource.getrlimit(resource.RLIMIT_NOFILE)[0]} (inherited)")
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {int(CLIENT_CORE)})
        notes.append(f"this process and the load clients on core {CLIENT_CORE}")
    else:
        notes.append("WARNING: one CPU: server and client share it")
    # a stray SIGINT-ignoring parent must not leak into the servers; SIGTERM stops the run
    # through the context managers, which stop the server and the client
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    return notes


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in ("trio-sse", "trio", "h11", "hypercorn", "starlette", "sse-starlette"):
        with contextlib.suppress(PackageNotFoundError):
            out[dist] = version(dist)
    for dist in ("uvicorn", "uvloop", "httptools", "aiohttp", "aiohttp-sse", "matplotlib"):
        with contextlib.suppress(PackageNotFoundError):
            out[dist] = version(dist)
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="trio-sse against its peers and earlier builds of itself.",
        formatter_class=argparse.RawTextHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=3, help="A B A B rounds (default 3)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument(
        "--servers",
        default=None,
        help=f"comma-separated, in this order (default: all of {', '.join(SERVERS)},\n"
        f"with the baselines after trio-sse); {BASELINE_ALIAS} stands for every baseline,\n"
        f"{BUILD_PREFIX}SHA for one; a baseline left out still runs, after trio-sse",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help=f"another trio-sse checkout (e.g. a git worktree of an older commit), run as\n"
        f"{BUILD_PREFIX}<short SHA of its HEAD> with PATH/src first on PYTHONPATH; repeatable",
    )
    parser.add_argument(
        "--baseline-rev",
        action="append",
        default=[],
        metavar="REV",
        help="the same for REV of this repository, checked out in a temporary\n"
        "git worktree that is removed at the end; repeatable",
    )
    parser.add_argument("--quick", action="store_true", help="short runs, small counts")
    parser.add_argument("--results-dir", type=Path, default=None)
    parser.add_argument(
        "--time-limit", type=float, default=3600.0, help="cap on the whole run, seconds"
    )
    args = parser.parse_args(argv)
    args.scenario_list = [s for s in args.scenarios.split(",") if s]
    args.server_list = None if args.servers is None else [s for s in args.servers.split(",") if s]
    for s in args.scenario_list:
        if s not in SCENARIOS:
            parser.error(f"unknown scenario {s!r} (choose from {', '.join(SCENARIOS)})")
    for s in args.server_list or ():
        if s not in SERVERS and not s.startswith(BUILD_PREFIX):
            known = ", ".join([*SERVERS, BASELINE_ALIAS, BUILD_PREFIX + "SHA"])
            parser.error(f"unknown server {s!r} (choose from {known})")
    if args.server_list == []:
        parser.error("--servers: name at least one")
    if args.rounds < 1:
        parser.error("--rounds: at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    outdir: Path = args.results_dir or HERE / "results" / started.strftime("%Y%m%dT%H%M%SZ")
    logdir = outdir / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    notes = prepare_process()  # first: SIGTERM must unwind the temporary worktrees too
    try:
        with contextlib.ExitStack() as stack:
            baselines = [make_build(None, p, f"--baseline {p}", logdir) for p in args.baseline]
            for rev in args.baseline_rev:
                tree = stack.enter_context(temporary_worktree(rev))
                baselines.append(make_build(None, tree, f"--baseline-rev {rev}", logdir))
            for build in baselines:
                if build.spec.tree == REPO.resolve():
                    raise BenchError(f"{build.origin}: that is this checkout, i.e. {REFERENCE}")
            labels = [b.spec.name for b in baselines]
            if len(set(labels)) < len(labels):
                raise BenchError(f"two baselines at the same commit: {', '.join(labels)}")
            servers = resolve_servers(args.server_list, labels)
            builds = baselines
            if REFERENCE in servers:
                builds = [make_build(REFERENCE, REPO, "this checkout", logdir), *baselines]
            return run_all(
                args, started=started, outdir=outdir, servers=servers, builds=builds, notes=notes
            )
    except BenchError as e:
        print(f"compare.py: error: {e}", file=sys.stderr)
        return 2


def run_all(
    args: argparse.Namespace,
    *,
    started: datetime.datetime,
    outdir: Path,
    servers: list[str],
    builds: list[Build],
    notes: list[str],
) -> int:
    sizes = QUICK if args.quick else FULL
    logdir = outdir / "logs"
    specs = {b.spec.name: b.spec for b in builds}
    specs |= {name: ServerSpec(name) for name in servers if name not in specs}  # the peers
    loadclient = build_loadclient(outdir)
    t_start = time.monotonic()
    loads = [os.getloadavg()]
    print(f"trio-sse vs peers: {', '.join(servers)}; scenarios {args.scenarios}")
    print(f"  {args.rounds} round(s){' (--quick)' if args.quick else ''}; results in {outdir}")
    print(f"  {'; '.join(notes)}; load average at start {loads[0][0]:.2f}")
    for build in builds:
        print(f"  {build.describe()}")
        if build.dirty and build.spec.name != REFERENCE:
            print(f"  WARNING: {build.spec.name} is not exactly its commit (changes in src/)")
    runs: list[dict[str, Any]] = []
    partial = False
    for rnd in range(1, args.rounds + 1):
        for scenario in args.scenario_list:
            for name in servers:
                if time.monotonic() - t_start > args.time_limit:
                    partial = True
                    break
                tag = f"r{rnd}-{scenario}-{name}"
                t0 = time.monotonic()
                entry: dict[str, Any] = {"round": rnd, "scenario": scenario, "server": name}
                if scenario in H2_SCENARIOS and not speaks_h2(name):
                    entry["not_applicable"] = "no HTTP/2"
                    runs.append(entry)
                    print_run(entry, scenario)
                    continue
                try:
                    entry["metrics"] = SCENARIO_FUNCS[scenario](
                        specs[name], Context(sizes, loadclient, logdir, tag)
                    )
                except (BenchError, OSError, subprocess.SubprocessError, trio.TooSlowError) as e:
                    entry["error"] = f"{type(e).__name__}: {e}"
                entry["seconds"] = time.monotonic() - t0
                entry["loadavg_1m"] = os.getloadavg()[0]
                loads.append(os.getloadavg())
                runs.append(entry)
                print_run(entry, scenario)
    ended = datetime.datetime.now(datetime.timezone.utc)
    med = medians(runs)
    others = [s for s in servers if s != REFERENCE]
    header = ["scenario", "metric", *servers]
    if REFERENCE in servers:
        header += [f"{REFERENCE}/{p}" for p in others]
    print()
    print(
        f"medians over {args.rounds} round(s); ratio = {REFERENCE} / other "
        f"(against a {BUILD_PREFIX}SHA build: after / before)"
    )
    print(table(header, summary_rows(med, servers, everything=True)))
    comparison, comparison_figures = h2_vs_h11(med)
    for line in comparison:
        print(line)
    one_minute = [load[0] for load in loads]
    print(
        f"load average (1 min) during the run: min {min(one_minute):.2f}, "
        f"median {statistics.median(one_minute):.2f}, max {max(one_minute):.2f}"
    )
    check_client_cpu(runs)
    failures = [r for r in runs if r.get("error")]
    report = {
        "started": started.isoformat(),
        "ended": ended.isoformat(),
        "partial": partial,
        "args": {
            "rounds": args.rounds,
            "scenarios": args.scenario_list,
            "servers": servers,
            "baseline": [str(p) for p in args.baseline],
            "baseline_rev": args.baseline_rev,
            "quick": args.quick,
        },
        "sizes": sizes.__dict__,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.processor(),
            "versions": versions(),
        },
        "builds": {b.spec.name: b.as_json() for b in builds},
        "commands": {name: specs[name].shown() for name in servers},
        "loadavg": {"samples": loads, "min": min(one_minute), "max": max(one_minute)},
        "runs": runs,
        "medians": med,
        "h2_vs_h11": comparison_figures,
        "summary_markdown": "\n\n".join(
            [
                table(header, summary_rows(med, servers, everything=False), markdown=True),
                *(f"* {line}" for line in comparison),
            ]
        ),
    }
    (outdir / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    try:
        chart(med, servers, outdir / "chart.png")
    except ImportError:
        print("matplotlib is not installed: no chart")
    print(f"wrote {outdir / 'results.json'} and {outdir / 'chart.png'}")
    if partial:
        print(f"PARTIAL: --time-limit {args.time_limit:.0f} s reached")
    if failures:
        print(f"{len(failures)} run(s) failed:")
        for r in failures:
            print(f"  round {r['round']} {r['scenario']} {r['server']}: {r['error']}")
        return 1
    return 0


def print_run(entry: dict[str, Any], scenario: str) -> None:
    head = f"round {entry['round']} {scenario:<9} {entry['server']:<17}"
    if entry.get("not_applicable"):
        print(f"{head} {NOT_APPLICABLE} ({entry['not_applicable']})", flush=True)
        return
    if entry.get("error"):
        print(f"{head} FAILED after {entry['seconds']:.1f} s: {entry['error']}", flush=True)
        return
    m: Metrics = entry["metrics"]
    shown = ", ".join(
        f"{metric.key} {fmt(m[metric.key])}" for metric in METRICS[scenario] if metric.key in m
    )
    cpu = ""
    pairs = [k for k in m if k.startswith("client_cpu_s")]
    for key in pairs:
        server_key = key.replace("client_cpu_s", "server_cpu_s_during_client")
        cpu += f"; client CPU {m[key]:.2f} s vs server {m.get(server_key, 0.0):.2f} s"
    print(f"{head} {shown}{cpu} [{entry['seconds']:.0f} s]", flush=True)


def check_client_cpu(runs: list[dict[str, Any]]) -> None:
    """Print every run where the load client cost as much CPU as the server or more."""
    over = []
    for run in runs:
        metrics = run.get("metrics") or {}
        for key, value in metrics.items():
            if key.startswith("client_cpu_s"):
                server = metrics.get(key.replace("client_cpu_s", "server_cpu_s_during_client"))
                if server is not None and value >= server:
                    over.append(
                        f"{run['scenario']} {run['server']} round {run['round']}: client "
                        f"{value:.2f} s >= server {server:.2f} s"
                    )
    if over:
        print("load client CPU NOT below the server's in:")
        for line in over:
            print(f"  {line}")
    else:
        print("load client CPU below the server's in every run")


if __name__ == "__main__":
    sys.exit(main())
