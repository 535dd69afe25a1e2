"""trio-sse embedded in an existing Trio program, next to the program's own tasks.

Run it, then talk to it::

    python examples/embed.py --port 8080
    curl -N -H 'Accept: text/event-stream' http://127.0.0.1:8080/load   # a stream of samples
    curl http://127.0.0.1:8080/load                                      # the load right now
    curl http://127.0.0.1:8080/metrics                                   # Prometheus text

The "existing program" is a periodic job that samples the 1-minute load average every
``--sample-interval`` seconds, plus a reporter that logs statistics. The server is one
more child of the program's nursery, started with ``await nursery.start(trio_sse.serve,
...)``, which returns the running :class:`trio_sse.Server` once the port is bound (so
``--port 0`` works: the port is read from :attr:`trio_sse.Server.port`).

Policy choices:

* **One publisher, many streams: a Broadcaster.** The sampler publishes each sample once
  to a :class:`trio_sse.Broadcaster`, which encodes it once, numbers it, and queues the
  same bytes for every subscribed stream. Publishing never blocks the sampler: a client
  whose queue is full is dropped and reconnects by itself.
* **Resumption.** Every event has an id. A client that reconnects with ``Last-Event-ID``
  is replayed what it missed from the broadcaster's history (``--history`` events), or
  gets an ``event: reset`` when it fell too far behind, and should then reload its
  state.
* **Graceful shutdown by cancellation.** Ctrl-C, SIGTERM or ``--run-for`` cancel the
  program's nursery. The sampler and the reporter stop at once; the server stops
  accepting, and each open stream writes its *farewell* (a ``retry`` hint asking the
  client to wait 5 s before reconnecting, e.g. to a restarted server) and ends, all
  within ``--grace`` seconds (:attr:`trio_sse.Config.shutdown_grace_period`). Then the
  program logs the final statistics and exits with status 0.
* **Handlers find the server with** :func:`trio_sse.current_server`, so ``/metrics`` needs
  no global variable.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from functools import partial

import trio

import trio_sse

logger = logging.getLogger("embed")

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


# -- the program's own tasks -------------------------------------------------------------


async def sample_load(broadcaster: trio_sse.Broadcaster, interval: float) -> None:
    """The periodic job: sample the load average on a fixed schedule and publish it."""
    start = trio.current_time()
    n = 0
    while True:
        await broadcaster.publish(f"{os.getloadavg()[0]:.2f}", event="load")
        n += 1
        await trio.sleep_until(start + n * interval)


async def report_statistics(
    server: trio_sse.Server, broadcaster: trio_sse.Broadcaster, interval: float
) -> None:
    """Another periodic job: log what the embedded server is doing."""
    while True:
        await trio.sleep(interval)
        stats = server.statistics()
        subscribers = broadcaster.statistics().subscribers
        logger.info(
            "%d connection(s) open, %d subscriber(s), %d event(s) sent",
            stats.connections_open,
            subscribers,
            stats.events_sent,
        )


async def stop_after(seconds: float, scope: trio.CancelScope) -> None:
    await trio.sleep(seconds)
    logger.info("--run-for %g s elapsed: shutting down", seconds)
    scope.cancel()


# -- the web application -----------------------------------------------------------------


def build_app(broadcaster: trio_sse.Broadcaster) -> trio_sse.Router:
    router = trio_sse.Router()

    @router.route("/load")
    async def load(request: trio_sse.Request) -> trio_sse.BaseResponse:
        if trio_sse.accepts_event_stream(request):
            return broadcaster.stream_response(
                retry=3000,  # reconnect after 3 s if the connection drops
                farewell=trio_sse.ServerSentEvent(comment="shutting down", retry=5000),
            )
        return trio_sse.Response(f"{os.getloadavg()[0]:.2f}\n")

    @router.route("/metrics")
    async def metrics(request: trio_sse.Request) -> trio_sse.BaseResponse:
        stats = trio_sse.current_server().statistics()
        return trio_sse.Response(
            trio_sse.metrics.render_prometheus(stats), content_type=PROMETHEUS_CONTENT_TYPE
        )

    @router.route("/")
    async def index(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.Response("GET /load (as text/event-stream or text), GET /metrics\n")

    return router


# -- the program -------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    broadcaster = trio_sse.Broadcaster(history=args.history)
    config = trio_sse.Config(shutdown_grace_period=args.grace)
    app = build_app(broadcaster)
    server: trio_sse.Server | None = None
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sample_load, broadcaster, args.sample_interval)
            server = await nursery.start(
                partial(trio_sse.serve, app, args.host, args.port, config=config)
            )
            logger.info("serving on http://%s:%d/ (Ctrl-C to stop)", args.host, server.port)
            nursery.start_soon(report_statistics, server, broadcaster, args.report_interval)
            if args.run_for is not None:
                nursery.start_soon(stop_after, args.run_for, nursery.cancel_scope)
            async for signum in signals:
                logger.info("%s: shutting down", signal.Signals(signum).name)
                nursery.cancel_scope.cancel()
                break
    # The nursery has exited: every task, and every connection, is finished.
    if server is not None:
        stats = server.statistics()
        logger.info(
            "stopped: %d connection(s) and %d event(s) served",
            stats.connections_total,
            stats.events_sent,
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="trio-sse inside an existing Trio program.")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="TCP port; 0 picks a free one (default: 8080)"
    )
    parser.add_argument(
        "--sample-interval", type=float, default=1.0, help="seconds between samples (default: 1)"
    )
    parser.add_argument(
        "--report-interval",
        type=float,
        default=10.0,
        help="seconds between statistics log lines (default: 10)",
    )
    parser.add_argument(
        "--history", type=int, default=100, help="samples kept for replay (default: 100)"
    )
    parser.add_argument(
        "--grace", type=float, default=5.0, help="shutdown grace period in seconds (default: 5)"
    )
    parser.add_argument("--run-for", type=float, help="shut down after this many seconds")
    parser.add_argument("--log-level", default="INFO", help="logging level (default: INFO)")
    return parser.parse_args(argv)


def run(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        trio.run(main, args)
    except KeyboardInterrupt:  # Ctrl-C before the signal receiver was installed
        logger.info("interrupted")
    return 0


if __name__ == "__main__":
    sys.exit(run())
