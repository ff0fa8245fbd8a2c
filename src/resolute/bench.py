"""`resolute bench ingest`: observations per second on this machine, printed, never asserted.

Three intake paths, each against a fresh database on SQLite and (if it can be started here) a
throwaway PostgreSQL server with its normal, durable settings:

1. CLI import: `resolute import FILE` run as a child process on a CSV and a JSON Lines file of
   synthetic observations; timed end to end and split into parse / validate / store.
2. API bulk: lists of 1,000 and 10,000 observations POSTed to a real waitress server.
3. Single POSTs: one observation per request, sequentially, over one keep-alive connection.

Everything runs in child processes and temporary directories that are removed afterwards, also
on Ctrl-C, SIGTERM or errors; servers listen on free ports on 127.0.0.1 only. The user's own
data directory and database are never touched: `--data-dir`, if given, only chooses the disk
(parent directory) the benchmark's temporary directories live on, because SQLite's and
PostgreSQL's durable commits cost what that disk's fsync costs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Kept free of Django, rich and httpx at import time: this module is also the entry point of the
# timed import child (`python -m resolute.bench --timed-import ...`), whose start-up is measured.

SEED = 20_250_301
BULK_SIZES = (1_000, 10_000)
TARGET_IMPORT_SQLITE = 20_000  # observations per second, `resolute import` on SQLite
TARGET_SINGLE = 500  # requests per second, single POSTs from one client
TOKEN_RE = re.compile(r"rsl_[A-Za-z0-9_\-]{20,}")

# (code, channel, reliability, credibility): a few sources so the data is not one column value.
SOURCES = (
    ("BENCH-OP-01", "observation_post", "B", 2),
    ("BENCH-PT-01", "patrol", "A", 2),
    ("BENCH-UAV-01", "uav", "B", 1),
    ("BENCH-AC-01", "acoustic_sensor", "C", 3),
)
SECTORS = ("N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW")
HEARD_TYPES = ("explosion_impact", "explosion_outgoing", "explosion_undetermined", "small_arms_fire", "heavy_machine_gun_fire")
SEEN_TYPES = ("explosion_impact", "explosion_airburst", "muzzle_flash", "illumination_flare", "projectile_in_flight")
POINT_TYPES = ("explosion_impact", "weapon_beyond_withdrawal_line", "armed_drone_strike", "mine_laying")
WEAPONS = ("small_arms", "heavy_machine_gun", "mortar", "artillery_under_100mm", "artillery_100mm_plus", "tank", "mlrs", "drone", "unknown")


class BenchError(RuntimeError):
    """A step of the benchmark failed (not a slow result: timings are never judged)."""


# ------------------------------------------------------------------------------ synthetic data


def synthetic_observations(n: int, seed: int = SEED) -> list[dict]:
    """`n` valid API payloads, the same for the same seed. Mix: half compass-sector + range-band
    reports (what an observation post hears), a quarter bearings (half of them with a range),
    a quarter estimated points. Times lie in a fixed past month, so the set never drifts into
    the future-time check and does not depend on today's date."""
    r = random.Random(seed)
    base = dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc)
    out = []
    for k in range(n):
        code, channel, rel, cred = SOURCES[k % len(SOURCES)]
        start = base + dt.timedelta(seconds=r.randrange(30 * 86_400))
        count = r.randint(1, 20)
        p: dict = {
            "client_id": str(uuid.UUID(int=r.getrandbits(128), version=4)),
            "channel": channel,
            "observer": {"lat": round(47.1 + r.random(), 5), "lon": round(35.3 + r.random(), 5), "accuracy_m": float(r.choice((5, 10, 25, 50)))},
            "observed_from": start.isoformat(),
            "observed_to": (start + dt.timedelta(seconds=r.randrange(1, 900))).isoformat(),
            "count": count,
            "weapon_class": r.choice(WEAPONS),
            "source": code,
            "grade": f"{rel}{cred}",
            "chain": [code],
            "marking": {
                "classification": "RESTRICTED",
                "tlp": "AMBER" if r.random() < 0.8 else "GREEN",
                "releasable_to": ["ALL"] if r.random() < 0.7 else ["FRA", "POL", "DEU"],
                "originator": "FRA",
            },
        }
        kind = r.random()
        if kind < 0.5:
            sector = r.choice(SECTORS)
            lo = r.randrange(500, 8_000, 100)
            hi = lo + r.randrange(200, 3_000, 100)
            p.update(event_type=r.choice(HEARD_TYPES), perception="heard")
            p["direction"] = {"compass_sector": sector, "range_min_m": float(lo), "range_max_m": float(hi)}
            p["narrative"] = f"heard {count} event(s) {lo / 1000:.1f}-{hi / 1000:.1f} km {sector}"
        elif kind < 0.75:
            bearing = round(r.uniform(0, 359.9), 1)
            p.update(event_type=r.choice(SEEN_TYPES), perception=r.choice(("seen", "heard_and_seen")))
            p["direction"] = {"bearing_deg": bearing, "bearing_sigma_deg": float(r.choice((2, 5, 10)))}
            if r.random() < 0.5:
                lo = r.randrange(500, 6_000, 100)
                p["direction"].update(range_min_m=float(lo), range_max_m=float(lo + r.randrange(200, 2_000, 100)))
            p["narrative"] = f"{count} event(s) on bearing {bearing:.0f}"
        else:
            p.update(event_type=r.choice(POINT_TYPES), perception=r.choice(("seen", "instrument")))
            p["location"] = {"lat": round(47.1 + r.random(), 5), "lon": round(35.3 + r.random(), 5), "error_m": float(r.choice((50, 100, 250, 1000)))}
            p["narrative"] = "located by imagery" if p["perception"] == "instrument" else "seen at the location"
        out.append(p)
    return out


