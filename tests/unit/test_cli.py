"""The command line's parser: ``--help`` and usage errors (in-process, no server)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest

from trio_sse._cli import build_parser, main

if TYPE_CHECKING:
    from pathlib import Path


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
        "--certfile",
        "--keyfile",
        "--self-signed",
    ]:
        assert option in out
    assert "(default: 8080)" in out


def test_bad_interval_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["serve", "--interval", "-1"])
    assert exc.value.code == 2
    assert "must be positive" in capsys.readouterr().err


# -- --self-signed: the usage and availability errors (the server itself is in
#    tests/loopback/test_tls.py) ------------------------------------------------------------


@pytest.mark.parametrize("other", [["--certfile", "c.pem"], ["--keyfile", "k.pem"]])
def test_self_signed_with_certificate_files_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], other: list[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--self-signed", *other])
    assert exc.value.code == 2
    assert (
        "--self-signed cannot be combined with --certfile or --keyfile" in capsys.readouterr().err
    )


def test_self_signed_without_cryptography_or_openssl_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "cryptography", None)  # `import cryptography` fails
    monkeypatch.setenv("PATH", "")  # and no openssl on the PATH
    assert main(["serve", "--self-signed", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "'cryptography' package (pip install 'trio-sse[tls]')" in err
    assert "'openssl' command line; neither was found" in err
    assert "warning" not in err  # nothing made, nothing served


def test_self_signed_reports_a_failing_openssl(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "openssl"
    fake.write_text("#!/bin/sh\necho 'no entropy today' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setitem(sys.modules, "cryptography", None)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["serve", "--self-signed", "--port", "0"]) == 2
    assert "trio-sse: openssl req failed (1): no entropy today" in capsys.readouterr().err
