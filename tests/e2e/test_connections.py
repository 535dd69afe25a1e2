"""Six connections per origin: many EventSources over HTTP/1.1 and over HTTP/2, in Chromium.

Over HTTP/1.1 Chromium opens at most six connections to one origin, and an EventSource
holds one for as long as it is open: the seventh is queued by the browser, stays
``CONNECTING`` with no error, and receives nothing. WebSockets are not counted against
that limit. Over HTTP/2 (``trio-sse serve --self-signed``, so over TLS with ALPN ``h2``)
every EventSource is a stream of one connection, and all of them flow.

The limit is hard, so "the rest received nothing" is deterministic once the first ones
have each received a few ticks (0.2 s apart). Every wait is a ``page.wait_for_function``
on the page's counters; the server's own statistics (``/metrics``, read from this
process, not the page, whose requests would queue too) confirm what the browser shows.
Each test runs its own server, so the statistics are its alone.
"""

from __future__ import annotations

import ssl
import urllib.request
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from .conftest import run_server

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.e2e

N = 10
#: Chromium's connections per origin (and proxy) over HTTP/1.1: a hard, fixed limit.
PER_ORIGIN = 6
#: Ticks each flowing connection must have received before the others are judged stalled.
TICKS = 2
WAIT_MS = 15_000


@pytest.fixture
def http_url() -> Iterator[str]:
    with run_server() as url:
        yield url


@pytest.fixture
def https_url() -> Iterator[str]:
    with run_server("--self-signed") as url:
        yield url


def metrics(url: str) -> dict[str, float]:
    """The server's statistics, read over HTTP/1.1 from this process."""
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE  # the throwaway certificate of --self-signed
    with urllib.request.urlopen(url + "/metrics", timeout=10, context=unverified) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.split()
            values[name.removeprefix("trio_sse_")] = float(value)
    return values