def csv_row(p: dict) -> dict:
    """The flat CSV row (importers.CSV_COLUMNS) that the importer turns back into payload `p`."""
    d = p.get("direction") or {}
    loc = p.get("location") or {}
    m = p["marking"]
    blank = lambda x: "" if x is None else x  # noqa: E731
    return {
        "client_id": p["client_id"], "channel": p["channel"],
        "observer_lat": p["observer"]["lat"], "observer_lon": p["observer"]["lon"], "observer_accuracy_m": p["observer"]["accuracy_m"],
        "observed_from": p["observed_from"], "observed_to": p["observed_to"],
        "event_type": p["event_type"], "perception": p["perception"], "count": p["count"], "weapon_class": p["weapon_class"],
        "event_lat": blank(loc.get("lat")), "event_lon": blank(loc.get("lon")), "event_error_m": blank(loc.get("error_m")),
        "bearing_deg": blank(d.get("bearing_deg")), "bearing_sigma_deg": blank(d.get("bearing_sigma_deg")),
        "compass_sector": blank(d.get("compass_sector")), "range_min_m": blank(d.get("range_min_m")), "range_max_m": blank(d.get("range_max_m")),
        "narrative": p["narrative"], "attachments": "", "source": p["source"], "grade": p["grade"], "chain": ">".join(p["chain"]),
        "classification": m["classification"], "tlp": m["tlp"], "releasable_to": " ".join(m["releasable_to"]), "originator": m["originator"],
    }  # fmt: skip


def write_files(payloads: list[dict], directory: Path) -> dict[str, Path]:
    import csv

    from resolute.monitoring.importers import CSV_COLUMNS

    paths = {"CSV": directory / "observations.csv", "JSONL": directory / "observations.jsonl"}
    with paths["CSV"].open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        w.writeheader()
        w.writerows(csv_row(p) for p in payloads)
    with paths["JSONL"].open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(p, separators=(",", ":")) + "\n" for p in payloads)
    return paths


# ------------------------------------------------------------------------------ results


@dataclass
class Row:
    path: str
    backend: str
    count: int
    seconds: float
    unit: str = "obs/s"
    target: float | None = None
    note: str = ""
    detail: bool = False  # a phase of the row above, printed indented

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)
    ports: list[int] = field(default_factory=list)  # every server port used (all closed on return)
    server_pids: list[int] = field(default_factory=list)
    temp_dirs: list[Path] = field(default_factory=list)  # all removed on return
    skipped: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------ child processes


