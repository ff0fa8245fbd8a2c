"""The daily report: reporting-day boundaries, counts by area against the previous day, what
each edition may contain, the stored editions' markings, PDF rendering without any network
access, well-formed SVG, and the pages."""

from __future__ import annotations

import datetime as dt
import re
import socket

import pytest
from defusedxml import ElementTree

from resolute.core import reliability as rel
from resolute.reports import charts, services
from resolute.reports.models import DailyReport

from .conftest import D, at

pytestmark = [pytest.mark.django_db, pytest.mark.db_backends]
SVG = "{http://www.w3.org/2000/svg}"


def areas(content) -> dict:
    return {r["area"]: (r["count"], r["previous"], r["change"]) for r in content["by_area"]["rows"]}


def mentions(html: str, ref: str) -> bool:
    return re.search(rf"\b{re.escape(ref)}\b", html) is not None


@pytest.fixture
def fast_pdf(monkeypatch):
    """Generation tests that are not about the PDF skip WeasyPrint's seconds per page."""
    monkeypatch.setattr(services, "render_pdf", lambda html, url_fetcher=None: b"%PDF-1.7 stub")


# -- the reporting day ---------------------------------------------------------------------------


def test_window_is_1930_kyiv_to_1930_and_agrees_with_reporting_day():
    r = services.rule()
    start, end = services.window(D, r)
    # Winter: Kyiv is UTC+2, so 19:30 local is 17:30 UTC.
    assert (start, end) == (at(D - dt.timedelta(days=1), 17, 30), at(D, 17, 30))
    # Both edges, on ordinary days and on the spring and autumn DST changes (23 and 25 hours).
    for day in (D, dt.date(2026, 3, 29), dt.date(2026, 3, 30), dt.date(2026, 10, 25), dt.date(2026, 10, 26)):
        start, end = services.window(day, r)
        eps = dt.timedelta(microseconds=1)
        assert rel.reporting_day(start, r) == day - dt.timedelta(days=1)
        assert rel.reporting_day(start + eps, r) == day
        assert rel.reporting_day(end, r) == day
        assert rel.reporting_day(end + eps, r) == day + dt.timedelta(days=1)
    assert services.window(dt.date(2026, 3, 29), r)[1] - services.window(dt.date(2026, 3, 29), r)[0] == dt.timedelta(hours=23)
    assert services.window(dt.date(2026, 10, 25), r)[1] - services.window(dt.date(2026, 10, 25), r)[0] == dt.timedelta(hours=25)


def test_incident_at_1729_utc_is_in_d_and_1731_utc_in_d_plus_1(world):
    today = services.daily(None, D, "public")
    tomorrow = services.daily(None, D + dt.timedelta(days=1), "public")
    # Kreminna (Luhansk): edge_in at 17:29 UTC on D, edge_out at 17:31 UTC on D.
    assert areas(today)["Luhansk"] == (1, 0, 1)
    assert areas(tomorrow)["Luhansk"] == (1, 1, 0)
    assert today["window"]["end_utc"] == "2026-01-14T17:30:00+00:00"


# -- counts ----------------------------------------------------------------------------------------


def test_counts_by_area_against_the_previous_day_public(world):
    c = services.daily(None, D, "public")
    # Public incidents only; the refuted one is not counted; the busiest area leads.
    assert areas(c) == {"Donetsk": (1, 1, 0), "Zaporizhzhia": (1, 0, 1), "Luhansk": (1, 0, 1), "Kharkiv": (0, 1, -1)}
    assert c["by_area"]["total"] == {"count": 3, "previous": 2, "change": 1, "verified": 3}


def test_counts_by_area_restricted_edition_counts_what_the_reader_sees(world, cleared):
    c = services.daily(cleared, D, "restricted")
    # + the RESTRICTED open incident at Pokrovsk and the unlocated one; the SECRET REL USA one
    # is above the analyst's clearance and not counted.
    assert areas(c) == {"Donetsk": (2, 1, 1), "Zaporizhzhia": (1, 0, 1), "Luhansk": (1, 0, 1), "Kharkiv": (0, 1, -1), "Not located": (1, 0, 1)}
    assert c["by_area"]["rows"][0]["area"] == "Donetsk"
    assert c["by_area"]["rows"][-1]["area"] == "Not located"


