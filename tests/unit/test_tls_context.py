"""``trio_sse.tls_context``: TLS 1.2 or later, ALPN, and clear errors for missing,
mismatched or malformed files (certificates made by trustme; the fixtures are in
``conftest.py``)."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

import pytest

import trio_sse

if TYPE_CHECKING:
    from pathlib import Path

    import trustme


def test_context_is_tls12_or_later_with_alpn(server_context: ssl.SSLContext) -> None:
    assert server_context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert server_context.verify_mode is ssl.CERT_NONE  # no client certificates asked


def test_context_from_one_file(ca: trustme.CA, tmp_path: Path) -> None:
    both = tmp_path / "both.pem"
    ca.issue_cert("localhost").private_key_and_cert_chain_pem.write_to_path(str(both))
    assert isinstance(trio_sse.tls_context(both), ssl.SSLContext)


def test_missing_files_are_named(pem_files: tuple[Path, Path], tmp_path: Path) -> None:
    certfile, keyfile = pem_files
    with pytest.raises(FileNotFoundError, match=r"certfile: no such file: .*nope\.pem"):
        trio_sse.tls_context(tmp_path / "nope.pem", keyfile)
    with pytest.raises(FileNotFoundError, match=r"keyfile: no such file: .*gone\.pem"):
        trio_sse.tls_context(certfile, tmp_path / "gone.pem")


def test_mismatched_key_is_a_clear_error(
    ca: trustme.CA, pem_files: tuple[Path, Path], tmp_path: Path
) -> None:
    other = tmp_path / "other-key.pem"
    ca.issue_cert("other").private_key_pem.write_to_path(str(other))
    with pytest.raises(ValueError, match="certfile and keyfile do not match"):
        trio_sse.tls_context(pem_files[0], other)


def test_not_pem_is_a_clear_error(pem_files: tuple[Path, Path], tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ValueError, match="cannot load the certificate chain"):
        trio_sse.tls_context(junk, pem_files[1])