def _child_env(database_url: str | None) -> dict[str, str]:
    """The environment of every child: the defaults of the shipped configuration, so the
    figures do not depend on whatever RESOLUTE_* the caller's shell holds (a lower MAX_BULK,
    production mode's HTTPS redirect, another database). Only the PostgreSQL binary
    location is passed through."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESOLUTE_") or k == "RESOLUTE_PG_BIN"}
    env["RESOLUTE_ENV"] = "development"
    # Intake is measured on its own: background fusion (on by default) would share the two
    # cores with the server; `resolute bench fusion` measures fusion.
    env["RESOLUTE_FUSION_ON_INTAKE"] = "0"
    if database_url:
        env["RESOLUTE_DATABASE_URL"] = database_url
    # Wide, colourless output so the token secret is printed on one parseable line.
    env.update(COLUMNS="200", NO_COLOR="1", TERM="dumb", PYTHONUNBUFFERED="1")
    return env


def _run(argv: list[str], env: dict, what: str, cwd: Path, timeout: float = 1_800) -> subprocess.CompletedProcess:
    # subprocess.run kills the child if we are interrupted while waiting.
    res = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        tail = "\n".join((res.stdout + res.stderr).strip().splitlines()[-25:])
        raise BenchError(f"{what} failed (exit {res.returncode}):\n{tail}")
    return res


def _cli(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "resolute.cli", "--data-dir", str(data_dir), *args]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


# ------------------------------------------------------------------------------ one backend


class Backend:
    """A database engine with a prepared template: migrated, one monitor user with a write
    token, the sources registered. Each benchmark gets a copy of the template, so every path
    starts from the same fresh database without paying for migrations again."""

    def __init__(self, name: str, workdir: Path, pg=None):
        self.name = name
        self.workdir = workdir
        self.pg = pg
        self.template = workdir / "template"
        self.token = ""
        self._copies = 0

    def _url(self, dbname: str) -> str | None:
        return None if self.pg is None else f"postgresql://{self.pg.user}@{self.pg.host}:{self.pg.port}/{dbname}"

    def prepare(self) -> None:
        env = _child_env(self._url(self.pg.dbname) if self.pg else None)
        d = self.template
        _run(_cli(d, "manage", "migrate", "--verbosity", "0"), env, f"{self.name}: migrate", self.workdir)
        _run(_cli(d, "user", "add", "bench", "--role", "monitor", "--nation", "FRA", "--clearance", "RESTRICTED"), env, f"{self.name}: user add", self.workdir)
        out = _run(_cli(d, "token", "issue", "bench", "--name", "bench", "--scope", "write"), env, f"{self.name}: token issue", self.workdir).stdout
        m = TOKEN_RE.search(out)
        if not m:
            raise BenchError(f"{self.name}: no token secret in the output of `token issue`:\n{out}")
        self.token = m.group(0)
        # No CLI command registers sources; the service is the one the API would use.
        code = "from resolute.monitoring.services import register_source\n" + "".join(
            f"register_source('bench', {c!r}, {c!r}, {ch!r}, {rel!r}, {cred}, 'FRA')\n" for c, ch, rel, cred in SOURCES
        )
        _run(_cli(d, "manage", "shell", "-c", code), env, f"{self.name}: register sources", self.workdir)

    def fresh(self, label: str) -> tuple[Path, dict]:
        """A copy of the template database: (data directory, child environment)."""
        self._copies += 1
        d = self.workdir / f"{self._copies:02d}-{label}"
        # The data directory holds the SQLite file (checkpointed: the last connection closed
        # when the child exited) or, for PostgreSQL, just the development secret key.
        shutil.copytree(self.template, d)
        if self.pg is None:
            return d, _child_env(None)
        dbname = f"bench_{self._copies:02d}"
        with self.pg.connect(autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}" TEMPLATE "{self.pg.dbname}"')
        return d, _child_env(self._url(dbname))


# ------------------------------------------------------------------------------ path 1: import


def bench_import(backend: Backend, files: dict[str, Path], n: int) -> list[Row]:
    rows = []
    target = TARGET_IMPORT_SQLITE if backend.name == "sqlite" else None
    for fmt, path in files.items():
        d, env = backend.fresh(f"import-{fmt.lower()}")
        marks_file = d / "marks.json"
        argv = [sys.executable, "-m", "resolute.bench", "--timed-import", str(marks_file), "--", "--data-dir", str(d), "import", "--no-fuse", str(path)]
        t0 = time.perf_counter()
        res = _run(argv, env, f"{backend.name}: import {fmt}", backend.workdir)
        wall = time.perf_counter() - t0
        if f"imported {n} new" not in res.stdout:
            raise BenchError(f"{backend.name}: import {fmt} did not store {n} observations:\n{res.stdout[-2000:]}")
        m = json.loads(marks_file.read_text())
        parse = m["read_end"] - m["read_start"]
        validate = m["store_start"] - m["read_end"]
        store = m["store_end"] - m["store_start"]
        inner = parse + validate + store
        rows.append(Row(f"CLI import ({fmt})", backend.name, n, wall, target=target, note=f"process start to exit; {n / inner:,.0f} obs/s without start-up"))
        rows.append(Row("  parse file", backend.name, n, parse, detail=True, note="importers.read"))
        rows.append(Row("  validate", backend.name, n, validate, detail=True, note="pydantic ObservationIn"))
        rows.append(Row("  store", backend.name, n, store, detail=True, note="submit_observations: hash, INSERT, audit, COMMIT"))
        rows.append(Row("  start-up, exit", backend.name, n, max(wall - inner, 0.0), detail=True, note="interpreter, Django set-up; fixed cost"))
    return rows


def _timed_import(marks_path: str, cli_argv: list[str]) -> int:
    """Child process: run `resolute import` exactly as the command does (cli.main with the same
    arguments), with timestamps taken around the file reader and the storing service, so the
    end-to-end figure can be split without a profiler's overhead."""
    marks: dict[str, float] = {"start": time.perf_counter()}
    from resolute import cli
    from resolute.monitoring import importers

    real_setup, real_read = cli._setup, importers.read

    def read(path, fmt=None):
        marks["read_start"] = time.perf_counter()
        rows = list(real_read(path, fmt))
        marks["read_end"] = time.perf_counter()
        return rows

    def setup(data_dir):
        real_setup(data_dir)
        # The service module needs Django's app registry, so it is wrapped only now.
        from resolute.monitoring import services

        real_submit = services.submit_observations

        def submit(*a, **kw):
            marks["store_start"] = time.perf_counter()
            try:
                return real_submit(*a, **kw)
            finally:
                marks["store_end"] = time.perf_counter()

        services.submit_observations = submit

    cli._setup, importers.read = setup, read
    try:
        return cli.main(cli_argv)
    finally:
        marks["end"] = time.perf_counter()
        Path(marks_path).write_text(json.dumps(marks))


