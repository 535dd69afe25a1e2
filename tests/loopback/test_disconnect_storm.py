"""Disconnect storms over real loopback sockets: nothing may stay behind on the server.

The issue: "Over real sockets: open 200 SSE connections, close them abruptly, and within
1 s the server holds no socket for them (none left in CLOSE_WAIT) and no task". These tests
run the server in-process on ``127.0.0.1:0`` and check, after the clients are gone:

* the server's counters (``connections_open``, ``event_streams_open``, ``tickers_active``);
* the kernel's view of the server port in ``/proc/net/tcp``: no socket in ``CLOSE_WAIT``
  (the state of a socket whose peer sent FIN and which was never closed);
* the server's own sockets on its port (each open fd asked for its ``TCP_INFO`` state,
  which is exact where ``/proc/net/tcp`` is not): none left but the listener;
* the process' open file descriptors and Trio's task tree, both back to their baseline.

Clients leave in two ways: half with a reset (``SO_LINGER`` = (1, 0), so ``close()`` sends
RST), half with a FIN (``shutdown(SHUT_WR)``, then ``close()``), all in one go with no
checkpoint between them. The shutdown matters with the busy ticker: a plain close with
unread bytes makes Linux send RST instead of FIN, so the FIN goes out first and the close
may add a reset behind it. The "quiet" variant (one
event, then the producer sleeps) keeps the clients' receive buffers empty, so its FIN
clients close cleanly, which the test checks as well (the client end finishes in
``TIME_WAIT``, which needs the server's FIN, i.e. the server closed its end).

The two variants test different things. With the busy ticker (the local ``ticker_app``, an
event every 50 ms), a server that never watched the socket would still clean up, a tick
later, when its next write to the dead peer failed;
with the quiet producer nothing is ever written again, so only the connection task noticing
EOF or the reset (and cancelling the producer) can end the stream in time.

Real time is used (it is a loopback integration test); the only timing bound is the issue's
generous 1 s, and every wait is capped so a regression fails instead of hanging. The server's
side is awaited as an event (the app is wrapped in a ``Tracker``: every producer has ended);
what the kernel reports (socket states, ``CLOSE_WAIT``) and the open fds cannot be awaited,
so those are polled, every 10 ms, within the same bounds. The
memory side of the issue ("after 5,000 connect/close cycles memory is flat") is measured by
``benchmarks/disconnect_storm.py``; here the smaller cycle test checks that counters, fds,
tasks and sockets return to zero.
"""

from __future__ import annotations

import os
import socket
import struct
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
import trio

import trio_sse
from trio_sse.testing import TestClient

from ..helpers import Tracker, all_tasks, running_server, ticker_app, where

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.skipif(
    not os.path.exists("/proc/net/tcp"), reason="needs Linux /proc/net/tcp"
)

SSE = [("Accept", "text/event-stream")]
INTERVAL = 0.05  # the busy ticker: an event every 50 ms on every stream
SETTLE_LIMIT = 1.0  # the bound, from the first close to "nothing left"
HARD_LIMIT = 20.0  # any single phase; only reached when something is broken

# TCP states, as /proc/net/tcp writes them and TCP_INFO reports them (tcp_states.h).
STATE_NAMES = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RECV",
    4: "FIN_WAIT1",
    5: "FIN_WAIT2",
    6: "TIME_WAIT",
    7: "CLOSE",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
    12: "NEW_SYN_RECV",
}


# -- observing the kernel, the process and Trio -------------------------------------------


@dataclass(frozen=True, slots=True)
class TcpSocket:
    local: str  # "0100007F:1F90": address and port in hex, as in /proc/net/tcp
    remote: str
    state: str  # e.g. "CLOSE_WAIT"

    @property
    def local_port(self) -> int:
        return int(self.local.rsplit(":", 1)[1], 16)

    @property
    def remote_port(self) -> int:
        return int(self.remote.rsplit(":", 1)[1], 16)


