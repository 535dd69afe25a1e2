"""Server settings: every limit and timeout trio-sse enforces, with its default.

This file does no I/O. Each setting is documented once, here; the docs' "Limits" table
is generated from these docstrings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Final, final

__all__ = [
    "DEFAULT_HEARTBEAT_INTERVAL",
    "DEFAULT_HTTP2_CONTROL_FRAME_BUDGET",
    "DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS",
    "DEFAULT_HTTP2_PING_INTERVAL",
    "DEFAULT_HTTP2_PING_TIMEOUT",
    "DEFAULT_HTTP2_RESET_BUDGET",
    "DEFAULT_KEEPALIVE_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_REQUEST_BODY_TIMEOUT",
    "DEFAULT_REQUEST_HEAD_TIMEOUT",
    "DEFAULT_SEND_TIMEOUT",
    "DEFAULT_SHUTDOWN_GRACE_PERIOD",
    "DEFAULT_TCP_KEEPALIVE_COUNT",
    "DEFAULT_TCP_KEEPALIVE_IDLE",
    "DEFAULT_TCP_KEEPALIVE_INTERVAL",
    "DEFAULT_TLS_HANDSHAKE_TIMEOUT",
    "USE_CONFIG",
    "Config",
    "UseConfig",
]

DEFAULT_MAX_HEADER_BYTES: Final = 16 * 1024
DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
DEFAULT_REQUEST_HEAD_TIMEOUT: Final = 10.0
DEFAULT_REQUEST_BODY_TIMEOUT: Final = 30.0
DEFAULT_KEEPALIVE_TIMEOUT: Final = 5.0
DEFAULT_MAX_CONNECTIONS: Final = 10_000
DEFAULT_SHUTDOWN_GRACE_PERIOD: Final = 5.0
DEFAULT_SEND_TIMEOUT: Final = 10.0
DEFAULT_HEARTBEAT_INTERVAL: Final = 15.0
DEFAULT_TCP_KEEPALIVE_IDLE: Final = 60.0
DEFAULT_TCP_KEEPALIVE_INTERVAL: Final = 10.0
DEFAULT_TCP_KEEPALIVE_COUNT: Final = 3
DEFAULT_TIMER_RESOLUTION: Final = 0.001
DEFAULT_MEMORY_TRIM_INTERVAL: Final = 1.0
DEFAULT_TLS_HANDSHAKE_TIMEOUT: Final = 10.0
DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS: Final = 100
DEFAULT_HTTP2_RESET_BUDGET: Final = 100
DEFAULT_HTTP2_CONTROL_FRAME_BUDGET: Final = 100
DEFAULT_HTTP2_PING_INTERVAL: Final = 30.0
DEFAULT_HTTP2_PING_TIMEOUT: Final = 15.0


@final
class UseConfig:
    """The type of :data:`USE_CONFIG`: "take this setting from the server's Config"."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "USE_CONFIG"


