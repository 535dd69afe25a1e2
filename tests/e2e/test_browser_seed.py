"""The seed's JavaScript client, run by a real browser against the real server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.e2e

SEED_CLIENT = """
() => new Promise((resolve, reject) => {
  // The seed's client, verbatim apart from the URL (same origin) and collecting results.
  var source = new EventSource('/');
  var got = [];
  source.addEventListener('message', function (event) {
    got.push([event.type, event.data, event.lastEventId]);
    if (got.length === 3) { source.close(); resolve(got); }
  }, false);
  source.onerror = function () { if (source.readyState === 2) reject('closed'); };
  setTimeout(function () { reject('timeout: ' + JSON.stringify(got)); }, 10000);
})
"""


def test_seed_event_source_receives_hello(browser: Browser, server_url: str) -> None:
    page = browser.new_page()
    try:
        page.goto(server_url + "/")
        assert page.content().find("ok") >= 0  # a plain page load gets `ok`
        got = page.evaluate(SEED_CLIENT)
        assert got == [
            ["message", "hello", "1"],
            ["message", "hello", "2"],
            ["message", "hello", "3"],
        ]
    finally:
        page.close()
