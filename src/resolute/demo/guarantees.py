"""The demo's guarantees: a plausible ledger for the coalition's members (pledges moved through
their stages, two valuation bases for equipment, one fund reimbursing a donation, one
confidential pledge), the Multinational Force's requirements and offers, Ukraine's request, and
the playbook's instruments and response packages. Everything goes through the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import numpy as np

from resolute.core.valuation import STAGES
from resolute.forces import services as forces
from resolute.forces.models import Requirement
from resolute.monitoring.models import CoalitionMember
from resolute.playbook import services as playbook
from resolute.support import services as support
from resolute.support.models import Pledge

ACTOR = "system:demo"
FX_FILE = Path(__file__).resolve().parents[1] / "support" / "data" / "fx_demo.csv"
CURRENCY = {"USA": "USD", "GBR": "GBP", "POL": "PLN", "NOR": "NOK", "SWE": "SEK", "DNK": "DKK", "CAN": "CAD", "AUS": "AUD", "JPN": "JPY",
            "CZE": "CZK", "ROU": "RON", "ISL": "ISK", "NZL": "NZD", "ALB": "ALL", "MKD": "MKD", "MDA": "MDL", "TUR": "TRY"}  # fmt: skip
# Rough scale of each member's effort, EUR millions per pledge (larger economies pledge more).
SCALE = {"USA": 900, "DEU": 450, "GBR": 400, "EUU": 700, "FRA": 250, "JPN": 200, "CAN": 150, "NLD": 160, "POL": 120, "ITA": 110, "SWE": 110,
         "NOR": 140, "DNK": 130, "ESP": 70, "FIN": 60, "BEL": 60, "AUS": 50, "CZE": 40, "PRT": 20, "AUT": 25, "TUR": 30, "ROU": 25}  # fmt: skip
EQUIPMENT = (("155 mm artillery rounds", 3_000, 8_000), ("air-defence interceptors", 250_000, 4), ("armoured personnel carriers", 1_200_000, 12),
             ("demining kits", 40_000, 30), ("tactical drones", 15_000, 200), ("night-vision devices", 6_000, 150))  # fmt: skip
CATEGORIES = ("arms_financing", "defence_budget_support", "rapid_reinforcement_personnel", "fortifications", "training", "joint_production", "intelligence_cooperation")


def load(today: dt.date, seed: int = 7) -> dict:
    """Idempotent: does nothing once the demo ledger exists."""
    if Pledge.objects.filter(created_by=ACTOR).exists():
        return {}
    support.load_fx_csv(ACTOR, FX_FILE.read_bytes(), source="demo: ECB-like monthly rates")
    rng = np.random.default_rng(seed)
    members = list(CoalitionMember.objects.order_by("code"))
    pledges = _ledger(members, rng, today)
    requirements = _force(members, today)
    packages = _playbook(members, pledges)
    return {"pledges": len(pledges), "force requirements": requirements, "response packages": packages}


def _ledger(members, rng, today):
    out = []
    for m in members:
        scale = SCALE.get(m.code, 8)
        currency = CURRENCY.get(m.code, "EUR")
        for k in range(int(rng.integers(2, 5))):
            announced = today - dt.timedelta(days=int(rng.integers(60, 600)))
            in_kind = k == 0 and m.code != "EUU"
            if in_kind:
                item, unit_price, per = EQUIPMENT[int(rng.integers(len(EQUIPMENT)))]
                qty = int(max(1, per * scale / 100 * rng.uniform(0.5, 1.5)))
                p = support.create_pledge(ACTOR, m, "military_equipment", f"{item} for the Ukrainian armed forces", "in_kind", currency, announced, item=item,
                                          confidential=(m.code == "FIN"), **support.PUBLIC_MARKING)  # fmt: skip
                reported = Decimal(unit_price * qty) / _rate(currency)
                # Stock transfers: the donor reports replacement cost; the net book value of
                # ageing stock is lower (the Kiel tracker's valuation debate).
                values = lambda f: {"reported": _money(reported * f), "replacement": _money(reported * f * Decimal("1.15")), "net_book_value": _money(reported * f * Decimal("0.55"))}  # noqa: E731
            else:
                category = CATEGORIES[int(rng.integers(len(CATEGORIES)))]
                amount = Decimal(int(scale * rng.uniform(0.3, 1.2) * 1_000_000)) / _rate(currency)
                p = support.create_pledge(ACTOR, m, category, f"{category.replace('_', ' ')} {announced.year}", "financial", currency, announced, **support.PUBLIC_MARKING)
                values = lambda f, a=amount: {"reported": _money(a * f)}  # noqa: E731
                qty = None
            # Walk the pledge forward: most reach allocation, fewer are delivered.
            reach = int(rng.choice(len(STAGES), p=[0.10, 0.15, 0.20, 0.10, 0.10, 0.10, 0.15, 0.10]))
            day = announced
            for stage in STAGES[: reach + 1]:
                fraction = Decimal("1") if STAGES.index(stage) < 4 else Decimal(str(round(rng.uniform(0.6, 1.0), 2)))
                support.record_entry(ACTOR, p, stage, day, values(fraction), qty, source="demo")
                day = min(day + dt.timedelta(days=int(rng.integers(10, 60))), today)
            out.append(p)
    # A donation co-financed by the European Peace Facility: the fund's reimbursement and the
    # member's delivery are the same money, counted once (under the fund, whose money it is).
    euu, deu = CoalitionMember.objects.get(code="EUU"), CoalitionMember.objects.get(code="DEU")
    day = today - dt.timedelta(days=120)
    epf = support.create_pledge(ACTOR, euu, "arms_financing", "European Peace Facility: reimbursement of Leopard 1A5 deliveries", "financial", "EUR", day, **support.PUBLIC_MARKING)
    tanks = support.create_pledge(ACTOR, deu, "military_equipment", "Leopard 1A5 tanks (EPF co-financed)", "in_kind", "EUR", day, item="Leopard 1A5", **support.PUBLIC_MARKING)
    value = {"reported": Decimal("60000000.00")}
    support.record_entry(ACTOR, epf, "commitment", day, value, source="demo")
    support.record_entry(ACTOR, tanks, "commitment", day, value, 20, source="demo")
    refund = support.record_entry(ACTOR, epf, "received", day + dt.timedelta(days=60), value, source="demo")
    support.record_entry(ACTOR, tanks, "received", day + dt.timedelta(days=60), value, 20, funded_by=[refund], source="demo")
    out += [epf, tanks]
    return out


def _rate(currency: str) -> Decimal:
    return support.fx_table().eur_per_unit(currency, dt.date(2025, 6, 1))


def _money(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"))


REQUIREMENTS = (
    ("MNF-01", "Mechanised infantry battalion (reassurance, Dnipro)", 3, "battalion", "t30", "Dnipro", "FRA", False),
    ("MNF-02", "Air policing (fighter aircraft)", 12, "aircraft", "t10", "western Ukraine", "GBR", False),
    ("MNF-03", "Ground-based air defence battery", 4, "battery", "t10", "Kyiv", "DEU", False),
    ("MNF-04", "Maritime mine countermeasures group", 6, "vessel", "t30", "Odesa", "TUR", False),
    ("MNF-05", "Training mission instructors", 400, "instructor", "t180", "Lviv", "POL", False),
    ("MNF-06", "Engineer company (fortifications)", 3, "company", "t30", "Zaporizhzhia", "NLD", False),
    ("MNF-07", "ISR and intelligence fusion (US enabler)", 1, "cell", "t10", "Rzeszów/Kyiv", "USA", True),
    ("MNF-08", "Strategic airlift and logistics (US enabler)", 1, "hub", "t10", "Rzeszów", "USA", True),
    ("MNF-09", "Field hospital (role 2)", 2, "hospital", "t30", "Kyiv", "ITA", False),
)
OFFERS = (
    ("MNF-01", "FRA", "1er régiment d'infanterie battlegroup", 1, 25, "accepted"), ("MNF-01", "GBR", "Battlegroup (armoured infantry)", 1, 28, "certified"),
    ("MNF-01", "BEL", "Light infantry company group", 1, 20, "offered"),
    ("MNF-02", "GBR", "Typhoon flight", 4, 7, "accepted"), ("MNF-02", "NLD", "F-35A detachment", 4, 9, "offered"), ("MNF-02", "SWE", "Gripen detachment", 2, 14, "accepted"),
    ("MNF-03", "DEU", "IRIS-T SLM battery", 1, 8, "accepted"), ("MNF-03", "NOR", "NASAMS battery", 1, 10, "certified"),
    ("MNF-04", "TUR", "Mine countermeasures vessels", 2, 20, "accepted"), ("MNF-04", "ROU", "Minehunter", 1, 35, "offered"),
    ("MNF-05", "POL", "Instructors", 150, 90, "accepted"), ("MNF-05", "CAN", "Instructors (Operation UNIFIER)", 120, 60, "accepted"), ("MNF-05", "DNK", "Instructors", 40, 120, "offered"),
    ("MNF-06", "NLD", "Engineer company", 1, 30, "accepted"), ("MNF-06", "EST", "Engineer platoon", 1, 25, "offered"),
    ("MNF-07", "USA", "ISR fusion cell", 1, 5, "certified"), ("MNF-08", "USA", "Logistics hub", 1, 7, "accepted"),
    ("MNF-09", "ITA", "Role 2 field hospital", 1, 21, "accepted"),
)  # fmt: skip


def _force(members, today) -> int:
    codes = {m.code: m for m in members}
    for code, capability, qty, unit, tier, location, lead, enabler in REQUIREMENTS:
        if not Requirement.objects.filter(code=code).exists():
            forces.add_requirement(ACTOR, code, capability, qty, unit, tier, location, lead, enabler)
    reqs = {r.code: r for r in Requirement.objects.all()}
    path = {"offered": [], "accepted": ["accept"], "certified": ["accept", "certify"]}
    for code, member, unit, size, days, status in OFFERS:
        o = forces.make_offer(ACTOR, reqs[code], codes[member], unit, size, days)
        for action in path[status]:
            forces.move_offer(ACTOR, o, action)
        if member == "BEL":
            # This contribution has slipped: 45 days now, against a ≤ 30-day tier (an alert).
            forces.update_readiness(ACTOR, o, 45)
    forces.record_ukraine_request(ACTOR, today - dt.timedelta(days=20), "UA/MFA/2026-117", "Ukraine requests the deployment of the Multinational Force Ukraine once the ceasefire holds.")
    return len(reqs)


def _playbook(members, pledges) -> int:
    codes = [m.code for m in members]
    start = dt.date(2026, 1, 6)
    declaration = playbook.add_instrument(ACTOR, "Paris Declaration: guarantees of the ceasefire", "declaration", codes, "political", start, trigger="armed_attack",
                                          consultations_hours=24, senior_meeting_hours=72)  # fmt: skip
    n = 0
    by_member = {}
    for p in pledges:
        by_member.setdefault(p.member.code, p)
    plan = (
        ("USA", "intelligence", "Intelligence and early warning to Ukraine and the force", None, "", 0),
        ("USA", "logistics", "Strategic airlift surge", Decimal("400000000"), "", 0),
        ("GBR", "military_capabilities", "Air-defence interceptors from national stocks", Decimal("300000000"), "", 0),
        ("FRA", "military_capabilities", "SAMP/T battery redeployment", Decimal("250000000"), "Government decision (Conseil de défense)", 24),
        ("DEU", "military_capabilities", "IRIS-T SLM fire units and missiles", Decimal("500000000"), "Bundestag budget committee approval", 96),
        ("ITA", "logistics", "Medical evacuation flights", Decimal("40000000"), "Parliamentary authorisation", 120),
        ("POL", "logistics", "Rzeszów hub throughput for the surge", None, "", 0),
        ("NLD", "military_capabilities", "F-16 munitions package", Decimal("150000000"), "", 0),
        ("EUU", "sanctions", "Additional sanctions package (asset freezes, trade)", None, "Council unanimity", 72),
        ("CAN", "diplomatic", "Convene G7 foreign ministers", None, "", 0),
        ("NOR", "military_capabilities", "NASAMS missiles", Decimal("120000000"), "", 0),
        ("JPN", "sanctions", "Export controls and asset freezes", None, "Cabinet decision", 48),
        ("TUR", "diplomatic", "Black Sea de-escalation talks", None, "", 0),
    )
    for code, domain, text, value, step, hours in plan:
        m = next(x for x in members if x.code == code)
        playbook.add_package(ACTOR, declaration, m, domain, text, value, pledge=by_member.get(code) if domain == "military_capabilities" else None,
                             national_step=step, national_step_hours=hours)  # fmt: skip
        n += 1
    return n
