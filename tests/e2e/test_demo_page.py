"""The ``/demo`` page in a real browser: both panels live, and each of the first four
experiments (the fifth, connections per origin, is in ``test_connections.py``).

Every wait is on a DOM condition (``expect`` or ``page.wait_for_function``), never a fixed
sleep. The server runs with ``--interval 0.2``, so the page's reconnection time (the
server's ``retry:``, which the page also uses for its hand-written WebSocket reconnect) is
1 s: an outage always spans several ticks. The last test saves the screenshot the README
shows.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, ConsoleMessage, Page

pytestmark = pytest.mark.e2e

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "_static" / "demo.png"
FEED_ID = re.compile(r"^([0-9a-f]{8})-(\d+)$")
#: Long enough for a drop, the 1 s reconnection time and the replay, on a slow machine.
RECONNECT_TIMEOUT = 15_000


@pytest.fixture
def page(browser: Browser, server_url: str) -> Iterator[Page]:
    """The demo page, loaded, with both connections open; no script errors allowed."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text}")

    page.on("console", on_console)
    try:
        page.goto(server_url + "/demo")
        for side in ("sse", "ws"):
            expect(page.get_by_test_id(f"{side}-state")).to_have_attribute("data-state", "open")
        yield page
        assert problems == []
    finally:
        page.close()


def counter(page: Page, testid: str) -> int:
    return int(page.get_by_test_id(testid).inner_text())


def wait_counter(page: Page, testid: str, at_least: int) -> None:
    page.wait_for_function(
        "([testid, n]) => Number(document.querySelector(`[data-testid=${testid}]`)"
        ".textContent) >= n",
        arg=[testid, at_least],
    )


def feed_seq(event_id: str) -> int:
    match = FEED_ID.match(event_id)
    assert match, event_id
    return int(match.group(2))


# -- the panels -------------------------------------------------------------------------------


def test_both_panels_receive_ticks_from_the_same_feed(page: Page) -> None:
    for side in ("sse", "ws"):
        wait_counter(page, f"{side}-count", 3)
        expect(page.get_by_test_id(f"{side}-log")).to_contain_text("tick")
        expect(page.get_by_test_id(f"{side}-reconnects")).to_have_text("0")
        expect(page.get_by_test_id(f"{side}-gaps")).to_have_text("0")
        expect(page.get_by_test_id(f"{side}-bytes")).to_have_text(re.compile(r"^[1-9]"))
    sse_id = page.get_by_test_id("sse-last-id").inner_text()
    ws_id = page.get_by_test_id("ws-last-id").inner_text()
    sse_match, ws_match = FEED_ID.match(sse_id), FEED_ID.match(ws_id)
    assert sse_match, sse_id
    assert ws_match, ws_id
    assert sse_match.group(1) == ws_match.group(1)  # one feed, one broadcaster


# -- 1. direction -------------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["sse", "ws"])
def test_message_sent_either_way_comes_back_on_both_panels(page: Page, side: str) -> None:
    text = f"hello via {side}"
    page.get_by_test_id("message-input").fill(text)
    page.get_by_test_id(f"direction-{side}-send").click()
    result = page.get_by_test_id(f"direction-{side}-result")
    expect(result).to_have_attribute("data-outcome", "ok")
    for transport in ("sse", "ws"):
        assert float(result.get_attribute(f"data-{transport}-ms") or "nan") >= 0
        expect(page.get_by_test_id(f"{transport}-log")).to_contain_text(text)
    expect(page.get_by_test_id(f"{side}-latency")).to_have_text(re.compile(r"^\d+(\.\d)? ms$"))
    if side == "sse":
        expect(result).to_contain_text("POST /publish → 202")


# -- 2. reconnection -------------------------------------------------------------------------


def test_event_source_reconnects_by_itself_and_is_replayed_with_no_gap(page: Page) -> None:
    wait_counter(page, "sse-count", 2)
    page.get_by_test_id("reconnect-sse-drop").click()
    result = page.get_by_test_id("reconnect-sse-result")
    expect(result).to_have_attribute("data-result", "no-gap", timeout=RECONNECT_TIMEOUT)
    assert result.get_attribute("data-gap") == "0"
    assert int(result.get_attribute("data-replayed") or "0") >= 1  # ticks due while away
    outage = page.evaluate("() => trioSseDemo.panels.sse.outage")
    assert feed_seq(outage["nextId"]) == feed_seq(outage["afterId"]) + 1
    expect(page.get_by_test_id("sse-reconnects")).to_have_text("1")
    expect(page.get_by_test_id("sse-gaps")).to_have_text("0")
    expect(page.get_by_test_id("sse-state")).to_have_attribute("data-state", "open")
    # the WebSocket was not touched
    expect(page.get_by_test_id("ws-reconnects")).to_have_text("0")


