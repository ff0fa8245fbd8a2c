"""The agreement in the admin: versions in force are read-only; drafts are edited there and
every save is audited."""

from __future__ import annotations

import pytest

from resolute.agreement import services
from resolute.agreement.models import Provision
from resolute.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, users):
    client.force_login(users["administrator"])
    return client


def test_a_version_in_force_is_read_only_in_the_admin(admin_client, agreement_v1):
    page = admin_client.get(f"/admin/agreement/agreementversion/{agreement_v1.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    r = admin_client.post(f"/admin/agreement/agreementversion/{agreement_v1.pk}/change/", {"label": "tampered"})
    assert r.status_code == 403
    agreement_v1.refresh_from_db()
    assert agreement_v1.label == "Signed text"


def test_a_draft_is_edited_in_the_admin_and_each_save_is_audited(admin_client, users, agreement_v1):
    draft = services.new_draft(users["administrator"], agreement_v1, "amendment")
    page = admin_client.get(f"/admin/agreement/agreementversion/{draft.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' in page.content
    data = {"agreement": draft.agreement, "label": "amendment 1", "side_a": "RUS", "side_b": "UKR", "contact_line_sigma_m": "250", "attribution_threshold": "0.8", "withdrawal_bands_km": "{}"}
    for prefix, rows in (("provisions", list(draft.provisions.all())), ("zones", list(draft.zones.all()))):
        data.update({f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": str(len(rows)), f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"})
    for k, p in enumerate(draft.provisions.all()):
        import json

        data.update({f"provisions-{k}-id": str(p.pk), f"provisions-{k}-version": str(draft.pk), f"provisions-{k}-ident": p.ident, f"provisions-{k}-rule_type": p.rule_type,
                     f"provisions-{k}-severity": "4" if p.ident == "1.1" else str(p.severity), f"provisions-{k}-title": json.dumps(p.title), f"provisions-{k}-text": json.dumps(p.text), f"provisions-{k}-params": json.dumps(p.params)})  # fmt: skip
    for k, z in enumerate(draft.zones.all()):
        import json

        data.update({f"zones-{k}-id": str(z.pk), f"zones-{k}-version": str(draft.pk), f"zones-{k}-kind": z.kind, f"zones-{k}-name": z.name, f"zones-{k}-party": z.party,
                     f"zones-{k}-weapon_classes": json.dumps(z.weapon_classes), f"zones-{k}-geometry": json.dumps(z.geometry), f"zones-{k}-inventory": json.dumps(z.inventory), f"zones-{k}-radius_m": str(z.radius_m)})  # fmt: skip
    r = admin_client.post(f"/admin/agreement/agreementversion/{draft.pk}/change/", data)
    assert r.status_code == 302, r.content[:2000]
    assert Provision.objects.get(version=draft, ident="1.1").severity == 4
    assert Provision.objects.get(version=agreement_v1, ident="1.1").severity == 2  # the version in force is untouched
    actions = set(AuditEntry.objects.filter(target_type="agreement_version", target_id=str(draft.number)).values_list("action", flat=True))
    assert {"agreement.draft.version", "agreement.draft.provision"} <= actions
