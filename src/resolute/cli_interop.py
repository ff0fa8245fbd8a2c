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


def add_parsers(sub) -> None:
    p = sub.add_parser("import-events", help="import ACLED or UCDP GED CSV as open-source observations (all or nothing)")
    p.add_argument("file")
    p.add_argument("--dataset", required=True, choices=("acled", "ucdp"))
    p.add_argument("--source", help="source code to file them under (default OSINT-ACLED / OSINT-UCDP)")
    p.add_argument("--no-fuse", action="store_true")
    p.set_defaults(func=_run(import_events), as_user=None)
