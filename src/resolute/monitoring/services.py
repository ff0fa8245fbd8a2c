"""Monitoring use cases. Each is one transaction with its audit entry (DESIGN.md)."""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import lru_cache
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from resolute.accounts import roles
from resolute.audit import services as audit
from resolute.bulk import insert_rows
from resolute.core.geo import indicative_points, sector_bearing
from resolute.core.markings import Classification, encode_releasability
from resolute.errors import Conflict, Forbidden, InvalidInput

from .models import Observation, Source
from .schemas import ObservationIn

# Rows per INSERT and per existence query: under SQLite's bound-variable limit, large enough
# to amortise round trips on PostgreSQL.
CHUNK = 500


@dataclass
class IntakeResult:
    created: list[int] = field(default_factory=list)
    existing: list[int] = field(default_factory=list)
    # Position i of the submission -> stored id, in submission order.
    ids: list[int] = field(default_factory=list)
    audit_seq: int | None = None
    # The stored observation, when exactly one was submitted and created.
    observation: Observation | None = None


def content_hash(item: ObservationIn) -> str:
    """SHA-256 of the validated, normalised payload (pydantic's JSON in schema field order,
    times in UTC): equal payloads, equal hash. Several times cheaper than re-canonicalising a
    dict, which matters on the bulk path."""
    return hashlib.sha256(item.model_dump_json().encode()).hexdigest()


def submit_observations(
    items: Sequence[ObservationIn],
    actor,
    intake: str = "api",
    progress: Callable[[int], None] | None = None,
) -> IntakeResult:
    """Accept observations, all or nothing.

    Idempotent per client_id: an item whose client_id is stored with the same content returns
    the stored id; the same client_id with other content is a Conflict and nothing is written.
    Durable when this returns (the transaction has committed). Writes one audit entry for the
    whole batch, carrying a hash over every item's content hash.
    """
    if actor is not None and not isinstance(actor, str) and not roles.allows(actor, roles.ADD, "observation"):
        raise Forbidden("your role may not submit observations")
    hashes = [content_hash(it) for it in items]
    for attempt in range(2):
        try:
            return _submit(items, hashes, actor, intake, progress)
        except IntegrityError:
            # A concurrent writer stored one of these client_ids after we looked (PostgreSQL,
            # READ COMMITTED), or a remembered source id went stale (source deleted and
            # re-registered). Looking again turns it into 'existing', a Conflict or a clean 422.
            _SOURCE_IDS.clear()
            if attempt == 1:
                raise
    raise AssertionError("unreachable")


def _submit(items, hashes, actor, intake, progress) -> IntakeResult:
    # Same client_id twice inside one submission: fine if identical, a conflict otherwise.
    first_pos: dict = {}
    errors = []
    for i, (it, h) in enumerate(zip(items, hashes)):
        j = first_pos.setdefault(it.client_id, i)
        if j != i and hashes[j] != h:
            errors.append({"field": f"[{i}].client_id", "message": f"same client_id as item {j} with different content"})
    if errors:
        raise Conflict("client_id reused with different content inside the submission", errors)

    sources = _source_ids({it.source for it in items})
    unknown = [{"field": f"[{i}].source", "message": f"unknown source {it.source!r}"} for i, it in enumerate(items) if it.source not in sources]
    if unknown:
        raise InvalidInput("unknown source", unknown)

    created_obs = None
    with transaction.atomic():
        stored: dict = {}
        if len(first_pos) == 1:
            # The single-observation path (devices, forms): one INSERT … ON CONFLICT DO NOTHING
            # RETURNING id instead of look-up, insert and re-read.
            rows = _rows(items[:1], hashes[:1], sources, actor, intake)
            pk = _insert_returning(rows[0])
            if pk is not None:
                stored[items[0].client_id] = (pk, hashes[0])
                new_pos = [0]
                # The reply shows what was stored; build it from the row rather than read it back.
                created_obs = Observation(id=pk, **dict(zip(COLUMNS, rows[0])))
                created_obs.source = Source(id=rows[0][COLUMNS.index("source_id")], code=items[0].source)
            else:
                stored.update(_lookup([items[0].client_id]))
                rows, new_pos = [], []
        else:
            stored.update(_lookup(list(first_pos)))
            new_pos = [i for cid, i in first_pos.items() if cid not in stored]
        fresh = set(new_pos)
        conflicts = [
            {"field": f"[{i}].client_id", "message": "already stored with different content"}
            for i, (it, h) in enumerate(zip(items, hashes))
            if i not in fresh and it.client_id in stored and stored[it.client_id][1] != h
        ]
        if conflicts:
            raise Conflict("client_id already stored with different content", conflicts)

        if len(first_pos) != 1:
            rows = _rows([items[i] for i in new_pos], [hashes[i] for i in new_pos], sources, actor, intake)
            for k in range(0, len(rows), CHUNK):
                _insert(rows[k : k + CHUNK])
                chunk_ids = [items[i].client_id for i in new_pos[k : k + CHUNK]]
                stored.update(_lookup(chunk_ids))
                if progress:
                    progress(k + len(chunk_ids))

        created = [stored[items[i].client_id][0] for i in new_pos]
        result = IntakeResult(
            observation=created_obs,
            created=created,
            existing=[stored[it.client_id][0] for i, it in enumerate(items) if i not in fresh],
            ids=[stored[it.client_id][0] for it in items],
        )
        if rows:
            entry = audit.record(
                actor,
                "observation.submit",
                "observation",
                target_id=str(created[0]) if len(created) == 1 else f"{min(created)}..{max(created)}",
                after={"count": len(rows), "intake": intake, "ids": [min(created), max(created)]},
                batch_item_hashes=[hashes[i] for i in new_pos],
            )
            result.audit_seq = entry.seq
    return result