def tcp_sockets() -> set[TcpSocket]:
    """Every TCP socket of this network namespace, from ``/proc/net/tcp`` and ``tcp6``.

    The kernel writes these files a page at a time and resumes by position, so a socket
    table that changes meanwhile (any other process on the machine) can make a line appear
    twice, or be skipped: the set removes the duplicates (a connection's two addresses
    identify it); callers poll rather than trust one look.
    """
    found: set[TcpSocket] = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path, encoding="ascii") as f:
                lines = f.read().splitlines()[1:]  # skip the header line
        except FileNotFoundError:  # no IPv6 in this kernel
            continue
        for line in lines:
            # "sl local_address rem_address st ...": "0: 0100007F:1F90 0100007F:D2A4 08 ..."
            fields = line.split()
            if len(fields) >= 4:
                state = STATE_NAMES.get(int(fields[3], 16), fields[3])
                found.add(TcpSocket(fields[1], fields[2], state))
    return found


def close_wait_on(port: int) -> int:
    """Sockets with local port *port* (the server's ends) in ``CLOSE_WAIT``: a peer sent FIN
    and the socket was never closed."""
    return sum(1 for s in tcp_sockets() if s.local_port == port and s.state == "CLOSE_WAIT")


def held_by_server(port: int) -> Counter[str]:
    """The TCP states of this process' open sockets bound to *port*, listener excluded.

    Exact, unlike ``/proc/net/tcp``: it asks each open socket file descriptor of this
    process (the server runs in-process) for its port and its ``TCP_INFO`` state.
    """
    states: Counter[str] = Counter()
    for fd in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                continue
            dup = socket.socket(fileno=os.dup(int(fd)))  # closing a dup keeps the socket
        except OSError:  # closed in the meantime
            continue
        with dup:
            if dup.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            if dup.type != socket.SOCK_STREAM or dup.getsockname()[1] != port:
                continue
            state = dup.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
            if STATE_NAMES.get(state) != "LISTEN":
                states[STATE_NAMES.get(state, str(state))] += 1
    return states


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@dataclass(frozen=True, slots=True)
class Residue:
    """What is left behind; all zero (and equal to the baseline) when the server is clean."""

    connections_open: int
    event_streams_open: int
    tickers_active: int
    close_wait: int  # in /proc/net/tcp, on the server port
    held_sockets: dict[str, int]  # the server's own sockets on its port, by state
    extra_fds: int
    extra_tasks: tuple[str, ...]  # where() of each task not in the baseline

    @property
    def clean(self) -> bool:
        return self == Residue(0, 0, 0, 0, {}, 0, ())


@dataclass(frozen=True, slots=True)
class Baseline:
    fds: int
    tasks: frozenset[trio.lowlevel.Task]

    @classmethod
    def take(cls) -> Baseline:
        return cls(fds=open_fds(), tasks=frozenset(all_tasks()))

    def residue(self, server: trio_sse.Server) -> Residue:
        stats = server.statistics()
        return Residue(
            connections_open=stats.connections_open,
            event_streams_open=stats.event_streams_open,
            tickers_active=stats.tickers_active,
            close_wait=close_wait_on(server.port),
            held_sockets=dict(held_by_server(server.port)),
            extra_fds=open_fds() - self.fds,
            extra_tasks=tuple(where(t) for t in all_tasks() if t not in self.tasks),
        )


