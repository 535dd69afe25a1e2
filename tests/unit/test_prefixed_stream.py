"""``PrefixedStream``: the bytes read past a request head, replayed before the stream."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trio_sse._prefixed_stream import PrefixedStream


async def test_prefixed_stream_keeps_the_stream_contract() -> None:
    async def pair() -> tuple[PrefixedStream, PrefixedStream]:
        a, b = trio.testing.memory_stream_pair()
        return PrefixedStream(a), PrefixedStream(b)

    async def clogged() -> tuple[PrefixedStream, PrefixedStream]:
        a, b = trio.testing.lockstep_stream_pair()
        return PrefixedStream(a), PrefixedStream(b)

    await trio.testing.check_two_way_stream(pair, clogged)


async def test_prefixed_stream_replays_prefix_then_delegates() -> None:
    a, b = trio.testing.memory_stream_pair()
    stream = PrefixedStream(b, b"hello world")
    await a.send_all(b"!")
    assert stream.pending == 11
    assert await stream.receive_some(5) == b"hello"
    assert await stream.receive_some() == b" world"  # the rest of the prefix, not more
    assert stream.pending == 0
    assert await stream.receive_some() == b"!"
    await stream.send_all(b"back")
    assert await a.receive_some() == b"back"
    await stream.wait_send_all_might_not_block()
    with pytest.raises(TypeError):
        await stream.receive_some(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 1"):
        await stream.receive_some(0)
    assert "PrefixedStream" in repr(stream)


async def test_prefixed_stream_receive_is_a_checkpoint_and_exclusive() -> None:
    _, b = trio.testing.memory_stream_pair()
    stream = PrefixedStream(b, b"abc")
    with trio.CancelScope() as scope:
        scope.cancel()
        await stream.receive_some()
    assert scope.cancelled_caught
    assert stream.pending == 3  # a cancelled receive consumed nothing
    results: list[object] = []

    async def receive() -> None:
        try:
            results.append(bytes(await stream.receive_some(1)))
        except trio.BusyResourceError:
            results.append("busy")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receive)
        nursery.start_soon(receive)
    assert sorted(map(str, results)) == ["b'a'", "busy"]
    await stream.aclose()
    assert stream.pending == 0
    with pytest.raises(trio.ClosedResourceError):
        await stream.receive_some()
