"""The demo's walk through element 1's decision chain, done by the demo accounts through the
same services as the API: a verified violation becomes a Commission case, a vote and a decision,
and (for an armed attack) a pending activation. Also leaves a few items in the verification
queue, one team denied access, so every screen has something to show."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.utils import timezone

from resolute.accounts.models import User
from resolute.agreement.models import Finding
from resolute.commission import services as commission
from resolute.commission.models import Case, CommissionSeat
from resolute.monitoring.models import CoalitionMember

# The Commission: US-chaired, members from coalition states.
SEATS = ("USA", "GBR", "FRA", "DEU", "POL", "ITA", "CAN")


def ensure_seats() -> None:
    members = {m.code: m for m in CoalitionMember.objects.filter(code__in=SEATS)}
    for code in SEATS:
        if code in members:
            CommissionSeat.objects.get_or_create(member=members[code], defaults={"chair": code == "USA"})


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _pick(rule_type: str) -> Finding | None:
    # The declaration's scenario is a renewed Russian attack: prefer a finding against RUS.
    found = Finding.objects.filter(current=True, exempt=False, rule_type=rule_type, incident__status="open").exclude(party="").select_related("incident")
    return found.filter(party="RUS").order_by("-p_violation", "pk").first() or found.order_by("-p_violation", "pk").first()


def walk() -> dict:
    """Idempotent: does nothing once the demo has a case."""
    if Case.objects.exists():
        return {}
    u = {x.username: x for x in User.objects.all()}
    monitor, reviewer, second = u["monitor-fra"], u["analyst-usa"], u["analyst-pol"]
    chair = u["chair-usa"]
    finding = _pick("ground_assault") or _pick("cross_line_fire") or _pick("ceasefire_fire")
    if finding is None:
        return {}
    inc = finding.incident
    now = timezone.now()
    v = commission.open_verification(monitor, f"{finding.explanation} (incident {inc.pk})", "mission", inc)
    commission.take_lock(reviewer, v)
    commission.review(reviewer, v, True, "consistent reports from several posts; task a team")
    commission.release_lock(reviewer, v)
    commission.task(reviewer, v, "MVT Alpha", monitor, now + dt.timedelta(hours=48))
    commission.report(
        monitor, v, "Craters and vehicle tracks consistent with the reports; statements of three residents.",
        [{"sha256": _sha(f"statement {k}"), "description": f"witness statement {k}"} for k in (1, 2, 3)],
        [{"sha256": _sha("crater photo"), "caption": "crater, north-east edge of the village"}], "verified",
    )  # fmt: skip
    commission.conclude(second, v, "verified", "team report and sensor data agree")
    case = Case.objects.get(verification=v)
    commission.invite_parties(chair, case, now + dt.timedelta(days=5))
    commission.record_response(chair, case, "UKR", "Ukraine confirms the assault on its positions and provides casualty figures.")
    commission.record_response(chair, case, "RUS", "The Russian side states that its units responded to provocations.")
    commission.open_deliberation(chair, case)
    breach = "armed_attack" if finding.rule_type == "ground_assault" else "serious"
    commission.note(u["commissioner-gbr"], case, "The verification report and the sensor record leave no reasonable doubt.")
    commission.propose(
        chair, case, finding.party, breach, ["demarche", "public_statement", "reinforced_monitoring"],
        f"The Commission finds that {finding.party} is responsible: {finding.explanation}",
    )  # fmt: skip
    for name, choice, opinion in (
        ("chair-usa", "yes", ""), ("commissioner-gbr", "yes", ""), ("commissioner-fra", "yes", ""),
        ("commissioner-deu", "yes", ""), ("commissioner-pol", "no", "The measures fall short of what an armed attack calls for."),
    ):  # fmt: skip
        commission.vote(u[name], case, choice, opinion)
    decision = commission.close_vote(chair, case)
    commission.publish(chair, decision)
    # The queue: one allegation awaiting review, one team in the field that was denied access.
    other = Finding.objects.filter(current=True, exempt=False, incident__status="open").exclude(incident=inc).order_by("-severity", "-p_violation", "pk")
    items = list(other.select_related("incident")[:3])
    for f in items[:2]:
        commission.open_verification(second, f"{f.explanation} (incident {f.incident_id})", "party", f.incident)
    if len(items) == 3:
        w = commission.open_verification(second, f"{items[2].explanation} (incident {items[2].incident_id})", "mission", items[2].incident)
        commission.review(reviewer, w, True, "")
        commission.task(reviewer, w, "MVT Bravo", monitor, now + dt.timedelta(hours=24))
        i = items[2].incident
        if i.lat is not None:
            commission.deny_access(monitor, w, i.lat, i.lon, denied_by="RUS", note="turned back at a checkpoint 2 km short of the site")
    commission.refresh_reliability("system:demo")
    return {"verified incident": inc.pk, "case": case.number, "decision": f"{decision.breach_class}, attributed to {decision.attribution}", "activation": "armed-attack determination sent to the playbook" if decision.breach_class == "armed_attack" else "none"}
