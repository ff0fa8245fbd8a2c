"""The fusion service: observations → incidents, in batch or incrementally (core/fusion/pipeline.py
does the work; this module reads, writes and audits).

Batch (`resolute fuse [--since T]`) re-fuses every observation in the window. Incremental
(`fuse(observation_ids=…)`, called after intake commits) re-fuses only the neighbourhood of the
new observations: everything within the largest correlation radius and window of them, plus every
member of the incidents found there, so identities are reconciled against complete incidents.
Either way, merges and splits keep identities stable (correlate.reconcile) and are audited.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import shapely
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from resolute.audit import services as audit
from resolute.core.fusion import attribute, confidence
from resolute.core.fusion import params as fparams
from resolute.core.fusion.correlate import NO_INCIDENT
from resolute.core.fusion.pipeline import ObservationTable, assemble
from resolute.core.markings import decode_releasability, encode_releasability

from .models import ContactLine, Incident, Observation, Source
from .signals import incidents_fused

log = logging.getLogger(__name__)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
FIELDS = (
    "id", "lat", "lon", "observed_from", "observed_to", "event_type", "observer_lat", "observer_lon",
    "observer_accuracy_m", "event_lat", "event_lon", "event_error_m", "bearing_deg", "bearing_sigma_deg",
    "compass_sector", "range_min_m", "range_max_m", "count", "source__code", "chain", "classification", "tlp",
    "releasable_to", "originator", "incident_id",
)  # fmt: skip


@dataclass
class FusionReport:
    observations: int = 0
    incidents: int = 0
    created: int = 0
    updated: int = 0
    merged: int = 0
    split: int = 0
    dissolved: int = 0
    located: int = 0
    seconds: dict = field(default_factory=dict)
    audit_seq: int | None = None
    incident_ids: list = field(default_factory=list)  # every incident the run wrote, merged or dissolved


def _params():
    return fparams.params_by_group(fparams.load_overrides(getattr(settings, "FUSION_PARAMS_FILE", None)))


def _epoch(t: dt.datetime) -> float:
    return (t - EPOCH).total_seconds()


def _table(rows: list[tuple]) -> ObservationTable:
    def col(i, dtype=float):
        return np.array([r[i] if r[i] is not None else np.nan for r in rows], dtype=dtype)

    return ObservationTable(
        id=np.array([r[0] for r in rows], dtype=np.int64),
        lat=col(1), lon=col(2),
        t0=np.array([_epoch(r[3]) for r in rows]), t1=np.array([_epoch(r[4]) for r in rows]),
        event_type=[r[5] for r in rows],
        observer_lat=col(6), observer_lon=col(7), observer_accuracy_m=col(8),
        event_lat=col(9), event_lon=col(10), event_error_m=col(11),
        bearing_deg=col(12), bearing_sigma_deg=col(13), compass_sector=[r[14] for r in rows],
        range_min_m=col(15), range_max_m=col(16), count=np.array([r[17] for r in rows]),
        source=[r[18] for r in rows],
        # Relays of one report share its origin: the first link of the chain (or the report itself).
        chain_key=[(r[19][0] if r[19] else f"obs:{r[0]}") for r in rows],
        classification=np.array([r[20] for r in rows]), tlp=[r[21] for r in rows],
        releasable_to=[decode_releasability(r[22]) for r in rows], originator=[r[23] for r in rows],
        previous_incident=np.array([r[24] if r[24] is not None else NO_INCIDENT for r in rows], dtype=np.int64),
    )  # fmt: skip


def source_models() -> dict[str, confidence.SourceModel]:
    """Each source's P(report | real) and P(report | not real): re-estimated values when the
    record has produced them, else seeded from the Admiralty grade."""
    out = {}
    for code, rel, cred, tp, fp in Source.objects.values_list("code", "reliability", "credibility", "p_report_real", "p_report_false"):
        out[code] = confidence.SourceModel(tp, fp, grade=f"{rel}{cred}") if tp and fp else confidence.prior_for_grade(rel, cred)
    return out


_PREPARED: dict[int, attribute.PreparedLine] = {}


def current_line(at: dt.datetime | None = None) -> ContactLine | None:
    """The contact line in force at `at` (newest valid_from not after it), or the newest."""
    qs = ContactLine.objects.all()
    if at is not None:
        qs = qs.filter(valid_from__lte=at)
    return qs.order_by("-valid_from").first()


def prepared(line: ContactLine) -> attribute.PreparedLine:
    """The line projected and indexed for attribution, once per process (lines are immutable:
    a new drawing is a new row)."""
    if line.pk not in _PREPARED:
        _PREPARED[line.pk] = attribute.prepare(line.line["coordinates"], shapely.geometry.shape(line.side_a_area), line.drawing_sigma_m)
    return _PREPARED[line.pk]


def _select(since, observation_ids) -> list[tuple]:
    qs = Observation.objects.all()
    if observation_ids is not None:
        new = list(Observation.objects.filter(pk__in=observation_ids).values_list("lat", "lon", "observed_from", "observed_to", "event_type"))
        if not new:
            return []
        # The neighbourhood of the new observations, family by family: same family, within the
        # family's window, within its radius plus hearing distance (unranged bearings point from
        # up to 20 km away).
        params = _params()
        near = Q(pk__in=[])
        for g in {fparams.GROUP_OF[r[4]] for r in new}:
            mine = [r for r in new if fparams.GROUP_OF[r[4]] == g]
            reach_m = params[g].radius_m + 20_000.0
            window = dt.timedelta(seconds=params[g].window_s)
            lat = [r[0] for r in mine]
            lon = [r[1] for r in mine]
            dlat = reach_m / 111_000.0
            dlon = reach_m / (111_000.0 * max(math.cos(math.radians(max(abs(min(lat)), abs(max(lat))))), 0.05))
            near |= Q(
                event_type__in=fparams.FAMILIES[fparams.FAMILY_NAMES[g]][0],
                lat__gte=min(lat) - dlat, lat__lte=max(lat) + dlat, lon__gte=min(lon) - dlon, lon__lte=max(lon) + dlon,
                observed_to__gte=min(r[2] for r in mine) - window, observed_from__lte=max(r[3] for r in mine) + window,
            )  # fmt: skip
        nearby = Observation.objects.filter(near)
        incidents = set(nearby.exclude(incident__isnull=True).values_list("incident_id", flat=True))
        qs = Observation.objects.filter(Q(pk__in=nearby.values("pk")) | Q(incident_id__in=incidents) | Q(pk__in=observation_ids))
    elif since is not None:
        qs = qs.filter(observed_to__gte=since)
        # Whole incidents only: members of incidents that reach into the window come too.
        incidents = qs.exclude(incident__isnull=True).values("incident_id")
        qs = Observation.objects.filter(Q(observed_to__gte=since) | Q(incident_id__in=incidents))
    return list(qs.order_by("pk").values_list(*FIELDS))


class FusionConflict(RuntimeError):
    """The observations changed under a fusion run three times in a row."""


def fuse(actor, since: dt.datetime | None = None, observation_ids=None, progress=None) -> FusionReport:
    """Fuse observations into incidents (all, those since `since`, or the neighbourhood of
    `observation_ids`) and write the result in one transaction with one audit entry.

    Reading and computing happen outside the write transaction, so intake (one writer on SQLite)
    never waits for the computation; the write then checks that no observation it read was
    re-assigned meanwhile (another fusion run) and starts over if one was. Observations that
    arrive during the computation are fused by their own incremental run."""
    for _attempt in range(3):
        report = FusionReport()
        clock = time.perf_counter()
        rows = _select(since, observation_ids)
        report.observations = len(rows)
        if not rows:
            return report
        table = _table(rows)
        line = current_line()
        report.seconds["load"] = time.perf_counter() - clock
        clock = time.perf_counter()
        result = assemble(
            table, _params(), source_models(), prepared(line) if line else None, (line.side_a, line.side_b) if line else ("A", "B"), progress=progress
        )
        report.seconds["fuse"] = time.perf_counter() - clock
        clock = time.perf_counter()
        with transaction.atomic():
            if _reassigned(table):
                continue
            _write(result, table, report)
            rec = result.reconciliation
            entry = audit.record(
                actor,
                "fusion.run",
                "incident",
                target_id="batch" if observation_ids is None else "incremental",
                after={
                    "observations": report.observations, "incidents": report.incidents, "created": report.created,
                    "merges": [[m.absorbed_id, m.kept_id] for m in rec.merges][:500],
                    "splits": [[s.source_id, s.part_id] for s in rec.splits][:500],
                    "dissolved": list(rec.dissolved)[:500], "since": since.isoformat() if since else None,
                },
                batch_item_hashes=[f"{d.incident_id}:{','.join(map(str, sorted(table.id[d.members])))}" for d in result.drafts],
            )  # fmt: skip
            report.audit_seq = entry.seq
        report.seconds["write"] = time.perf_counter() - clock
        incidents_fused.send(sender=fuse, incident_ids=report.incident_ids)
        return report
    raise FusionConflict("observations kept changing under the fusion run; try again")


def _reassigned(table: ObservationTable) -> bool:
    """Whether any observation read has changed incident since (inside the write transaction)."""
    ids = table.id.tolist()
    now = {}
    for k in range(0, len(ids), 900):
        now.update(Observation.objects.filter(pk__in=ids[k : k + 900]).values_list("id", "incident_id"))
    before = dict(zip(ids, table.previous_incident.tolist()))
    return any((now.get(i) or NO_INCIDENT) != before[i] for i in ids)


def _write(result, table: ObservationTable, report: FusionReport) -> None:
    drafts = result.drafts
    existing = {i.pk: i for i in Incident.objects.filter(pk__in=[d.incident_id for d in drafts if d.incident_id > 0])}
    fields = [f for f in Incident._meta.concrete_fields if f.name not in ("id", "created_at", "updated_at")]
    incidents, changed_old = [], []
    for d in drafts:
        inc = existing.get(d.incident_id) or Incident()
        before = [getattr(inc, f.attname) for f in fields] if inc.pk else None
        _fill(inc, d)
        incidents.append(inc)
        if before is not None and before != [getattr(inc, f.attname) for f in fields]:
            changed_old.append(inc)
    new = [inc for inc in incidents if inc.pk is None]
    Incident.objects.bulk_create(new, batch_size=500)
    final = {d.incident_id: inc.pk for d, inc in zip(drafts, incidents)}
    # An impact points at the outgoing-fire incident it was paired with.
    relinked = []
    for d, inc in zip(drafts, incidents):
        target = incidents[d.origin_draft].pk if d.origin_draft is not None else None
        if inc.origin_incident_id != target:
            inc.origin_incident_id = target
            relinked.append(inc)
    _update(changed_old, fields)
    already = {id(i) for i in changed_old}
    _update([i for i in relinked if id(i) not in already], [Incident._meta.get_field("origin_incident")])
    old = changed_old
    rec = result.reconciliation
    for m in rec.merges:
        Incident.objects.filter(pk=m.absorbed_id).update(status="merged", merged_into_id=final.get(m.kept_id, m.kept_id))
    if rec.dissolved:
        Incident.objects.filter(pk__in=list(rec.dissolved)).update(status="dissolved")
    # Point each observation at its incident, writing only rows that changed.
    new_incident = np.empty(len(table), dtype=np.int64)
    for d, inc in zip(drafts, incidents):
        new_incident[d.members] = inc.pk
    changed = np.flatnonzero(new_incident != table.previous_incident)
    if changed.size:
        qn = connection.ops.quote_name
        sql = f"UPDATE {qn(Observation._meta.db_table)} SET {qn('incident_id')} = %s WHERE {qn('id')} = %s"
        with connection.cursor() as cur:
            cur.executemany(sql, [(int(new_incident[i]), int(table.id[i])) for i in changed])
    report.incidents = len(drafts)
    report.created = len(new)
    report.updated = len(old)
    report.merged = len(rec.merges)
    report.split = len(rec.splits)
    report.dissolved = len(rec.dissolved)
    report.located = sum(1 for d in drafts if d.fix.ok)
    report.incident_ids = sorted({inc.pk for inc in incidents} | {m.absorbed_id for m in rec.merges} | set(rec.dissolved))


def _update(incidents: list[Incident], fields) -> None:
    """UPDATE many incidents with one executemany (Django's bulk_update builds a CASE per field
    per batch, which took seconds for a week of incidents)."""
    if not incidents:
        return
    qn = connection.ops.quote_name
    now = timezone.now()
    cols = [*fields, Incident._meta.get_field("updated_at")]
    sql = "UPDATE {} SET {} WHERE id = %s".format(qn(Incident._meta.db_table), ", ".join(f"{qn(f.column)} = %s" for f in cols))
    params = []
    for inc in incidents:
        inc.updated_at = now
        params.append([f.get_db_prep_save(getattr(inc, f.attname), connection) for f in cols] + [inc.pk])
    with connection.cursor() as cur:
        cur.executemany(sql, params)


def _fill(inc: Incident, d) -> None:
    f = d.fix
    cov = np.asarray(f.cov_enu, dtype=float) if f.ok else None
    inc.event_type = d.event_type
    inc.family = d.family
    if inc.status in ("merged", "dissolved", ""):
        inc.status = "open"
    inc.merged_into = None
    inc.first_seen = EPOCH + dt.timedelta(seconds=d.t0)
    inc.last_seen = EPOCH + dt.timedelta(seconds=d.t1)
    inc.lat, inc.lon = d.lat, d.lon
    inc.fix_ok = bool(f.ok)
    inc.fix_method = f.method if f.ok else ""
    inc.fix_note = (f.reason or "")[:300]
    inc.cov_ee, inc.cov_en, inc.cov_nn = (float(cov[0, 0]), float(cov[0, 1]), float(cov[1, 1])) if f.ok else (None, None, None)
    inc.semi_major_m = _num(f.semi_major_m) if f.ok else None
    inc.semi_minor_m = _num(f.semi_minor_m) if f.ok else None
    inc.orientation_deg = _num(f.orientation_deg) if f.ok else None
    inc.error_m = inc.semi_major_m
    inc.chi2 = _num(f.chi2) if f.ok else None
    inc.dof = f.dof if f.ok else None
    inc.consistent = bool(f.consistent) if f.ok else None
    inc.outlier_ids = d.outlier_ids
    c = d.confidence
    inc.confidence = float(c.probability)
    inc.confidence_word = c.word
    inc.confidence_terms = [
        {"chain": str(t.chain_key), "sources": list(t.sources), "log_lr": round(float(t.log_lr), 4), "capped": bool(t.capped)}
        for t in c.contributions
    ]
    inc.p_origin_a = d.p_origin_a
    inc.p_impact_a = d.p_impact_a
    a = d.attribution
    inc.attribution_kind = a.kind if a else ""
    inc.origin_side = (a.origin or "") if a else ""
    inc.impact_side = (a.impact or "") if a else ""
    inc.attribution = a.text[:300] if a else ""
    inc.observation_count = int(d.members.size)
    inc.classification = d.classification
    inc.tlp = d.tlp
    inc.releasable_to = encode_releasability(d.releasable_to)
    inc.originator = d.originator


def _num(x) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


class IntakeFusion:
    """Runs incremental fusion in the background after intake commits, so a POST answers as soon
    as the observation is durable. One worker thread per process; submissions arriving while it
    works are fused together in the next round. Errors are logged, never lost silently: the
    observations stay unfused and `resolute fuse --pending` picks them up."""

    def __init__(self, delay_s: float = 0.2):
        self.delay_s = delay_s
        self._pending: set[int] = set()
        self._cond = threading.Condition()
        self._busy = False
        self._thread: threading.Thread | None = None

    def submit(self, ids) -> None:
        with self._cond:
            self._pending.update(int(i) for i in ids)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="resolute-fusion", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until everything submitted so far is fused (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
            time.sleep(self.delay_s)  # let a burst accumulate into one round
            with self._cond:
                batch, self._pending = self._pending, set()
                self._busy = True
            try:
                close_old_connections()
                fuse("system:fusion", observation_ids=sorted(batch))
            except Exception:
                log.exception("incremental fusion of %d observations failed; run `resolute fuse --pending`", len(batch))
            finally:
                close_old_connections()
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


intake_fusion = IntakeFusion()


def after_intake(created_ids) -> None:
    """Called by intake adapters once the observations are committed."""
    if created_ids and getattr(settings, "FUSION_ON_INTAKE", True):
        intake_fusion.submit(created_ids)


@dataclass
class ReestimateReport:
    verified: int
    refuted: int
    changed: dict  # source code -> {"before": [tp, fp], "after": [tp, fp]}
    reason: str = ""


def reestimate_sources(actor, strength: float = confidence.DEFAULT_STRENGTH) -> ReestimateReport:
    """Re-estimate each source's P(report | real) / P(report | not real) from incidents verified
    in the field (status verified = real, refuted = not real), with a Beta prior of `strength`
    pseudo-incidents centred on the source's grade (core.fusion.confidence.reestimate, report-only
    mode: the record tells who reported, not who could have). Audited; fusion uses the new values
    from its next run."""
    verified = Incident.objects.filter(status="verified")
    refuted = Incident.objects.filter(status="refuted")
    n_real, n_false = verified.count(), refuted.count()
    if not n_real or not n_false:
        return ReestimateReport(n_real, n_false, {}, "needs both verified and refuted incidents to weigh sources against")
    records = [
        (code, True, status == "verified")
        for code, status in Observation.objects.filter(incident__status__in=("verified", "refuted"))
        .values_list("source__code", "incident__status")
        .distinct()
    ]
    priors = {
        code: confidence.prior_for_grade(rel, cred) for code, rel, cred in Source.objects.values_list("code", "reliability", "credibility")
    }
    models = confidence.reestimate(records, priors, strength, report_only=True, verified_odds=n_real / n_false)
    changed = {}
    with transaction.atomic():
        for src in Source.objects.select_for_update().filter(code__in={r[0] for r in records}):
            m = models[src.code]
            before = [src.p_report_real, src.p_report_false]
            src.p_report_real, src.p_report_false = float(m.tp), float(m.fp)
            src.save(update_fields=["p_report_real", "p_report_false"])
            changed[src.code] = {"before": before, "after": [src.p_report_real, src.p_report_false]}
        audit.record(actor, "source.reestimate", "source", "batch", after={"verified": n_real, "refuted": n_false, "sources": changed})
    return ReestimateReport(n_real, n_false, changed)
