"""Field verification: the state machine through the services, the lock, the queue and its
clocks, the two-person rule, and denial of access recorded as a violation."""

from __future__ import annotations

import datetime as dt

import pytest

from resolute.commission import services
from resolute.commission.models import Verification
from resolute.errors import Conflict, Forbidden, InvalidInput

pytestmark = [pytest.mark.django_db, pytest.mark.db_backends]


def _soon(**kw):
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(**kw)


@pytest.fixture
def tasked(people, assault):
    v = services.open_verification(people["analyst"], "assault", "party", assault)
    services.review(people["analyst2"], v, True)
    return services.task(people["analyst2"], v, "MVT Alpha", people["monitor"], _soon(hours=24))


def test_illegal_steps_are_refused_naming_the_current_state(people, assault):
    v = services.open_verification(people["analyst"], "assault", "party", assault)
    with pytest.raises(Conflict, match="'received'"):
        services.task(people["analyst2"], v, "T", people["monitor"], _soon(hours=1))
    with pytest.raises(Conflict, match="'received'") as exc:
        services.report(people["monitor"], v, "found", [], [])
    assert exc.value.errors[0]["field"] == "state"
    services.review(people["analyst2"], v, admissible=False, note="no basis")
    for step in (lambda: services.review(people["analyst2"], v, True), lambda: services.conclude(people["analyst3"], v, "verified")):
        with pytest.raises(Conflict, match="'dismissed'"):
            step()
    assert Verification.objects.get(pk=v.pk).state == "dismissed"


def test_roles_are_checked_before_anything(people, assault):
    v = services.open_verification(people["analyst"], "assault", "party", assault)
    for who in ("monitor", "commissioner", "delegate", "public"):
        with pytest.raises(Forbidden):
            services.review(people[who], v, True)
    with pytest.raises(Forbidden, match="named user"):
        services.review("cli:someone", v, True)


def test_the_lock_is_visible_exclusive_and_expires(people, assault, settings):
    v = services.open_verification(people["analyst"], "assault", "party", assault)
    services.take_lock(people["analyst2"], v)
    with pytest.raises(Conflict, match="being reviewed by analyst-2"):
        services.take_lock(people["analyst3"], v)
    with pytest.raises(Conflict, match="being reviewed by"):
        services.review(people["analyst3"], v, True)
    with pytest.raises(Conflict, match="do not hold"):
        services.release_lock(people["analyst3"], v)
    Verification.objects.filter(pk=v.pk).update(lock_expires=_soon(minutes=-1))  # expired
    services.review(people["analyst3"], Verification.objects.get(pk=v.pk), True)


def test_the_queue_shows_age_clocks_and_overdue_items(api, people, tokens_of, tasked, assault):
    waiting = services.open_verification(people["analyst"], "old allegation", "public", assault)
    Verification.objects.filter(pk=waiting.pk).update(received_at=_soon(hours=-30), review_due=_soon(hours=-6))
    Verification.objects.filter(pk=tasked.pk).update(deadline=_soon(hours=-1))
    items = {v["id"]: v for v in api.get("/api/v1/verifications", tokens_of("analyst")).json()["items"]}
    assert items[waiting.pk]["overdue"] and items[waiting.pk]["age_hours"] >= 30 and items[waiting.pk]["review_clock"]["seconds_left"] < 0
    assert items[tasked.pk]["overdue"] and items[tasked.pk]["report_clock"]["due_local"].endswith("EET")  # Kyiv in winter
    overdue = api.get("/api/v1/verifications", tokens_of("analyst"), overdue="true").json()["items"]
    assert {v["id"] for v in overdue} == {waiting.pk, tasked.pk}
    assert api.get("/api/v1/verifications", tokens_of("analyst"), state="nonsense").status_code == 422


