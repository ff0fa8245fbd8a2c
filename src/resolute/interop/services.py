"""Importing the event data people already have (ACLED, UCDP GED) as open-source observations,
through the same intake service as every other channel."""

from __future__ import annotations

import contextlib
import logging
import re
import threading

from pydantic import TypeAdapter

from resolute.bulk import insert_rows
from resolute.errors import InvalidInput
from resolute.monitoring import services as monitoring
from resolute.monitoring.schemas import ObservationIn

from . import acled, ucdp

DATASETS = {"acled": acled, "ucdp": ucdp}
_log = logging.getLogger(__name__)


def import_events(actor, data: bytes | str, dataset: str, source_code: str | None = None) -> dict:
    """Parse a whole ACLED or UCDP GED CSV file and store its ceasefire-relevant rows, all or
    nothing. Re-importing a file is idempotent (client ids derive from the datasets' own ids)."""
    if dataset not in DATASETS:
        raise InvalidInput("unknown dataset", [{"field": "dataset", "message": f"one of {', '.join(DATASETS)}"}])
    module = DATASETS[dataset]
    source_code = source_code or f"OSINT-{dataset.upper()}"
    try:
        payloads = module.parse(data, source_code=source_code)
    except acled.ImportRowsError as exc:  # (the UCDP parser shares ACLED's reader and its error)
        errors = [{"field": f"line {e['line']}" + (f": {e['field']}" if e.get("field") else ""), "message": e["message"]} for e in exc.errors]
        raise InvalidInput(f"{len(exc.errors)} problem(s) in the file; nothing was imported", errors) from None
    skipped = dict(getattr(payloads, "skipped", {}))
    monitoring.register_source("system:import", source_code, module.DATASET, "open_source", module.GRADE[0], int(module.GRADE[1]), "", classification=0, tlp="CLEAR")
    items = TypeAdapter(list[ObservationIn]).validate_python(list(payloads))
    result = monitoring.submit_observations(items, actor, intake=dataset) if items else None
    return {
        "rows imported": len(items), "new observations": len(result.created) if result else 0,
        "already stored": len(result.existing) if result else 0, "skipped (not ceasefire-relevant)": skipped,
        "created_ids": result.created if result else [],
    }  # fmt: skip


# -- TAK / Cursor on Target -------------------------------------------------------------------

# SQLite has one writer: a second sink thread would wait for the write lock inside BEGIN IMMEDIATE,
# in SQLite's busy handler, which sleeps in steps of up to 100 ms and so wakes late. Waiting here
# instead lets the next batch start the moment the previous one commits. (The listener is told
# to hand over one batch at a time on SQLite anyway, see cot_sink; this covers other callers.)
_SQLITE_WRITER = threading.Lock()
_OBSERVATION_LIST = None


def cot_sink(actor: str = "system:tak"):
    """The TAK listener's sink: persists each batch (run in a worker thread by the listener).
    What the first batch would otherwise pay for (importing fusion, building the list
    validator: a few hundred milliseconds) is done here, before the listener starts."""
    from resolute.monitoring import fusion  # noqa: F401

    _observation_list()

    from django.db import connection

    def sink(batch) -> None:
        persist_cot(actor, batch)

    sink.__doc__ = "the database (intake service, one transaction per batch)"
    # SQLite has one writer: a second batch handed over would only wait for the first one's
    # lock, frozen at the size it had. Kept by the listener instead, it goes on growing until
    # the writer is free (group commit), which makes fewer, larger transactions.
    sink.max_in_flight = 1 if connection.vendor == "sqlite" else 2
    return sink


