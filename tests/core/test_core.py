"""Pure core: no Django, and the small algorithms behave as documented."""

from __future__ import annotations

import ast
import math
import itertools
import subprocess
from pathlib import Path

import pytest

from resolute.core import chain, geo, grading
from resolute.core.markings import ALL, Classification, Marking, Reader, decode_releasability, encode_releasability, may_read

CORE = Path(__file__).resolve().parents[2] / "src" / "resolute" / "core"


def test_import_linter_contract_holds():
    root = CORE.parents[2]
    r = subprocess.run(["lint-imports", str(root / "pyproject.toml")], cwd=root, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "KEPT" in r.stdout


def test_no_module_in_core_imports_django():
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert not name.startswith(("django", "ninja")), f"{path.name} imports {name}"


def test_compass_sector_sigma_is_width_over_root_12():
    centre, sigma = geo.sector_bearing("SSE")
    assert centre == pytest.approx(157.5) and sigma == pytest.approx(22.5 / 12**0.5)


def test_indicative_point_of_a_sector_and_band():
    lat, lon, radius = geo.indicative_points([47.6, 47.6], [35.8, 35.8], [180.0, 90.0], [1400.0, float("nan")], [1600.0, float("nan")])
    assert geo.distance_m(47.6, 35.8, lat[0], lon[0]) == pytest.approx(1500.0, abs=0.5)
    assert (lat[1], lon[1], radius[1]) == (47.6, 35.8, 10_000.0)  # no range: the observer, hearing distance
    assert radius[0] == pytest.approx(1500.0 * math.radians(11.25), rel=1e-6)


def test_forward_then_distance_round_trips():
    lat, lon = geo.forward(47.6, 35.8, 157.5, 1500.0)
    assert geo.distance_m(47.6, 35.8, lat, lon) == pytest.approx(1500.0, abs=0.01)


def test_grades_and_yardstick():
    assert grading.parse_grade("b2") == ("B", 2)
    with pytest.raises(ValueError):
        grading.parse_grade("G1")
    assert grading.yardstick(0.97) == "almost certain"
    assert grading.yardstick(0.6) == "likely"
    assert grading.yardstick(0.03) == "remote"


def test_releasability_encoding_is_canonical():
    assert encode_releasability(["usa", "FRA", "FRA"]) == "|FRA|USA|"
    assert encode_releasability(["FRA", "ALL"]) == "|ALL|"
    assert decode_releasability("|FRA|USA|") == ("FRA", "USA")


def test_marking_rule():
    secret_us = Marking(Classification.SECRET, "AMBER", ("USA", "GBR"), "USA")
    assert may_read(Reader(Classification.SECRET, "GBR", public=False), secret_us)
    assert not may_read(Reader(Classification.CONFIDENTIAL, "GBR", public=False), secret_us)
    assert not may_read(Reader(Classification.SECRET, "FRA", public=False), secret_us)
    red = Marking(Classification.RESTRICTED, "RED", (ALL,), "FRA")
    assert may_read(Reader(Classification.SECRET, "FRA", public=False), red)
    assert not may_read(Reader(Classification.SECRET, "USA", public=False), red)
    public = Marking(Classification.PUBLIC, "CLEAR", (ALL,), "")
    assert may_read(Reader(), public)
    assert not may_read(Reader(), Marking(Classification.PUBLIC, "GREEN", (ALL,), ""))


def test_hash_chain_detects_any_single_change():
    entries, prev = [], chain.GENESIS
    for i in range(5):
        e = {"i": i, "who": "x"}
        h = chain.link_hash(prev, e)
        entries.append((i + 1, e, prev, h))
        prev = h
    assert list(chain.verify(entries))[-1] == 5
    for k, field in itertools.product(range(5), ("i", "who")):
        forged = [list(x) for x in entries]
        forged[k][1] = {**forged[k][1], field: "forged"}
        out = list(chain.verify([tuple(x) for x in forged]))
        assert isinstance(out[-1], chain.Break) and out[-1].seq == k + 1


def test_combined_marking_is_the_most_restrictive():
    from resolute.core.markings import combine

    a = Marking(Classification.RESTRICTED, "GREEN", (ALL,), "FRA")
    b = Marking(Classification.SECRET, "AMBER", ("USA", "GBR"), "USA")
    c = Marking(Classification.CONFIDENTIAL, "RED", ("GBR", "POL"), "GBR")
    assert combine([a]) == a
    assert combine([a, b]) == Marking(Classification.SECRET, "AMBER", ("GBR", "USA"), "USA")
    m = combine([a, b, c])
    assert (m.classification, m.tlp, m.releasable_to) == (Classification.SECRET, "RED", ("GBR",))
    # Disjoint REL TO lists leave only the originator.
    assert combine([Marking(releasable_to=("FRA",), originator="FRA"), Marking(releasable_to=("DEU",), originator="FRA")]).releasable_to == ("FRA",)
    with pytest.raises(ValueError):
        combine([])