def open_demo(page: Page, url: str, protocol: str) -> list[str]:
    """Load the demo over *protocol*, both panels open; return the list of script errors."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.goto(url + "/demo")
    for side in ("sse", "ws"):
        expect(page.get_by_test_id(f"{side}-state")).to_have_attribute("data-state", "open")
    assert page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol") == (
        protocol
    )
    expect(page.get_by_test_id("page-protocol")).to_have_text(protocol)
    return problems


def wait_demo_counts(page: Page, sse_flowing: int) -> None:
    """Wait until the first *sse_flowing* EventSources and every WebSocket have ticked."""
    page.wait_for_function(
        """([flowing, ticks]) => {
          const c = trioSseDemo.conns;
          return c.sse.slice(0, flowing).every((e) => e.count >= ticks)
            && c.ws.length > 0 && c.ws.every((e) => e.count >= ticks);
        }""",
        arg=[sse_flowing, TICKS],
        timeout=WAIT_MS,
    )


def demo_counts(page: Page, transport: str) -> list[int]:
    counts: list[int] = page.evaluate("(t) => trioSseDemo.conns[t].map((e) => e.count)", transport)
    return counts


def test_demo_over_http11_stalls_event_sources_past_six_but_not_websockets(
    browser: Browser, http_url: str
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        problems = open_demo(page, http_url, "http/1.1")
        expect(page.get_by_test_id("conns-n")).to_have_value(str(N))
        page.get_by_test_id("conns-open").click()
        # The panel's own EventSource holds one of the six connections: five of ours flow.
        flowing = PER_ORIGIN - 1
        wait_demo_counts(page, flowing)
        sse = demo_counts(page, "sse")
        assert len(sse) == N
        assert all(count >= TICKS for count in sse[:flowing])
        assert sse[flowing:] == [0] * (N - flowing)  # queued by the browser: nothing at all
        for index in range(flowing + 1, N + 1):
            cell = page.get_by_test_id(f"conns-sse-{index}")
            expect(cell).to_have_attribute("data-state", "waiting")
        result = page.get_by_test_id("conns-sse-result")
        expect(result).to_have_attribute("data-waiting", str(N - flowing))
        expect(result).to_contain_text("HTTP/1.1: six per origin")
        expect(page.get_by_test_id("conns-ws-result")).to_have_attribute("data-receiving", str(N))
        stats = metrics(http_url)
        assert stats["event_streams_open"] == PER_ORIGIN  # the panel's and our five
        assert stats["websockets_open"] == N + 1  # ours and the panel's

        # Closing one frees its connection, and the first waiting EventSource gets it.
        page.evaluate("() => trioSseDemo.conns.sse[0].conn.close()")
        page.wait_for_function(
            "(i) => trioSseDemo.conns.sse[i].count >= 1", arg=flowing, timeout=WAIT_MS
        )
        assert demo_counts(page, "sse")[flowing + 1 :] == [0] * (N - flowing - 1)

        page.get_by_test_id("conns-close").click()
        for side in ("sse", "ws"):
            for index in range(1, N + 1):
                expect(page.get_by_test_id(f"conns-{side}-{index}")).to_have_attribute(
                    "data-state", "closed"
                )
        assert problems == []
    finally:
        page.close()


def test_demo_over_http2_flows_every_event_source_on_one_connection(
    browser: Browser, https_url: str
) -> None:
    context = browser.new_context(ignore_https_errors=True)  # the --self-signed certificate
    page = context.new_page()
    try:
        problems = open_demo(page, https_url, "h2")
        page.get_by_test_id("conns-open").click()
        wait_demo_counts(page, N)
        assert all(count >= TICKS for count in demo_counts(page, "sse"))
        result = page.get_by_test_id("conns-sse-result")
        expect(result).to_have_attribute("data-receiving", str(N))
        expect(result).to_have_attribute("data-waiting", "0")
        stats = metrics(https_url)
        assert stats["http2_connections_total"] == 1  # the page and all its EventSources
        assert stats["http2_streams_open"] == N + 1  # ours and the panel's
        assert stats["event_streams_open"] == N + 1
        assert stats["websockets_open"] == N + 1  # over their own HTTP/1.1 connections
        page.get_by_test_id("conns-close").click()
        expect(result).to_contain_text("0 of")
        assert problems == []
    finally:
        context.close()


MANY_CONNECTIONS = """
(n) => {
  // n EventSources on '/' (the seed's ticker), then n WebSockets on '/ws', each counted.
  const counts = { sse: Array(n).fill(0), ws: Array(n).fill(0), sources: [], sockets: [] };
  for (let i = 0; i < n; i++) {
    const source = new EventSource('/');
    source.onmessage = () => { counts.sse[i] += 1; };
    counts.sources.push(source);
  }
  for (let i = 0; i < n; i++) {
    const socket = new WebSocket(`ws://${location.host}/ws`);
    socket.onmessage = () => { counts.ws[i] += 1; };
    counts.sockets.push(socket);
  }
  window.counts = counts;
}
"""


def test_plain_page_over_http11_gets_six_event_sources_and_every_websocket(
    browser: Browser, http_url: str
) -> None:
    page = browser.new_page()
    try:
        page.goto(http_url + "/")  # "ok": a page of this origin with nothing else open
        assert page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol") == (
            "http/1.1"
        )
        page.evaluate(MANY_CONNECTIONS, N)
        page.wait_for_function(
            """([flowing, ticks]) => counts.sse.slice(0, flowing).every((c) => c >= ticks)
              && counts.ws.every((c) => c >= ticks)""",
            arg=[PER_ORIGIN, TICKS],
            timeout=WAIT_MS,
        )
        sse: list[int] = page.evaluate("() => counts.sse")
        assert all(count >= TICKS for count in sse[:PER_ORIGIN])
        assert sse[PER_ORIGIN:] == [0] * (N - PER_ORIGIN)
        states: list[int] = page.evaluate("() => counts.sources.map((s) => s.readyState)")
        assert states[PER_ORIGIN:] == [0] * (N - PER_ORIGIN)  # CONNECTING, no error
        stats = metrics(http_url)
        assert stats["event_streams_open"] == PER_ORIGIN
        assert stats["websockets_open"] == N
    finally:
        page.close()
