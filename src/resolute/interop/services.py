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