def persist_cot(actor, batch) -> dict:
    """Store a batch of (observation payload, raw detail) in one transaction with the raw
    details, and one audit entry for the batch (the intake service's). Durable when this
    returns. An item the schema refuses is logged and left out; a uid re-sent with other
    content (ATAK resends an edited marker under its uid) is a conflict: the first content is
    kept, the conflicting items are logged and left out, and the rest is stored together.
    Returns counts."""
    from django.db import close_old_connections, connection

    from resolute.monitoring import fusion

    close_old_connections()  # a worker thread reused across batches
    valid = _validate_cot(batch)
    counts = {"stored": 0, "existing": 0, "refused": len(batch) - len(valid), "conflicts": 0}
    if not valid:
        return counts
    writer = _SQLITE_WRITER if connection.vendor == "sqlite" else contextlib.nullcontext()
    with writer:
        created = _store_cot(actor, valid, counts)
    fusion.after_intake(created)
    return counts


def _validate_cot(batch) -> list:
    """[(ObservationIn, raw detail)] for the items the schema accepts: the whole list in one
    validator call, item by item only to single out the refused ones."""
    from pydantic import ValidationError

    try:
        return list(zip(_observation_list().validate_python([payload for payload, _ in batch]), [raw for _, raw in batch]))
    except ValidationError:
        pass
    valid = []
    for payload, raw in batch:
        try:
            valid.append((ObservationIn.model_validate(payload), raw))
        except ValidationError as exc:
            _log.warning("CoT event %s refused by the schema: %s", payload.get("client_id"), exc.errors()[:1])
    return valid


def _observation_list() -> TypeAdapter:
    global _OBSERVATION_LIST
    if _OBSERVATION_LIST is None:
        _OBSERVATION_LIST = TypeAdapter(list[ObservationIn])
    return _OBSERVATION_LIST


def _store_cot(actor, pairs, counts) -> list[int]:
    """Store `pairs` in one transaction. On a conflict, leave out the items the intake names
    and store the rest, again in one transaction: a few rounds at most, since the intake names
    every conflict of a submission at once. Item by item only if a conflict names no item."""
    from resolute.errors import Conflict

    while pairs:
        try:
            return _store_once(actor, pairs, counts)
        except Conflict as exc:
            bad = _conflicting_items(exc, len(pairs))
            if not bad:
                break
            for i in sorted(bad):
                _log.warning("CoT uid re-sent with other content, kept the first: %s", pairs[i][0].client_id)
            counts["conflicts"] += len(bad)
            pairs = [pair for i, pair in enumerate(pairs) if i not in bad]
    created: list[int] = []
    for pair in pairs:
        try:
            created += _store_once(actor, [pair], counts)
        except Conflict:
            counts["conflicts"] += 1
            _log.warning("CoT uid re-sent with other content, kept the first: %s", pair[0].client_id)
    return created


def _store_once(actor, pairs, counts) -> list[int]:
    from django.db import transaction

    with transaction.atomic():
        result = monitoring.submit_observations([p for p, _ in pairs], actor, intake="cot")
        # One detail per new observation, also when the batch holds the same event twice.
        new = set(result.created)
        rows = []
        for oid, (p, raw) in zip(result.ids, pairs):
            if oid in new:
                new.discard(oid)
                rows.append((oid, str(p.client_id), raw.decode("utf-8", "replace")))
        _insert_details(rows)
    counts["stored"] += len(result.created)
    counts["existing"] += len(result.existing)
    return result.created


_ITEM = re.compile(r"^\[(\d+)\]\.client_id$")


def _conflicting_items(exc, n: int) -> set[int]:
    found = {int(m[1]) for e in exc.errors if (m := _ITEM.match(str(e.get("field", ""))))}
    return found if found and max(found) < n else set()


def _insert_details(rows: list[tuple[int, str, str]]) -> None:
    """(observation id, uid, detail) rows in one statement per batch: executemany on SQLite,
    COPY on PostgreSQL (whose Django cursor would send executemany as one INSERT per row).
    Plain ints and text, so no field conversion is skipped; bulk_create built a model instance
    per row, which cost more than storing the observation."""
    if not rows:
        return
    from django.db import connection

    from .models import CotDetail

    qn = connection.ops.quote_name
    table = qn(CotDetail._meta.db_table)
    cols = ", ".join(qn(CotDetail._meta.get_field(f).column) for f in ("observation", "uid", "detail"))
    insert_rows(table, cols, rows, "%s, %s, %s")