async def settle(
    server: trio_sse.Server, tracker: Tracker, baseline: Baseline, deadline: float
) -> str | None:
    """Wait until nothing is left: None if that happened by *deadline*.

    Otherwise a description of what was left at the deadline, and whether it went away
    later (slow: e.g. an overloaded machine) or was still there after HARD_LIMIT (a leak).
    The server's side is an event (every producer ended, then the connections finished);
    the kernel's view and the fds cannot be awaited, so they are polled every 10 ms. The
    full look costs 10+ ms of this process' CPU (which the server shares), so it is only
    taken once the producers have ended.
    """
    with trio.move_on_at(deadline):
        await tracker.wait_all_ended()
        while not baseline.residue(server).clean:
            await trio.sleep(0.01)  # the kernel's view: polled (see the docstring)
        return None
    at_deadline = baseline.residue(server)
    if at_deadline.clean:  # cleared between the deadline and this look
        return None
    with trio.move_on_at(deadline + HARD_LIMIT):
        await tracker.wait_all_ended()
        while not baseline.residue(server).clean:
            await trio.sleep(0.01)
        late = trio.current_time() - deadline
        return f"left behind at the deadline: {at_deadline}; clean {late:.2f} s later (slow)"
    return f"left behind at the deadline: {at_deadline}; after {HARD_LIMIT:.0f} s more: " + str(
        baseline.residue(server)
    )


# -- the server and its clients ---------------------------------------------------------


