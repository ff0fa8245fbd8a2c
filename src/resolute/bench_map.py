"""`resolute bench map`: the situation map with 100,000 incidents in a scratch SQLite database.

Prints, per view (whole front, one oblast, one town), the server's answer time and payload
size of /api/v1/map/incidents and what it sent (grid cells or incidents); then, when Chromium
is installed, the time from navigation to the first drawn map in a real headless browser (the
page's data-state turns "ready" once the incidents or cells are on the map).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import tempfile
import threading
import time

# (label, zoom, bbox) over the demo's front (Donetsk / Zaporizhzhia / Kharkiv oblasts).
VIEWS = (
    ("whole front", 6, "30.0,45.0,42.0,52.0"),
    ("one oblast", 9, "37.0,47.6,38.4,48.6"),
    ("one town", 13, "36.70,48.60,36.80,48.68"),
)


def _populate(n: int, seed: int = 7) -> None:
    import numpy as np

    from resolute.monitoring.models import Incident

    rng = np.random.default_rng(seed)
    # Along a front from (47.3 N, 35.5 E) to (50.0 N, 38.0 E), spread ±0.5° across it.
    t = rng.random(n)
    lat = 47.3 + 2.7 * t + rng.normal(0, 0.25, n)
    lon = 35.5 + 2.5 * t + rng.normal(0, 0.35, n)
    start = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    when = [start + dt.timedelta(seconds=float(s)) for s in rng.uniform(0, 21 * 86400, n)]
    sides = rng.choice(["RUS", "UKR", ""], n, p=[0.55, 0.3, 0.15])
    rows = [
        Incident(
            event_type="explosion_impact", status="open", first_seen=when[i], last_seen=when[i] + dt.timedelta(minutes=5),
            lat=float(lat[i]), lon=float(lon[i]), fix_ok=True, error_m=500.0, semi_major_m=500.0, semi_minor_m=200.0, orientation_deg=30.0,
            confidence=0.9, confidence_word="very likely", origin_side=str(sides[i]), observation_count=2,
            classification=0, tlp="CLEAR", releasable_to="|ALL|",
        )  # fmt: skip
        for i in range(n)
    ]
    Incident.objects.bulk_create(rows, batch_size=5000)


def _serve():
    from waitress import create_server

    from resolute.web.wsgi import application

    server = create_server(application, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.effective_port}"


def main(args) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    with tempfile.TemporaryDirectory(prefix="resolute-bench-map-") as tmp:
        os.environ["RESOLUTE_DATA_DIR"] = tmp
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "resolute.web.settings")
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import Client

        call_command("migrate", verbosity=0, interactive=False)
        t0 = time.perf_counter()
        with console.status(f"creating {args.incidents:,} incidents"):
            _populate(args.incidents)
            if args.analyze:
                # Without statistics SQLite picks the status index and scans every incident
                # for a small bounding box; ANALYZE lets it choose the (lat, lon) index.
                from django.db import connection

                with connection.cursor() as c:
                    c.execute("ANALYZE")
        console.print(f"created {args.incidents:,} incidents in {time.perf_counter() - t0:.1f} s")
        client = Client()
        table = Table(title=f"/api/v1/map/incidents, {args.incidents:,} incidents, public reader, median of {args.repeat}")
        for col in ("view", "zoom", "answer", "in view", "sent", "payload", "server time"):
            table.add_column(col, justify="right" if col not in ("view", "answer") else "left")
        for label, zoom, bbox in VIEWS:
            times, body = [], None
            for _ in range(args.repeat):
                s = time.perf_counter()
                r = client.get("/api/v1/map/incidents", {"zoom": zoom, "bbox": bbox})
                times.append(time.perf_counter() - s)
                body = r
            data = body.json()
            sent = len(data.get("cells") or data.get("incidents") or [])
            table.add_row(label, str(zoom), data["mode"], f"{data['total']:,}", f"{sent:,}", f"{len(body.content) / 1024:.1f} KiB", f"{statistics.median(times) * 1000:.0f} ms")
        console.print(table)
        first_render(console, args)
    console.print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    return 0


def first_render(console, args) -> None:
    chromium = os.environ.get("RESOLUTE_CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(chromium):
        console.print(f"[yellow]no Chromium at {chromium}: time to first render not measured[/yellow]")
        return
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        console.print("[yellow]playwright not installed (pip install -e '.[test]'): time to first render not measured[/yellow]")
        return
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    server, base = _serve()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-background-networking"])
            runs, transferred = [], 0
            for k in range(args.repeat):
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                sizes = []
                page.on("response", lambda r, sizes=sizes: sizes.append(int(r.headers.get("content-length") or 0)))
                s = time.perf_counter()
                page.goto(base + "/")
                page.wait_for_selector("#map[data-state='ready']", timeout=120_000)
                runs.append(time.perf_counter() - s)
                mode, drawn = page.get_attribute("#map", "data-mode"), page.get_attribute("#map", "data-drawn")
                transferred = sum(sizes)
                page.close()
            browser.close()
        console.print(
            f"first render of the situation map in headless Chromium: median {statistics.median(runs):.2f} s over {len(runs)} loads "
            f"(first {runs[0]:.2f} s); drew {drawn} {'grid cells' if mode == 'grid' else 'incidents'}; "
            f"{transferred / 1024:.0f} KiB transferred (with Content-Length) on the last load"
        )
    finally:
        server.close()
