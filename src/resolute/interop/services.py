"""Importing the event data people already have (ACLED, UCDP GED) as open-source observations,
through the same intake service as every other channel."""

from __future__ import annotations

from pydantic import TypeAdapter

from resolute.errors import InvalidInput
from resolute.monitoring import services as monitoring
from resolute.monitoring.schemas import ObservationIn

from . import acled, ucdp

DATASETS = {"acled": acled, "ucdp": ucdp}


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


def cot_sink(actor: str = "system:tak"):
    """The TAK listener's sink: persists each batch (run in a worker thread by the listener)."""

    def sink(batch) -> None:
        persist_cot(actor, batch)

    sink.__doc__ = "the database (intake service, one transaction per batch)"
    return sink


def persist_cot(actor, batch) -> dict:
    """Store a batch of (observation payload, raw detail) in one transaction with the raw
    details. An item the schema refuses is logged and left out; a uid re-sent with other content
    (ATAK resends an edited marker under its uid) is a conflict: the batch is then stored item
    by item, so one edited marker never holds back the others. Returns counts."""
    import logging

    from django.db import close_old_connections, transaction
    from pydantic import ValidationError

    from resolute.errors import Conflict
    from resolute.monitoring import fusion

    from .models import CotDetail

    log = logging.getLogger(__name__)
    close_old_connections()  # a worker thread reused across batches
    valid = []
    for payload, raw in batch:
        try:
            valid.append((ObservationIn.model_validate(payload), raw))
        except ValidationError as exc:
            log.warning("CoT event %s refused by the schema: %s", payload.get("client_id"), exc.errors()[:1])
    counts = {"stored": 0, "existing": 0, "refused": len(batch) - len(valid), "conflicts": 0}

    def store(pairs) -> list[int]:
        with transaction.atomic():
            result = monitoring.submit_observations([p for p, _ in pairs], actor, intake="cot")
            new = set(result.created)
            CotDetail.objects.bulk_create(
                [CotDetail(observation_id=oid, uid=str(p.client_id), detail=raw.decode("utf-8", "replace")) for oid, (p, raw) in zip(result.ids, pairs) if oid in new]
            )
        counts["stored"] += len(result.created)
        counts["existing"] += len(result.existing)
        return result.created

    created: list[int] = []
    try:
        created = store(valid) if valid else []
    except Conflict:
        for pair in valid:
            try:
                created += store([pair])
            except Conflict:
                counts["conflicts"] += 1
                log.warning("CoT uid re-sent with other content, kept the first: %s", pair[0].client_id)
    fusion.after_intake(created)
    return counts