def test_websocket_stays_closed_without_a_hand_written_reconnect(page: Page) -> None:
    expect(page.get_by_test_id("ws-reconnect-toggle")).not_to_be_checked()
    page.get_by_test_id("reconnect-ws-drop").click()
    state = page.get_by_test_id("ws-state")
    expect(state).to_have_attribute("data-state", "closed")
    expect(state).to_have_text("closed 4000")
    expect(page.get_by_test_id("reconnect-ws-result")).to_have_attribute("data-result", "dead")
    ws_count = counter(page, "ws-count")
    # Well past the reconnection time, as measured by the SSE side's ticks (0.2 s each) ...
    wait_counter(page, "sse-count", counter(page, "sse-count") + 10)
    # ... the WebSocket received nothing and nothing reconnected it.
    assert counter(page, "ws-count") == ws_count
    expect(page.get_by_test_id("ws-reconnects")).to_have_text("0")
    expect(state).to_have_attribute("data-state", "closed")
    # and it cannot send either
    page.get_by_test_id("direction-ws-send").click()
    expect(page.get_by_test_id("direction-ws-result")).to_contain_text("socket is closed")


def test_websocket_reconnected_by_hand_loses_what_it_missed(page: Page) -> None:
    page.get_by_test_id("ws-reconnect-toggle").check()
    wait_counter(page, "ws-count", 2)
    page.get_by_test_id("reconnect-ws-drop").click()
    result = page.get_by_test_id("reconnect-ws-result")
    expect(result).to_have_attribute("data-result", "gap", timeout=RECONNECT_TIMEOUT)
    lost = int(result.get_attribute("data-gap") or "0")
    assert lost >= 1
    outage = page.evaluate("() => trioSseDemo.panels.ws.outage")
    assert outage["code"] == 4000
    assert feed_seq(outage["nextId"]) == feed_seq(outage["afterId"]) + 1 + lost
    expect(page.get_by_test_id("ws-reconnects")).to_have_text("1")
    expect(page.get_by_test_id("ws-gaps")).to_have_text(str(lost))
    expect(page.get_by_test_id("ws-state")).to_have_attribute("data-state", "open")
    expect(page.get_by_test_id("sse-gaps")).to_have_text("0")  # SSE kept every id


def test_websocket_reconnected_and_resumed_by_hand_has_no_gap(page: Page) -> None:
    page.get_by_test_id("ws-reconnect-toggle").check()
    page.get_by_test_id("ws-resume-toggle").check()
    wait_counter(page, "ws-count", 2)
    page.get_by_test_id("reconnect-ws-drop").click()
    result = page.get_by_test_id("reconnect-ws-result")
    expect(result).to_have_attribute("data-result", "no-gap", timeout=RECONNECT_TIMEOUT)
    assert int(result.get_attribute("data-replayed") or "0") >= 1
    outage = page.evaluate("() => trioSseDemo.panels.ws.outage")
    assert feed_seq(outage["nextId"]) == feed_seq(outage["afterId"]) + 1
    expect(page.get_by_test_id("ws-reconnects")).to_have_text("1")
    expect(page.get_by_test_id("ws-gaps")).to_have_text("0")


# -- 3. text vs binary ----------------------------------------------------------------------


def wait_binary_results(page: Page) -> dict[str, list[int]]:
    for side in ("sse", "ws"):
        result = page.get_by_test_id(f"binary-{side}-result")
        expect(result).to_have_attribute("data-match", "true")
    received: dict[str, list[int]] = page.evaluate(
        "() => ({sent: Array.from(trioSseDemo.binary.sent),"
        " ws: Array.from(trioSseDemo.binary.ws), sse: Array.from(trioSseDemo.binary.sse)})"
    )
    return received


