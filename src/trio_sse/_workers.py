"""Several worker processes on one port: ``trio-sse serve --workers N``.

The parent is a small Trio supervisor (no threads): it reserves the port, starts *N*
copies of ``python -m trio_sse serve ... --worker K`` with :func:`trio.lowlevel.open_process`,
each binding its own listening socket with ``SO_REUSEPORT`` (the kernel spreads new
connections over them), relays their standard output, restarts a worker that exits, and
on SIGINT or SIGTERM forwards SIGTERM to every worker, waits for them (each closes its
connections within its grace period), then returns.

The parent holds a *bound but not listening* ``SO_REUSEPORT`` socket on the port for its
whole life: it reserves the port (``--port 0`` picks it once for all workers) and never
receives connections. Each worker's standard input is a pipe from the parent: a worker
whose parent died sees end-of-file there and shuts down, so no worker outlives it.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["READY_MARKER", "bind_reuse_port", "supervise", "watch_parent"]

logger = logging.getLogger("trio_sse")

#: A worker prints this, then its port, once it accepts connections.
READY_MARKER = "trio-sse worker ready on port "
_RESTART_DELAYS = (0.5, 5.0)


async def bind_reuse_port(host: str, port: int, *, listen: bool) -> list[trio.socket.SocketType]:
    """Sockets bound to every address of *host* on *port*, with ``SO_REUSEPORT``.

    Args:
        host: The address to bind; ``""`` means every interface (IPv4 and IPv6).
        port: The port; ``0`` picks a free one (the same for every address).
        listen: Whether to start listening (a worker) or only reserve the port (the parent).

    Returns:
        The sockets, in ``getaddrinfo`` order.

    Raises:
        OSError: The port is in use (without ``SO_REUSEPORT``) or the address is invalid.
    """
    infos = await trio.socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    sockets: list[trio.socket.SocketType] = []
    try:
        seen: set[tuple[int, object]] = set()
        for family, kind, proto, _, address in infos:
            if (family, address[0]) in seen:
                continue
            seen.add((family, address[0]))
            sock = trio.socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            await sock.bind((address[0], port, *address[2:]))
            port = sock.getsockname()[1]
            if listen:
                sock.listen(4096)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


async def watch_parent(cancel_scope: trio.CancelScope) -> None:
    """Cancel *cancel_scope* when standard input (a pipe from the supervisor) ends."""
    stream = trio.lowlevel.FdStream(os.dup(0))
    async with stream:
        while await stream.receive_some(4096):
            pass
    logger.warning("supervisor gone: shutting down")
    cancel_scope.cancel()


class _Worker:
    """One worker slot: its process, restarted whenever it exits unasked."""

    def __init__(self, index: int, command: list[str]) -> None:
        self.index = index
        self.command = command
        self.process: trio.Process | None = None
        self.stopping = False
        self.started = 0
        self.ready = trio.Event()
        self.done = trio.Event()

    def is_stopping(self) -> bool:
        return self.stopping

    def stop(self) -> None:
        self.stopping = True
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)

    async def _relay(self, stream: trio.abc.ReceiveStream) -> None:
        pending = b""
        while chunk := await stream.receive_some(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                text = line.decode("utf-8", "replace")
                if text.startswith(READY_MARKER):
                    self.ready.set()
                    port = text[len(READY_MARKER) :].split()[0]
                    logger.info("worker %d (pid %s) ready on port %s", self.index, self.pid, port)
                else:
                    print(text, flush=True)

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    async def run(self) -> None:
        delay = _RESTART_DELAYS[0]
        try:
            while not self.is_stopping():
                started_at = trio.current_time()
                process = await trio.lowlevel.open_process(
                    [*self.command, "--worker", str(self.index)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    start_new_session=True,  # signals come from us, not from the terminal
                )
                self.process = process
                self.started += 1
                assert process.stdout is not None
                try:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(self._relay, process.stdout)
                        code = await process.wait()
                finally:
                    if process.returncode is None:
                        process.kill()
                        with trio.CancelScope(shield=True):
                            await process.wait()
                    if process.stdin is not None:
                        with trio.CancelScope(shield=True):
                            await process.stdin.aclose()
                if self.is_stopping():
                    break
                if trio.current_time() - started_at > 10:
                    delay = _RESTART_DELAYS[0]
                logger.warning(
                    "worker %d (pid %d) exited with code %d: restarting in %.1f s",
                    self.index,
                    process.pid,
                    code,
                    delay,
                )
                await trio.sleep(delay)
                delay = min(_RESTART_DELAYS[1], delay * 2)
        finally:
            self.done.set()


async def supervise(
    command: Sequence[str],
    *,
    workers: int,
    host: str,
    port: int,
    stop_timeout: float,
    scheme: str = "http",
) -> int:
    """Run *workers* copies of *command* (plus ``--port P --worker K``) until a signal.

    Args:
        command: The worker's command line, without ``--port`` and ``--worker``.
        workers: How many worker processes.
        host: The address the workers bind (to reserve the port).
        port: The port; ``0`` picks a free one for all of them.
        stop_timeout: Seconds to wait for the workers after forwarding the signal before
            killing them.
        scheme: ``"https"`` when the workers serve TLS: the scheme of the address printed.

    Returns:
        The port served.
    """
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        reserved = await bind_reuse_port(host, port, listen=False)
        try:
            port = reserved[0].getsockname()[1]
            full = [*command, "--port", str(port)]
            slots = [_Worker(index, full) for index in range(1, workers + 1)]
            async with trio.open_nursery() as nursery:
                for slot in slots:
                    nursery.start_soon(slot.run)
                for slot in slots:
                    await slot.ready.wait()
                shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
                pids = ", ".join(str(slot.pid) for slot in slots)
                print(
                    f"trio-sse {workers} workers (pids {pids}) serving on {scheme}://{shown}:{port}/",
                    flush=True,
                )
                async for signum in signals:
                    logger.info("%s received: stopping the workers", signal.Signals(signum).name)
                    break
                for slot in slots:
                    slot.stop()
                with trio.move_on_after(stop_timeout):
                    for slot in slots:
                        await slot.done.wait()
                nursery.cancel_scope.cancel()  # kills whatever is still running
        finally:
            for sock in reserved:
                sock.close()
    return port


def python_command() -> list[str]:
    """How to start ``python -m trio_sse`` with this interpreter."""
    return [sys.executable, "-m", "trio_sse"]