#: A default meaning "whatever the server's :class:`Config` says" (e.g. the heartbeat
#: interval of an :class:`~trio_sse.EventStreamResponse`).
USE_CONFIG: Final = UseConfig()


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Limits and timeouts of a trio-sse server. All times are in seconds.

    Every field has a safe default; pass only what you want to change::

        config = trio_sse.Config(max_connections=50_000, heartbeat_interval=20)

    Attributes:
        max_header_bytes: Largest request head (request line plus header fields) accepted.
            Larger heads get ``431 Request Header Fields Too Large``, also when the whole
            head arrives in one read.
        max_body_bytes: Largest request body accepted, whether framed by
            ``Content-Length`` or chunked. Larger bodies get ``413 Content Too Large``
            without being read (``Expect: 100-continue`` clients never send them).
        request_head_timeout: Time a client has to deliver a complete request head, counted
            from the moment the connection opens or the first byte of a keep-alive request
            arrives. Slow clients get ``408 Request Timeout`` and are closed (slowloris).
        request_body_timeout: Time a client has to deliver the complete body once the head
            has arrived. Slow clients get ``408`` and are closed.
        keepalive_timeout: Time an idle keep-alive connection may wait for its next request
            before the server closes it (silently, as RFC 9112 §9.6 allows).
        max_connections: Open connections served at once. Connections beyond it are answered
            at once with ``503 Service Unavailable`` and ``Retry-After: 1``, then closed.
        shutdown_grace_period: On shutdown, the time open connections get to finish (event
            streams send their farewell and end) before they are cancelled.
        send_timeout: How long one write to a client (a response, an event) may wait once
            the socket buffer is full. A client that stops reading is disconnected after
            this long, so it can never block other clients or make server memory grow.
        heartbeat_interval: Event streams send a comment line when nothing was written for
            this long (idle-based: every write resets it), so proxies keep the connection
            and a vanished peer is noticed by the send timeout. ``None`` disables it.
        tcp_keepalive_idle: Seconds a TCP connection may be silent before the kernel starts
            sending keepalive probes (``SO_KEEPALIVE`` + ``TCP_KEEPIDLE``), so a peer that
            vanished without a FIN (a laptop losing Wi-Fi) is reaped even when nothing is
            written to it. ``None`` leaves TCP keepalive off.
        tcp_keepalive_interval: Seconds between keepalive probes (``TCP_KEEPINTVL``).
        tcp_keepalive_count: Unanswered probes before the kernel drops the connection
            (``TCP_KEEPCNT``). With the defaults a silent dead peer is found after
            60 + 3 x 10 = 90 s.
        tcp_user_timeout: Linux only: seconds that written data may stay unacknowledged
            before the kernel drops the connection (``TCP_USER_TIMEOUT``); bounds how long
            a vanished peer can hold a stream whose writes still fit in the socket buffer.
            ``None`` keeps the kernel default (about 15 minutes of retransmissions).
        timer_resolution: The shared timer of :func:`trio_sse.lowlevel.sleep_until` (the demo's
            ticker) wakes up at most once per this many seconds: a deadline that falls
            less than this after its previous wake-up is served together with the ones
            due then, up to this much late, never early. Thousands of tickers then cost
            one wake-up per millisecond instead of one each. A deadline that comes after
            a quiet moment is served on time. ``None`` serves every deadline exactly.
        memory_trim_interval: How often the server checks whether a storm of connections
            has ended (the open connections fell to half their peak, and by at least 250);
            then it gives the freed C-heap memory back to the operating system with glibc's
            ``malloc_trim(0)`` (Linux with glibc only; a few milliseconds). ``None``
            disables it.
        tls_handshake_timeout: On a TLS server, the time a client has to complete the TLS
            handshake once connected. A peer that does not (a scanner, a slowloris on
            the handshake, a plain-HTTP client) is disconnected, while the others are
            served meanwhile.
        http2: Whether HTTP/2 is served: over TLS when the client picks ``h2`` by ALPN
            (:func:`trio_sse.tls_context` offers it by default), and in cleartext when
            the client starts with the HTTP/2 connection preface ("prior knowledge";
            ``Upgrade: h2c`` is not supported). When ``False``, cleartext connections are
            HTTP/1.1 only and a TLS connection that negotiated ``h2`` is closed: build
            the context with ``alpn_protocols=("http/1.1",)`` then.
        http2_max_concurrent_streams: HTTP/2 only: requests one connection may have in
            progress at once (advertised as ``SETTINGS_MAX_CONCURRENT_STREAMS``; an event
            stream counts for as long as it is open). Streams beyond it are refused with
            ``RST_STREAM(REFUSED_STREAM)``.
        http2_reset_budget: HTTP/2 only: stream resets a client may cause per second on
            one connection: its own ``RST_STREAM`` frames (the "rapid reset" attack,
            CVE-2023-44487) and the resets it makes the server send (MadeYouReset,
            CVE-2025-8671: a stream error in its frames, a frame on a stream already reset,
            a stream refused over the limit, a request answered before its body ended, a
            window shut for ``send_timeout``). Beyond it the connection is closed with
            ``GOAWAY(ENHANCE_YOUR_CALM)``.
        http2_control_frame_budget: HTTP/2 only: ``PING`` and ``SETTINGS`` frames a client
            may send per second on one connection (each must be acknowledged). Beyond it
            the connection is closed with ``GOAWAY(ENHANCE_YOUR_CALM)``.
        http2_ping_interval: HTTP/2 only: when a connection with open streams has
            received nothing for this long, the server sends a ``PING``, whose ``ACK``
            must arrive within ``http2_ping_timeout``; otherwise the peer is taken for
            gone (half-open): the connection is closed (``GOAWAY`` first, if it can be
            written) and its streams end as disconnected. Any bytes received restart
            the interval. A connection without streams is bounded by
            ``keepalive_timeout`` instead. ``None`` sends no ``PING``.
        http2_ping_timeout: HTTP/2 only: how long the server waits for the ``ACK`` of its
            ``PING`` (see ``http2_ping_interval``).
    """

    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    request_head_timeout: float = DEFAULT_REQUEST_HEAD_TIMEOUT
    request_body_timeout: float = DEFAULT_REQUEST_BODY_TIMEOUT
    keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    shutdown_grace_period: float = DEFAULT_SHUTDOWN_GRACE_PERIOD
    send_timeout: float = DEFAULT_SEND_TIMEOUT
    heartbeat_interval: float | None = DEFAULT_HEARTBEAT_INTERVAL
    tcp_keepalive_idle: float | None = DEFAULT_TCP_KEEPALIVE_IDLE
    tcp_keepalive_interval: float = DEFAULT_TCP_KEEPALIVE_INTERVAL
    tcp_keepalive_count: int = DEFAULT_TCP_KEEPALIVE_COUNT
    tcp_user_timeout: float | None = None
    timer_resolution: float | None = DEFAULT_TIMER_RESOLUTION
    memory_trim_interval: float | None = DEFAULT_MEMORY_TRIM_INTERVAL
    tls_handshake_timeout: float = DEFAULT_TLS_HANDSHAKE_TIMEOUT
    http2: bool = True
    http2_max_concurrent_streams: int = DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS
    http2_reset_budget: int = DEFAULT_HTTP2_RESET_BUDGET
    http2_control_frame_budget: int = DEFAULT_HTTP2_CONTROL_FRAME_BUDGET
    http2_ping_interval: float | None = DEFAULT_HTTP2_PING_INTERVAL
    http2_ping_timeout: float = DEFAULT_HTTP2_PING_TIMEOUT

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and "None" in str(f.type):
                continue
            if f.type == "bool":
                if not isinstance(value, bool):
                    raise TypeError(f"{f.name}: must be a bool, not {type(value).__name__}")
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{f.name}: must be a number, not {type(value).__name__}")
            if f.type == "int" and not isinstance(value, int):
                raise TypeError(f"{f.name}: must be an int, not {type(value).__name__}")
            if math.isnan(value) or value <= 0:
                raise ValueError(f"{f.name}: must be positive, got {value!r}")
