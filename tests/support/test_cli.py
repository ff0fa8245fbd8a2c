"""The guarantees from the command line."""

from __future__ import annotations

import pytest

from resolute.cli import main
from resolute.support.models import Pledge
from tests.support.test_ledger import KIEL

pytestmark = pytest.mark.django_db


def test_fx_kiel_totals_and_iati_from_the_shell(ledger, users, tmp_path, capsys):
    kiel = tmp_path / "kiel.csv"
    kiel.write_text(KIEL)
    assert main(["support", "import-kiel", str(kiel)]) == 0
    assert Pledge.objects.count() == 2
    assert main(["support", "totals", "--as", "administrator-user", "--by", "pillar"]) == 0
    assert '"pillar": "support"' in capsys.readouterr().out
    out = tmp_path / "iati.xml"
    assert main(["support", "export-iati", str(out), "--as", "ledger_officer-user"]) == 0
    assert out.read_bytes().count(b"<iati-activity ") == 2
    kiel.write_text(KIEL + "A9,1,Atlantis,2026-01-20,Military,x,Commitment,EUR,5,,,,,,\n")
    assert main(["support", "import-kiel", str(kiel)]) == 1
    assert "line 4" in capsys.readouterr().err and Pledge.objects.count() == 2


def test_force_board_and_what_if_from_the_shell(users, capsys):
    from resolute.monitoring import services as monitoring

    monitoring.load_reference_data("test")
    assert main(["force", "board"]) == 0
    assert "deployment gate: closed" in capsys.readouterr().out
    assert main(["playbook", "what-if", "DEU"]) == 0
    assert '"unavailable"' in capsys.readouterr().out
    assert main(["playbook", "run"]) == 0
