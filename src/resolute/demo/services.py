"""Loading the demo world: reference data, demo accounts, sources, the week of observations
(through the same intake service as every other channel) and the ground truth, apart."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from pydantic import TypeAdapter

from resolute.accounts import services as accounts
from resolute.accounts.models import User
from resolute.audit import services as audit
from resolute.core.markings import Classification
from resolute.monitoring import services as monitoring
from resolute.monitoring import fusion
from resolute.agreement import services as agreement
from resolute.playbook import services as playbook
from resolute.agreement.models import Finding
from resolute.monitoring.models import Incident, Observation, Source
from resolute.monitoring.schemas import ObservationIn

from . import guarantees, path
from . import scenario as world
from .agreement import demo_bundle
from .models import ScenarioRun, TrueEvent, TruthLink

ACTOR = "system:demo"
DAYS = 7


def default_start(now: dt.datetime | None = None) -> dt.datetime:
    """The simulated week ends at the last 19:30 Kyiv time (17:30 UTC in winter; the OSCE daily
    report's cut-off) before now, so the demo always shows a recent week."""
    now = now or dt.datetime.now(dt.timezone.utc)
    end = now.replace(hour=17, minute=30, second=0, microsecond=0)
    if end > now:
        end -= dt.timedelta(days=1)
    return end - dt.timedelta(days=DAYS)

# username: (role, nation, clearance)
DEMO_USERS = {
    "admin": ("administrator", "USA", Classification.SECRET),
    "monitor-fra": ("monitor", "FRA", Classification.RESTRICTED),
    "analyst-usa": ("analyst", "USA", Classification.SECRET),
    "analyst-pol": ("analyst", "POL", Classification.CONFIDENTIAL),
    "chair-usa": ("chair", "USA", Classification.SECRET),
    "commissioner-gbr": ("commissioner", "GBR", Classification.SECRET),
    "commissioner-fra": ("commissioner", "FRA", Classification.SECRET),
    "commissioner-deu": ("commissioner", "DEU", Classification.SECRET),
    "commissioner-pol": ("commissioner", "POL", Classification.SECRET),
    "delegate-deu": ("delegate", "DEU", Classification.CONFIDENTIAL),
    "ledger-nld": ("ledger_officer", "NLD", Classification.RESTRICTED),
    "public": ("public", "", Classification.PUBLIC),
}


def _ensure_users(password: str) -> None:
    """The demo accounts; without a password they exist but cannot log in (the workflow walk
    still needs them as the people who act)."""
    for username, (role, nation, clearance) in DEMO_USERS.items():
        user = User.objects.filter(username=username).first()
        if user is None:
            accounts.create_user(ACTOR, username, role, nation=nation, clearance=clearance, password=password or None)
        elif password:
            accounts.set_password(ACTOR, user, password)


def _ensure_sources(sources: list[dict]) -> None:
    have = set(Source.objects.values_list("code", flat=True))
    for s in sources:
        if s["code"] not in have:
            monitoring.register_source(
                ACTOR, s["code"], s["name"], s["channel"], s["reliability"], int(s["credibility"]), s.get("nation", ""),
                classification=Classification.RESTRICTED, tlp="GREEN",
            )


def load_demo(seed: int = 7, password: str = "", progress=None) -> dict:
    """Idempotent: a second run resets the demo passwords and adds nothing else."""
    monitoring.load_reference_data(ACTOR)
    _ensure_users(password)
    run = ScenarioRun.objects.filter(seed=seed).first()
    s = world.generate(seed=seed, days=DAYS, start=run.start if run else default_start())
    _ensure_sources(s.sources)
    # The agreement first: putting it in force publishes the contact line fusion attributes
    # against, and fusion's incidents are judged against it as they are written.
    version, _new = agreement.load_bundle(ACTOR, demo_bundle(s, s.start - dt.timedelta(days=30)), origin=f"demo scenario seed {seed}")
    payloads = [{k: v for k, v in o.items() if k != "truth_id"} for o in s.observations]
    task = progress.add_task("demo observations", total=len(payloads)) if progress else None
    items = TypeAdapter(list[ObservationIn]).validate_python(payloads)
    # Observations and ground truth commit together: a crash half-way leaves neither, and the
    # next run starts clean with the same week.
    with transaction.atomic():
        result = monitoring.submit_observations(
            items, ACTOR, intake="demo", progress=(lambda n: progress.update(task, completed=n)) if progress else None
        )
        if run is None:
            _store_truth(seed, s)
    if progress:
        progress.update(task, completed=len(items))
    report = None
    if result.created or not Incident.objects.exists():
        ftask = progress.add_task("fusing into incidents", total=None) if progress else None
        report = fusion.fuse(ACTOR)
        if progress:
            progress.update(ftask, total=1, completed=1)
    elif not Finding.objects.exists():
        agreement.judge(ACTOR)
    path.ensure_seats()
    # The guarantees come before the Commission's walk: its armed-attack decision activates the
    # playbook, which needs its instruments and packages in place.
    pledged = guarantees.load((s.start + dt.timedelta(days=DAYS)).date(), seed=seed)
    walked = path.walk()
    # (The decision's commit normally triggers the playbook; inside an outer transaction, as in
    # tests, it has not run yet. Taking pending activations is idempotent.)
    playbook.run_pending(ACTOR)
    return {
        "agreement": f"version {version.number}: {version.label}",
        "findings (current, not exempt)": Finding.objects.filter(current=True, exempt=False).count(),
        **{f"decision path: {k}": v for k, v in walked.items()},
        **{f"guarantees: {k}": v for k, v in pledged.items()},
        "observations loaded": len(result.created),
        "observations already present": len(result.existing),
        "observations in database": Observation.objects.count(),
        "true events (ground truth, stored apart)": TrueEvent.objects.filter(run__seed=seed).count(),
        "incidents": Incident.objects.filter(status="open").count(),
        "incidents located": Incident.objects.filter(status="open", fix_ok=True).count(),
        "fusion seconds": round(sum(report.seconds.values()), 2) if report else 0,
        **{f"by channel: {k}": v for k, v in sorted(world.summary(s).get("by_channel", {}).items())},
    }


def _store_truth(seed: int, s) -> None:
    geography = {
        "contact_line": {"type": "LineString", "coordinates": [list(p) for p in s.contact_line]},
        "withdrawal_bands": {str(k): v for k, v in s.withdrawal_bands.items()},
        "sites": s.sites,
    }
    with transaction.atomic():
        run = ScenarioRun.objects.create(seed=seed, start=s.start, geography=geography, summary=_jsonable(world.summary(s)))
        TrueEvent.objects.bulk_create(
            [
                TrueEvent(
                    run=run, truth_id=t["truth_id"], kind=t["kind"], lat=t["lat"], lon=t["lon"], origin_lat=t["origin_lat"],
                    origin_lon=t["origin_lon"], origin_side=t["origin_side"], impact_side=t["impact_side"], start=t["start"],
                    end=t["end"], count=t["count"], weapon_class=t["weapon_class"],
                )
                for t in s.truth
            ],
            batch_size=500,
        )
        TruthLink.objects.bulk_create(
            [TruthLink(run=run, client_id=o["client_id"], truth_id=o.get("truth_id")) for o in s.observations], batch_size=500
        )
        audit.record(ACTOR, "demo.ground_truth", "scenario", seed, after={"true_events": len(s.truth), "links": len(s.observations)})


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value
