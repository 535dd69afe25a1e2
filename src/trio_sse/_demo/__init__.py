"""The demo application served by ``trio-sse serve``: the seed's behaviour and friends.

Routes:

* ``/`` (any method): a request that accepts ``text/event-stream`` gets an event stream
  whose ticker sends ``event: message``, ``data: hello``, ``id: N`` every *interval*
  seconds (the Workerman example's behaviour); any other request gets ``ok``.
* ``/metrics``: the server's statistics in the Prometheus text format.
* ``GET /events``: the demo's broadcast stream (:class:`~trio_sse.Broadcaster`): every
  body posted to ``/publish`` arrives as a named event (``event: publish`` unless the
  publisher chose another name) with an id; a client reconnecting with ``Last-Event-ID``
  is replayed what it missed, or told ``event: reset`` when that is no longer possible.
* ``POST /publish``: publish the request body, which must be non-empty UTF-8 text of at
  most 64 KiB, to ``/events`` (how a browser that only has SSE talks back). The optional
  query parameter ``event`` names the event: 1 to 64 characters from ``A-Z a-z 0-9 _ . :
  -``, starting with a letter or digit, and not ``reset``. Answers ``202`` with
  ``{"id": "<event id>"}``; ``400`` for an empty or non-UTF-8 body or a bad name, ``413``
  for a body over the limit. A copy goes to the demo feed (below), with an id of its own.
* ``GET /ws``: a WebSocket (a plain request gets ``426 Upgrade Required``). The server
  sends the ticker's events as JSON text messages, ``{"event": "message", "data":
  "hello", "id": N}``, the first one *interval* after the handshake (ids continue after
  the query parameter ``last_event_id`` or a ``Last-Event-ID`` header, as on ``/``), and
  relays every ``/events`` broadcast as ``{"event": <name>, "data": <text>, "id":
  <broadcast id or null>, "source": "/events"}``. Nothing else is sent unasked.

  A text message from the client is a *control message* when it is a JSON object whose
  ``"type"`` member is the string ``"interval"`` or ``"publish"``; every other message,
  text or binary, is echoed back unchanged, byte for byte. Control messages:

  - ``{"type": "interval", "seconds": S}`` (a number from 0.05 to 3600): the ticker
    restarts its schedule with the new interval (next event S seconds later). Answer:
    ``{"type": "ack", "of": "interval", "seconds": S}``.
  - ``{"type": "publish", "data": TEXT, "event": NAME}`` (``event`` optional, the same
    rules as ``/publish``): publish to ``/events``, exactly as ``POST /publish`` does.
    Answer: ``{"type": "ack", "of": "publish", "id": "<event id>"}``; SSE clients and
    every WebSocket client (this one too) then receive the event.
  - A control message with bad values is answered with ``{"type": "error", "of":
    <type>, "detail": <text>}`` and changes nothing.

The comparison page and the routes it uses (see ``docs/demo.rst``). They share the *demo
feed*: one :class:`~trio_sse.Broadcaster` carrying ``event: tick`` (data ``hello``) on the
schedule *start + n x interval*, a copy of everything published through ``/publish`` or a
WebSocket, and the ``binary`` events below. The feed's connections drive its schedule: a
tick due while nobody listened is published when the next one arrives (at most the last
:data:`FEED_MAX_CATCH_UP`), so a client that comes back after an outage finds in the
history what it missed, as it would with a feed fed by its own source. The query parameter
``client`` (1 to 64 characters from ``A-Z a-z 0-9 _ -``; optional, ``400`` when malformed)
names the page, so that ``/demo/drop`` can find its connections.

* ``GET /demo``: the page; ``GET /demo/demo.css`` and ``GET /demo/demo.js``: its assets,
  read from the package (``trio_sse/_static``). No CDN: it works offline. Its fifth
  experiment (connections per origin) opens N event streams on ``/`` and N WebSockets on
  ``/ws``, the routes above: no route of its own.
* ``GET /demo/events?client=ID``: the feed as an event stream. It starts with ``retry:
  R`` (R = max(1 s, 2 x interval), in milliseconds). With a ``Last-Event-ID`` the
  broadcaster replays what the client missed, announced first by one ``event: resumed``
  without an id, data ``{"after": <Last-Event-ID>, "replayed": <count>}`` (or an ``event:
  reset`` when the id cannot be honoured).
* ``GET /demo/ws?client=ID``: the feed over a WebSocket. No ticker of its own: each feed
  event arrives as ``{"event": <name>, "data": <text>, "id": <feed id>, "source":
  "feed"}``; with the query parameter ``last_event_id`` (the page's hand-written resume)
  the session first sends ``{"type": "resumed", "after": ID, "replayed": N}`` and the
  missed events. Echo and the ``publish`` control message work as on ``/ws``;
  ``interval`` is answered with an error (the feed keeps the server's schedule).
* ``POST /demo/drop?client=ID&transport=sse|ws``: end that page's feed connections of
  that transport, as a network failure would. The event stream ends (with its last chunk,
  or by closing the connection if the drop interrupts a write), so ``EventSource``
  reconnects by itself, with ``Last-Event-ID``; the WebSocket closes with code ``4000``.
  Answers ``200`` with ``{"dropped": <connections ended>}``; ``400`` without a valid
  ``client`` or ``transport``.
* ``POST /demo/binary``: the body (1 byte to 48 KiB, any bytes) is published to the feed
  base64-encoded, as ``event: binary``: SSE carries only UTF-8 text. Answers ``202`` with
  ``{"id": <feed id>, "bytes": <body size>, "base64_chars": <encoded size>, "wire_bytes":
  <size of the encoded event block>}``; ``400`` for an empty body, ``413`` over the limit.

Layout: one module per job, each importing the others directly (never this file):
``seed`` (the ticker, ``/``, ``/metrics``), ``hub`` (the state the routes share: the
``/events`` broadcaster, the feed, live connections), ``publishing`` (``/events``,
``/publish`` and the rules for a published event), ``websocket`` (``/ws`` sessions and
control messages), ``compare`` (the comparison page and its routes), ``app``
(:func:`build_demo_app`). This file only re-exports.
"""

from __future__ import annotations

from .app import build_demo_app
from .compare import (
    BINARY_EVENT,
    DROP_CLOSE_CODE,
    MAX_BINARY_BYTES,
    TRANSPORTS,
    demo_retry_ms,
)
from .hub import FEED_MAX_CATCH_UP, RESUMED_EVENT, TICK_EVENT, DemoFeed, LiveConnections
from .publishing import MAX_PUBLISH_BYTES, PUBLISH_EVENT
from .seed import DEFAULT_INTERVAL, PROMETHEUS_CONTENT_TYPE, resume_id, seed_ticker
from .websocket import WS_CONTROL_TYPES, WS_MAX_INTERVAL, WS_MIN_INTERVAL, ws_control_message

__all__ = [
    "BINARY_EVENT",
    "DEFAULT_INTERVAL",
    "DROP_CLOSE_CODE",
    "FEED_MAX_CATCH_UP",
    "MAX_BINARY_BYTES",
    "MAX_PUBLISH_BYTES",
    "PROMETHEUS_CONTENT_TYPE",
    "PUBLISH_EVENT",
    "RESUMED_EVENT",
    "TICK_EVENT",
    "TRANSPORTS",
    "WS_CONTROL_TYPES",
    "WS_MAX_INTERVAL",
    "WS_MIN_INTERVAL",
    "DemoFeed",
    "LiveConnections",
    "build_demo_app",
    "demo_retry_ms",
    "resume_id",
    "seed_ticker",
    "ws_control_message",
]