def test_violations_by_type_current_and_not_exempt(world, cleared):
    c = services.daily(cleared, D, "restricted")
    rows = {r["rule_type"]: r for r in c["violations"]["rows"]}
    assert set(rows) == {"weapon_in_withdrawal_zone", "movement_restriction", "ceasefire_fire"}
    assert rows["weapon_in_withdrawal_zone"]["max_severity"] == 4 and rows["weapon_in_withdrawal_zone"]["max_severity_word"] == "serious"
    assert rows["ceasefire_fire"]["count"] == 1  # the exempt one (a declared exercise) is not counted …
    assert c["violations"]["exempt"] == 1  # … but noted
    assert c["violations"]["rows"][0]["rule_type"] == "weapon_in_withdrawal_zone"  # gravest first
    assert [f["ref"] for f in c["weapons"]] == [f"FND-{world['f_weapon'].pk}"]
    assert [f["ref"] for f in c["monitors"]["findings"]] == [f"FND-{world['f_movement'].pk}"]
    assert [d["ref"] for d in c["monitors"]["denials"]] == [f"DEN-{world['denial'].pk}"]
    assert c["monitors"]["denials"][0]["area"] == "Donetsk"


def test_public_edition_counts_findings_only_if_the_public_may_read_them(world):
    """Findings are read through restrict() like everything else: the public edition shows the
    public finding exactly when the role table lets the public read findings at all."""
    from django.contrib.auth.models import AnonymousUser

    from resolute.accounts import roles

    c = services.daily(None, D, "public")
    expected = 1 if roles.allows(AnonymousUser(), roles.VIEW, "finding") else 0
    assert c["violations"]["total"] == expected
    assert c["weapons"] == [] and c["monitors"] == {"findings": [], "denials": None}


def test_superseded_findings_are_not_counted(world, cleared):
    f = world["f_weapon"]
    f.current, f.superseded_at = False, at(D, 15)
    f.save()
    c = services.daily(cleared, D, "restricted")
    assert "weapon_in_withdrawal_zone" not in {r["rule_type"] for r in c["violations"]["rows"]}
    assert c["weapons"] == []


def test_decisions_public_sees_published_only(world, cleared):
    public = services.daily(None, D, "public")
    assert [d["ref"] for d in public["decisions"]] == [f"DEC-{world['published'].pk}"]
    restricted = services.daily(cleared, D, "restricted")
    assert {d["ref"] for d in restricted["decisions"]} == {f"DEC-{world[k].pk}" for k in ("published", "unpublished", "public_unpublished")}


def test_reliability_restricted_only_and_withheld_days(world, cleared):
    assert services.daily(None, D, "public")["reliability"] is None
    r = services.daily(cleared, D, "restricted")["reliability"]
    days = {x["day"]: x for x in r["days"]}
    assert days[(D - dt.timedelta(days=1)).isoformat()]["index"] == 2.0
    # Day D counts a SECRET REL USA violation: withheld from the analyst, never shown.
    assert days[D.isoformat()] == {"day": D.isoformat(), "index": None, "count": None, "serious": None, "calm": None, "state": "withheld"}
    assert r["withheld"] == 1 and len(r["days"]) == 30
    assert r["condition"]["met"] is False and r["condition"]["last_breach"] == D.isoformat()


def test_restricted_edition_refuses_a_public_reader(world, users):
    with pytest.raises(ValueError):
        services.daily(None, D, "restricted")
    with pytest.raises(ValueError):
        services.daily(users["public"], D, "restricted")
    with pytest.raises(ValueError):
        services.daily(None, D, "secret")


# -- what each edition contains -------------------------------------------------------------------

RESTRICTED_WORDS = ("RESTRICTED-WEAPON-NARRATIVE", "RESTRICTED-MOVEMENT-NARRATIVE", "UNPUBLISHED-RATIONALE", "NOT-YET-PUBLISHED-RATIONALE", "DENIAL-NOTE")