def quiet_app() -> trio_sse.App:
    """One event at once, then the producer sleeps: the clients' buffers stay empty."""

    async def once(stream: trio_sse.EventStream) -> None:
        await stream.send(trio_sse.ServerSentEvent("hello", event="message", id="1"))
        await trio.sleep_forever()

    async def app(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.EventStreamResponse(once)

    return app


def busy_app() -> trio_sse.App:
    """An event every 50 ms on every stream, written while the clients leave."""
    return ticker_app(interval=INTERVAL)


APPS: dict[str, Callable[[], trio_sse.App]] = {"busy": busy_app, "quiet": quiet_app}


async def open_event_stream(port: int) -> trio.SocketStream:
    """Connect, request an event stream, read the head and the first event."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    try:
        client = TestClient(stream)
        await client.send_request("GET", "/", headers=SSE)
        head = await client.receive_head()
        assert head.status == 200
        assert head.headers["content-type"] == "text/event-stream; charset=utf-8"
        events = await client.receive_events(1)
        assert (events[0].type, events[0].data, events[0].last_event_id) == (
            "message",
            "hello",
            "1",
        )
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise
    return stream


def abort(stream: trio.SocketStream, *, reset: bool) -> None:
    """Close abruptly: with RST when *reset*, else FIN first (``shutdown(SHUT_WR)``), then
    ``close()``.

    Synchronous on purpose (no checkpoint): the server runs in this process, and ``await
    stream.aclose()`` would give it a scheduling round between two closes, spreading a storm
    of 200 over 200 rounds (seconds on a loaded machine): the 1 s would time the client.
    """
    sock = stream.socket
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    else:
        sock.shutdown(socket.SHUT_WR)
    sock.close()  # stream.aclose() later is a no-op for the socket


def abort_all(streams: list[trio.SocketStream]) -> None:
    """Abort every stream at once: RST and FIN alternate."""
    for i, stream in enumerate(streams):
        abort(stream, reset=i % 2 == 0)


async def open_many(port: int, count: int, streams: list[trio.SocketStream]) -> None:
    """Open *count* event streams concurrently, appending each to *streams* once it is live."""

    async def one() -> None:
        streams.append(await open_event_stream(port))

    async with trio.open_nursery() as nursery:
        for _ in range(count):
            nursery.start_soon(one)


async def warm_up(server: trio_sse.Server, tracker: Tracker) -> None:
    """One full cycle first, so lazily created objects do not count as residue."""
    stream = await open_event_stream(server.port)
    abort(stream, reset=False)
    await stream.aclose()
    with trio.move_on_after(SETTLE_LIMIT):
        await tracker.wait_all_ended()
    stats = server.statistics()
    assert (stats.connections_open, stats.tickers_active) == (0, 0), stats


# -- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(APPS))
async def test_200_aborted_streams_leave_nothing_behind_within_1s(kind: str) -> None:
    count = 200
    tracker = Tracker()
    async with running_server(tracker.wrap(APPS[kind]())) as server:
        port = server.port
        await warm_up(server, tracker)
        baseline = Baseline.take()
        streams: list[trio.SocketStream] = []
        try:
            with trio.fail_after(HARD_LIMIT):
                await open_many(port, count, streams)
            stats = server.statistics()
            assert (stats.connections_open, stats.event_streams_open, stats.tickers_active) == (
                count,
                count,
                count,
            )
            assert held_by_server(port) == {"ESTABLISHED": count}
            fin_ports = {s.socket.getsockname()[1] for s in streams[1::2]}

            deadline = trio.current_time() + SETTLE_LIMIT  # the clock starts at the first close
            abort_all(streams)
            problem = await settle(server, tracker, baseline, deadline)
        finally:
            for stream in streams:
                await trio.aclose_forcefully(stream)

        assert problem is None, f"{SETTLE_LIMIT} s after the first disconnect: {problem}"
        stats = server.statistics()
        assert stats.stream_disconnects == count + 1  # + the warm-up
        assert stats.handler_errors == 0

        if kind == "quiet":
            # The plain closes were real FINs, answered by the server's FIN: the client end
            # waits in TIME_WAIT (a client whose server never closed stays in FIN_WAIT2).
            # Only the kernel knows: polled, bounded, then asserted.
            with trio.move_on_after(SETTLE_LIMIT):
                while not all_in_time_wait(port, fin_ports):
                    await trio.sleep(0.01)
            assert all_in_time_wait(port, fin_ports), client_states(port, fin_ports)


def client_states(server_port: int, client_ports: set[int]) -> Counter[str]:
    return Counter(
        s.state
        for s in tcp_sockets()
        if s.remote_port == server_port and s.local_port in client_ports
    )


def all_in_time_wait(server_port: int, client_ports: set[int]) -> bool:
    return client_states(server_port, client_ports) == {"TIME_WAIT": len(client_ports)}


@pytest.mark.parametrize("kind", sorted(APPS))
async def test_300_connect_read_abort_cycles_return_to_zero(kind: str) -> None:
    """The smaller, deterministic version of the 5,000-cycle benchmark."""
    cycles, batch = 300, 50
    tracker = Tracker()
    async with running_server(tracker.wrap(APPS[kind]())) as server:
        port = server.port
        await warm_up(server, tracker)
        baseline = Baseline.take()
        streams: list[trio.SocketStream] = []
        try:
            with trio.fail_after(HARD_LIMIT):
                for _ in range(cycles // batch):
                    streams.clear()
                    await open_many(port, batch, streams)
                    abort_all(streams)
                    for stream in streams:
                        await stream.aclose()
            deadline = trio.current_time() + SETTLE_LIMIT
            problem = await settle(server, tracker, baseline, deadline)
        finally:
            for stream in streams:
                await trio.aclose_forcefully(stream)

        assert problem is None, f"{SETTLE_LIMIT} s after {cycles} cycles: {problem}"
        stats = server.statistics()
        assert stats.connections_total == cycles + 1
        assert stats.stream_disconnects == cycles + 1
        assert dict(stats.responses_by_status) == {200: cycles + 1}
        assert stats.handler_errors == 0
        assert stats.slow_clients_dropped == 0


async def test_helpers_see_a_close_wait_socket() -> None:
    """The probes work: a peer's FIN on a socket we keep open shows up as CLOSE_WAIT."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    listener = listeners[0]
    port = listener.socket.getsockname()[1]
    client = await trio.open_tcp_stream("127.0.0.1", port)
    accepted = await listener.accept()
    try:
        assert held_by_server(port) == {"ESTABLISHED": 1}
        await client.aclose()  # FIN; the accepted end is not closed: CLOSE_WAIT
        assert await accepted.receive_some(10) == b""
        # The EOF was read, but the kernel's table may lag behind it: polled, bounded.
        with trio.fail_after(HARD_LIMIT):
            while held_by_server(port) != {"CLOSE_WAIT": 1} or close_wait_on(port) != 1:
                await trio.sleep(0.01)
    finally:
        await accepted.aclose()
        await client.aclose()
        await listener.aclose()
    assert held_by_server(port) == {}
    assert close_wait_on(port) == 0
