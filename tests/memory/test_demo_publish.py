"""The demo's ``GET /events`` and ``POST /publish`` (its broadcaster), over memory streams."""

from __future__ import annotations

import json

import pytest

from trio_sse import Server
from trio_sse._demo import MAX_PUBLISH_BYTES, build_demo_app

from ..helpers import memory_client as open_client
from ..helpers import open_event_stream


async def test_demo_publish_reaches_events_stream() -> None:
    server = Server(build_demo_app())
    async with open_client(server) as listener, open_client(server) as publisher:
        await open_event_stream(listener)
        response = await publisher.request("POST", "/publish", body="héllo\nwörld".encode())
        assert response.status == 202
        assert response.headers["content-type"] == "application/json"
        first_id = json.loads(response.body)["id"]
        response = await publisher.request("POST", "/publish?event=chat.message", body=b"second")
        assert response.status == 202
        second_id = json.loads(response.body)["id"]
        first, second = await listener.receive_events(2)
    assert (first.type, first.data, first.last_event_id) == ("publish", "héllo\nwörld", first_id)
    assert (second.type, second.data, second.last_event_id) == ("chat.message", "second", second_id)
    assert first_id != second_id

    # A client coming back with Last-Event-ID gets what it missed.
    async with open_client(server) as listener:
        await open_event_stream(listener, first_id)
        (missed,) = await listener.receive_events(1)
        assert missed == second
    # An id from another instance (e.g. before a restart) is reset.
    async with open_client(server) as listener:
        await open_event_stream(listener, "0123abcd-1")
        async with open_client(server) as publisher:
            response = await publisher.request("POST", "/publish", body=b"third")
            assert response.status == 202
        reset, third = await listener.receive_events(2)
    assert (reset.type, reset.data) == ("reset", "unknown")
    assert (third.data, third.last_event_id) == ("third", json.loads(response.body)["id"])


@pytest.mark.parametrize(
    ("target", "body", "status", "message"),
    [
        ("/publish", b"", 400, "body: empty"),
        ("/publish", b"\xff\xfe", 400, "body: not UTF-8 text"),
        ("/publish", b"\xed\xa0\x80", 400, "body: not UTF-8 text"),  # an encoded surrogate
        ("/publish", b"x" * (MAX_PUBLISH_BYTES + 1), 413, "body: larger than 65536 bytes"),
        ("/publish?event=", b"x", 400, "event: must be 1 to 64 characters"),
        ("/publish?event=reset", b"x", 400, "and not 'reset'; got 'reset'"),
        ("/publish?event=a%0Ab", b"x", 400, r"got 'a\nb'"),
        ("/publish?event=with%20space", b"x", 400, "event: must be"),
        ("/publish?event=-dash", b"x", 400, "event: must be"),
        ("/publish?event=" + "a" * 65, b"x", 400, "event: must be"),
        ("/publish?event=%C3%A9", b"x", 400, "event: must be"),
    ],
)
async def test_demo_publish_rejects(target: str, body: bytes, status: int, message: str) -> None:
    server = Server(build_demo_app())
    async with open_client(server) as client:
        response = await client.request("POST", target, body=body)
        assert response.status == status
        assert message in response.text
        # Nothing was published: the next event gets the first id.
        response = await client.request("POST", "/publish?event=ok", body=b"fine")
        assert response.status == 202
        assert json.loads(response.body)["id"].endswith("-1")


async def test_demo_publish_accepts_64_character_names_and_needs_post() -> None:
    server = Server(build_demo_app())
    async with open_client(server) as client:
        response = await client.request("POST", "/publish?event=" + "a" * 64, body=b"x")
        assert response.status == 202
        response = await client.request("GET", "/publish")
        assert response.status == 405
        assert response.headers["allow"] == "OPTIONS, POST"
