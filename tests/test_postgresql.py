"""Run the storage, service and API tests (marker db_backends) again on a real PostgreSQL.

pytest-django binds one database per session, so the PostgreSQL pass runs as a child pytest
against a throwaway server started from the machine's PostgreSQL binaries. Without them the
test skips with the reason — unless RESOLUTE_REQUIRE_POSTGRES=1 (CI), where it fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from resolute.pgserver import ThrowawayPostgres

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.postgres
@pytest.mark.slow
def test_storage_service_and_api_tests_pass_on_postgresql(tmp_path):
    if os.environ.get("RESOLUTE_DATABASE_URL"):
        pytest.skip("already running on PostgreSQL")
    ok, reason = ThrowawayPostgres.available()
    if not ok:
        if os.environ.get("RESOLUTE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here (RESOLUTE_REQUIRE_POSTGRES=1) but: {reason}")
        pytest.skip(f"no PostgreSQL server binaries: {reason}")
    with ThrowawayPostgres() as pg:
        env = {**os.environ, "RESOLUTE_DATABASE_URL": pg.url, "RESOLUTE_DATA_DIR": str(tmp_path)}
        r = subprocess.run(
            [sys.executable, "-m", "pytest", "-m", "db_backends", "-q", "-p", "no:cacheprovider", "-x", "--no-header"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200,
        )
    tail = "\n".join((r.stdout + r.stderr).splitlines()[-60:])
    print(tail)
    assert r.returncode == 0, f"the PostgreSQL pass failed:\n{tail}"
    assert re.search(r"\b\d+ passed\b", tail), "the PostgreSQL pass ran no test"
