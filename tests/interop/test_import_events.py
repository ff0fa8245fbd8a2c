"""ACLED and UCDP files into the database through the intake service, and from the shell."""

from __future__ import annotations

import pytest

from resolute.errors import InvalidInput
from resolute.interop import services
from resolute.monitoring.models import Observation, Source
from tests.interop.test_acled_ucdp import AVDIIVKA, BAKHMUT_CLASH, KHARKIV_DRONES, ZAPORIZHZHIA_PROTEST, UCDP_BAKHMUT, acled_csv, ucdp_csv

pytestmark = [pytest.mark.django_db, pytest.mark.db_backends]


def test_acled_rows_become_public_open_source_observations_once():
    data = acled_csv(AVDIIVKA, BAKHMUT_CLASH, KHARKIV_DRONES, ZAPORIZHZHIA_PROTEST)
    summary = services.import_events("test", data, "acled")
    assert (summary["rows imported"], summary["new observations"], summary["skipped (not ceasefire-relevant)"]) == (3, 3, {"Protests": 1})
    src = Source.objects.get(code="OSINT-ACLED")
    assert (src.channel, src.reliability, src.credibility, src.classification, src.tlp) == ("open_source", "C", 3, 0, "CLEAR")
    assert set(Observation.objects.values_list("intake", "classification", "tlp")) == {("acled", 0, "CLEAR")}
    again = services.import_events("test", data, "acled")
    assert (again["new observations"], again["already stored"]) == (0, 3) and Observation.objects.count() == 3


def test_a_bad_row_imports_nothing():
    data = acled_csv(AVDIIVKA, {**BAKHMUT_CLASH, "latitude": "north"})
    with pytest.raises(InvalidInput) as exc:
        services.import_events("test", data, "acled")
    assert exc.value.errors[0]["field"].endswith(": latitude") and not Observation.objects.exists()


def test_ucdp_from_the_shell(tmp_path, capsys):
    from resolute.cli import main

    f = tmp_path / "ged.csv"
    f.write_text(ucdp_csv(UCDP_BAKHMUT))
    assert main(["import-events", str(f), "--dataset", "ucdp", "--no-fuse"]) == 0
    assert "new observations: 1" in capsys.readouterr().out
    assert Observation.objects.get().intake == "ucdp"
    f.write_text("not,a,ged,file\n1,2,3,4\n")
    assert main(["import-events", str(f), "--dataset", "ucdp"]) == 1
