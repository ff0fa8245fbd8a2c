"""The daily report of every day of the demo week, both editions, generated the way the service
does it (`generate_daily`: content, HTML, PDF, stored and audited) and read back as a PDF.

The demo is loaded once, in the one test (about 15 s; no session fixture loads it elsewhere).
No PDF reader is installed, so the PDF is checked as bytes (header, trailer) and through the
WeasyPrint document it was written from: its page count and the text laid out on its pages,
which is what the PDF's text layer holds."""

from __future__ import annotations

import datetime as dt

import pytest

pytestmark = pytest.mark.django_db

COUNTS_HEADING = "2. Incidents by area"


def _page_text(page) -> str:
    from weasyprint.formatting_structure.boxes import TextBox

    # Inline boxes (<strong>) are separate text boxes: join them, then fold the whitespace.
    return " ".join(" ".join(box.text for box in page._page_box.descendants() if isinstance(box, TextBox)).split())


def test_every_demo_day_renders_both_editions_to_pdf(monkeypatch):
    import weasyprint

    from resolute.accounts.models import User
    from resolute.core import reliability as rel
    from resolute.demo import services as demo
    from resolute.demo.models import ScenarioRun
    from resolute.reports import services as reports
    from resolute.reports.models import DailyReport

    demo.load_demo(seed=7)
    start = ScenarioRun.objects.get(seed=7).start
    r = reports.rule()
    first = rel.reporting_day(start + dt.timedelta(minutes=1), r)
    last = rel.reporting_day(start + dt.timedelta(days=demo.DAYS), r)
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    assert len(days) == demo.DAYS

    # Keep the WeasyPrint document each PDF is written from (HTML.write_pdf renders through it).
    documents = []
    render = weasyprint.HTML.render

    def keep(self, *args, **kwargs):
        documents.append(render(self, *args, **kwargs))
        return documents[-1]

    monkeypatch.setattr(weasyprint.HTML, "render", keep)
    reader = User.objects.get(username="analyst-usa")
    incidents_seen = 0
    for day in days:
        documents.clear()
        rows = reports.generate_daily("test", day, reader)
        assert [row.edition for row in rows] == ["public", "restricted"]
        assert len(documents) == 2
        for row, doc in zip(rows, documents, strict=True):
            pdf = bytes(row.pdf)
            where = f"{day} {row.edition}"
            assert pdf.startswith(b"%PDF-"), where
            assert pdf.rstrip().endswith(b"%%EOF"), where
            assert len(doc.pages) >= 1, where
            text = " ".join(_page_text(p) for p in doc.pages)
            assert f"Daily report — {day.isoformat()}" in text, where
            assert COUNTS_HEADING in text, where
            assert f"{row.edition} edition" in text, where
            content = reports.daily(None if row.edition == "public" else reader, day, row.edition)
            total = content["by_area"]["total"]["count"]
            assert f"recorded {total} incident" in text, where
            incidents_seen += total
    # The week was not empty: the reports counted the demo's incidents.
    assert incidents_seen > 0
    assert DailyReport.objects.count() == 2 * len(days)
