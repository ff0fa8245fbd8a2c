"""The force board page: who may read it, the fill rates, offers, alerts and the gate it shows,
and offers made, withdrawn and accepted through its forms (refusals change nothing)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from resolute.audit.models import AuditEntry
from resolute.core.markings import Classification
from resolute.forces import services
from resolute.forces.models import Offer
from resolute.monitoring.models import CoalitionMember

pytestmark = pytest.mark.django_db
READERS = ("administrator", "commissioner", "chair", "delegate", "ledger_officer")
NOT_READERS = ("monitor", "analyst", "public")


@pytest.fixture
def force(db, users):
    """Two requirements, a DEU offer accepted and certified (2 of 3 battalions) and a FRA offer
    whose readiness is out of its tier."""
    from resolute.monitoring import services as monitoring

    monitoring.load_reference_data("test")
    admin = users["administrator"]
    req = services.add_requirement(admin, "MNF-01", "Mechanised infantry battalion", 3, "battalion", "t30", "Dnipro", "FRA")
    air = services.add_requirement(admin, "MNF-02", "Air policing", 4, "aircraft", "t10", "Rzeszow", "GBR", enabler=False)
    deu = services.make_offer(users["delegate"], req, CoalitionMember.objects.get(code="DEU"), "Panzergrenadierbataillon 122", 2, 20)
    services.move_offer(admin, deu, "accept")
    services.move_offer(admin, deu, "certify")
    fra = services.make_offer(admin, req, CoalitionMember.objects.get(code="FRA"), "2e REI battlegroup", 1, 45, "no offensive operations")
    return {"req": req, "air": air, "deu": Offer.objects.get(pk=deu.pk), "fra": fra}


def _get(client, user, url=None):
    client.force_login(user)
    return client.get(url or reverse("force-board"))


def test_the_board_opens_for_readers_and_is_refused_to_others(client, force, users):
    for role in READERS:
        assert _get(client, users[role]).status_code == 200, role
    for role in NOT_READERS:
        r = _get(client, users[role])
        assert r.status_code == 403, role
        assert client.post(reverse("force-board"), {"requirement": "MNF-01"}).status_code == 403
        assert client.post(reverse("offer-move", args=[force["deu"].pk]), {"action": "withdraw"}).status_code == 403
    client.logout()
    assert client.get(reverse("force-board")).status_code == 302
    assert Offer.objects.get(pk=force["deu"].pk).status == "certified"


def test_the_board_shows_fill_rates_offers_alerts_and_the_closed_gate(client, force, users):
    html = _get(client, users["commissioner"]).content.decode()
    assert "MNF-01" in html and "Mechanised infantry battalion" in html and "MNF-02" in html
    assert "67 %" in html  # 2 of 3 battalions accepted and certified
    assert "filled 2 of 3" in html and "offered 3" in html and "gap 1" in html
    assert "Panzergrenadierbataillon 122" in html and "2e REI battlegroup" in html and "no offensive operations" in html
    assert "out of tier" in html and "ready in 45 days" in html  # the core's alert message
    gate = services.gate()
    assert not gate.open
    assert "Deployment gate" in html and 'class="badge bad">closed' in html
    for reason in gate.reasons:
        assert reason in html
    assert "Ukraine&#x27;s request is recorded" in html or "Ukraine's request is recorded" in html
    assert "Make the offer" not in html  # commissioners do not offer


def test_the_board_shows_only_what_the_reader_may_see(client, force, users):
    secret = services.add_requirement(users["administrator"], "MNF-09", "Special reconnaissance", 1, "team", "t10", "Kharkiv", "GBR",
                                      classification=Classification.SECRET, releasable_to="|GBR|USA|")  # fmt: skip
    o = services.make_offer(users["administrator"], secret, CoalitionMember.objects.get(code="GBR"), "SAS squadron", 1, 5)
    assert "MNF-09" in _get(client, users["commissioner"]).content.decode()  # GBR, SECRET
    html = _get(client, users["delegate"]).content.decode()  # DEU, CONFIDENTIAL
    assert "MNF-09" not in html and "SAS squadron" not in html
    before = AuditEntry.objects.count()
    assert client.post(reverse("offer-move", args=[o.pk]), {"action": "withdraw"}).status_code == 404
    assert client.post(reverse("offer-readiness", args=[o.pk]), {"readiness_days": "3"}).status_code == 404
    assert AuditEntry.objects.count() == before


def test_a_delegate_makes_an_offer_through_the_form(client, force, users):
    html = _get(client, users["delegate"]).content.decode()
    for label in ("Requirement", "Unit", "Size", "Readiness (days)", "Make the offer"):
        assert label in html, label
    audits = AuditEntry.objects.count()
    r = client.post(reverse("force-board"), {"requirement": "MNF-02", "unit": "Eurofighter detachment", "size": "4", "readiness_days": "7", "member": "FRA"})
    assert r.status_code == 302
    o = Offer.objects.get(unit="Eurofighter detachment")
    assert (o.requirement.code, o.member.code, o.size, o.readiness_days, o.status) == ("MNF-02", "DEU", 4, 7, "offered")  # for the delegate's own nation
    assert AuditEntry.objects.count() == audits + 1 and AuditEntry.objects.order_by("-seq").first().action == "force.offer"
    html = client.get(r["Location"]).content.decode()
    assert f"Offer {o.pk} made" in html and "Eurofighter detachment" in html


@pytest.mark.parametrize(
    "over, field",
    [
        ({"size": "0"}, "size"),
        ({"size": "two"}, "size"),
        ({"readiness_days": "-1"}, "readiness_days"),
        ({"readiness_days": ""}, "readiness_days"),
        ({"unit": "  "}, "unit"),
        ({"requirement": "MNF-99"}, "requirement"),
        ({"requirement": ""}, "requirement"),
    ],
)
def test_a_refused_offer_changes_nothing_and_names_the_field(client, force, users, over, field):
    client.force_login(users["delegate"])
    offers, audits = Offer.objects.count(), AuditEntry.objects.count()
    data = {"requirement": "MNF-02", "unit": "Eurofighter detachment", "size": "4", "readiness_days": "7", **over}
    r = client.post(reverse("force-board"), data)
    html = r.content.decode()
    assert r.status_code == 422 and f'id="err-{field}"' in html and "The offer was not made" in html
    assert (Offer.objects.count(), AuditEntry.objects.count()) == (offers, audits)


def test_a_reader_who_may_not_offer_is_refused(client, force, users):
    client.force_login(users["commissioner"])
    r = client.post(reverse("force-board"), {"requirement": "MNF-02", "unit": "x", "size": "1", "readiness_days": "1"})
    assert r.status_code == 403 and "may not offer" in r.content.decode()
    assert not Offer.objects.filter(unit="x").exists()


def test_a_delegation_withdraws_its_own_offer_and_staff_accept(client, force, users):
    deu, fra = force["deu"], force["fra"]
    html = _get(client, users["delegate"]).content.decode()
    assert f'action="{reverse("offer-move", args=[deu.pk])}"' in html  # DEU's own offer: withdraw
    assert f'action="{reverse("offer-move", args=[fra.pk])}"' not in html  # not FRA's
    r = client.post(reverse("offer-move", args=[fra.pk]), {"action": "withdraw"})
    assert r.status_code == 302 and "not FRA" in client.get(r["Location"]).content.decode()
    r = client.post(reverse("offer-move", args=[deu.pk]), {"action": "deploy"})  # force generation's move
    assert "not changed" in client.get(r["Location"]).content.decode()
    assert Offer.objects.get(pk=deu.pk).status == "certified" and Offer.objects.get(pk=fra.pk).status == "offered"
    client.post(reverse("offer-move", args=[deu.pk]), {"action": "withdraw"})
    assert Offer.objects.get(pk=deu.pk).status == "withdrawn"
    assert AuditEntry.objects.order_by("-seq").first().action == "force.offer.withdraw"

    client.force_login(users["administrator"])
    assert "Accept" in client.get(reverse("force-board")).content.decode()
    client.post(reverse("offer-move", args=[fra.pk]), {"action": "accept"})
    assert Offer.objects.get(pk=fra.pk).status == "accepted"


def test_deploying_while_the_gate_is_closed_is_refused_with_its_reasons(client, force, users):
    client.force_login(users["administrator"])
    r = client.post(reverse("offer-move", args=[force["deu"].pk]), {"action": "deploy"})
    html = client.get(r["Location"]).content.decode()
    assert "gate is closed" in html and "no request from Ukraine is recorded" in html
    assert Offer.objects.get(pk=force["deu"].pk).status == "certified"


def test_a_delegation_reports_its_offers_readiness(client, force, users):
    client.force_login(users["delegate"])
    deu = force["deu"]
    r = client.post(reverse("offer-readiness", args=[deu.pk]), {"readiness_days": "40"})
    assert r.status_code == 302 and Offer.objects.get(pk=deu.pk).readiness_days == 40
    assert "ready in 40 days" in client.get(r["Location"]).content.decode()  # now out of its t30 tier
    client.post(reverse("offer-readiness", args=[deu.pk]), {"readiness_days": "soon"})
    client.post(reverse("offer-readiness", args=[force["fra"].pk]), {"readiness_days": "10"})  # not DEU's
    assert Offer.objects.get(pk=deu.pk).readiness_days == 40 and Offer.objects.get(pk=force["fra"].pk).readiness_days == 45
