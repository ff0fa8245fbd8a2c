"""Hash chain for the tamper-evident audit log.

entry_hash = SHA-256( prev_hash_hex || canonical_json(entry) ), hex-encoded.
Canonical JSON: keys sorted, no insignificant whitespace, UTF-8, datetimes as ISO 8601 UTC
with microseconds and a 'Z'. The first entry chains from GENESIS (64 zeros).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

GENESIS = "0" * 64


def _default(value):
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in audited data; use UTC")
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"cannot canonicalise {type(value).__name__}")


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def link_hash(prev_hash: str, entry: dict) -> str:
    h = hashlib.sha256()
    h.update(prev_hash.encode("ascii"))
    h.update(canonical_json(entry).encode("utf-8"))
    return h.hexdigest()


def batch_hash(item_hashes: Iterable[str]) -> str:
    """One hash over a whole batch (ordered item hashes), so that a bulk write is one audit entry."""
    h = hashlib.sha256()
    for item in item_hashes:
        h.update(item.encode("ascii"))
        h.update(b"\n")
    return h.hexdigest()


@dataclass(frozen=True)
class Break:
    seq: int
    reason: str


def verify(entries: Iterable[tuple[int, dict, str, str]]) -> Iterator[Break | int]:
    """Walk (seq, entry, prev_hash, entry_hash) in order; yield the running count and, at the
    first inconsistency, a Break naming the entry. Streaming, so the log can be any size."""
    expected_prev = GENESIS
    count = 0
    for seq, entry, prev_hash, entry_hash in entries:
        if prev_hash != expected_prev:
            yield Break(seq, "prev_hash does not match the previous entry's hash (entry removed or reordered)")
            return
        if link_hash(prev_hash, entry) != entry_hash:
            yield Break(seq, "content does not match its hash (entry edited)")
            return
        expected_prev = entry_hash
        count += 1
        yield count
