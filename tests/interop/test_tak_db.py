"""The real pytak client into the database: every event the listener acknowledged by TCP is
stored, once, with its raw detail."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_a_burst_of_10000_pytak_events_is_all_in_the_database():
    from resolute.interop import services, tak
    from resolute.interop.models import CotDetail
    from resolute.monitoring import services as monitoring
    from resolute.monitoring.models import Observation

    monitoring.register_source("test", "TAK", "TAK feed", "patrol", "B", 2, "")
    payloads = tak.bench_events(10_000)
    # Garbage and a resent event (same uid, same content) inside the burst: neither loses nor doubles anything.
    payloads = payloads[:5000] + [b"GET / HTTP/1.1\r\n\r\n", payloads[10]] + payloads[5000:]

    async def run():
        listener = tak.TakListener(services.cot_sink("test"), source_code="TAK", port=0)
        port = await listener.start()
        await tak.pytak_burst(f"tcp://127.0.0.1:{port}", payloads)
        for _ in range(600):
            if listener.stats["persisted"] + listener.stats["bad"] + listener.stats["failed"] >= 10_001:
                break
            await asyncio.sleep(0.05)
        await listener.close()
        return listener.stats

    stats = asyncio.run(run())
    assert stats["failed"] == 0 and stats["garbage_bytes"] > 0
    assert Observation.objects.filter(intake="cot").count() == 10_000
    assert CotDetail.objects.count() == 10_000
    assert b"OP-" in CotDetail.objects.first().detail.encode()  # the callsign, kept raw
