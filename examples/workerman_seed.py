"""The Workerman SSE example, ported line for line to trio-sse.

Run it, then talk to it::

    python examples/workerman_seed.py                      # http://0.0.0.0:8080, as the PHP
    curl -N -H 'Accept: text/event-stream' http://127.0.0.1:8080/   # an event every 2 s
    curl http://127.0.0.1:8080/                                      # ok

The PHP original is in the tutorial (docs/tutorial.rst), which walks through this file.
Where the port differs from the PHP, on purpose:

* **Detecting an SSE request.** The PHP compares the ``Accept`` header with ``===``, so
  ``Accept: text/event-stream, */*`` is not SSE to it. :func:`trio_sse.accepts_event_stream`
  parses the header (RFC 9110) and says yes when ``text/event-stream`` is named explicitly
  with ``q > 0``; a bare ``*/*`` (every ordinary browser page load) does not count, so a
  browser opening the URL still gets ``ok``.
* **The response head.** ``EventStreamResponse`` sends ``200`` with
  ``Content-Type: text/event-stream``, ``Cache-Control: no-cache`` and
  ``X-Accel-Buffering: no`` (so nginx does not buffer the stream) as soon as the handler
  returns, before the first event; the body is chunked on HTTP/1.1.
* **The timer.** ``Timer::add(2, ...)`` becomes a *producer* task that sleeps until
  ``start + n * interval``: ticks are scheduled on the clock, so a slow write never makes
  later ticks drift, and the first tick comes one interval after the stream opens, as with
  the Workerman timer.
* **No timer deletion.** The producer is a child task of the connection. When the client
  disconnects, the connection's reader sees EOF and cancels it at once; there is nothing
  to delete and nothing can leak (see the comment in :func:`ticker`).
* **The event id.** The seed sends the constant id ``1``, and so does this port, so the
  bytes on the wire match the seed's. A real stream numbers its events so that a
  reconnecting client's ``Last-Event-ID`` means something; ``trio-sse serve`` does that.
* **Stopping.** Ctrl-C or SIGTERM starts a graceful shutdown: the server stops accepting,
  streams end within the grace period (``Config.shutdown_grace_period``), and the program
  exits with status 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from functools import partial

import trio

import trio_sse

logger = logging.getLogger("workerman_seed")


async def ticker(stream: trio_sse.EventStream, interval: float) -> None:
    """Periodically push data to the client (the PHP's ``Timer::add`` callback)."""
    start = stream.opened_at  # when the client saw the stream open
    n = 0
    while True:
        n += 1
        await trio.sleep_until(start + n * interval)
        # (PHP: "When the connection is closed, delete the timer to avoid accumulation of
        # timers causing memory leaks".) Not needed here: this function runs as a child
        # task of the connection's nursery. When the client goes away, the connection's
        # reader sees EOF (or a reset) and cancels that nursery, so this task is
        # cancelled inside trio.sleep_until() or stream.send() and simply ends. No status
        # check, no timer id, nothing left behind.

        # Send the message event with data as 'hello' and an optional message ID
        await stream.send(trio_sse.ServerSentEvent("hello", event="message", id="1"))


def build_app(interval: float) -> trio_sse.Router:
    """The PHP's ``$worker->onMessage`` callback, as a router with one route."""
    router = trio_sse.Router()

    # methods=None: answer every method, as onMessage does.
    @router.route("/", methods=None)
    async def on_message(request: trio_sse.Request) -> trio_sse.BaseResponse:
        # If the Accept header is text/event-stream, it is an SSE request
        if trio_sse.accepts_event_stream(request):
            # Firstly, send a response with Content-Type: text/event-stream header
            # (returning it sends the head at once), then periodically push data.
            return trio_sse.EventStreamResponse(partial(ticker, interval=interval))
        return trio_sse.Response("ok")

    return router


async def main(host: str, port: int, interval: float) -> None:
    """``$worker = new Worker('http://0.0.0.0:8080')`` and ``Worker::runAll()``."""
    app = build_app(interval)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            server: trio_sse.Server = await nursery.start(trio_sse.serve, app, host, port)
            shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
            logger.info("serving on http://%s:%d/ (Ctrl-C to stop)", shown, server.port)
            async for signum in signals:
                logger.info("%s: shutting down", signal.Signals(signum).name)
                nursery.cancel_scope.cancel()  # graceful: see Config.shutdown_grace_period
                break


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The Workerman SSE example, ported to trio-sse.")
    parser.add_argument("--host", default="0.0.0.0", help="address to bind (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8080, help="TCP port; 0 picks a free one (default: 8080)"
    )
    parser.add_argument(
        "--interval", type=float, default=2.0, help="seconds between events (default: 2)"
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default: INFO)")
    return parser.parse_args(argv)


def run(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        # Run the worker
        trio.run(main, args.host, args.port, args.interval)
    except KeyboardInterrupt:  # Ctrl-C before the signal receiver was installed
        logger.info("interrupted")
    return 0


if __name__ == "__main__":
    sys.exit(run())
