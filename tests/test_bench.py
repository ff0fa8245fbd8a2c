"""Smoke test of `resolute bench ingest`: every path runs and yields a figure, and nothing is left
running or on disk. Timings are printed by the benchmark, never judged here."""

from __future__ import annotations

import argparse
import math
import os
import socket

import pytest
from rich.console import Console

from resolute import bench

pytestmark = pytest.mark.slow


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_bench_runs_every_path_and_cleans_up(tmp_path):
    report = bench.run(count=200, single=20, backends=("sqlite",), base_dir=tmp_path)

    paths = {r.path for r in report.rows if not r.detail}
    assert paths == {"CLI import (CSV)", "CLI import (JSONL)", "API bulk (lists of 200)", "Single POSTs"}
    # Two bulk rows (the 1,000 and 10,000 sizes, both capped at 200 here).
    assert sum(r.path.startswith("API bulk") for r in report.rows) == 2
    for r in report.rows:
        assert r.backend == "sqlite"
        # Each row carries a figure (a finite, positive rate); how large is the benchmark's business.
        assert r.count > 0 and math.isfinite(r.rate) and r.rate > 0, r
    assert {r.path.strip() for r in report.rows if r.detail} == {"parse file", "validate", "store", "start-up, exit"}

    # The server is gone: its port refuses connections and its process has been reaped.
    assert report.ports and report.server_pids
    for port in report.ports:
        assert not _port_open(port)
    for pid in report.server_pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    # The temporary directories (databases, files, logs) are removed.
    assert report.temp_dirs and not any(d.exists() for d in report.temp_dirs)
    assert list(tmp_path.iterdir()) == []

    console = Console(record=True, width=200)
    bench.print_report(report, console)
    text = console.export_text()
    assert "Single POSTs" in text and "≥ 20,000 obs/s" in text and "≥ 500 req/s" in text
    assert "SQLite" in text and "CPU" in text


def test_main_prints_the_table(tmp_path, capsys):
    # The `resolute bench ingest` entry point with its argparse namespace.
    args = argparse.Namespace(count=50, single=5, backend="sqlite", data_dir=str(tmp_path))
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    for path in ("CLI import (CSV)", "CLI import (JSONL)", "API bulk", "Single POSTs", "Machine"):
        assert path in out
    assert list(tmp_path.iterdir()) == []


def test_synthetic_data_is_deterministic_and_valid(settings):
    from pydantic import TypeAdapter

    from resolute.monitoring.importers import csv_row_to_payload
    from resolute.monitoring.schemas import ObservationIn

    a, b = bench.synthetic_observations(400), bench.synthetic_observations(400)
    assert a == b and bench.synthetic_observations(5, seed=1) != a[:5]
    one = TypeAdapter(ObservationIn)
    items = [one.validate_python(p) for p in a]
    sectors = sum(1 for i in items if i.direction and i.direction.compass_sector)
    bearings = sum(1 for i in items if i.direction and i.direction.bearing_deg is not None)
    points = sum(1 for i in items if i.location)
    assert 150 < sectors < 250 and bearings > 50 and points > 50
    # A CSV row reads back as the same validated observation.
    stringly = {k: str(v) for k, v in bench.csv_row(a[0]).items()}
    assert one.validate_python(csv_row_to_payload(stringly)) == items[0]
