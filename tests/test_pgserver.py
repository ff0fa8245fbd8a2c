"""Tests of resolute.pgserver against a real PostgreSQL server (no mocks).

Without server binaries the tests skip, unless RESOLUTE_REQUIRE_POSTGRES=1
(set by CI) turns the skip into a failure so PostgreSQL coverage cannot
silently disappear.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from resolute import pgserver
from resolute.pgserver import ThrowawayPostgres, find_pg_bin

pytestmark = pytest.mark.postgres


def _require_postgres() -> None:
    ok, reason = ThrowawayPostgres.available()
    if ok:
        return
    if os.environ.get("RESOLUTE_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"RESOLUTE_REQUIRE_POSTGRES=1 but PostgreSQL is unavailable: {reason}",
                    pytrace=False)
    pytest.skip(reason)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of LISTEN sockets on `port`, read from /proc/net."""
    found: set[str] = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            address_hex, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A = LISTEN
                continue
            raw = bytes.fromhex(address_hex)
            # The kernel prints each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(family, raw))
    return found


@pytest.fixture(scope="module")
def pg():
    _require_postgres()
    with ThrowawayPostgres() as server:
        yield server


def test_url_shape(pg):
    assert pg.url == f"postgresql://resolute@127.0.0.1:{pg.port}/resolute"


def test_create_insert_read_back(pg):
    import psycopg

    with psycopg.connect(pg.url) as conn:
        conn.execute("CREATE TABLE greeting (id serial PRIMARY KEY, body text NOT NULL)")
        conn.execute("INSERT INTO greeting (body) VALUES (%s), (%s)", ("hello", "wörld"))
        conn.commit()
    # A second connection proves the rows were committed, not just visible
    # inside the first session.
    with psycopg.connect(pg.url) as conn:
        rows = conn.execute("SELECT body FROM greeting ORDER BY id").fetchall()
        assert rows == [("hello",), ("wörld",)]
        assert conn.execute("SHOW server_encoding").fetchone() == ("UTF8",)
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (
            "resolute", "resolute")


def test_fast_settings_are_on_by_default(pg):
    with pg.connect() as conn:
        for name in ("fsync", "full_page_writes", "synchronous_commit"):
            assert conn.execute(f"SHOW {name}").fetchone() == ("off",), name


def test_listens_only_on_loopback(pg):
    with pg.connect() as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
    if Path("/proc/net/tcp").exists():
        assert _listening_addresses(pg.port) == {"127.0.0.1"}
    # All of 127/8 reaches the loopback interface on Linux, so a connection to
    # 127.0.0.2 being refused shows the socket is bound to 127.0.0.1 alone,
    # not to a wildcard address.
    if sys.platform.startswith("linux"):
        assert not _port_open("127.0.0.2", pg.port)
    assert _port_open("127.0.0.1", pg.port)


def test_lifecycle_durable_server_is_removed_on_exit():
    _require_postgres()
    with ThrowawayPostgres(fast=False, dbname="other") as server:
        base_dir, port = server.base_dir, server.port
        assert base_dir is not None and base_dir.is_dir()
        assert str(server.socket_dir).startswith(str(base_dir))
        assert _port_open("127.0.0.1", port)
        with server.connect() as conn:
            # fast=False is what the benchmark uses: stock durable settings.
            assert conn.execute("SHOW fsync").fetchone() == ("on",)
            assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)
            assert conn.execute("SELECT current_database()").fetchone() == ("other",)
    assert not base_dir.exists()
    assert not _port_open("127.0.0.1", port)
    with pytest.raises(RuntimeError):
        server.url  # noqa: B018  (the property raises once stopped)


class _RecordingPostgres(ThrowawayPostgres):
    """Remembers the temporary directory, which stop() forgets once deleted."""

    def _make_base_dir(self) -> None:
        super()._make_base_dir()
        self.made_dirs = [*getattr(self, "made_dirs", []), self.base_dir]


def test_startup_error_includes_log_tail_and_cleans_up():
    _require_postgres()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        server = _RecordingPostgres(port=port)
        with pytest.raises(RuntimeError) as info:
            server.start()
    message = str(info.value)
    assert "server log tail" in message
    assert "Address already in use" in message
    assert server.made_dirs and not any(path.exists() for path in server.made_dirs)


def test_module_main_prints_url_and_cleans_up_on_ctrl_c():
    _require_postgres()
    src = Path(pgserver.__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(src), *filter(None, [os.environ.get("PYTHONPATH")])]))
    proc = subprocess.Popen([sys.executable, "-m", "resolute.pgserver"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("postgresql://resolute@127.0.0.1:"), proc.stderr.read()
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        import psycopg

        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not _port_open("127.0.0.1", port)


def test_unusable_explicit_bin_dir_is_reported(tmp_path, monkeypatch):
    # An explicit RESOLUTE_PG_BIN that lacks the binaries must not silently
    # fall back to another installation.
    monkeypatch.setenv("RESOLUTE_PG_BIN", str(tmp_path))
    assert find_pg_bin() is None
    ok, reason = ThrowawayPostgres.available()
    assert not ok
    assert "RESOLUTE_PG_BIN" in reason and str(tmp_path) in reason
