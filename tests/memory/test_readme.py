"""The README's embedding example must keep working: run it against a test client."""

from __future__ import annotations

import re
from pathlib import Path

import trio
import trio.testing

import trio_sse
from trio_sse.testing import open_memory_client

README = Path(__file__).resolve().parents[2] / "README.md"


def _example_namespace() -> dict[str, object]:
    text = README.read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert "trio.run(main)" in code
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(code.replace("trio.run(main)", ""), str(README), "exec"), namespace)
    return namespace


async def test_readme_example_streams_and_answers_ok(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    namespace = _example_namespace()
    index = namespace["index"]
    assert callable(index)
    server = trio_sse.Server(index)
    client = await open_memory_client(server, nursery)
    assert (await client.request("GET", "/")).body == b"ok"
    await client.send_request("GET", "/", headers=[("Accept", "text/event-stream")])
    start = trio.current_time()
    assert (await client.receive_head()).status == 200
    events = await client.receive_events(2)
    assert [(e.type, e.data, e.last_event_id) for e in events] == [
        ("message", "hello", "1"),
        ("message", "hello", "2"),
    ]
    assert trio.current_time() - start == 4.0