# ------------------------------------------------------------------------------ paths 2 and 3: API


@contextlib.contextmanager
def server(data_dir: Path, env: dict, report: Report, workdir: Path) -> Iterator[str]:
    """A `resolute serve` child on a free 127.0.0.1 port; yields its base URL, always stops it."""
    import httpx

    for attempt in range(3):
        port = _free_port()
        log = workdir / f"server-{port}.log"
        with log.open("wb") as fh:
            proc = subprocess.Popen(_cli(data_dir, "serve", "--host", "127.0.0.1", "--port", str(port)), env=env, cwd=workdir, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT)
        report.ports.append(port)
        report.server_pids.append(proc.pid)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            ready = False
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    if httpx.get(f"{base}/api/v1/parties", timeout=2).status_code == 200:
                        ready = True
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            if ready:
                yield base
                return
            text = log.read_text(errors="replace")
            # Another process may have taken the port between _free_port() and bind: retry.
            if proc.poll() is not None and "address already in use" in text.lower() and attempt < 2:
                continue
            raise BenchError(f"the server did not start on port {port}:\n" + "\n".join(text.splitlines()[-25:]))
        finally:
            _stop(proc)
    raise BenchError("could not find a free port for the server")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _post_check(resp, expect_created: int | None, what: str) -> None:
    if resp.status_code != 201:
        raise BenchError(f"{what}: HTTP {resp.status_code}: {resp.text[:2000]}")
    if expect_created is not None and resp.json().get("created") != expect_created:
        raise BenchError(f"{what}: expected {expect_created} created, got {resp.text[:500]}")


