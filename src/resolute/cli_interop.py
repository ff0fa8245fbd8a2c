"""`resolute import-events FILE --dataset acled|ucdp`: other people's event data, as open-source
observations through the intake service."""

from __future__ import annotations

from pathlib import Path

from resolute.cli_workflow import _console, _run


def import_events(args, actor):
    from resolute.interop import services

    console = _console()[0]
    with console.status(f"reading {args.file} as {args.dataset.upper()}"):
        summary = services.import_events(actor or None, Path(args.file).read_bytes(), args.dataset, args.source)
    ids = summary.pop("created_ids")
    for k, v in summary.items():
        console.print(f"{k}: {v}", markup=False)
    if ids and not args.no_fuse:
        from resolute.monitoring import fusion

        with console.status("fusing the new observations into incidents"):
            report = fusion.fuse(None, observation_ids=ids)
        console.print(f"incidents: {report.created} new, {report.updated} updated")
    return 0


class BackgroundListener:
    """The TAK listener on its own event loop in a thread, beside the web server."""

    def __init__(self, listener, loop, thread):
        self.listener, self.loop, self.thread = listener, loop, thread

    def stop(self, timeout: float = 10.0) -> None:
        import asyncio

        # close() hands everything received to the sink before it returns: nothing is lost.
        asyncio.run_coroutine_threadsafe(self.listener.close(), self.loop).result(timeout)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout)


def start_tak_listener(host: str, port: int, source: str = "TAK") -> tuple[BackgroundListener, int]:
    """Start a TCP CoT listener in a background thread; return it and the port it bound."""
    import asyncio
    import threading

    from resolute.interop import services, tak
    from resolute.monitoring import services as monitoring

    monitoring.register_source("system:tak", source, f"TAK feed {source}", "patrol", "B", 2, "")
    listener = tak.TakListener(services.cot_sink(), source_code=source, host=host, port=port)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="tak-listener", daemon=True)
    thread.start()
    bound = asyncio.run_coroutine_threadsafe(listener.start(), loop).result(30)
    asyncio.run_coroutine_threadsafe(listener.serve_forever(), loop)
    return BackgroundListener(listener, loop, thread), bound


def tak_listen(args, actor):
    """Run the TAK listener until interrupted."""
    import asyncio

    from resolute.interop import services, tak
    from resolute.monitoring import services as monitoring

    monitoring.register_source("system:tak", args.source, f"TAK feed {args.source}", "patrol", "B", 2, "")
    context = tak.tls_context(args.tls_cert, args.tls_key, args.client_ca) if args.tls_cert else None
    listener = tak.TakListener(services.cot_sink(), source_code=args.source, host=args.host, port=args.port, ssl=context)

    async def run() -> None:
        port = await listener.start()
        _console()[0].print(f"listening for CoT on {args.host}:{port} ({'TLS, client certificates required' if context else 'TCP'}); Ctrl-C stops")
        try:
            await listener.serve_forever()
        finally:
            await listener.close()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    _console()[0].print(f"stopped: {dict(listener.stats)}")
    return 0


def tak_publish(args, actor):
    """Publish the incidents a named reader may see to a TAK server."""
    import datetime as dt

    from resolute.accounts.models import User
    from resolute.errors import InvalidInput
    from resolute.interop import cot_out
    from resolute.monitoring.api import LIVE
    from resolute.monitoring.models import Incident
    from resolute.monitoring.serializers import incident_feature

    reader = User.objects.filter(username=args.as_user, is_active=True).first() if args.as_user else None
    if reader is None:
        raise InvalidInput("whose view?", [{"field": "--as", "message": "publish as a user: units receive what that user may see"}])
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=args.hours)
    rows = Incident.objects.restrict(reader).filter(lat__isnull=False, status__in=LIVE, last_seen__gte=since).order_by("pk")
    if args.min_confidence is not None:
        rows = rows.filter(confidence__gte=args.min_confidence)
    n = cot_out.publish([incident_feature(i) for i in rows], args.url)
    _console()[0].print(f"{n} incident(s) published to {args.url} as {reader.username} sees them")
    return 0


def report_daily(args, actor):
    """Generate and store both editions of one day's report."""
    import datetime as dt

    from resolute.accounts.models import User
    from resolute.errors import InvalidInput
    from resolute.reports import services as reports

    reader = User.objects.filter(username=args.as_user, is_active=True).first() if args.as_user else None
    if reader is None:
        raise InvalidInput("whose view?", [{"field": "--as", "message": "the restricted edition holds what this user may see"}])
    try:
        day = dt.date.fromisoformat(args.date) if args.date else dt.date.today()
    except ValueError:
        raise InvalidInput("bad date", [{"field": "--date", "message": "YYYY-MM-DD"}]) from None
    for r in reports.generate_daily(f"cli:{reader.username}", day, reader):
        _console()[0].print(f"{r.day} {r.edition}: {len(r.html)} characters of HTML, {len(r.pdf)} bytes of PDF")
    _console()[0].print(f"browse: /reports/{day}/public.html and /reports/{day}/restricted.html")
    return 0


def add_parsers(sub) -> None:
    r = sub.add_parser("report", help="publications").add_subparsers(dest="report_command", required=True)
    d = r.add_parser("daily", help="generate both editions of a day's report (19:30-19:30 Kyiv), HTML and PDF")
    d.add_argument("--date", help="reporting day, YYYY-MM-DD (default today)")
    d.add_argument("--as", dest="as_user", required=True, help="the restricted edition holds what this user may see")
    d.set_defaults(func=_run(report_daily))
    o = sub.add_parser("tak-publish", help="publish recent incidents as CoT to a TAK server")
    o.add_argument("--url", required=True, help="tcp://host:port or tls://host:port")
    o.add_argument("--as", dest="as_user", required=True, help="publish what this user may see")
    o.add_argument("--hours", type=float, default=24.0, help="incidents seen in the last N hours")
    o.add_argument("--min-confidence", type=float)
    o.set_defaults(func=_run(tak_publish))
    t = sub.add_parser("tak-listen", help="accept Cursor on Target events from TAK devices and servers")
    t.add_argument("--host", default="0.0.0.0")
    t.add_argument("--port", type=int, default=8087)
    t.add_argument("--source", default="TAK", help="source code the events are filed under")
    t.add_argument("--tls-cert")
    t.add_argument("--tls-key")
    t.add_argument("--client-ca", help="CA that signs the devices' client certificates (required with TLS)")
    t.set_defaults(func=_run(tak_listen), as_user=None)

    p = sub.add_parser("import-events", help="import ACLED or UCDP GED CSV as open-source observations (all or nothing)")
    p.add_argument("file")
    p.add_argument("--dataset", required=True, choices=("acled", "ucdp"))
    p.add_argument("--source", help="source code to file them under (default OSINT-ACLED / OSINT-UCDP)")
    p.add_argument("--no-fuse", action="store_true")
    p.set_defaults(func=_run(import_events), as_user=None)
