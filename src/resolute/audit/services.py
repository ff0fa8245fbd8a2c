"""Writing and verifying the audit log. Callers are other services, inside their own
transaction.atomic(): the audit entry commits or rolls back with the change it describes."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from resolute.core import chain

from .models import AuditEntry, AuditHead


def actor_name(user) -> str:
    """Who did it: the user's name, or the operating-system account for CLI work."""
    if user is not None and getattr(user, "is_authenticated", False):
        return user.get_username()
    if isinstance(user, str):
        return user
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no passwd entry in some containers
        return "cli:unknown"


def _entry_dict(e: AuditEntry) -> dict:
    return {
        "at": e.at,
        "actor": e.actor,
        "action": e.action,
        "target_type": e.target_type,
        "target_id": e.target_id,
        "before": e.before,
        "after": e.after,
        "batch_count": e.batch_count,
        "batch_sha256": e.batch_sha256,
    }


def record(
    actor,
    action: str,
    target_type: str,
    target_id: str = "",
    before: dict | None = None,
    after: dict | None = None,
    batch_item_hashes: list[str] | None = None,
) -> AuditEntry:
    """Append one entry. `batch_item_hashes`, for bulk writes, are the content hashes of every
    record written; the entry stores their count and one hash over them all."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record must run inside the service's transaction.atomic()")
    # Raw SQL for the head: this runs on every state change, and the ORM's query compilation
    # cost more than the statements themselves.
    head_table = connection.ops.quote_name(AuditHead._meta.db_table)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cur:
        cur.execute(f"SELECT last_hash FROM {head_table} WHERE id = 1{lock}")
        row = cur.fetchone()
        if row is None:
            cur.execute(f"INSERT INTO {head_table} (id, last_seq, last_hash) VALUES (1, 0, %s)", [chain.GENESIS])
    prev_hash = row[0] if row else chain.GENESIS
    entry = AuditEntry(
        at=timezone.now(),
        actor=actor_name(actor),
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        before=_jsonable(before),
        after=_jsonable(after),
        batch_count=len(batch_item_hashes) if batch_item_hashes is not None else 0,
        batch_sha256=chain.batch_hash(batch_item_hashes) if batch_item_hashes is not None else "",
        prev_hash=prev_hash,
    )
    entry.entry_hash = chain.link_hash(entry.prev_hash, _entry_dict(entry))
    entry.save(force_insert=True)
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {head_table} SET last_seq = %s, last_hash = %s WHERE id = 1", [entry.seq, entry.entry_hash])
    return entry


def _jsonable(value):
    # Round-trip through canonical JSON so what we hash is what a JSON column gives back.
    return None if value is None else json.loads(chain.canonical_json(value))


@dataclass
class VerifyResult:
    count: int
    broken_seq: int | None = None
    reason: str = ""
    head_mismatch: bool = False

    @property
    def ok(self) -> bool:
        return self.broken_seq is None and not self.head_mismatch


def verify(progress=None) -> VerifyResult:
    """Recompute the whole chain from the stored rows. Also checks the head row, which catches
    truncation of the newest entries."""

    def rows() -> Iterator[tuple[int, dict, str, str]]:
        for e in AuditEntry.objects.order_by("seq").iterator(chunk_size=2000):
            yield e.seq, _entry_dict(e), e.prev_hash, e.entry_hash

    count = 0
    for item in chain.verify(rows()):
        if isinstance(item, chain.Break):
            return VerifyResult(count=count, broken_seq=item.seq, reason=item.reason)
        count = item
        if progress:
            progress(count)
    head = AuditHead.objects.filter(pk=1).first()
    last = AuditEntry.objects.order_by("-seq").values_list("seq", "entry_hash").first()
    if head is not None and (last is None or (head.last_seq, head.last_hash) != tuple(last)):
        return VerifyResult(count=count, head_mismatch=True, reason="newest entries are missing (chain head does not match)")
    return VerifyResult(count=count)
