"""People and tokens in the admin: every change goes through the services and is audited."""

from __future__ import annotations

import pytest

from resolute.accounts import services
from resolute.accounts.models import ApiToken, User
from resolute.audit.models import AuditEntry

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def admin_client(client, users):
    client.force_login(users["administrator"])
    return client


def test_an_administrator_adds_a_person_through_the_service(admin_client):
    r = admin_client.post("/admin/accounts/user/add/", {"username": "observer-ita", "role": "monitor", "nation": "ITA", "clearance": 1, "language": "uk", "is_active": "on", "password": "a long passphrase 42"})
    assert r.status_code == 302, r.content[:500]
    u = User.objects.get(username="observer-ita")
    assert (u.role, u.nation, u.clearance, u.language, u.is_staff) == ("monitor", "ITA", 1, "uk", False)
    assert u.check_password("a long passphrase 42")
    assert AuditEntry.objects.filter(action="user.create", target_id=str(u.pk)).exists()
    assert AuditEntry.objects.filter(action="user.set_password", target_id=str(u.pk)).exists()


def test_a_change_of_role_and_clearance_is_audited_with_before_and_after(admin_client, users):
    u = users["monitor"]
    r = admin_client.post(f"/admin/accounts/user/{u.pk}/change/", {"role": "analyst", "nation": "FRA", "clearance": 2, "language": "fr", "is_active": "on"})
    assert r.status_code == 302, r.content[:500]
    u.refresh_from_db()
    assert (u.role, u.clearance, u.language) == ("analyst", 2, "fr")
    e = AuditEntry.objects.filter(action="user.update", target_id=str(u.pk)).get()
    assert e.before == {"role": "monitor", "clearance": 1, "language": "en"} and e.after == {"role": "analyst", "clearance": 2, "language": "fr"}


def test_a_bad_nation_is_named_and_nothing_changes(admin_client, users):
    u = users["monitor"]
    r = admin_client.post(f"/admin/accounts/user/{u.pk}/change/", {"role": "monitor", "nation": "france", "clearance": 1, "language": "en", "is_active": "on"})
    assert r.status_code == 200 and "alpha-3" in r.content.decode()
    u.refresh_from_db()
    assert u.nation == "FRA" and not AuditEntry.objects.filter(action="user.update").exists()


def test_tokens_are_issued_once_and_revoked_through_the_services(admin_client, users):
    u = users["monitor"]
    r = admin_client.post("/admin/accounts/user/", {"action": "issue_device_token", "_selected_action": [u.pk]}, follow=True)
    assert "not shown again" in r.content.decode()
    token = ApiToken.objects.get(user=u, name="device (admin)")
    r = admin_client.post("/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert r.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and AuditEntry.objects.filter(action="token.revoke", target_id=str(token.pk)).exists()
    page = admin_client.get(f"/admin/accounts/apitoken/{token.pk}/change/")
    assert page.status_code == 200  # view only
    assert token.digest not in page.content.decode() and token.digest_ha1 not in page.content.decode()


def test_other_roles_do_not_reach_the_admin(client, users):
    for role in ("analyst", "chair", "monitor"):
        client.force_login(users[role])
        assert client.get("/admin/accounts/user/").status_code == 302
    services.update_user("test", users["analyst"], role="administrator")
    client.force_login(User.objects.get(pk=users["analyst"].pk))
    assert client.get("/admin/accounts/user/").status_code == 200
