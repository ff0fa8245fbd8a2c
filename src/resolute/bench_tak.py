"""`resolute bench tak`: a burst of CoT events from the real pytak client (a separate process)
to the TAK listener, persisted through the intake service into a scratch database (SQLite in a
temporary directory, or a throwaway PostgreSQL server), then counted in the database. Prints
events/s and losses beside the anchors (docs/interop.md): taky 5,000 events in 0.29 s with no
loss; FreeTAKServer lost about half of a 1,000-event burst."""

from __future__ import annotations

import contextlib
import os
import platform
import tempfile

# (name, events sent, seconds, events lost, what was reported); None where not reported.
ANCHORS = (
    ("taky", 5_000, 0.29, 0, "5,000 events in 0.29 s, no loss"),
    ("FreeTAKServer", 1_000, None, 500, "lost about half of a 1,000-event burst"),
)
TARGET_EVENTS_PER_S = 10_000


def main(args) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    backend = getattr(args, "backend", None) or "sqlite"
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="resolute-bench-tak-"))
        os.environ["RESOLUTE_DATA_DIR"] = tmp
        # A scratch database only: never the one the caller's environment points at.
        os.environ.pop("RESOLUTE_DATABASE_URL", None)
        if backend == "postgresql":
            from resolute.pgserver import ThrowawayPostgres

            ok, why = ThrowawayPostgres.available()
            if not ok:
                console.print(f"no PostgreSQL server binaries: {why}")
                return 1
            # fast=False: fsync and synchronous_commit on, as in service.
            pg = stack.enter_context(ThrowawayPostgres(fast=False))
            os.environ["RESOLUTE_DATABASE_URL"] = pg.url
        os.environ["RESOLUTE_FUSION_ON_INTAKE"] = "0"  # measure intake, not fusion
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "resolute.web.settings")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        from resolute.audit.models import AuditEntry
        from resolute.interop import services, tak
        from resolute.interop.models import CotDetail
        from resolute.monitoring import services as monitoring
        from resolute.monitoring.models import Observation

        monitoring.register_source("system:bench", "BENCH", "TAK bench feed", "patrol", "B", 2, "")
        sink = services.cot_sink("system:bench") if args.sink == "database" else None
        load_before = os.getloadavg()
        result = tak.bench(args.events, sink=sink, source_code="BENCH")
        load_after = os.getloadavg()
        stored = Observation.objects.filter(intake="cot").count()
        details = CotDetail.objects.count()
        audited = sum(AuditEntry.objects.filter(action="observation.submit").values_list("batch_count", flat=True))
        transactions = AuditEntry.objects.filter(action="observation.submit").count()
        from django.db import connections

        connections.close_all()  # before a PostgreSQL server is stopped

    n = args.events
    lost = n - stored if sink is not None else n - result["persisted"]
    console.print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    console.print(f"load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f} (other work on the machine lowers the figure)")
    console.print(f"sent {n} CoT events with pytak; listener stats {result['stats']}")
    console.print(f"sink: {result['sink']}" + (f" on {backend}" if sink is not None else ""))
    if sink is not None:
        console.print(
            f"in the database: {stored} of {n} observations ({lost} lost), {details} raw details, "
            f"{audited} in {transactions} audited transactions"
        )
    table = Table(title=f"CoT burst, target {TARGET_EVENTS_PER_S:,} events/s persisted with no loss")
    for col in ("", "events", "seconds", "events/s", "lost"):
        table.add_column(col, justify="left" if not col else "right")
    who = f"Resolute ({'database, ' + backend if sink is not None else 'no sink'})"
    table.add_row(who, f"{n:,}", f"{result['seconds']:.3f}", f"{result['events_per_s']:,.0f}", f"{lost:,}")
    for name, events, seconds, anchor_lost, note in ANCHORS:
        rate = f"{events / seconds:,.0f}" if seconds else "-"
        table.add_row(f"{name} ({note})", f"{events:,}", f"{seconds:.2f}" if seconds else "-", rate, f"~{anchor_lost:,}" if anchor_lost else "0")
    console.print(table)
    return 0 if lost == 0 else 1
