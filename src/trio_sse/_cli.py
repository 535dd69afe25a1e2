"""The ``trio-sse`` command line (also ``python -m trio_sse``)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from ._config import Config
from ._demo import DEFAULT_INTERVAL, build_demo_app
from ._selfsigned import HOSTS, SelfSignedUnavailableError, write_self_signed
from ._server import Server
from ._tls import tls_context
from ._version import __version__
from ._workers import READY_MARKER, bind_reuse_port, python_command, supervise, watch_parent

if TYPE_CHECKING:
    from ._redis import RedisBroadcaster

#: The environment variable read when ``--broker`` is not given.
BROKER_ENV = "TRIO_SSE_BROKER"

__all__ = ["main"]

logger = logging.getLogger("trio_sse")


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _workers(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trio-sse",
        description="Server-Sent Events for Trio. `serve` runs the demo server.",
    )
    parser.add_argument("--version", action="version", version=f"trio-sse {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    s = sub.add_parser(
        "serve",
        help="run the demo server (the default command)",
        description=(
            "Serve the demo: GET / with 'Accept: text/event-stream' streams "
            "'event: message / data: hello / id: N' every INTERVAL seconds; any other "
            "request gets 'ok'. GET /events is a broadcast event stream, fed by POST "
            "/publish; /ws is a WebSocket (ticks, echo, publish) on the same port. "
            "GET /demo is a page comparing SSE and WebSocket live, side by side. "
            "GET /metrics shows statistics (Prometheus format). "
            "Stop with Ctrl-C or SIGTERM: connections get a grace period, then close."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    s.add_argument("--host", default="0.0.0.0", help="address to bind ('' for all)")
    s.add_argument("--port", type=int, default=8080, help="TCP port (0 picks a free one)")
    s.add_argument(
        "--interval",
        type=_positive,
        default=DEFAULT_INTERVAL,
        help="seconds between the demo ticker's events",
    )
    s.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="logging level (info logs one access line per request)",
    )
    defaults = Config()
    s.add_argument(
        "--max-connections",
        type=int,
        default=defaults.max_connections,
        help="connections served at once; more get 503",
    )
    s.add_argument(
        "--heartbeat",
        type=_positive,
        default=defaults.heartbeat_interval,
        help="seconds of idleness before an event stream sends a comment",
    )
    s.add_argument(
        "--grace",
        type=_positive,
        default=defaults.shutdown_grace_period,
        help="shutdown grace period in seconds",
    )
    s.add_argument(
        "--workers",
        type=_workers,
        default=1,
        help="worker processes sharing the port (SO_REUSEPORT); a crashed one is restarted",
    )
    s.add_argument(
        "--broker",
        default=os.environ.get(BROKER_ENV) or None,
        metavar="URL",
        help=(
            f"redis://HOST:PORT/DB: broadcast /events and /publish through Redis Streams, "
            f"across workers and hosts (needs trio-sse[redis]; default: ${BROKER_ENV})"
        ),
    )
    s.add_argument(
        "--certfile",
        metavar="PEM",
        help="serve HTTPS (and wss://) with this certificate chain (PEM; TLS 1.2 or later)",
    )
    s.add_argument(
        "--keyfile",
        metavar="PEM",
        help="the private key of --certfile (default: in the certfile itself)",
    )
    s.add_argument(
        "--self-signed",
        action="store_true",
        help=(
            "serve HTTPS (and HTTP/2) with a throwaway certificate for localhost, made now "
            "and deleted at exit: for testing only, browsers will warn"
        ),
    )
    s.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    return parser


async def _run_server(args: argparse.Namespace) -> None:
    async with contextlib.AsyncExitStack() as stack:
        events: RedisBroadcaster | None = None
        if args.broker:
            from ._redis import open_redis_broadcaster  # noqa: PLC0415 - only with a broker

            events = await stack.enter_async_context(open_redis_broadcaster(args.broker))
        await _serve_demo(args, events)


async def _serve_demo(args: argparse.Namespace, events: RedisBroadcaster | None) -> None:
    config = Config(
        max_connections=args.max_connections,
        heartbeat_interval=args.heartbeat,
        shutdown_grace_period=args.grace,
    )
    app = build_demo_app(interval=args.interval, backend=events)
    ssl_context = tls_context(args.certfile, args.keyfile) if args.certfile else None
    scheme = "https" if ssl_context is not None else "http"
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        # Bind before any nursery exists, so "address in use" surfaces as a plain OSError.
        listeners: list[trio.SocketListener]
        if args.worker is None:
            listeners = await trio.open_tcp_listeners(args.port, host=args.host or None)
        else:
            sockets = await bind_reuse_port(args.host, args.port, listen=True)
            listeners = [trio.SocketListener(sock) for sock in sockets]
        server = Server(app, config=config, ssl_context=ssl_context)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve_listeners, listeners)
            if args.worker is not None:
                nursery.start_soon(watch_parent, nursery.cancel_scope)
                print(f"{READY_MARKER}{server.ports[0]} (worker {args.worker})", flush=True)
            shown = "127.0.0.1" if args.host in ("0.0.0.0", "", "::") else args.host
            for port in server.ports[:1] if args.worker is None else ():
                print(f"trio-sse {__version__} serving on {scheme}://{shown}:{port}/", flush=True)
                curl = "curl -Nk" if args.self_signed else "curl -N"  # -k: trust it anyway
                print(
                    f"  try: {curl} -H 'Accept: text/event-stream' {scheme}://{shown}:{port}/",
                    flush=True,
                )
                print(f"  demo: {scheme}://{shown}:{port}/demo", flush=True)
            async for signum in signals:
                logger.info("%s received: shutting down", signal.Signals(signum).name)
                nursery.cancel_scope.cancel()
                break


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "serve")  # `serve` is the default command
    args = parser.parse_args(argv)
    if args.self_signed and (args.certfile or args.keyfile):
        parser.error("--self-signed cannot be combined with --certfile or --keyfile")
    if args.keyfile and not args.certfile:
        parser.error("--keyfile needs --certfile")
    with contextlib.ExitStack() as stack:
        if args.self_signed:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="trio-sse-tls-"))
            if not _make_self_signed(args, Path(folder)):
                return 2
        return _checked_main(args)


def _make_self_signed(args: argparse.Namespace, folder: Path) -> bool:
    """Write the throwaway certificate into *folder*, point *args* at it, and warn."""
    try:
        certfile, keyfile, tool = write_self_signed(folder)
    except (SelfSignedUnavailableError, OSError) as exc:
        print(f"trio-sse: {exc}", file=sys.stderr)
        return False
    args.certfile, args.keyfile = str(certfile), str(keyfile)
    print(
        f"trio-sse: warning: --self-signed: a throwaway certificate for {', '.join(HOSTS)}, "
        f"made with {tool} in {folder} and deleted at exit. It is for testing only: "
        f"browsers will warn that the connection is not private (accept it once, or start "
        f"Chromium with --ignore-certificate-errors); never use it in production.",
        file=sys.stderr,
        flush=True,
    )
    return True


def _checked_main(args: argparse.Namespace) -> int:
    """Check the TLS files, then serve (or supervise workers); return the exit status."""
    if args.certfile:
        try:  # check the files now, with a clear message, before any worker starts
            tls_context(args.certfile, args.keyfile)
        except (OSError, ValueError) as exc:
            print(f"trio-sse: TLS: {exc}", file=sys.stderr)
            return 2
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.workers > 1 and args.worker is None:
            if not args.broker:
                print(
                    f"trio-sse: warning: {args.workers} workers without --broker: each worker "
                    f"has its own /events broadcaster, so a POST /publish reaches only the "
                    f"clients of the worker that received it (use --broker redis://... or "
                    f"${BROKER_ENV} to broadcast across workers)",
                    file=sys.stderr,
                    flush=True,
                )
            trio.run(_supervise, args)
        else:
            trio.run(_run_server, args)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"trio-sse: port {args.port} on {args.host!r} is already in use", file=sys.stderr)
            return 1
        raise
    return 0


async def _supervise(args: argparse.Namespace) -> None:
    command = [
        *python_command(),
        "serve",
        "--host",
        args.host,
        "--interval",
        repr(args.interval),
        "--log-level",
        args.log_level,
        "--max-connections",
        str(args.max_connections),
        "--heartbeat",
        repr(args.heartbeat),
        "--grace",
        repr(args.grace),
    ]
    if args.broker:
        command += ["--broker", args.broker]
    if args.certfile:
        command += ["--certfile", args.certfile]
    if args.keyfile:
        command += ["--keyfile", args.keyfile]
    await supervise(
        command,
        workers=args.workers,
        host=args.host,
        port=args.port,
        stop_timeout=args.grace + 5,
        scheme="https" if args.certfile else "http",
    )
