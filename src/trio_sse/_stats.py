"""Live server counters and their Prometheus text rendering. This file does no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ServerStatistics", "render_prometheus"]


class _Counters:
    """The mutable counters a running server updates; read through ``statistics()``."""

    __slots__ = (
        "bytes_sent",
        "connections_open",
        "connections_rejected",
        "connections_total",
        "event_streams_open",
        "events_sent",
        "handler_errors",
        "memory_trims",
        "requests_total",
        "responses_by_status",
        "slow_clients_dropped",
        "stream_disconnects",
        "tickers_active",
        "websocket_bytes_received",
        "websocket_bytes_sent",
        "websocket_heartbeat_timeouts",
        "websockets_open",
        "websockets_total",
    )

    def __init__(self) -> None:
        self.connections_open = 0
        self.connections_total = 0
        self.connections_rejected = 0
        self.requests_total = 0
        self.responses_by_status: dict[int, int] = {}
        self.handler_errors = 0
        self.event_streams_open = 0
        self.tickers_active = 0
        self.events_sent = 0
        self.bytes_sent = 0
        self.stream_disconnects = 0
        self.slow_clients_dropped = 0
        self.websockets_open = 0
        self.websockets_total = 0
        self.websocket_bytes_received = 0
        self.websocket_bytes_sent = 0
        self.websocket_heartbeat_timeouts = 0
        self.memory_trims = 0

    def count_response(self, status: int) -> None:
        by_status = self.responses_by_status
        by_status[status] = by_status.get(status, 0) + 1

    def snapshot(self) -> ServerStatistics:
        return ServerStatistics(
            connections_open=self.connections_open,
            connections_total=self.connections_total,
            connections_rejected=self.connections_rejected,
            requests_total=self.requests_total,
            responses_by_status=MappingProxyType(dict(self.responses_by_status)),
            handler_errors=self.handler_errors,
            event_streams_open=self.event_streams_open,
            tickers_active=self.tickers_active,
            events_sent=self.events_sent,
            bytes_sent=self.bytes_sent,
            stream_disconnects=self.stream_disconnects,
            slow_clients_dropped=self.slow_clients_dropped,
            websockets_open=self.websockets_open,
            websockets_total=self.websockets_total,
            websocket_bytes_received=self.websocket_bytes_received,
            websocket_bytes_sent=self.websocket_bytes_sent,
            websocket_heartbeat_timeouts=self.websocket_heartbeat_timeouts,
            memory_trims=self.memory_trims,
        )


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class ServerStatistics:
    """A snapshot of a running server's counters, from :meth:`trio_sse.Server.statistics`.

    Attributes:
        connections_open: Connections being served now.
        connections_total: Connections accepted since start.
        connections_rejected: Connections refused with 503 over ``max_connections``.
        requests_total: Requests whose head was received and parsed.
        responses_by_status: Responses sent, by status code (errors included).
        handler_errors: Exceptions raised by application handlers or stream producers.
        event_streams_open: Event-stream (SSE) responses in progress.
        tickers_active: Producer tasks of event streams alive now (the ticker, in the
            demo). Drops the moment a client disconnects.
        events_sent: Server-sent events and heartbeat comments written.
        bytes_sent: Body bytes of event streams written.
        stream_disconnects: Event streams ended by the client going away.
        slow_clients_dropped: Clients disconnected because a write exceeded
            ``send_timeout``.
        websockets_open: WebSocket sessions in progress (handshake accepted, not closed).
        websockets_total: WebSocket handshakes accepted since start.
        websocket_bytes_received: Bytes received on WebSocket sessions (frames; the
            handshake request is counted as an HTTP request instead).
        websocket_bytes_sent: Bytes sent on WebSocket sessions (the ``101`` and frames).
        websocket_heartbeat_timeouts: WebSocket sessions closed because a heartbeat ping
            got no pong in time.
        memory_trims: Times freed memory was given back to the OS after a storm of
            connections (see :attr:`Config.memory_trim_interval
            <trio_sse.Config.memory_trim_interval>`).
    """

    connections_open: int
    connections_total: int
    connections_rejected: int
    requests_total: int
    responses_by_status: Mapping[int, int]
    handler_errors: int
    event_streams_open: int
    tickers_active: int
    events_sent: int
    bytes_sent: int
    stream_disconnects: int
    slow_clients_dropped: int
    websockets_open: int
    websockets_total: int
    websocket_bytes_received: int
    websocket_bytes_sent: int
    websocket_heartbeat_timeouts: int
    memory_trims: int = 0


_METRICS: tuple[tuple[str, str, str, str], ...] = (
    # (attribute, metric name, type, help)
    ("connections_open", "trio_sse_connections_open", "gauge", "Connections being served."),
    ("connections_total", "trio_sse_connections_total", "counter", "Connections accepted."),
    (
        "connections_rejected",
        "trio_sse_connections_rejected_total",
        "counter",
        "Connections refused with 503 over max_connections.",
    ),
    ("requests_total", "trio_sse_requests_total", "counter", "Requests received."),
    ("handler_errors", "trio_sse_handler_errors_total", "counter", "Handler exceptions."),
    ("event_streams_open", "trio_sse_event_streams_open", "gauge", "Open event streams."),
    ("tickers_active", "trio_sse_tickers_active", "gauge", "Live event-stream producer tasks."),
    ("events_sent", "trio_sse_events_sent_total", "counter", "Events and heartbeats sent."),
    ("bytes_sent", "trio_sse_event_bytes_sent_total", "counter", "Event-stream bytes sent."),
    (
        "stream_disconnects",
        "trio_sse_stream_disconnects_total",
        "counter",
        "Event streams ended by the client.",
    ),
    (
        "slow_clients_dropped",
        "trio_sse_slow_clients_dropped_total",
        "counter",
        "Clients dropped for exceeding send_timeout.",
    ),
    ("websockets_open", "trio_sse_websockets_open", "gauge", "Open WebSocket sessions."),
    (
        "websockets_total",
        "trio_sse_websockets_total",
        "counter",
        "WebSocket handshakes accepted.",
    ),
    (
        "websocket_bytes_received",
        "trio_sse_websocket_bytes_received_total",
        "counter",
        "WebSocket bytes received.",
    ),
    (
        "websocket_bytes_sent",
        "trio_sse_websocket_bytes_sent_total",
        "counter",
        "WebSocket bytes sent.",
    ),
    (
        "websocket_heartbeat_timeouts",
        "trio_sse_websocket_heartbeat_timeouts_total",
        "counter",
        "WebSocket sessions closed for a missing pong.",
    ),
    (
        "memory_trims",
        "trio_sse_memory_trims_total",
        "counter",
        "Freed memory given back to the OS after a storm.",
    ),
)


def render_prometheus(stats: ServerStatistics) -> str:
    """Render statistics in the Prometheus text exposition format (version 0.0.4).

    Metric names: ``trio_sse_connections_open``, ``trio_sse_connections_total``,
    ``trio_sse_connections_rejected_total``, ``trio_sse_requests_total``,
    ``trio_sse_responses_total{status="..."}``, ``trio_sse_handler_errors_total``,
    ``trio_sse_event_streams_open``, ``trio_sse_tickers_active``,
    ``trio_sse_events_sent_total``, ``trio_sse_event_bytes_sent_total``,
    ``trio_sse_stream_disconnects_total``, ``trio_sse_slow_clients_dropped_total``,
    ``trio_sse_websockets_open``, ``trio_sse_websockets_total``,
    ``trio_sse_websocket_bytes_received_total``, ``trio_sse_websocket_bytes_sent_total``,
    ``trio_sse_websocket_heartbeat_timeouts_total`` and ``trio_sse_memory_trims_total``.

    Args:
        stats: A snapshot from :meth:`trio_sse.Server.statistics`.

    Returns:
        The exposition text, ending with a newline.
    """
    lines: list[str] = []
    for attr, name, kind, help_text in _METRICS:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.append(f"{name} {getattr(stats, attr)}")
        if attr == "requests_total":
            lines.append("# HELP trio_sse_responses_total Responses sent, by status code.")
            lines.append("# TYPE trio_sse_responses_total counter")
            lines.extend(
                f'trio_sse_responses_total{{status="{status}"}} {count}'
                for status, count in sorted(stats.responses_by_status.items())
            )
    return "\n".join(lines) + "\n"