def bench_api(backend: Backend, n: int, n_single: int, report: Report, progress) -> list[Row]:
    import httpx

    rows = []
    d, env = backend.fresh("api")
    with server(d, env, report, backend.workdir) as base:
        headers = {"Authorization": f"Bearer {backend.token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
            for k, size in enumerate(BULK_SIZES):
                size = min(size, n)
                # Distinct client_ids per run (same server, so equal ids would be 'existing').
                payloads = synthetic_observations(n, seed=SEED + 1 + k)
                # Serialised before the clock starts: the figure is the server's, not json.dumps's.
                bodies = [json.dumps(payloads[i : i + size]).encode() for i in range(0, n, size)]
                task = progress.add_task(f"{backend.name}: bulk ×{size:,}", total=n)
                t0 = time.perf_counter()
                for i, body in enumerate(bodies):
                    resp = client.post("/api/v1/observations", content=body)
                    _post_check(resp, len(payloads[i * size : (i + 1) * size]), f"bulk POST of {size}")
                    progress.advance(task, len(payloads[i * size : (i + 1) * size]))
                rows.append(Row(f"API bulk (lists of {size:,})", backend.name, n, time.perf_counter() - t0, note=f"{len(bodies)} request(s), waitress, one client, fusion deferred"))

            bodies = [json.dumps(p).encode() for p in synthetic_observations(n_single, seed=SEED + 9)]
            task = progress.add_task(f"{backend.name}: single POSTs", total=n_single)
            lat = []
            t0 = time.perf_counter()
            for body in bodies:
                t = time.perf_counter()
                resp = client.post("/api/v1/observations", content=body)
                lat.append(time.perf_counter() - t)
                _post_check(resp, None, "single POST")
                progress.advance(task)
            total = time.perf_counter() - t0
    lat.sort()
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
    rows.append(Row("Single POSTs", backend.name, n_single, total, unit="req/s", target=TARGET_SINGLE, note=f"p50 {pct(0.50):.1f} ms, p95 {pct(0.95):.1f} ms, keep-alive, fusion deferred"))
    return rows


# ------------------------------------------------------------------------------ machine


def machine_info(base: Path) -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    cores = str(os.cpu_count())
    with contextlib.suppress(AttributeError):
        usable = len(os.sched_getaffinity(0))
        if str(usable) != cores:
            cores += f" ({usable} usable)"
    return {
        "CPU": cpu,
        "cores": cores,
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "SQLite": sqlite3.sqlite_version,
        "PostgreSQL": "not run",
        "OS": platform.platform(terse=True),
        "disk": f"{base} ({_fs_type(base)})",
        # Other work on the machine moves the figures; the load average says how much there was.
        "load average": _load(),
    }


def _load() -> str:
    try:
        return "%.2f %.2f %.2f (1, 5, 15 min)" % os.getloadavg()
    except OSError:
        return "unknown"


def _fs_type(path: Path) -> str:
    # The longest mount point containing `path`: fsync cost is the file system's (tmpfs lies).
    best, kind = "", "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) > 2 and (str(path) + "/").startswith(parts[1].rstrip("/") + "/") and len(parts[1]) >= len(best):
                best, kind = parts[1], parts[2]
    return kind


# ------------------------------------------------------------------------------ orchestration


def run(count: int = 50_000, single: int = 2_000, backends: tuple[str, ...] = ("sqlite", "postgresql"), base_dir: Path | None = None, progress=None) -> Report:
    """Run every path on every backend and return the figures. Leaves no server, database or
    temporary file behind, whatever happens."""
    from resolute.pgserver import ThrowawayPostgres

    if count < 1 or single < 1:
        raise BenchError("--count and --single must be at least 1")
    base = Path(base_dir).expanduser().resolve() if base_dir else Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    report = Report(machine=machine_info(base))
    if progress is None:
        progress = _quiet_progress()
    with contextlib.ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix="resolute-bench-", dir=base))
        report.temp_dirs.append(root)
        stack.callback(shutil.rmtree, root, ignore_errors=True)

        task = progress.add_task(f"writing {count:,} observations", total=None)
        files = write_files(synthetic_observations(count), root)
        progress.update(task, total=1, completed=1)

        for name in backends:
            pg = None
            if name == "postgresql":
                ok, why = ThrowawayPostgres.available()
                if not ok:
                    report.skipped.append(f"postgresql: {why}")
                    continue
                task = progress.add_task("postgresql: starting server", total=None)
                # fast=False: fsync, full_page_writes and synchronous_commit stay on, as in service.
                pg = stack.enter_context(ThrowawayPostgres(fast=False))
                with pg.connect() as conn:
                    report.machine["PostgreSQL"] = conn.execute("SHOW server_version").fetchone()[0]
                progress.update(task, total=1, completed=1)
            workdir = root / name
            workdir.mkdir()
            backend = Backend(name, workdir, pg)
            task = progress.add_task(f"{name}: migrate, user, token", total=None)
            backend.prepare()
            progress.update(task, total=1, completed=1)

            for fmt, path in files.items():
                task = progress.add_task(f"{name}: import {fmt}", total=None)
                report.rows += bench_import(backend, {fmt: path}, count)
                progress.update(task, total=1, completed=1)
            report.rows += bench_api(backend, count, single, report, progress)
            if pg is not None:
                # Free the server's memory and disk before the next backend (ExitStack would too).
                pg.stop()
    report.machine["load average"] += f" at start; {_load().split(' (')[0]} at end"
    return report


