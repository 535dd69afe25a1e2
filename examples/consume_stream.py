"""Consume an event stream the way a browser's ``EventSource`` does, with no HTTP library.

Run a server, then point this at it::

    python examples/workerman_seed.py --port 8080 &
    python examples/consume_stream.py --port 8080 --count 3
    python examples/consume_stream.py --url http://127.0.0.1:8080/

It opens a plain TCP connection with :func:`trio.open_tcp_stream`, speaks HTTP/1.1 through
h11 (trio-sse's own dependency; it handles chunked framing), and feeds the body to
:class:`trio_sse.client.EventStreamParser`, which dispatches events exactly as WHATWG HTML §9.2
says a browser does. Each event is printed as ``[id] type: data``.

Policy choices, following the EventSource processing model:

* **Reconnect on EOF.** When the stream ends (the server closed it, a proxy timed out, the
  network dropped) we wait the reconnection time and connect again, sending the last event
  id seen as ``Last-Event-ID`` so the server can resume. The reconnection time is the
  server's latest ``retry:`` field, else ``--retry-ms`` (3000, as browsers use).
* **Bounded attempts.** Unlike a browser, which retries forever, we give up after
  ``--max-attempts`` consecutive connections that delivered no event (connection refused,
  or a stream that ends at once), and exit with status 1. Any event resets the count.
* **Fatal answers are not retried.** ``204 No Content`` means "stop reconnecting" (exit 0);
  any other status than 200, or a ``Content-Type`` that is not ``text/event-stream``, fails
  the connection for good (exit 1), as EventSource does.
* **Stopping.** ``--count N`` exits after N events. Ctrl-C or SIGTERM exits at once with
  status 0: the connection is closed by cancellation, nothing else to clean up.
"""

from __future__ import annotations

import argparse
import enum
import logging
import signal
import sys
from urllib.parse import urlsplit

import h11
import trio

import trio_sse

logger = logging.getLogger("consume_stream")

RECEIVE_SIZE = 64 * 1024


class Outcome(enum.Enum):
    RECONNECT = "reconnect"  # the stream ended: try again after the reconnection time
    STOP = "stop"  # 204 No Content, or --count reached: done, successfully
    FAIL = "fail"  # not an event stream: do not retry


class Consumer:
    """One logical EventSource: its parser and counters survive reconnections."""

    def __init__(self, host: str, port: int, path: str, *, count: int | None) -> None:
        self.host = host
        self.port = port
        self.path = path
        self.count = count
        self.parser = trio_sse.client.EventStreamParser()  # keeps last_event_id and retry
        self.received = 0

    def _request(self) -> h11.Request:
        headers = [
            ("Host", f"{self.host}:{self.port}"),
            ("Accept", "text/event-stream"),
            ("Cache-Control", "no-cache"),
        ]
        if self.parser.last_event_id:  # an empty last event id is not sent
            headers.append(("Last-Event-ID", self.parser.last_event_id))
        return h11.Request(method="GET", target=self.path, headers=headers)

    async def read_once(self) -> Outcome:
        """Make one connection and read its stream to the end."""
        stream = await trio.open_tcp_stream(self.host, self.port)
        async with stream:
            conn = h11.Connection(h11.CLIENT)
            await stream.send_all(
                (conn.send(self._request()) or b"") + (conn.send(h11.EndOfMessage()) or b"")
            )
            try:
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        conn.receive_data(bytes(await stream.receive_some(RECEIVE_SIZE)))
                    elif isinstance(event, h11.Response):
                        problem = self._check_head(event)
                        if problem is not None:
                            logger.error("not an event stream (%s): giving up", problem)
                            return Outcome.FAIL
                        if event.status_code == 204:
                            logger.info("204 No Content: the server asks us to stop")
                            return Outcome.STOP
                        logger.info("connected to %s:%d%s", self.host, self.port, self.path)
                    elif isinstance(event, h11.Data):
                        for message in self.parser.feed(bytes(event.data)):
                            print(
                                f"[{message.last_event_id}] {message.type}: {message.data}",
                                flush=True,
                            )
                            self.received += 1
                            if self.count is not None and self.received >= self.count:
                                return Outcome.STOP
                    elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                        logger.info("the stream ended")
                        return Outcome.RECONNECT
                    # InformationalResponse (1xx) and PAUSED cannot end a GET: ignore them.
            except h11.RemoteProtocolError as exc:  # e.g. EOF in the middle of a chunk
                logger.info("the stream broke off: %s", exc)
                return Outcome.RECONNECT
            finally:
                # Whatever happened, an unterminated event is discarded (WHATWG §9.2.6).
                self.parser.end()

    @staticmethod
    def _check_head(response: h11.Response) -> str | None:
        """Return why *response* cannot be an event stream, or ``None`` if it can."""
        if response.status_code == 204:
            return None
        if response.status_code != 200:
            return f"status {response.status_code}, not 200"
        content_type = b""
        for name, value in response.headers:
            if name == b"content-type":
                content_type = value.split(b";", 1)[0].strip().lower()
        if content_type != b"text/event-stream":
            return f"Content-Type {content_type.decode('latin-1')!r}, not text/event-stream"
        return None