def test_public_edition_contains_nothing_non_public(world):
    c = services.daily(None, D, "public")
    html = services.render_html(c)
    assert "Public edition" in html and "PUBLIC // TLP:CLEAR // REL TO ALL" in html
    assert "PUBLISHED-RATIONALE" in html
    for word in (*RESTRICTED_WORDS, "SECRET-NARRATIVE"):
        assert word not in html, word
    for ref in (f"INC-{world['restricted'].pk}", f"INC-{world['secret'].pk}", f"FND-{world['f_weapon'].pk}", f"FND-{world['f_movement'].pk}",
                f"DEC-{world['unpublished'].pk}", f"DEC-{world['public_unpublished'].pk}", f"DEN-{world['denial'].pk}", "C-2026-002"):
        assert not mentions(html, ref), ref
    assert "Reliability index" not in html and "Access denied" not in html
    assert c["marking"] == {"classification": "PUBLIC", "tlp": "CLEAR", "releasable_to": ["ALL"], "originator": "", "text": "PUBLIC // TLP:CLEAR // REL TO ALL"}
    # The map shows the public incidents of D only: Donetsk, Orikhiv and Kreminna (17:29).
    assert len(c["map"]["points"]) == 3


def test_restricted_edition_contains_restricted_records_for_a_cleared_reader(world, cleared):
    c = services.daily(cleared, D, "restricted")
    html = services.render_html(c)
    assert "Restricted — not for release" in html
    for word in RESTRICTED_WORDS:
        assert word in html, word
    for ref in (f"INC-{world['restricted'].pk}", f"FND-{world['f_weapon'].pk}", f"DEC-{world['unpublished'].pk}", f"DEN-{world['denial'].pk}"):
        assert mentions(html, ref), ref
    # Above the reader's clearance: absent.
    assert "SECRET-NARRATIVE" not in html and not mentions(html, f"INC-{world['secret'].pk}")
    assert "Reliability index" in html and "not met" in html
    assert c["marking"]["text"] == "RESTRICTED // TLP:AMBER // REL TO ALL"


def test_restricted_edition_takes_the_marking_of_what_it_holds(world, users):
    """Generated for a reader who sees the SECRET REL USA incident, the edition is marked so, and
    a reader below that never gets it."""
    c = services.daily(users["administrator"], D, "restricted")
    assert areas(c)["Donetsk"][0] == 3  # the SECRET REL USA incident at Pokrovsk is counted
    assert c["marking"]["classification"] == "SECRET" and c["marking"]["releasable_to"] == ["USA"]
    assert c["marking"]["text"] == "SECRET // TLP:AMBER // REL TO USA"


def test_text_from_the_record_is_escaped(world, cleared):
    f = world["f_weapon"]
    f.explanation = '<script>alert("x")</script> & <img src="http://evil.example/x.png">'
    f.save()
    html = services.render_html(services.daily(cleared, D, "restricted"))
    assert "<script>alert" not in html and 'src="http://evil.example' not in html
    assert "&lt;script&gt;" in html


# -- charts ----------------------------------------------------------------------------------------


def test_svg_charts_are_well_formed_xml(world, cleared):
    c = services.daily(cleared, D, "restricted")
    m = ElementTree.fromstring(charts.map_svg(c["map"], places=services.AREA_PLACES))
    assert m.tag == f"{SVG}svg"
    # One marker per located incident of D: circles (side A, unattributed) and squares (side B).
    assert len(c["map"]["points"]) == 4
    assert {p["side"] for p in c["map"]["points"]} == {"a", "b", "u"}
    assert m.find(f"{SVG}polyline") is not None  # the contact line
    t = ElementTree.fromstring(charts.trend_svg(c["trend"]))
    assert t.tag == f"{SVG}svg" and len(c["trend"]["counts"]) == 14 and c["trend"]["counts"][-1] == 5 and c["trend"]["counts"][-2] == 2
    assert ElementTree.fromstring(charts.index_svg(c["reliability"])).tag == f"{SVG}svg"


