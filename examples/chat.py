"""A chat room over Server-Sent Events: a broadcast stream that resumes after a reconnect.

Run it, then talk to it::

    python examples/chat.py --port 8080
    # open http://127.0.0.1:8080/ in two browser tabs, or:
    curl -N http://127.0.0.1:8080/stream                                # listen
    curl -d 'hello, room' 'http://127.0.0.1:8080/say?name=ann'          # say something
    curl -N -H 'Last-Event-ID: <an id you saw>' http://127.0.0.1:8080/stream   # resume

Routes:

* ``GET /stream``: the room as an event stream. Every message is an ``event: chat`` whose
  data is JSON, ``{"name": ..., "text": ...}``, with an id. The stream starts with
  ``retry: 2000`` (reconnect after 2 s).
* ``POST /say?name=NAME``: say the request body (UTF-8 text, 1 to ``--max-message``
  bytes) in the room. Answers ``202`` with ``{"id": "<event id>"}``; ``400`` for an empty
  or non-UTF-8 body or a bad name, ``413`` for a body over the limit.
* ``GET /stats``: the broadcaster's counters as JSON.
* ``GET /``: a small HTML page (an ``EventSource`` and a form), no external assets.

Policy choices:

* **One Broadcaster, ids assigned by it.** ``POST /say`` publishes each message once to a
  :class:`trio_sse.Broadcaster`, which gives it the next id (``"<prefix>-<n>"``, with a
  random prefix per server run), encodes it once and queues the same bytes for every
  open stream. ``/say`` never waits for slow listeners.
* **Resume with Last-Event-ID.** The broadcaster keeps the last ``--history`` messages.
  An ``EventSource`` that reconnects sends the id of the last message it got, and is
  replayed exactly what it missed, in order, before live messages: nothing is lost or
  repeated across a reconnect.
* **Say so when resuming is impossible.** When the id is older than the history (the
  client was away too long) or unknown (from before a server restart: the prefix
  changed), the stream starts with ``event: reset`` (data ``expired`` or ``unknown``)
  and continues live. The page then clears its log and says that messages may have been
  missed; a real application would re-read its state here.
* **Slow listeners are disconnected, then resume.** Each stream may have at most
  ``--queue-size`` messages waiting to be written. A listener that falls further behind
  is dropped (its response ends) instead of slowing the room or growing memory; its
  ``EventSource`` reconnects with ``Last-Event-ID`` and is replayed the rest from the
  history.
* **Graceful shutdown.** Ctrl-C or SIGTERM cancel the server: each stream gets the
  farewell ``retry: 5000`` (wait 5 s before reconnecting, e.g. to a restarted server) and
  ends within ``--grace`` seconds; the program exits with status 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import signal
import sys
from functools import partial
from typing import TYPE_CHECKING

import trio

import trio_sse

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger("chat")

CHAT_EVENT = "chat"
NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,32}")
RETRY_MS = 2000
FAREWELL = trio_sse.ServerSentEvent(comment="server shutting down", retry=5000)

PAGE = """\
<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>trio-sse chat</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 40em; margin: 2em auto; }
  #log { border: 1px solid #ccc; height: 20em; overflow-y: auto; padding: .5em; }
  .note { color: #a60; }
</style>
<h1>trio-sse chat</h1>
<div id="log"></div>
<form id="say">
  <input id="name" value="guest" size="8" pattern="[A-Za-z0-9_.\\-]{1,32}">
  <input id="text" size="40" autofocus autocomplete="off">
  <button>Say</button>
</form>
<script>
const log = document.getElementById('log');
function show(text, cls) {
  const line = document.createElement('div');
  line.textContent = text;
  if (cls) line.className = cls;
  log.append(line);
  log.scrollTop = log.scrollHeight;
}
// EventSource reconnects by itself and sends Last-Event-ID: the server replays
// what this page missed, so the log stays complete across network blips.
const source = new EventSource('/stream');
source.addEventListener('chat', (e) => {
  const msg = JSON.parse(e.data);
  show(`${msg.name}: ${msg.text}`);
});
// The server could not replay (we were away too long, or it restarted):
// start over and say so.
source.addEventListener('reset', (e) => {
  log.replaceChildren();
  show(`(${e.data}: earlier messages may be missing)`, 'note');
});
source.onerror = () => show('(connection lost, reconnecting...)', 'note');
document.getElementById('say').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = document.getElementById('text');
  const name = encodeURIComponent(document.getElementById('name').value);
  if (!text.value) return;
  await fetch(`/say?name=${name}`, {method: 'POST', body: text.value});
  text.value = '';
});
</script>
</html>
"""


def _json(value: object, status: int = 200) -> trio_sse.Response:
    return trio_sse.Response(
        json.dumps(value) + "\n", status=status, content_type="application/json"
    )


def build_app(broadcaster: trio_sse.Broadcaster, *, max_message: int) -> trio_sse.Router:
    router = trio_sse.Router()

    @router.route("/stream")
    async def stream(request: trio_sse.Request) -> trio_sse.BaseResponse:
        # Every request here gets the stream: EventSource and `curl -N` alike. The
        # broadcaster reads Last-Event-ID from the stream and replays (or resets).
        logger.debug("listener from %s, Last-Event-ID %r", request.client, request.last_event_id)
        return broadcaster.stream_response(retry=RETRY_MS, farewell=FAREWELL)

    @router.route("/say", methods=("POST",))
    async def say(request: trio_sse.Request) -> trio_sse.BaseResponse:
        name = request.query_param("name", "guest") or "guest"
        if not NAME_RE.fullmatch(name):
            return trio_sse.Response("name: 1 to 32 of A-Z a-z 0-9 _ . -\n", status=400)
        if len(request.body) > max_message:
            return trio_sse.Response(f"body: over {max_message} bytes\n", status=413)
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            return trio_sse.Response("body: not UTF-8\n", status=400)
        if not text.strip():
            return trio_sse.Response("body: empty; post the text to say\n", status=400)
        # JSON keeps the data on one line and gives the page structured fields; a raw
        # multi-line text would be fine too (it is sent as several data: lines).
        data = json.dumps({"name": name, "text": text})
        event_id = await broadcaster.publish(data, event=CHAT_EVENT)
        logger.info("%s said %d byte(s) as %s", name, len(request.body), event_id)
        return _json({"id": event_id}, status=202)

    @router.route("/stats")
    async def stats(request: trio_sse.Request) -> trio_sse.BaseResponse:
        s = broadcaster.statistics()
        return _json(
            {
                "subscribers": s.subscribers,
                "published": s.published,
                "history_size": s.history_size,
                "subscribers_dropped": s.subscribers_dropped,
                "events_replayed": s.events_replayed,
                "resets_sent": s.resets_sent,
                "last_event_id": s.last_event_id,
            }
        )

    @router.route("/")
    async def index(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.Response(PAGE, content_type="text/html; charset=utf-8")

    return router


async def main(args: argparse.Namespace) -> None:
    broadcaster = trio_sse.Broadcaster(history=args.history, queue_size=args.queue_size)
    app = build_app(broadcaster, max_message=args.max_message)
    config = trio_sse.Config(shutdown_grace_period=args.grace)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            server: trio_sse.Server = await nursery.start(
                partial(trio_sse.serve, app, args.host, args.port, config=config)
            )
            shown = "127.0.0.1" if args.host in ("0.0.0.0", "", "::") else args.host
            logger.info("serving on http://%s:%d/ (Ctrl-C to stop)", shown, server.port)
            async for signum in signals:
                logger.info("%s: shutting down", signal.Signals(signum).name)
                nursery.cancel_scope.cancel()  # streams send FAREWELL, within --grace
                break
    logger.info("stopped after %d message(s)", broadcaster.statistics().published)


def _at_least(least: int) -> Callable[[str], int]:
    def check(text: str) -> int:
        value = int(text)
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {text}")
        return value

    return check


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="A chat room over SSE, with resume.")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="TCP port; 0 picks a free one (default: 8080)"
    )
    parser.add_argument(
        "--history",
        type=_at_least(0),
        default=100,
        help="messages kept for replay to reconnecting listeners (default: 100)",
    )
    parser.add_argument(
        "--queue-size",
        type=_at_least(1),
        default=64,
        help="messages a listener may fall behind before it is dropped (default: 64)",
    )
    parser.add_argument(
        "--max-message",
        type=_at_least(1),
        default=4096,
        help="largest message in bytes (default: 4096)",
    )
    parser.add_argument(
        "--grace", type=float, default=5.0, help="shutdown grace period in seconds (default: 5)"
    )
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
