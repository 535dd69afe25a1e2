"""Browser fixtures: Debian's Chromium driven by Playwright, against a live trio-sse server.

Playwright's own browser download cannot work here; the ``e2e`` nox session installs
Debian's ``chromium`` and we point Playwright at ``/usr/bin/chromium``. The server runs in
a subprocess (``python -m trio_sse serve --port 0``) so the browser talks to exactly what
users run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser

CHROMIUM = os.environ.get("TRIO_SSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def run_server(*options: str) -> Iterator[str]:
    """``trio-sse serve`` on a free port of 127.0.0.1 (ticks every 0.2 s), plus *options*.

    Yields the base URL it printed (``http://`` or, with ``--self-signed``, ``https://``);
    stops it with SIGINT, which must end it cleanly.
    """
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trio_sse",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--interval",
            "0.2",
            "--log-level",
            "warning",
            *options,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"serving on (https?://127\.0\.0\.1:\d+)/", line)
    assert match, f"unexpected start-up line: {line!r}"
    url = match.group(1)
    try:
        # the next lines: a curl command to try, then the demo page's address
        hints = [proc.stdout.readline() for _ in range(2)]
        assert f"  demo: {url}/demo\n" in hints, hints
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        proc.stdout.close()


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    with run_server() as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail(f"{CHROMIUM} not found: run the e2e nox session, which installs it")
    from playwright.sync_api import sync_playwright

    # Playwright gives every launch a new, empty profile directory of its own.
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
