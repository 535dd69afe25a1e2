"""Fixtures and pytest configuration only; the shared helpers are in ``helpers.py``."""

from __future__ import annotations

import importlib.util
import ssl
from typing import TYPE_CHECKING

import pytest
import trio
import trustme

import trio_sse
from trio_sse import _transport

from .helpers import WriteSpy

if TYPE_CHECKING:
    from pathlib import Path

# Browser tests need Playwright, which only the e2e (and typecheck) environments install.
collect_ignore_glob = [] if importlib.util.find_spec("playwright") else ["e2e/*"]


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> WriteSpy:
    """Observe (not replace) the server's raw socket writes and its waits for writability."""
    spy = WriteSpy()
    monkeypatch.setattr(_transport, "os", spy)
    real_wait_writable = trio.lowlevel.wait_writable

    async def wait_writable(fd: int) -> None:
        spy.waits += 1
        spy.blocked.set()
        await real_wait_writable(fd)

    monkeypatch.setattr(trio.lowlevel, "wait_writable", wait_writable)
    return spy


# -- TLS: a CA of our own (trustme), a server certificate, both contexts ------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def pem_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(certfile, keyfile) for localhost and 127.0.0.1."""
    folder = tmp_path_factory.mktemp("tls")
    cert = ca.issue_cert("localhost", "127.0.0.1")
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    return certfile, keyfile


@pytest.fixture
def server_context(pem_files: tuple[Path, Path]) -> ssl.SSLContext:
    return trio_sse.tls_context(*pem_files)


@pytest.fixture
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    context.set_alpn_protocols(["http/1.1"])
    return context
