"""The TAK listener's throughput machinery: parsing in a worker process (or inline), and group
commit. Whatever the path, every event received is persisted, skipped or counted as bad."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import pytest

from resolute.interop import cot, tak

from .test_cot import (
    FRIENDLY_PLI,
    ListSink,
    event,
    expected_ids,
    pytak_sender,
    remarks,
    run_listener,
)


def _mixed(n: int) -> list[bytes]:
    """n good reports with a bad event and a position report after every hundredth."""
    out = []
    for i, good in enumerate(tak.bench_events(n)):
        out.append(good)
        if i % 100 == 0:
            out += [event(f"bad-{i}", lat="123"), FRIENDLY_PLI]
    return out


@pytest.mark.parametrize("workers", [0, 1], ids=["inline", "parse-worker"])
def test_inline_and_worker_parsing_give_the_same_result(workers):
    sink = ListSink()
    listener = asyncio.run(run_listener(sink, [pytak_sender(_mixed(3000))], parse_workers=workers))
    assert sorted(sink.client_ids()) == sorted(expected_ids(3000))
    stats = listener.stats
    assert (stats["received"], stats["persisted"], stats["bad"], stats["skipped"]) == (3060, 3000, 30, 30)
    assert stats["failed"] == 0


def test_the_order_of_a_connection_is_kept_through_the_worker():
    sink = ListSink()
    asyncio.run(run_listener(sink, [pytak_sender(tak.bench_events(5000))], parse_workers=1, parse_offload_min=1))
    assert sink.client_ids() == [str(cot.client_id_for(f"bench-{i}")) for i in range(5000)]


def test_a_dead_parse_worker_costs_no_event(caplog):
    async def scenario():
        sink = ListSink()
        listener = tak.TakListener(sink, source_code="TAK-MON-1", port=0, parse_workers=1, parse_offload_min=1)
        port = await listener.start()
        payloads = tak.bench_events(2000)
        await tak.pytak_burst(f"tcp://127.0.0.1:{port}", payloads[:1000])
        while listener.stats["received"] < 1000:
            await asyncio.sleep(0.01)
        for pid in list(listener._pool._processes):
            os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(0.2)
        await tak.pytak_burst(f"tcp://127.0.0.1:{port}", payloads[1000:])
        await listener.close()
        return sink, listener

    with caplog.at_level(logging.WARNING, logger="resolute.interop.tak"):
        sink, listener = asyncio.run(scenario())
    assert sorted(sink.client_ids()) == sorted(expected_ids(2000))
    assert listener.stats["received"] == listener.stats["persisted"] == 2000
    assert "parse worker failed" in caplog.text


def test_a_busy_sink_gets_fewer_larger_batches():
    # flush_interval is tiny: without group commit each read would be its own batch.
    sink = ListSink(delay=0.05)
    listener = asyncio.run(
        run_listener(sink, [pytak_sender(tak.bench_events(4000))], flush_interval=0.001, max_in_flight=1, parse_workers=0)
    )
    assert sorted(sink.client_ids()) == sorted(expected_ids(4000))
    assert max(sink.batches) <= 2000 and len(sink.batches) <= 8
    assert listener.stats["persisted"] == 4000


def test_a_lone_event_still_goes_within_the_flush_interval():
    async def scenario():
        sink = ListSink()
        listener = tak.TakListener(sink, source_code="TAK-MON-1", port=0, flush_interval=0.05)
        port = await listener.start()
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(event("lone", detail=remarks("heard 2 impacts")))
        await writer.drain()
        for _ in range(100):
            if sink.items:
                break
            await asyncio.sleep(0.01)
        stored_while_open = len(sink.items)
        writer.close()
        await listener.close()
        return stored_while_open

    assert asyncio.run(scenario()) == 1
