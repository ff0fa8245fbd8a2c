"""The real pytak client into the database: every event the listener acknowledged by TCP is
stored, once, with its raw detail."""

from __future__ import annotations

import asyncio
import uuid

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


# ============================================================ the sink: persist_cot, batch by batch


def _mapped(n: int, prefix: str = "p-", marking=None, **event):
    from resolute.interop import cot

    docs = cot.EventSplitter().feed(b"".join(_event(f"{prefix}{i}", **event) for i in range(n)))
    return [cot.to_observation(cot.parse_event(d), source_code="TAK", marking=marking) for d in docs]


def _event(uid: str, remarks: str = "heard 3 impacts", time: str = "2025-03-01T21:40:00Z") -> bytes:
    return (
        f'<event version="2.0" uid="{uid}" type="b-m-p-s-m" how="h-g-i-g-o" time="{time}" start="{time}" '
        f'stale="2025-03-01T22:40:00Z"><point lat="47.6" lon="35.8" hae="9999999.0" ce="40" le="9999999.0"/>'
        f'<detail><contact callsign="MON-{uid}"/><remarks>{remarks}</remarks><link uid="x" relation="p-p"/></detail></event>'
    ).encode()


def _audit_entries() -> list:
    from resolute.audit.models import AuditEntry

    return list(AuditEntry.objects.filter(action="observation.submit").values_list("batch_count", flat=True))


@pytest.fixture
def tak_source():
    from resolute.monitoring import services as monitoring

    monitoring.register_source("test", "TAK", "TAK feed", "patrol", "B", 2, "")


def test_a_batch_is_one_transaction_with_one_audit_entry_markings_and_raw_details(tak_source):
    from resolute.interop import services
    from resolute.interop.models import CotDetail
    from resolute.monitoring.models import Observation

    marking = {"classification": "CONFIDENTIAL", "tlp": "RED", "releasable_to": ["FRA", "DEU"], "originator": "FRA"}
    batch = _mapped(40, marking=marking)
    assert services.persist_cot("test", batch) == {"stored": 40, "existing": 0, "refused": 0, "conflicts": 0}
    assert _audit_entries() == [40]
    rows = Observation.objects.filter(intake="cot")
    assert rows.count() == 40
    assert {(o.classification, o.tlp, o.originator) for o in rows} == {(2, "RED", "FRA")}
    assert all("FRA" in o.releasable_to and "DEU" in o.releasable_to for o in rows)
    details = {d.observation.client_id: d.detail for d in CotDetail.objects.select_related("observation")}
    assert len(details) == 40
    for payload, raw in batch:
        assert details[uuid.UUID(payload["client_id"])] == raw.decode()
    assert '<link uid="x" relation="p-p"/>' in details[uuid.UUID(batch[0][0]["client_id"])]

    # Resent as it was: nothing new, no new audit entry, no second detail.
    assert services.persist_cot("test", batch) == {"stored": 0, "existing": 40, "refused": 0, "conflicts": 0}
    assert _audit_entries() == [40] and CotDetail.objects.count() == 40


def test_the_same_event_twice_in_one_batch_is_stored_once_with_one_detail(tak_source):
    from resolute.interop import services
    from resolute.interop.models import CotDetail

    batch = _mapped(5)
    counts = services.persist_cot("test", batch + [batch[2]])
    assert counts == {"stored": 5, "existing": 1, "refused": 0, "conflicts": 0}
    assert CotDetail.objects.count() == 5 and _audit_entries() == [5]


def test_edited_markers_keep_the_first_and_the_rest_is_stored_in_one_transaction(tak_source):
    from resolute.interop import services
    from resolute.monitoring.models import Observation

    services.persist_cot("test", _mapped(10))
    fresh = _mapped(30, prefix="q-")
    edited = _mapped(2, remarks="heard 7 impacts")  # p-0, p-1 again, other content
    twice = _mapped(1, prefix="q-", remarks="heard 9 impacts")  # q-0 twice in this batch, other content
    counts = services.persist_cot("test", fresh[:15] + edited + fresh[15:] + twice)
    assert counts == {"stored": 30, "existing": 0, "refused": 0, "conflicts": 3}
    assert _audit_entries() == [10, 30]  # one transaction for the rest, not one per item
    first = Observation.objects.get(client_id=edited[0][0]["client_id"])
    assert first.count == 3 and "3 impacts" in first.narrative
    assert Observation.objects.get(client_id=twice[0][0]["client_id"]).count == 3


def test_an_item_the_schema_refuses_is_left_out_and_the_rest_stored(tak_source):
    from resolute.interop import services
    from resolute.monitoring.models import Observation

    batch = _mapped(4) + _mapped(1, prefix="future-", time="2199-01-01T00:00:00Z")
    assert services.persist_cot("test", batch) == {"stored": 4, "existing": 0, "refused": 1, "conflicts": 0}
    assert Observation.objects.filter(intake="cot").count() == 4 and _audit_entries() == [4]
