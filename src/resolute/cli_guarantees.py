"""`resolute support|force|playbook`: the guarantees from the command line, through the same
services as the API."""

from __future__ import annotations

from pathlib import Path

from resolute.cli_workflow import _console, _print, _run


def fx_load(args, actor):
    from resolute.support import services

    n = services.load_fx_csv(actor, Path(args.file).read_bytes(), source=Path(args.file).name)
    _console()[0].print(f"{n} FX rates loaded")
    return 0


def kiel_import(args, actor):
    from resolute.cli import progress_bar
    from resolute.support import services

    data = Path(args.file).read_bytes()
    with progress_bar() as bar:
        task = bar.add_task("Kiel rows", total=None)
        summary = services.import_kiel(actor, data, progress=lambda n: bar.update(task, completed=n))
    for k, v in summary.items():
        _console()[0].print(f"{k}: {v}")
    return 0


def iati_export(args, actor):
    from resolute.accounts.models import User
    from resolute.support import services

    reader = User.objects.get(username=args.as_user) if args.as_user else None
    if reader is None:
        from resolute.errors import InvalidInput

        raise InvalidInput("whose view?", [{"field": "--as", "message": "export as a user: the export contains what that user may see"}])
    Path(args.file).write_bytes(services.export_iati(reader))
    _console()[0].print(f"IATI 2.03 activities written to {args.file}")
    return 0


def totals(args, actor):
    from resolute.accounts.models import User
    from resolute.support import services

    reader = User.objects.filter(username=args.as_user).first() if args.as_user else None
    if args.delivery:
        _print(services.delivery(reader, args.basis))
    else:
        _print(services.totals(reader, tuple(args.by.split(",")), args.basis, args.stage))
    return 0


def force_board(args, actor):
    from resolute.core import forcegen
    from resolute.forces import services
    from resolute.forces.models import Offer, Requirement

    reqs, offers = services.core_view(Requirement.objects.all(), Offer.objects.select_related("member"))
    fills = forcegen.fill_rates(reqs, offers)
    console = _console()[0]
    for r in reqs:
        f = fills[r.id]
        console.print(f"{r.code:7} {r.capability[:50]:50} {f.filled:>4}/{r.quantity:<4} {f.rate:6.0%}  tier {r.tier}", soft_wrap=True)
    console.print(f"overall fill {forcegen.overall_fill(list(fills.values())):.0%}")
    for a in forcegen.alerts(reqs, offers):
        console.print(f"[yellow]alert[/yellow] {a.member}: {a.message}", highlight=False, soft_wrap=True)
    g = services.gate()
    console.print(f"deployment gate: {'OPEN' if g.open else 'closed'} — " + "; ".join(g.reasons), soft_wrap=True)
    return 0


def playbook_run(args, actor):
    from resolute.playbook import services

    runs = services.run_pending(actor)
    late = services.escalate_overdue(actor)
    _console()[0].print(f"{len(runs)} activation(s) taken; {len(late)} overdue task(s) escalated")
    return 0


def what_if(args, actor):
    from resolute.playbook import services

    _print(services.what_if(_system_reader(), set(args.unavailable)))
    return 0


def _system_reader():
    """The CLI reads as an administrator would (it runs on the server, as its operator)."""
    from resolute.accounts.models import User

    return User.objects.filter(role="administrator", is_active=True).order_by("pk").first()


def add_parsers(sub) -> None:
    def cmd(parent, name, handler, help_text, *arguments):
        p = parent.add_parser(name, help=help_text)
        p.add_argument("--as", dest="as_user", help="the user who acts (username)")
        for flags, kw in arguments:
            p.add_argument(*flags, **kw)
        p.set_defaults(func=_run(handler), step=name)

    s = sub.add_parser("support", help="the support ledger").add_subparsers(dest="support_command", required=True)
    cmd(s, "fx-load", fx_load, "load EUR rates (CSV: date, currency, eur_per_unit)", (("file",), {}))
    cmd(s, "import-kiel", kiel_import, "import the Kiel tracker's main data (CSV), all or nothing", (("file",), {}))
    cmd(s, "export-iati", iati_export, "write the ledger as IATI 2.03 XML (what --as may see)", (("file",), {}))
    cmd(s, "totals", totals, "EUR totals (what --as may see)", (("--by",), {"default": "member"}), (("--basis",), {"default": "reported", "choices": ("reported", "price_list", "replacement", "net_book_value")}),
        (("--stage",), {}), (("--delivery",), {"action": "store_true", "help": "delivered / pledged per member"}))
    f = sub.add_parser("force", help="the Multinational Force").add_subparsers(dest="force_command", required=True)
    cmd(f, "board", force_board, "requirements, fill rates, alerts and the deployment gate")
    p = sub.add_parser("playbook", help="the attack-response playbook").add_subparsers(dest="playbook_command", required=True)
    cmd(p, "run", playbook_run, "take pending activations and escalate overdue tasks (run every few minutes)")
    cmd(p, "what-if", what_if, "what remains if these members decline or are blocked", (("unavailable",), {"nargs": "+"}))