def test_binary_goes_as_a_frame_over_websocket_and_as_base64_over_sse(page: Page) -> None:
    page.get_by_test_id("binary-send").click()
    got = wait_binary_results(page)
    assert bytes(got["sent"][:8]) == b"\x89PNG\r\n\x1a\n"  # a generated PNG
    assert got["ws"] == got["sent"]  # the echoed binary frame: byte-exact
    assert got["sse"] == got["sent"]  # decoded from the base64 text event: byte-exact
    size = len(got["sent"])
    ws_wire = int(page.get_by_test_id("binary-ws-result").get_attribute("data-wire-bytes") or 0)
    sse_wire = int(page.get_by_test_id("binary-sse-result").get_attribute("data-wire-bytes") or 0)
    assert 126 <= size < 65536
    assert ws_wire == size + 4  # 2-byte header, 2-byte length, no mask from the server
    assert sse_wire > (size + 2) // 3 * 4  # base64 is a third larger, plus the fields
    for side in ("sse", "ws"):
        image = page.get_by_test_id(f"binary-{side}-image")
        expect(image).to_have_attribute("src", re.compile(r"^blob:"))
        page.wait_for_function(
            "(img) => img.complete && img.naturalWidth === 48", arg=image.element_handle()
        )

    # every byte value, through the page's own sender
    page.evaluate("() => trioSseDemo.sendBinary(Uint8Array.from({length: 256}, (_, i) => i))")
    got = wait_binary_results(page)
    assert got["sent"] == got["ws"] == got["sse"] == list(range(256))
    expect(page.get_by_test_id("binary-ws-result")).to_have_attribute("data-wire-bytes", "260")


# -- 4. message types -------------------------------------------------------------------------


def test_named_events_reach_listeners_and_the_hand_written_dispatcher(page: Page) -> None:
    for kind in ("price", "news"):
        page.get_by_test_id(f"types-{kind}-send").click()
        sse = page.get_by_test_id(f"types-sse-{kind}")
        ws = page.get_by_test_id(f"types-ws-{kind}")
        expect(sse).to_have_attribute("data-last", re.compile("."))
        expect(ws).to_have_attribute("data-last", sse.get_attribute("data-last") or "?")
        expect(sse).to_have_attribute("data-count", "1")
        expect(ws).to_have_attribute("data-count", "1")
        for side in ("sse", "ws"):
            expect(page.locator(f'[data-line="{side}-{kind}"]')).to_have_class("ran")
    expect(page.get_by_test_id("types-sse-price")).to_contain_text("TRIO ")


# -- the screenshot -------------------------------------------------------------------------


def test_screenshot_of_every_experiment(page: Page, tmp_path: Path) -> None:
    """Run the five experiments on one page, then save the README's screenshot."""
    wait_counter(page, "ws-count", 3)
    page.get_by_test_id("ws-reconnect-toggle").check()
    page.get_by_test_id("reconnect-sse-drop").click()
    page.get_by_test_id("reconnect-ws-drop").click()
    for side, outcome in (("sse", "no-gap"), ("ws", "gap")):
        expect(page.get_by_test_id(f"reconnect-{side}-result")).to_have_attribute(
            "data-result", outcome, timeout=RECONNECT_TIMEOUT
        )
    page.get_by_test_id("binary-send").click()
    wait_binary_results(page)
    for kind in ("price", "news"):
        page.get_by_test_id(f"types-{kind}-send").click()
        expect(page.get_by_test_id(f"types-ws-{kind}")).to_have_attribute("data-count", "1")
    page.get_by_test_id("message-input").fill("hello from the browser")
    for side in ("sse", "ws"):
        page.get_by_test_id(f"direction-{side}-send").click()
        expect(page.get_by_test_id(f"direction-{side}-result")).to_have_attribute(
            "data-outcome", "ok"
        )
    # Last: over HTTP/1.1 the EventSources it opens take every free connection of the origin.
    page.get_by_test_id("conns-open").click()
    expect(page.get_by_test_id("conns-sse-result")).to_have_attribute("data-receiving", "5")
    expect(page.get_by_test_id("conns-ws-result")).to_have_attribute("data-receiving", "10")
    # The docs' screenshot is refreshed only on request (a test run leaves the tree clean).
    target = SCREENSHOT if os.environ.get("TRIO_SSE_UPDATE_SCREENSHOT") else tmp_path / "demo.png"
    page.screenshot(path=str(target), full_page=True, animations="disabled")
    assert target.read_bytes().startswith(b"\x89PNG")
