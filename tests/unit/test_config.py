"""``Config``: validation and defaults."""

from __future__ import annotations

import pytest

import trio_sse


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("max_header_bytes", 0, ValueError),
        ("max_body_bytes", -1, ValueError),
        ("keepalive_timeout", float("nan"), ValueError),
        ("send_timeout", "10", TypeError),
        ("max_connections", 1.5, TypeError),
        ("max_connections", True, TypeError),
        ("heartbeat_interval", 0, ValueError),
        ("http2_ping_interval", 0, ValueError),
        ("http2_ping_timeout", 0, ValueError),
        ("http2_ping_timeout", None, TypeError),
    ],
)
def test_config_validation(field: str, value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=f"^{field}: "):
        trio_sse.Config(**{field: value})  # type: ignore[arg-type]


def test_config_defaults() -> None:
    c = trio_sse.Config(heartbeat_interval=None)
    assert c.heartbeat_interval is None
    assert c.max_header_bytes == 16 * 1024
    assert c.max_body_bytes == 1024 * 1024


def test_config_http2_ping_defaults() -> None:
    c = trio_sse.Config()
    assert (c.http2_ping_interval, c.http2_ping_timeout) == (30.0, 15.0)
    assert trio_sse.Config(http2_ping_interval=None).http2_ping_interval is None