async def consume(consumer: Consumer, *, max_attempts: int, default_retry_ms: int) -> int:
    """Read, reconnect, give up; return the exit status."""
    failures = 0  # consecutive connections without an event
    while True:
        before = consumer.received
        try:
            outcome = await consumer.read_once()
        except (OSError, trio.BrokenResourceError) as exc:
            logger.warning("connection failed: %s", exc)
            outcome = Outcome.RECONNECT
        if outcome is Outcome.STOP:
            return 0
        if outcome is Outcome.FAIL:
            return 1
        failures = 0 if consumer.received > before else failures + 1
        if failures >= max_attempts:
            logger.error("%d attempts in a row without an event: giving up", failures)
            return 1
        retry_ms = consumer.parser.retry if consumer.parser.retry is not None else default_retry_ms
        logger.info(
            "reconnecting in %d ms (Last-Event-ID: %r)",
            retry_ms,
            consumer.parser.last_event_id or None,
        )
        await trio.sleep(retry_ms / 1000)


async def main(args: argparse.Namespace) -> int:
    consumer = Consumer(args.host, args.port, args.path, count=args.count)
    status = 0
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def run() -> None:
                nonlocal status
                status = await consume(
                    consumer, max_attempts=args.max_attempts, default_retry_ms=args.retry_ms
                )
                nursery.cancel_scope.cancel()  # stop the signal watcher below

            nursery.start_soon(run)
            async for signum in signals:
                logger.info("%s: stopping", signal.Signals(signum).name)
                nursery.cancel_scope.cancel()  # cancels the read, which closes the socket
                break
    return status


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Print the events of a text/event-stream, reconnecting like EventSource."
    )
    parser.add_argument("--url", help="http://HOST:PORT/PATH (overrides the three below)")
    parser.add_argument("--host", default="127.0.0.1", help="server host (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="server port (default: 8080)")
    parser.add_argument("--path", default="/", help="request target (default: /)")
    parser.add_argument("--count", type=int, help="exit after this many events")
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=5,
        help="consecutive connections without an event before giving up (default: 5)",
    )
    parser.add_argument(
        "--retry-ms",
        type=int,
        default=3000,
        help="reconnection time until the server sends retry: (default: 3000)",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default: INFO)")
    args = parser.parse_args(argv)
    if args.url is not None:
        url = urlsplit(args.url)
        if url.scheme != "http" or not url.hostname:
            parser.error("--url: only http://HOST[:PORT][/PATH] is supported")
        args.host = url.hostname
        args.port = url.port or 80
        args.path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    return args


def run(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return trio.run(main, args)
    except KeyboardInterrupt:  # Ctrl-C before the signal receiver was installed
        return 0


if __name__ == "__main__":
    sys.exit(run())
