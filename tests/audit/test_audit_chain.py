"""The audit log is hash-chained: any edit, removal or truncation is detected and named."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from resolute.audit import services as audit
from resolute.audit.models import AuditEntry
from resolute.cli import main as cli
from resolute.core import chain

pytestmark = [pytest.mark.django_db, pytest.mark.db_backends]


def _write(n):
    for i in range(n):
        with transaction.atomic():
            audit.record("tester", "thing.change", "thing", i, before={"v": i}, after={"v": i + 1, "note": "é ✓"})


def test_chain_verifies_and_counts():
    _write(5)
    result = audit.verify()
    assert result.ok and result.count == 5


def test_editing_an_entry_in_the_database_is_detected():
    _write(5)
    third = AuditEntry.objects.order_by("seq")[2]
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {AuditEntry._meta.db_table} SET actor = %s WHERE seq = %s", ["mallory", third.seq])
    result = audit.verify()
    assert not result.ok and result.broken_seq == third.seq and "edited" in result.reason
    assert result.count == 2


def test_editing_the_json_payload_is_detected():
    _write(3)
    first = AuditEntry.objects.order_by("seq").first()
    AuditEntry.objects.filter(seq=first.seq).update(after={"v": 999, "note": "é ✓"})
    assert audit.verify().broken_seq == first.seq


def test_removing_an_entry_is_detected():
    _write(4)
    second = AuditEntry.objects.order_by("seq")[1]
    AuditEntry.objects.filter(seq=second.seq).delete()
    result = audit.verify()
    assert result.broken_seq == second.seq + 1 and "removed" in result.reason


def test_truncating_the_newest_entries_is_detected():
    _write(4)
    AuditEntry.objects.order_by("-seq").first().delete()
    result = audit.verify()
    assert not result.ok and result.head_mismatch


def test_audit_verify_command_exits_non_zero_naming_the_entry(capsys):
    _write(3)
    assert cli(["audit", "verify"]) == 0
    assert "3 entries" in capsys.readouterr().out
    last = AuditEntry.objects.order_by("-seq").first()
    AuditEntry.objects.filter(seq=last.seq).update(target_id="forged")
    assert cli(["audit", "verify"]) == 1
    assert f"entry {last.seq}" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
def test_recording_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError):
        audit.record("tester", "x", "y")


def test_a_rolled_back_change_leaves_no_audit_entry():
    with pytest.raises(ZeroDivisionError):
        with transaction.atomic():
            audit.record("tester", "doomed", "thing")
            1 / 0
    assert not AuditEntry.objects.filter(action="doomed").exists()
    assert audit.verify().ok


def test_batch_hash_covers_every_item():
    assert chain.batch_hash(["a" * 64, "b" * 64]) != chain.batch_hash(["b" * 64, "a" * 64])
