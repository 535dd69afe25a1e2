"""Live server counters and their Prometheus text rendering. This file does no I/O.

One table: the fields of :class:`ServerStatistics`, each declared once with its metric
name, type and help text. The server updates one instance in place, ``statistics()`` copies
it, and ``render_prometheus`` walks the same fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Final, final

__all__ = ["METRICS", "ServerStatistics", "render_prometheus"]


def _metric(name: str, kind: str, help_text: str) -> dict[str, tuple[str, str, str]]:
    return {"metric": (name, kind, help_text)}


def _gauge(name: str, help_text: str) -> Any:
    return field(default=0, metadata=_metric(name, "gauge", help_text))


def _counter(name: str, help_text: str) -> Any:
    return field(default=0, metadata=_metric(name, "counter", help_text))


@final
@dataclass(slots=True, kw_only=True)
class ServerStatistics:
    """A server's counters, from :meth:`trio_sse.Server.statistics`.

    This class is the one table of trio-sse's counters: the running server updates one
    instance in place, :meth:`~trio_sse.Server.statistics` returns a copy of it (a
    snapshot the server no longer touches), and :func:`trio_sse.metrics.render_prometheus`
    renders every field under the metric name recorded with it.

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
        tls_handshake_failures: TLS connections dropped because the handshake failed
            (not TLS, no common protocol version or cipher) or did not finish within
            ``tls_handshake_timeout``.
        http2_connections_total: Connections served with HTTP/2 since start (they are
            counted in ``connections_total`` and ``connections_open`` too).
        http2_streams_total: HTTP/2 request streams opened by clients since start
            (refused ones included).
        http2_streams_open: HTTP/2 request streams being served now.
        http2_resets_received: HTTP/2 streams reset by the client (``RST_STREAM``).
        http2_resets_sent: HTTP/2 streams the server reset because of the client: a
            stream error in its frames (found by h2), a stream refused over
            ``http2_max_concurrent_streams``, a request answered before its body ended,
            a flow-control window that stayed shut. They spend ``http2_reset_budget``
            as the client's own resets do (MadeYouReset, CVE-2025-8671).
        http2_connection_errors: HTTP/2 connections closed with an error ``GOAWAY``
            (malformed frames, flood and rapid-reset budgets exceeded).
        http2_ping_timeouts: HTTP/2 connections closed because the client did not
            acknowledge a ``PING`` within ``http2_ping_timeout`` (a half-open peer).
        memory_trims: Times freed memory was given back to the OS after a storm of
            connections (see :attr:`Config.memory_trim_interval
            <trio_sse.Config.memory_trim_interval>`).
    """

    connections_open: int = _gauge("trio_sse_connections_open", "Connections being served.")
    connections_total: int = _counter("trio_sse_connections_total", "Connections accepted.")
    connections_rejected: int = _counter(
        "trio_sse_connections_rejected_total", "Connections refused with 503 over max_connections."
    )
    requests_total: int = _counter("trio_sse_requests_total", "Requests received.")
    responses_by_status: dict[int, int] = field(
        default_factory=dict,
        metadata=_metric("trio_sse_responses_total", "counter", "Responses sent, by status code."),
    )
    handler_errors: int = _counter("trio_sse_handler_errors_total", "Handler exceptions.")
    event_streams_open: int = _gauge("trio_sse_event_streams_open", "Open event streams.")
    tickers_active: int = _gauge("trio_sse_tickers_active", "Live event-stream producer tasks.")
    events_sent: int = _counter("trio_sse_events_sent_total", "Events and heartbeats sent.")
    bytes_sent: int = _counter("trio_sse_event_bytes_sent_total", "Event-stream bytes sent.")
    stream_disconnects: int = _counter(
        "trio_sse_stream_disconnects_total", "Event streams ended by the client."
    )
    slow_clients_dropped: int = _counter(
        "trio_sse_slow_clients_dropped_total", "Clients dropped for exceeding send_timeout."
    )
    websockets_open: int = _gauge("trio_sse_websockets_open", "Open WebSocket sessions.")
    websockets_total: int = _counter("trio_sse_websockets_total", "WebSocket handshakes accepted.")
    websocket_bytes_received: int = _counter(
        "trio_sse_websocket_bytes_received_total", "WebSocket bytes received."
    )
    websocket_bytes_sent: int = _counter(
        "trio_sse_websocket_bytes_sent_total", "WebSocket bytes sent."
    )
    websocket_heartbeat_timeouts: int = _counter(
        "trio_sse_websocket_heartbeat_timeouts_total",
        "WebSocket sessions closed for a missing pong.",
    )
    tls_handshake_failures: int = _counter(
        "trio_sse_tls_handshake_failures_total",
        "TLS handshakes that failed or timed out.",
    )
    http2_connections_total: int = _counter(
        "trio_sse_http2_connections_total", "Connections served with HTTP/2."
    )
    http2_streams_total: int = _counter(
        "trio_sse_http2_streams_total", "HTTP/2 request streams opened by clients."
    )
    http2_streams_open: int = _gauge("trio_sse_http2_streams_open", "Open HTTP/2 request streams.")
    http2_resets_received: int = _counter(
        "trio_sse_http2_resets_received_total", "HTTP/2 streams reset by the client."
    )
    http2_resets_sent: int = _counter(
        "trio_sse_http2_resets_sent_total", "HTTP/2 streams reset by the server for the client."
    )
    http2_connection_errors: int = _counter(
        "trio_sse_http2_connection_errors_total", "HTTP/2 connections closed with an error GOAWAY."
    )
    http2_ping_timeouts: int = _counter(
        "trio_sse_http2_ping_timeouts_total", "HTTP/2 connections closed for an unanswered PING."
    )
    memory_trims: int = _counter(
        "trio_sse_memory_trims_total", "Freed memory given back to the OS after a storm."
    )

    def count_response(self, status: int) -> None:
        """Count one response with *status* (called by the server)."""
        by_status = self.responses_by_status
        by_status[status] = by_status.get(status, 0) + 1

    def snapshot(self) -> ServerStatistics:
        """A copy of these counters that later updates do not change."""
        return replace(self, responses_by_status=dict(self.responses_by_status))


#: (attribute, metric name, type, help) of every counter, in declaration order.
METRICS: Final[tuple[tuple[str, str, str, str], ...]] = tuple(
    (f.name, *f.metadata["metric"]) for f in fields(ServerStatistics)
)


def render_prometheus(stats: ServerStatistics) -> str:
    """Render statistics in the Prometheus text exposition format (version 0.0.4).

    Every field of :class:`~trio_sse.ServerStatistics` becomes one metric, named with the
    ``trio_sse_`` prefix (``trio_sse_connections_open``, ``trio_sse_events_sent_total``,
    ...); ``responses_by_status`` becomes ``trio_sse_responses_total`` with a ``status``
    label. The names are listed in :doc:`/reference`.

    Args:
        stats: A snapshot from :meth:`trio_sse.Server.statistics`.

    Returns:
        The exposition text, ending with a newline.
    """
    lines: list[str] = []
    for attr, name, kind, help_text in METRICS:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        value = getattr(stats, attr)
        if isinstance(value, dict):
            lines.extend(
                f'{name}{{status="{status}"}} {count}' for status, count in sorted(value.items())
            )
        else:
            lines.append(f"{name} {value}")
    return "\n".join(lines) + "\n"
