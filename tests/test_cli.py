"""The README's main command, end to end, in a fresh data directory: `resolute demo --no-serve`
twice (idempotent), then `resolute serve` answering real HTTP with waitress."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

pytestmark = pytest.mark.slow


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESOLUTE_")}
    return {**env, "RESOLUTE_DATA_DIR": str(tmp_path / "data")}


def _resolute(tmp_path, *args, timeout=600):
    return subprocess.run([sys.executable, "-m", "resolute.cli", *args], env=_env(tmp_path), capture_output=True, text=True, timeout=timeout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    first = _resolute(tmp, "demo", "--no-serve")
    assert first.returncode == 0, first.stdout + first.stderr
    return tmp, first


def test_demo_loads_a_week_into_sqlite_in_wal_mode(demo_dir):
    tmp, first = demo_dir
    assert "observations loaded:" in first.stdout and "password" in first.stdout
    loaded = int(first.stdout.split("observations loaded:")[1].split()[0])
    assert loaded > 1000
    db = tmp / "data" / "resolute.sqlite3"
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # the week, and the access denial the demo's verification walk records
        assert con.execute("SELECT COUNT(*) FROM monitoring_observation WHERE intake = 'demo'").fetchone()[0] == loaded
        assert con.execute("SELECT COUNT(*) FROM monitoring_observation WHERE intake = 'verification'").fetchone()[0] == 1
        # the ground truth is stored apart, not on the observations
        assert con.execute("SELECT COUNT(*) FROM demo_trueevent").fetchone()[0] > 100
        cols = [r[1] for r in con.execute("PRAGMA table_info(monitoring_observation)")]
        assert not any("truth" in c for c in cols)


def test_demo_twice_is_safe(demo_dir):
    tmp, _ = demo_dir
    again = _resolute(tmp, "demo", "--no-serve")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "observations loaded: 0" in again.stdout
    verify = _resolute(tmp, "audit", "verify")
    assert verify.returncode == 0 and "audit chain intact" in verify.stdout


def test_serve_answers_http_offline(demo_dir):
    tmp, _ = demo_dir
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "resolute.cli", "serve", "--port", str(port)], env=_env(tmp), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                r = httpx.get(f"{base}/api/v1/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("server did not start")
        assert r.status_code == 200 and r.json()["info"]["title"] == "Resolute API"
        assert r.headers["server"] != "WSGIServer"  # not Django's runserver
        docs = httpx.get(f"{base}/api/v1/docs", timeout=5).text
        assert "cdn." not in docs and "/static/" in docs, "API docs must not load assets from the internet"
        public = httpx.get(f"{base}/api/v1/observations", params={"limit": 1000}, timeout=10).json()
        assert all(f["properties"]["marking"]["classification"] == "PUBLIC" for f in public["features"])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