class _quiet_progress:
    """Stands in for a rich Progress when the caller wants none (tests)."""

    def add_task(self, *a, **kw):
        return 0

    def update(self, *a, **kw):
        pass

    def advance(self, *a, **kw):
        pass


def print_report(report: Report, console) -> None:
    from rich.table import Table

    table = Table(title="Resolute ingest throughput (higher is better; targets are goals, not checks)")
    for col, kw in (("path", {}), ("backend", {}), ("count", {"justify": "right"}), ("seconds", {"justify": "right"}),
                    ("rate", {"justify": "right"}), ("target", {"justify": "right"}), ("", {}), ("notes", {"overflow": "fold"})):  # fmt: skip
        table.add_column(col, **kw)
    last = None
    for r in report.rows:
        if not r.detail and last is not None and (r.backend != last.backend):
            table.add_section()
        target = f"≥ {r.target:,.0f} {r.unit}" if r.target else ""
        verdict = ("[green]met[/green]" if r.rate >= r.target else "[red]below[/red]") if r.target else ""
        style = "dim" if r.detail else None
        table.add_row(r.path, r.backend, f"{r.count:,}", f"{r.seconds:.2f}", f"{r.rate:,.0f} {r.unit}", target, verdict, r.note, style=style)
        last = r
    console.print(table)
    m = Table(title="Machine", show_header=False)
    m.add_column(style="bold")
    m.add_column()
    for k, v in report.machine.items():
        m.add_row(k, v)
    console.print(m)
    for s in report.skipped:
        console.print(f"[yellow]skipped[/yellow] {s}")


def main(args) -> int:
    """Entry point of `resolute bench ingest` (args: count, single, backend, data_dir)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    out = Console()
    if not out.is_terminal:
        out = Console(width=160)  # files and pipes: keep the table on one line per row
    err = Console(stderr=True)
    backend = getattr(args, "backend", "both")
    backends = ("sqlite", "postgresql") if backend == "both" else (backend,)
    if backend == "postgresql":
        from resolute.pgserver import ThrowawayPostgres

        ok, why = ThrowawayPostgres.available()
        if not ok:
            err.print(f"[red]PostgreSQL is not available:[/red] {why}")
            return 2

    # SIGTERM (e.g. `kill`) unwinds like Ctrl-C, so servers and temporary files are cleaned up.
    old = None
    if threading.current_thread() is threading.main_thread():
        old = signal.signal(signal.SIGTERM, _sigterm)
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err) as bar:
            report = run(args.count, args.single, backends, getattr(args, "data_dir", None), progress=bar)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted; servers stopped and temporary files removed[/yellow]")
        return 130
    except BenchError as exc:
        err.print(f"[red]benchmark failed:[/red] {exc}")
        return 1
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
    print_report(report, out)
    return 0


def _sigterm(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    # Only the timed import child enters here: python -m resolute.bench --timed-import MARKS -- ARGV
    if len(sys.argv) < 4 or sys.argv[1] != "--timed-import" or sys.argv[3] != "--":
        sys.exit("usage: python -m resolute.bench --timed-import MARKS.json -- RESOLUTE-CLI-ARGS (use `resolute bench ingest`)")
    sys.exit(_timed_import(sys.argv[2], sys.argv[4:]))