def test_svg_text_is_escaped():
    nasty = '<b>"Kyiv" & </svg><script>'
    svg = charts.map_svg({"points": [{"lat": 48.0, "lon": 37.0, "side": "u"}], "line": None, "sides": {"a": nasty, "b": "B"}, "unlocated": 1},
                         places=[(nasty, "X", 48.05, 37.05)])  # fmt: skip
    root = ElementTree.fromstring(svg)
    texts = "".join(e.text or "" for e in root.iter(f"{SVG}text"))
    assert nasty in texts and root.find(f".//{SVG}script") is None
    # No incidents at all: the default frame, still a valid document.
    ElementTree.fromstring(charts.map_svg({"points": [], "line": None, "sides": {}, "unlocated": 0}))
    ElementTree.fromstring(charts.trend_svg({"days": 7, "labels": [f"2026-01-0{i}" for i in range(1, 8)], "counts": [0] * 7, "previous": [0] * 7}))


def test_areas_of_nearest_place_approximation():
    assert services.areas_of([48.29, 47.57, 49.99, 50.6, 48.85, None], [37.17, 35.79, 36.23, 36.59, 2.35, 37.0]) == [
        "Donetsk", "Zaporizhzhia", "Kharkiv", "Belgorod region (RF)", "Elsewhere", "Not located",
    ]  # fmt: skip


# -- PDF -------------------------------------------------------------------------------------------


def test_pdf_renders_pages_and_never_touches_the_network(world, monkeypatch):
    connects = []
    real_connect = socket.socket.connect

    def no_connect(self, address):
        connects.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", no_connect)
    fetched = []
    base = type(services._no_network_fetcher())

    class Spy(base):
        def fetch(self, url, headers=None):
            fetched.append(url)
            return super().fetch(url, headers)

    html = services.render_html(services.daily(None, D, "public"))
    # Remote references slipped into the page must be refused, not fetched.
    html = html.replace("</body>", '<img src="https://example.org/logo.png"><link rel="stylesheet" href="http://example.org/x.css"></body>')
    pdf = services.render_pdf(html, url_fetcher=Spy())
    monkeypatch.setattr(socket.socket, "connect", real_connect)
    assert pdf.startswith(b"%PDF")
    assert connects == []
    assert any(u.startswith("data:image/svg+xml") for u in fetched)  # the charts, from the page itself
    assert {u for u in fetched if not u.startswith("data:")} <= {"https://example.org/logo.png", "http://example.org/x.css"}
    import weasyprint

    doc = weasyprint.HTML(string=html, base_url=None, url_fetcher=Spy()).render()
    assert len(doc.pages) >= 1
    assert connects == []


# -- generation and storage ----------------------------------------------------------------------------


def test_generate_daily_stores_both_editions_audited(world, cleared):
    from resolute.audit.models import AuditEntry

    rows = services.generate_daily("test", D, cleared)
    assert [r.edition for r in rows] == ["public", "restricted"]
    public, restricted = rows
    assert (public.classification, public.tlp, public.releasable_to) == (0, "CLEAR", "|ALL|")
    assert (restricted.classification, restricted.tlp, restricted.releasable_to) == (1, "AMBER", "|ALL|")
    assert bytes(public.pdf).startswith(b"%PDF") and restricted.reader == cleared.username and public.reader == "public"
    assert re.fullmatch(r"[0-9a-f]{64}", public.content_sha256)
    entries = AuditEntry.objects.filter(target_type="report").order_by("pk")
    assert [e.action for e in entries] == ["report.generate", "report.generate"]


def test_regenerating_replaces_the_edition_and_audits_both_hashes(world, cleared, fast_pdf):
    from resolute.audit.models import AuditEntry

    first = services.generate_daily("test", D, cleared)
    world["f_weapon"].explanation = "revised explanation"
    world["f_weapon"].save()
    second = services.generate_daily("test", D, cleared)
    assert DailyReport.objects.count() == 2 and [r.pk for r in first] == [r.pk for r in second]
    last = AuditEntry.objects.filter(target_type="report", action="report.regenerate").order_by("pk")
    assert len(last) == 2
    restricted = last[1]
    assert restricted.before["content_sha256"] == first[1].content_sha256 != restricted.after["content_sha256"] == second[1].content_sha256
    # The public edition did not see the change: same content, same hash.
    assert first[0].content_sha256 == second[0].content_sha256