def test_deadlines_must_lie_ahead(people, assault):
    v = services.open_verification(people["analyst"], "x", "party", assault)
    services.review(people["analyst2"], v, True)
    with pytest.raises(InvalidInput, match="deadline"):
        services.task(people["analyst2"], v, "T", people["monitor"], _soon(hours=-1))
    with pytest.raises(InvalidInput) as exc:
        services.task(people["analyst2"], v, "T", people["analyst3"], _soon(hours=1))
    assert exc.value.errors[0]["field"] == "team_lead"


def test_two_person_rule(people, tasked):
    services.report(people["monitor"], tasked, "found", [], [], "verified")
    for who, why in (("analyst", "reported"), ("analyst2", "reviewed")):
        with pytest.raises(Forbidden, match=f"you {why}"):
            services.conclude(people[who], tasked, "verified")
    assert services.conclude(people["analyst3"], tasked, "refuted").state == "refuted"
    assert tasked.incident.__class__.objects.get(pk=tasked.incident_id).status == "refuted"


def test_a_monitor_who_filed_an_observation_of_the_incident_may_not_verify_it(people, agreement_v1, source, make_observation):
    from resolute.monitoring import fusion
    from resolute.monitoring import services as monitoring
    from resolute.monitoring.models import Incident
    from resolute.monitoring.schemas import ObservationIn

    items = [ObservationIn.model_validate(make_observation(event_type="ground_assault", perception="seen", direction=None, location={"lat": 48.0, "lon": 36.2, "error_m": 300}))]
    monitoring.submit_observations(items, people["analyst3"])  # an analyst filing what they saw
    fusion.fuse("test")
    v = services.open_verification(people["analyst"], "x", "mission", Incident.objects.get())
    services.review(people["analyst2"], v, True)
    services.task(people["analyst2"], v, "T", people["monitor"], _soon(hours=2))
    services.report(people["monitor"], v, "found", [], [])
    with pytest.raises(Forbidden, match="reported"):
        services.conclude(people["analyst3"], v, "verified")


def test_denial_of_access_is_itself_a_recorded_violation(people, tasked):
    from resolute.agreement.models import Finding
    from resolute.monitoring import fusion
    from resolute.monitoring.models import Observation

    d = services.deny_access(people["monitor"], tasked, 48.2, 36.3, denied_by="RUS", note="checkpoint")
    assert Verification.objects.get(pk=tasked.pk).state == "tasked"  # the team may be re-tasked
    obs = Observation.objects.get(pk=d.observation_id)
    assert obs.event_type == "movement_restriction" and obs.submitted_by == people["monitor"] and obs.intake == "verification"
    fusion.fuse("test", observation_ids=[obs.pk])
    f = Finding.objects.get(incident=Observation.objects.get(pk=obs.pk).incident, current=True)
    assert f.rule_type == "movement_restriction" and f.party == "RUS"
    with pytest.raises(InvalidInput):
        services.deny_access(people["monitor"], tasked, 48.2, 36.3, denied_by="XXX")


def test_a_verified_violation_below_the_severity_threshold_opens_no_case(people, tasked, settings):
    from resolute.commission.models import Case

    settings.COMMISSION_MIN_SEVERITY = 6
    services.report(people["monitor"], tasked, "found", [], [])
    services.conclude(people["analyst3"], tasked, "verified")
    assert not Case.objects.exists()


def test_a_step_on_an_invisible_record_is_a_404(api, people, tokens_of, assault):
    from resolute.core.markings import Classification

    v = services.open_verification(people["analyst"], "x", "party", assault)
    Verification.objects.filter(pk=v.pk).update(classification=Classification.SECRET, releasable_to="|USA|")
    assert api.get(f"/api/v1/verifications/{v.pk}", tokens_of("delegate")).status_code == 404
    assert api.post(f"/api/v1/verifications/{v.pk}/review", {"admissible": True}, tokens_of("analyst3")).status_code == 404  # ITA
    assert api.post(f"/api/v1/verifications/{v.pk}/review", {"admissible": True}, tokens_of("analyst2")).status_code == 200  # USA