def _lookup(client_ids: list) -> dict:
    """client_id -> (id, content_hash) for those already stored: one query per CHUNK ids.
    Raw SQL, as for the insert: compiling the ORM's IN lookup over 500 UUIDs took several
    times longer than SQLite took to answer it."""
    out: dict = {}
    if not client_ids:
        return out
    qn = connection.ops.quote_name
    table = qn(Observation._meta.db_table)
    cid_col, pk_col, hash_col = (qn(Observation._meta.get_field(f).column) for f in ("client_id", "id", "content_hash"))
    sqlite = connection.vendor == "sqlite"
    with connection.cursor() as cur:
        for k in range(0, len(client_ids), CHUNK):
            # SQLite keeps a UUIDField as 32 hex digits (_Adapt.uuid), PostgreSQL as uuid.
            by_key = {(c.hex if sqlite else c): c for c in client_ids[k : k + CHUNK]}
            cur.execute(
                f"SELECT {cid_col}, {pk_col}, {hash_col} FROM {table} WHERE {cid_col} IN ({', '.join(['%s'] * len(by_key))})",
                list(by_key),
            )
            for cid, pk, h in cur.fetchall():
                out[by_key[cid]] = (pk, h)
    return out


# Sources are registered rarely and never deleted (PROTECT), so a process may remember code -> id.
_SOURCE_IDS: dict[str, int] = {}


def _source_ids(codes: set[str]) -> dict[str, int]:
    missing = codes - _SOURCE_IDS.keys()
    if missing:
        _SOURCE_IDS.update(Source.objects.filter(code__in=missing).values_list("code", "id"))
    return {c: _SOURCE_IDS[c] for c in codes if c in _SOURCE_IDS}


# Column order of the raw INSERT/COPY; checked against the model at import so the schema stays
# in one place (models.py).
COLUMNS = (
    "classification", "tlp", "releasable_to", "originator", "client_id", "content_hash", "channel",
    "observer_lat", "observer_lon", "observer_accuracy_m", "observed_from", "observed_to", "event_type",
    "perception", "count", "weapon_class", "event_lat", "event_lon", "event_error_m", "bearing_deg",
    "bearing_sigma_deg", "compass_sector", "range_min_m", "range_max_m", "lat", "lon", "radius_m",
    "narrative", "attachments", "source_id", "reliability", "credibility", "chain", "incident_id",
    "received_at", "submitted_by_id", "intake",
)  # fmt: skip
_FIELDS = [f for f in Observation._meta.concrete_fields if not f.primary_key]
assert [f.attname for f in _FIELDS] == list(COLUMNS), "COLUMNS must follow Observation's fields"


