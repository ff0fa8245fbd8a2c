"""Monitoring use cases. Each is one transaction with its audit entry (DESIGN.md)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.db import IntegrityError, transaction
from django.utils import timezone

from resolute.accounts import roles
from resolute.audit import services as audit
from resolute.core import chain as chainmod
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
    """SHA-256 of the canonical JSON of the validated payload: equal payloads, equal hash."""
    return hashlib.sha256(chainmod.canonical_json(item.model_dump(mode="json")).encode()).hexdigest()


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
            Observation.objects.bulk_create(rows[k : k + CHUNK])
            if progress:
                progress(min(k + CHUNK, len(rows)))
        for obs in rows:
            stored[obs.client_id] = (obs.pk, obs.content_hash)

        fresh = set(new_pos)
        result = IntakeResult(
            created=[r.pk for r in rows],
            existing=[stored[it.client_id][0] for i, it in enumerate(items) if i not in fresh],
            ids=[stored[it.client_id][0] for it in items],
        )
        if rows:
            entry = audit.record(
                actor,
                "observation.submit",
                "observation",
                target_id=str(rows[0].pk) if len(rows) == 1 else f"{rows[0].pk}..{rows[-1].pk}",
                after={"count": len(rows), "intake": intake, "ids": [rows[0].pk, rows[-1].pk]},
                batch_item_hashes=[r.content_hash for r in rows],
            )
            result.audit_seq = entry.seq
    return result


def _rows(items, hashes, sources, actor, intake) -> list[Observation]:
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

    submitter = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    rows = []
    for k, (it, h) in enumerate(zip(items, hashes)):
        d = it.direction
        m = it.marking
        rows.append(
            Observation(
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
                source=sources[it.source],
                reliability=it.grade[0],
                credibility=int(it.grade[1]),
                chain=list(it.chain) or [it.source],
                classification=Classification[m.classification],
                tlp=m.tlp,
                releasable_to=encode_releasability(m.releasable_to),
                originator=m.originator,
                received_at=now,
                submitted_by=submitter,
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
