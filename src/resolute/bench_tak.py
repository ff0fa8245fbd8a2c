"""`resolute bench tak`: a burst of CoT events from the real pytak client (a separate process)
to the TAK listener, persisted through the intake service into a scratch SQLite database, then
counted in the database. Prints events/s and losses; the anchors (docs/interop.md): taky 5,000
events in 0.29 s with no loss; FreeTAKServer lost about half of a 1,000-event burst."""

from __future__ import annotations

import os
import platform
import tempfile


def main(args) -> int:
    from rich.console import Console

    console = Console()
    with tempfile.TemporaryDirectory(prefix="resolute-bench-tak-") as tmp:
        os.environ["RESOLUTE_DATA_DIR"] = tmp
        os.environ["RESOLUTE_FUSION_ON_INTAKE"] = "0"  # measure intake, not fusion
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "resolute.web.settings")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        from resolute.interop import services, tak
        from resolute.monitoring import services as monitoring
        from resolute.monitoring.models import Observation

        monitoring.register_source("system:bench", "BENCH", "TAK bench feed", "patrol", "B", 2, "")
        sink = services.cot_sink("system:bench") if args.sink == "database" else None
        result = tak.bench(args.events, sink=sink, source_code="BENCH")
        stored = Observation.objects.filter(intake="cot").count()
    console.print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    console.print(f"sent {args.events} CoT events with pytak; listener stats {result['stats']}")
    console.print(f"sink: {result['sink']}; {result['events_per_s']:.0f} events/s")
    if sink is not None:
        console.print(f"in the database: {stored} of {args.events} ({args.events - stored} lost)")
    return 0 if sink is None or stored == args.events else 1