class _Adapt:
    """Conversions for the raw write, matching what Django's fields store on each backend.
    Rows are built with Python values (so the single path can also return a model instance);
    only the six columns that need it are converted, at write time."""

    def __init__(self):
        self.sqlite = connection.vendor == "sqlite"
        self._json: dict = {}
        self._time: tuple = (None, None)
        kinds = {"client_id": self.uuid, "observed_from": self.time, "observed_to": self.time, "received_at": self.time}
        kinds.update({"attachments": self.json, "chain": self.json})
        self.columns = [(COLUMNS.index(c), f) for c, f in kinds.items()]

    def time(self, v):
        if v is self._time[0]:  # received_at: one value for the whole batch
            return self._time[1]
        # Django keeps naive UTC text on SQLite: 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
        out = v.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(" ") if self.sqlite else v
        self._time = (v, out)
        return out

    def uuid(self, v):
        return v.hex if self.sqlite else v

    def json(self, v):
        # chain and attachments repeat a few values ([source], []) across a feed: adapt each once.
        key = tuple(v)
        out = self._json.get(key)
        if out is None:
            out = self._json[key] = connection.ops.adapt_json_value(list(v), None)
        return out

    def rows(self, rows: list[tuple]) -> list[list]:
        out = []
        for row in rows:
            row = list(row)
            for i, f in self.columns:
                row[i] = f(row[i])
            out.append(row)
        return out


def _sql_parts() -> tuple[str, str, str]:
    qn = connection.ops.quote_name
    return qn(Observation._meta.db_table), ", ".join(qn(f.column) for f in _FIELDS), ", ".join(["%s"] * len(_FIELDS))


def _insert_returning(row: tuple) -> int | None:
    """Insert one row unless its client_id exists; its id, or None. Same SQL on SQLite ≥ 3.35
    and PostgreSQL."""
    table, cols, marks = _sql_parts()
    with connection.cursor() as cur:
        cur.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT (client_id) DO NOTHING RETURNING id", _Adapt().rows([row])[0])
        got = cur.fetchone()
    return got[0] if got else None


def _insert(params: list[tuple]) -> None:
    """Write many observations in one go (resolute/bulk.py says why not bulk_create)."""
    table, cols, marks = _sql_parts()
    insert_rows(table, cols, _Adapt().rows(params), marks)


@lru_cache(maxsize=1024)
def _releasability(codes: tuple[str, ...]) -> str:
    # A feed repeats a handful of REL TO lists; encode each once.
    return encode_releasability(codes)


def _rows(items, hashes, sources, actor, intake) -> list[tuple]:
    """Build model rows; the indicative map point of bearing reports is computed for the whole
    batch at once (vectorised geodesic forward)."""
    n = len(items)
    lat = np.empty(n)
    lon = np.empty(n)
    radius = np.empty(n)
    need = []
    for k, it in enumerate(items):
        if it.location is not None:
            lat[k], lon[k], radius[k] = it.location.lat, it.location.lon, it.location.error_m
        else:
            need.append(k)
    if need:
        d = [items[k].direction for k in need]
        brg = [x.bearing_deg if x.bearing_deg is not None else sector_bearing(x.compass_sector)[0] for x in d]
        rmin = [x.range_min_m if x.range_min_m is not None else np.nan for x in d]
        rmax = [x.range_max_m if x.range_max_m is not None else np.nan for x in d]
        olat = [items[k].observer.lat for k in need]
        olon = [items[k].observer.lon for k in need]
        lat[need], lon[need], radius[need] = indicative_points(olat, olon, brg, rmin, rmax)

    submitter = actor.pk if actor is not None and getattr(actor, "is_authenticated", False) else None
    received = timezone.now()
    rows = []
    for k, (it, h) in enumerate(zip(items, hashes)):
        d = it.direction
        loc = it.location
        m = it.marking
        rows.append(
            (
                int(Classification[m.classification]), m.tlp, _releasability(tuple(m.releasable_to)), m.originator,
                it.client_id, h, it.channel,
                it.observer.lat, it.observer.lon, it.observer.accuracy_m, it.observed_from, it.observed_to,
                it.event_type, it.perception, it.count, it.weapon_class,
                loc.lat if loc else None, loc.lon if loc else None, loc.error_m if loc else None,
                d.bearing_deg if d else None, d.bearing_sigma_deg if d else None, d.compass_sector if d else None,
                d.range_min_m if d else None, d.range_max_m if d else None,
                float(lat[k]), float(lon[k]), float(radius[k]),
                it.narrative, it.attachments, sources[it.source], it.grade[0], int(it.grade[1]),
                it.chain or [it.source], None, received, submitter, intake,
            )
        )  # fmt: skip
    return rows