def test_reports_are_read_through_restrict(world, users, cleared, fast_pdf):
    services.generate_daily("test", D, cleared)
    assert set(DailyReport.objects.restrict(None).values_list("edition", flat=True)) == {"public"}
    assert set(DailyReport.objects.restrict(users["public"]).values_list("edition", flat=True)) == {"public"}
    assert set(DailyReport.objects.restrict(cleared).values_list("edition", flat=True)) == {"public", "restricted"}


# -- weekly ----------------------------------------------------------------------------------------------


def test_weekly_has_7_and_14_day_trends(world, cleared):
    c = services.weekly(None, D)
    assert [t["days"] for t in c["trends"]] == [7, 14] and c["edition"] == "public"
    assert c["by_area"]["total"]["count"] == 5  # public incidents of D-6..D
    html = services.render_html(c)
    assert html.count("data:image/svg+xml") == 2 and "Weekly report" in html and "RESTRICTED-WEAPON-NARRATIVE" not in html
    assert services.weekly(cleared, D)["edition"] == "restricted"


# -- pages (the project mounts the app at /reports/) ----------------------------------------------------


def test_pages(world, client, users, cleared, fast_pdf):
    from resolute.accounts import services as accounts

    services.generate_daily("test", D, cleared)
    day = D.isoformat()
    r = client.get("/reports/")
    assert r.status_code == 200 and f"/reports/{day}/public.html" in r.content.decode() and "restricted.html" not in r.content.decode()
    r = client.get(f"/reports/{day}/public.html")
    assert r.status_code == 200 and b"Public edition" in r.content and "img-src data:" in r["Content-Security-Policy"]
    r = client.get(f"/reports/{day}/public.pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF")
    # Not visible: 404, as if it did not exist.
    assert client.get(f"/reports/{day}/restricted.html").status_code == 404
    assert client.get(f"/reports/{day}/restricted.pdf").status_code == 404
    assert client.get("/reports/2026-13-40/public.html").status_code == 404
    assert client.get(f"/reports/{day}/secret.html").status_code == 404
    client.force_login(cleared)
    r = client.get(f"/reports/{day}/restricted.html")
    assert r.status_code == 200 and b"RESTRICTED-WEAPON-NARRATIVE" in r.content and r["Cache-Control"] == "private, no-store"
    assert f"/reports/{day}/restricted.pdf" in client.get("/reports/").content.decode()
    client.logout()
    token = accounts.issue_token("test", cleared, "t", ("read",))[1]
    assert client.get(f"/reports/{day}/restricted.html", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    assert client.get(f"/reports/{day}/restricted.html", HTTP_AUTHORIZATION="Bearer nonsense").status_code == 401
    r = client.get(f"/reports/weekly/{day}.html")
    assert r.status_code == 200 and b"Weekly report" in r.content and b"RESTRICTED-WEAPON-NARRATIVE" not in r.content
    assert client.post("/reports/").status_code == 405


def test_daily_report_from_the_shell(users, capsys, client):
    from resolute.cli import main
    from resolute.reports.models import DailyReport

    assert main(["report", "daily", "--date", "2026-11-20", "--as", "chair-user"]) == 0
    assert DailyReport.objects.filter(day="2026-11-20").count() == 2
    assert "public.html" in capsys.readouterr().out
    page = client.get("/reports/")
    assert page.status_code == 200 and b"2026-11-20" in page.content
    assert client.get("/reports/2026-11-20/public.pdf").content.startswith(b"%PDF")
    assert client.get("/reports/2026-11-20/restricted.html").status_code in (302, 403, 404)  # not for the public
    assert main(["report", "daily", "--date", "20-11-2026", "--as", "chair-user"]) == 1
