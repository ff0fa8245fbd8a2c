"""The `resolute` command.

    resolute demo [--seed N] [--no-serve]    create/upgrade the data directory, load the demo, serve
    resolute serve [--host H] [--port P]     serve an existing data directory (waitress)
    resolute import FILE [--format F]        import observations (CSV, GeoJSON, JSON Lines)
    resolute audit verify                    recompute the audit hash chain
    resolute bench ingest                    print ingest throughput figures
    resolute user add / token issue          accounts for people and devices
    resolute manage ...                      Django's manage.py commands

The data directory comes from --data-dir, else RESOLUTE_DATA_DIR, else ./resolute-data.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import secrets
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(stderr=False)
err = Console(stderr=True)


def _setup(data_dir: str | None) -> None:
    if data_dir:
        os.environ["RESOLUTE_DATA_DIR"] = str(Path(data_dir).expanduser().resolve())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "resolute.web.settings")
    from resolute.web.config import ConfigError

    try:
        import django

        django.setup()
    except ConfigError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise SystemExit(2) from None
    from django.conf import settings

    Path(settings.DATA_DIR).mkdir(parents=True, exist_ok=True, mode=0o700)


def _migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=False)


def cmd_demo(args) -> int:
    _setup(args.data_dir)
    from django.conf import settings

    from resolute.demo import services as demo

    with console.status("applying migrations"):
        _migrate()
    from resolute.errors import ServiceError

    password = secrets.token_urlsafe(12)
    try:
        with progress_bar() as bar:
            summary = demo.load_demo(seed=args.seed, password=password, progress=bar)
    except ServiceError as exc:
        err.print(f"[red]{exc.detail}[/red]: {exc.errors[:5]}; nothing was loaded")
        return 1
    console.print(f"[bold]Resolute demo[/bold] in {settings.DATA_DIR} ({settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]})")
    for key, value in summary.items():
        console.print(f"  {key}: {value}")
    console.print(f"  demo accounts (password for all, new each run): [bold]{password}[/bold]")
    console.print("  administrator: admin; others: " + ", ".join(u for u in demo.DEMO_USERS if u != "admin"))
    _analyze()
    if args.no_serve:
        return 0
    return _serve(args.host, args.port, args.tak_port)


def _analyze() -> None:
    """Planner statistics after a bulk load: without them SQLite answers a small map view by
    scanning every incident (docs/operations.md)."""
    from django.db import connection

    with connection.cursor() as c:
        c.execute("ANALYZE")


def cmd_serve(args) -> int:
    _setup(args.data_dir)
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    if MigrationExecutor(connection).migration_plan(MigrationExecutor(connection).loader.graph.leaf_nodes()):
        err.print("[red]the database needs migrations:[/red] run `resolute demo --no-serve` or `resolute manage migrate`")
        return 2
    return _serve(args.host, args.port, args.tak_port)


def _serve(host: str, port: int, tak_port: int = 0) -> int:
    import waitress
    from django.conf import settings

    from resolute.web.wsgi import application

    listener = None
    if tak_port:
        from resolute.cli_interop import start_tak_listener

        listener, bound = start_tak_listener(host, tak_port)
        console.print(f"TAK / CoT listener on [bold]{host}:{bound}[/bold] (TCP; events filed under source TAK)")
    console.print(f"OpenRosa for ODK Collect: [bold]http://{host}:{port}/openrosa/[/bold] (a monitor's username and device token)")
    console.print(f"serving on [bold]http://{host}:{port}/[/bold]  (API docs: http://{host}:{port}/api/v1/docs; Ctrl-C stops)")
    try:
        # Waitress would otherwise buffer up to 1 GB of a chunked body before Django sees it.
        waitress.serve(
            application, host=host, port=port, threads=8, ident="resolute", clear_untrusted_proxy_headers=True,
            max_request_body_size=settings.MAX_BODY_BYTES,
        )  # fmt: skip
    finally:
        if listener is not None:
            listener.stop()
    return 0


def cmd_import(args) -> int:
    _setup(args.data_dir)
    from pydantic import TypeAdapter, ValidationError

    from resolute.errors import ServiceError, pydantic_errors
    from resolute.monitoring import importers, services
    from resolute.monitoring.schemas import ObservationIn

    path = Path(args.file)
    if not path.is_file():
        err.print(f"[red]no such file:[/red] {path}")
        return 2
    one = TypeAdapter(ObservationIn)
    items, errors = [], []
    try:
        rows = list(importers.read(path, args.format))
    except importers.RowError as exc:
        err.print(str(exc), markup=False)
        return 2
    with progress_bar() as bar:
        task = bar.add_task("validating", total=len(rows))
        for k, (line, payload) in enumerate(rows, start=1):
            if isinstance(payload, importers.RowError):
                errors.append((line, "(row)", str(payload)))
            else:
                try:
                    items.append(one.validate_python(payload))
                except ValidationError as exc:
                    errors.extend((line, e["field"], e["message"]) for e in pydantic_errors(exc))
            if k % 2000 == 0 or k == len(rows):
                bar.update(task, completed=k)
        unit = "feature" if (args.format or importers.detect_format(path)) == "geojson" else "line"
        if not errors:
            task = bar.add_task("storing", total=len(items))
            try:
                result = services.submit_observations(items, None, intake="import", progress=lambda n: bar.update(task, completed=n))
            except ServiceError as exc:
                # Every row was valid, so item i is row i: report by the file's own numbering.
                for e in exc.errors:
                    m = re.match(r"^\[(\d+)\]\.?(.*)$", e["field"])
                    line, field = (rows[int(m.group(1))][0], m.group(2) or "(row)") if m else ("?", e["field"])
                    errors.append((line, field, e["message"]))
                errors = errors or [("?", "(file)", exc.detail)]
        if errors:
            bar.stop()
            for line, field, message in errors[:100]:
                # File content goes out verbatim: no rich markup from data.
                err.print(f"{path.name}:{unit} {line}: {field}: {message}", markup=False, highlight=False)
            if len(errors) > 100:
                err.print(f"… and {len(errors) - 100} more")
            err.print(f"[red]{len(errors)} error(s); nothing was imported[/red]")
            return 1
        bar.update(task, completed=len(items))
    console.print(f"imported {len(result.created)} new observation(s); {len(result.existing)} already stored")
    if result.created and not args.no_fuse:
        from resolute.monitoring import fusion

        with console.status("fusing the new observations into incidents"):
            report = fusion.fuse(None, observation_ids=result.created)
        console.print(f"incidents: {report.created} new, {report.updated} updated, {report.merged} merged")
    return 0


def cmd_fuse(args) -> int:
    _setup(args.data_dir)
    import datetime as dt

    from resolute.monitoring import fusion
    from resolute.monitoring.models import Observation

    since = None
    if args.since:
        try:
            since = dt.datetime.fromisoformat(args.since.replace("Z", "+00:00"))
        except ValueError:
            err.print(f"--since: not an ISO 8601 time: {args.since}", markup=False)
            return 2
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.timezone.utc)
    ids = list(Observation.objects.filter(incident__isnull=True).values_list("pk", flat=True)) if args.pending else None
    with progress_bar() as bar:
        task = bar.add_task("fusing", total=None)
        report = fusion.fuse(None, since=since, observation_ids=ids, progress=lambda k: bar.update(task, completed=k))
        bar.update(task, total=max(report.incidents, 1), completed=report.incidents)
    console.print(
        f"{report.observations} observations → {report.incidents} incidents ({report.located} located): "
        f"{report.created} new, {report.updated} updated, {report.merged} merged, {report.split} split, {report.dissolved} dissolved"
    )
    console.print("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in report.seconds.items()))
    return 0


def cmd_reestimate(args) -> int:
    _setup(args.data_dir)
    from resolute.monitoring import fusion

    report = fusion.reestimate_sources(None, strength=args.strength)
    if report.reason:
        console.print(f"nothing re-estimated: {report.reason} ({report.verified} verified, {report.refuted} refuted)")
        return 0
    for code, change in sorted(report.changed.items()):
        tp, fp = change["after"]
        console.print(f"{code}: P(report|real) {tp:.3f}, P(report|not real) {fp:.3f}, likelihood ratio {tp / fp:.2f}", markup=False)
    console.print(f"re-estimated {len(report.changed)} source(s) from {report.verified} verified and {report.refuted} refuted incidents")
    return 0


def cmd_audit_verify(args) -> int:
    _setup(args.data_dir)
    from resolute.audit import services as audit

    with console.status("verifying the audit chain"):
        result = audit.verify()
    if result.ok:
        console.print(f"audit chain intact: {result.count} entries")
        return 0
    if result.broken_seq is not None:
        err.print(f"[red]audit chain broken at entry {result.broken_seq}:[/red] {result.reason} ({result.count} entries verified before it)")
    else:
        err.print(f"[red]audit chain broken:[/red] {result.reason} ({result.count} entries verified)")
    return 1


def cmd_bench(args) -> int:
    from resolute import bench

    return bench.main(args)


def cmd_user_add(args) -> int:
    _setup(args.data_dir)
    from resolute.accounts import services
    from resolute.core.markings import Classification
    from resolute.errors import ServiceError

    password = args.password or secrets.token_urlsafe(12)
    try:
        services.create_user(None, args.username, args.role, nation=args.nation, clearance=Classification[args.clearance], password=password)
    except ServiceError as exc:
        err.print(f"[red]{exc.detail}[/red] {exc.errors}")
        return 2
    console.print(f"created {args.username} ({args.role}); password: {password}")
    return 0


def cmd_token_issue(args) -> int:
    _setup(args.data_dir)
    from resolute.accounts import services
    from resolute.accounts.models import User

    user = User.objects.filter(username=args.username).first()
    if user is None:
        err.print(f"[red]no such user:[/red] {args.username}")
        return 2
    token, secret = services.issue_token(None, user, args.name, tuple(args.scope))
    console.print(f"token {token.pk} for {user.username} ({' '.join(args.scope)}); shown once:\n{secret}")
    return 0


def cmd_manage(args) -> int:
    _setup(args.data_dir)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["resolute manage", *args.rest])
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="resolute", description="Resolute: ceasefire monitoring and guarantees.")
    p.add_argument("--data-dir", help="data directory (default: RESOLUTE_DATA_DIR or ./resolute-data)")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="create the database, load the demo scenario and serve")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--no-serve", action="store_true", help="load and print a summary, do not serve")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=8000)
    d.add_argument("--tak-port", type=int, default=8087, help="TAK/CoT listener port beside the web server (0: none)")
    d.set_defaults(func=cmd_demo)

    s = sub.add_parser("serve", help="serve an existing data directory")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--tak-port", type=int, default=0, help="also run the TAK/CoT listener on this port (0: none)")
    s.add_argument("--port", type=int, default=8000)
    s.set_defaults(func=cmd_serve)

    i = sub.add_parser("import", help="import observations from a file, all or nothing")
    i.add_argument("file")
    i.add_argument("--format", choices=("csv", "geojson", "jsonl"))
    i.add_argument("--no-fuse", action="store_true", help="store only; run `resolute fuse --pending` later")
    i.set_defaults(func=cmd_import)

    f = sub.add_parser("fuse", help="fuse observations into incidents (batch)")
    f.add_argument("--since", help="only observations whose window ends at or after this UTC time (ISO 8601)")
    f.add_argument("--pending", action="store_true", help="only observations not yet in an incident, and their neighbourhood")
    f.set_defaults(func=cmd_fuse)

    r = sub.add_parser("reestimate-sources", help="re-estimate sources' reporting rates from verified incidents")
    r.add_argument("--strength", type=float, default=20.0, help="weight of the grade's prior, in incidents")
    r.set_defaults(func=cmd_reestimate)

    a = sub.add_parser("audit", help="audit log tools")
    asub = a.add_subparsers(dest="audit_command", required=True)
    av = asub.add_parser("verify", help="recompute the hash chain")
    av.set_defaults(func=cmd_audit_verify)

    b = sub.add_parser("bench", help="benchmarks that print figures")
    bsub = b.add_subparsers(dest="bench_command", required=True)
    bi = bsub.add_parser("ingest", help="observations per second: CLI import, API bulk, single POSTs")
    bi.add_argument("--count", type=int, default=50_000, help="observations for the import and bulk paths")
    bi.add_argument("--single", type=int, default=2_000, help="single POSTs to send")
    bi.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    bi.set_defaults(func=cmd_bench)
    bf = bsub.add_parser("fusion", help="fusion accuracy against the demo world's ground truth, and stage throughput")
    bf.add_argument("--seeds", type=int, nargs="+", help="demo seeds to score one by one (default 7 11 23 42)")
    bf.add_argument("--large", type=int, default=10, help="demo weeks laid back to back for the large world (0: skip)")
    bf.add_argument("--points", type=int, default=1_000_000, help="synthetic points for the correlation timing (0: skip)")
    bf.add_argument("--no-geometry", action="store_true", help="skip the synthetic bearing-geometry check")

    def cmd_bench_fusion(args) -> int:
        from resolute import bench_fusion

        return bench_fusion.main(args)

    bf.set_defaults(func=cmd_bench_fusion)
    bt = bsub.add_parser("tak", help="CoT events/s from a real pytak client, persisted in a scratch database")
    bt.add_argument("--events", type=int, default=10_000)
    bt.add_argument("--sink", choices=("database", "none"), default="database")
    bt.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite", help="postgresql: a throwaway server from the machine's binaries")

    def cmd_bench_tak(args) -> int:
        from resolute import bench_tak

        return bench_tak.main(args)

    bt.set_defaults(func=cmd_bench_tak)
    bm = bsub.add_parser("map", help="situation map with many incidents: answer time, payload, first render in Chromium")
    bm.add_argument("--incidents", type=int, default=100_000)
    bm.add_argument("--repeat", type=int, default=5)
    bm.add_argument("--no-analyze", dest="analyze", action="store_false", help="skip ANALYZE after loading (SQLite planner statistics)")

    def cmd_bench_map(args) -> int:
        from resolute import bench_map

        return bench_map.main(args)

    bm.set_defaults(func=cmd_bench_map)

    u = sub.add_parser("user", help="people")
    usub = u.add_subparsers(dest="user_command", required=True)
    ua = usub.add_parser("add")
    ua.add_argument("username")
    ua.add_argument("--role", required=True)
    ua.add_argument("--nation", default="")
    ua.add_argument("--clearance", default="PUBLIC", choices=("PUBLIC", "RESTRICTED", "CONFIDENTIAL", "SECRET"))
    ua.add_argument("--password")
    ua.set_defaults(func=cmd_user_add)

    t = sub.add_parser("token", help="API tokens for machines and devices")
    tsub = t.add_subparsers(dest="token_command", required=True)
    ti = tsub.add_parser("issue")
    ti.add_argument("username")
    ti.add_argument("--name", default="device")
    ti.add_argument("--scope", action="append", choices=("read", "write"), default=None)
    ti.set_defaults(func=cmd_token_issue)

    from resolute import cli_guarantees, cli_interop, cli_workflow

    cli_workflow.add_parsers(sub)
    cli_guarantees.add_parsers(sub)
    cli_interop.add_parsers(sub)

    m = sub.add_parser("manage", help="Django management commands")
    m.add_argument("rest", nargs=argparse.REMAINDER)
    m.set_defaults(func=cmd_manage)
    return p


def main(argv: list[str] | None = None) -> int:
    # Intake allocates millions of short-lived objects without reference cycles; the default
    # collector thresholds made garbage collection a third of the import time. A higher first
    # threshold keeps cyclic collection, just less often.
    gc.set_threshold(50_000, 20, 20)
    args = build_parser().parse_args(argv)
    if getattr(args, "scope", "x") is None:
        args.scope = ["read"]
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