def register_source(actor, code: str, name: str, channel: str, reliability: str = "F", credibility: int = 6, nation: str = "", **marking) -> Source:
    """Register (or update) a source of observations."""
    if actor is not None and not isinstance(actor, str) and not roles.allows(actor, roles.ADD, "source"):
        raise Forbidden("your role may not register sources")
    with transaction.atomic():
        before = Source.objects.filter(code=code).values("name", "channel", "reliability", "credibility", "nation").first()
        src, _ = Source.objects.update_or_create(
            code=code,
            defaults=dict(name=name, channel=channel, reliability=reliability, credibility=credibility, nation=nation, **marking),
        )
        after = {"name": name, "channel": channel, "reliability": reliability, "credibility": credibility, "nation": nation}
        if before != after:
            audit.record(actor, "source.register", "source", src.code, before=before, after=after)
    return src



def load_reference_data(actor, path=None) -> dict:
    """Load parties and coalition members (idempotent). `path` or RESOLUTE_COALITION_FILE
    replaces the shipped list; names come from ISO 3166 (pycountry)."""
    import json
    import os
    from pathlib import Path

    import pycountry

    from .models import CoalitionMember, Party

    path = Path(path or os.environ.get("RESOLUTE_COALITION_FILE") or Path(__file__).parent / "data" / "coalition.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    added = 0
    with transaction.atomic():
        for code, name in doc["parties"]:
            _, created = Party.objects.get_or_create(code=code, defaults={"name": name})
            added += created
        for code, kind, european in doc["members"]:
            country = pycountry.countries.get(alpha_3=code)
            name = getattr(country, "common_name", None) or getattr(country, "name", None) or "European Union institutions"
            _, created = CoalitionMember.objects.get_or_create(code=code, defaults={"name": name, "kind": kind, "european": european})
            added += created
        if added:
            audit.record(actor, "reference.load", "reference", path.name, after={"added": added})
    return {"parties": Party.objects.count(), "members": CoalitionMember.objects.count(), "added": added}


def publish_contact_line(actor, name: str, valid_from, line: dict, side_a_area: dict, side_a: str, side_b: str, drawing_sigma_m: float):
    """Give fusion a new contact line to attribute against, valid from `valid_from` (the
    agreement publishes its line here when a version enters into force). Lines are never
    edited: a new drawing is a new row, so past attributions stay reproducible."""
    from .models import ContactLine

    with transaction.atomic():
        row = ContactLine.objects.create(
            name=name, valid_from=valid_from, line=line, side_a_area=side_a_area, side_a=side_a, side_b=side_b, drawing_sigma_m=drawing_sigma_m
        )
        audit.record(actor, "contact_line.publish", "contact_line", row.pk, after={"name": name, "valid_from": valid_from.isoformat(), "points": len(line.get("coordinates", []))})
    return row


INCIDENT_OUTCOMES = ("verified", "not_verified", "refuted")


def set_incident_status(actor, incident, status: str) -> None:
    """Record the verification outcome on the incident (called by the verification service
    inside its transaction). Fusion keeps the status when it re-fuses the incident."""
    from .models import Incident

    if status not in INCIDENT_OUTCOMES:
        raise InvalidInput("bad status", [{"field": "status", "message": f"one of {', '.join(INCIDENT_OUTCOMES)}"}])
    with transaction.atomic():
        before = Incident.objects.filter(pk=incident.pk).values_list("status", flat=True).first()
        Incident.objects.filter(pk=incident.pk).update(status=status)
        audit.record(actor, "incident.status", "incident", incident.pk, before={"status": before}, after={"status": status})
