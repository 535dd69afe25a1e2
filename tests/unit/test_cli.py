"""The command line's parser: ``--help`` and usage errors (in-process, no server)."""

from __future__ import annotations

import pytest

from trio_sse._cli import build_parser, main


def test_help_documents_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in [
        "--host",
        "--port",
        "--interval",
        "--log-level",
        "--max-connections",
        "--heartbeat",
        "--grace",
    ]:
        assert option in out
    assert "(default: 8080)" in out


def test_bad_interval_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["serve", "--interval", "-1"])
    assert exc.value.code == 2
    assert "must be positive" in capsys.readouterr().err
