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
from resolute.core.geo import SECTOR_WIDTH_DEG, forward, sector_bearing
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
            # READ COMMITTED). Looking again turns it into 'existing' or a Conflict.
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

    sources = {s.code: s for s in Source.objects.filter(code__in={it.source for it in items})}
    unknown = [{"field": f"[{i}].source", "message": f"unknown source {it.source!r}"} for i, it in enumerate(items) if it.source not in sources]
    if unknown:
        raise InvalidInput("unknown source", unknown)

    with transaction.atomic():
        stored: dict = {}
        ids = list(first_pos)
        for k in range(0, len(ids), CHUNK):
            for cid, pk, h in Observation.objects.filter(client_id__in=ids[k : k + CHUNK]).values_list("client_id", "id", "content_hash"):
                stored[cid] = (pk, h)
        conflicts = [
            {"field": f"[{i}].client_id", "message": "already stored with different content"}
            for i, (it, h) in enumerate(zip(items, hashes))
            if it.client_id in stored and stored[it.client_id][1] != h
        ]
        if conflicts:
            raise Conflict("client_id already stored with different content", conflicts)

        new_pos = [i for cid, i in first_pos.items() if cid not in stored]
        rows = _rows([items[i] for i in new_pos], [hashes[i] for i in new_pos], sources, actor, intake)
        for k in range(0, len(rows), CHUNK):
            chunk = rows[k : k + CHUNK]
            _insert(chunk)
            for cid, pk in Observation.objects.filter(client_id__in=[r["client_id"] for r in chunk]).values_list("client_id", "id"):
                stored[cid] = (pk, None)
            if progress:
                progress(k + len(chunk))

        fresh = set(new_pos)
        created = [stored[items[i].client_id][0] for i in new_pos]
        result = IntakeResult(
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
                batch_item_hashes=[r["content_hash"] for r in rows],
            )
            result.audit_seq = entry.seq
    return result


_FIELDS = [f for f in Observation._meta.concrete_fields if not f.primary_key]


def _adapters() -> dict:
    """Per-type value conversion for the raw INSERT, matching what Django's fields store."""
    if connection.vendor == "sqlite":
        utc = dt.timezone.utc
        return {
            # Django keeps naive UTC text on SQLite: 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
            "DateTimeField": lambda v: v.astimezone(utc).replace(tzinfo=None).isoformat(" "),
            "UUIDField": lambda v: v.hex,
            "JSONField": lambda v: connection.ops.adapt_json_value(v, None),
        }
    return {"JSONField": lambda v: connection.ops.adapt_json_value(v, None)}


def _insert(rows: list[dict]) -> None:
    """INSERT many rows with one executemany. Django's bulk_create prepares every value of every
    row through the field machinery and, on SQLite, packs only ~26 rows of this width per
    statement; this path converts only the columns that need it (times, UUIDs, JSON) and lets
    the driver batch. Columns and table come from the model, so the schema stays in one place."""
    qn = connection.ops.quote_name
    adapters = _adapters()
    adapt = [adapters.get(f.get_internal_type()) for f in _FIELDS]
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        qn(Observation._meta.db_table), ", ".join(qn(f.column) for f in _FIELDS), ", ".join(["%s"] * len(_FIELDS))
    )
    names = [f.attname for f in _FIELDS]
    params = [tuple(r[n] if a is None else a(r[n]) for n, a in zip(names, adapt)) for r in rows]
    with connection.cursor() as cur:
        cur.executemany(sql, params)


@lru_cache(maxsize=1024)
def _releasability(codes: tuple[str, ...]) -> str:
    # A feed repeats a handful of REL TO lists; encode each once.
    return encode_releasability(codes)


def _rows(items, hashes, sources, actor, intake) -> list[dict]:
    """Build model rows; the indicative map point of bearing reports is computed for the whole
    batch at once (vectorised geodesic forward)."""
    now = timezone.now()
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
        olat = np.array([items[k].observer.lat for k in need])
        olon = np.array([items[k].observer.lon for k in need])
        brg = np.array([x.bearing_deg if x.bearing_deg is not None else sector_bearing(x.compass_sector)[0] for x in d])
        rmax = np.array([x.range_max_m if x.range_max_m is not None else np.nan for x in d])
        rmin = np.array([x.range_min_m if x.range_min_m is not None else 0.0 for x in d])
        ranged = ~np.isnan(rmax)
        mid = np.where(ranged, 0.5 * (rmin + np.nan_to_num(rmax)), 0.0)
        plat, plon = forward(olat, olon, brg, mid)
        # Without a range, keep the observer's position and say "within hearing distance".
        half_arc = mid * np.radians(SECTOR_WIDTH_DEG / 2)
        rad = np.where(ranged, np.maximum(np.maximum(0.5 * (np.nan_to_num(rmax) - rmin), half_arc), 100.0), 10_000.0)
        for j, k in enumerate(need):
            lat[k], lon[k], radius[k] = (plat[j], plon[j], rad[j]) if ranged[j] else (olat[j], olon[j], 10_000.0)

    submitter = actor.pk if actor is not None and getattr(actor, "is_authenticated", False) else None
    rows = []
    for k, (it, h) in enumerate(zip(items, hashes)):
        d = it.direction
        m = it.marking
        rows.append(
            dict(
                client_id=it.client_id,
                content_hash=h,
                channel=it.channel,
                observer_lat=it.observer.lat,
                observer_lon=it.observer.lon,
                observer_accuracy_m=it.observer.accuracy_m,
                observed_from=it.observed_from,
                observed_to=it.observed_to,
                event_type=it.event_type,
                perception=it.perception,
                count=it.count,
                weapon_class=it.weapon_class,
                event_lat=it.location.lat if it.location else None,
                event_lon=it.location.lon if it.location else None,
                event_error_m=it.location.error_m if it.location else None,
                bearing_deg=d.bearing_deg if d else None,
                bearing_sigma_deg=d.bearing_sigma_deg if d else None,
                compass_sector=d.compass_sector if d else None,
                range_min_m=d.range_min_m if d else None,
                range_max_m=d.range_max_m if d else None,
                lat=float(lat[k]),
                lon=float(lon[k]),
                radius_m=float(radius[k]),
                narrative=it.narrative,
                attachments=list(it.attachments),
                source_id=sources[it.source].pk,
                reliability=it.grade[0],
                credibility=int(it.grade[1]),
                chain=list(it.chain) or [it.source],
                classification=int(Classification[m.classification]),
                tlp=m.tlp,
                releasable_to=_releasability(tuple(m.releasable_to)),
                originator=m.originator,
                received_at=now,
                submitted_by_id=submitter,
                incident_id=None,
                intake=intake,
            )
        )
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
