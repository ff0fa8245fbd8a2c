"""`resolute agreement|verification|case|reliability|activations`: every step of the agreement,
field verification and the Special Commission from the command line, through the same services
as the API. Steps that depend on who acts (two-person rule, votes) name the person with --as."""

from __future__ import annotations

import datetime as dt
import json


def _console():
    from resolute.cli import console, err

    return console, err


def _as(args):
    from resolute.accounts.models import User
    from resolute.errors import InvalidInput

    user = User.objects.filter(username=args.as_user, is_active=True).first() if args.as_user else None
    if args.as_user and user is None:
        raise InvalidInput("unknown user", [{"field": "--as", "message": f"no active user {args.as_user}"}])
    return user


def _when(raw: str, field: str) -> dt.datetime:
    from resolute.errors import InvalidInput

    try:
        t = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        t = None
    if t is None or t.tzinfo is None:
        raise InvalidInput("bad time", [{"field": field, "message": "ISO 8601 with offset, e.g. 2026-12-01T12:00Z"}])
    return t


def _get(model, pk, what):
    from resolute.errors import NotFound

    obj = model.objects.filter(pk=pk).first()
    if obj is None:
        raise NotFound(f"no {what} {pk}")
    return obj


def _print(data) -> None:
    console, _ = _console()
    console.print_json(json.dumps(data, default=str))


# -- agreement --------------------------------------------------------------------------------


def agreement_load(args, actor):
    from resolute.agreement import bundle, services

    try:
        b = bundle.load_dir(args.directory)
    except bundle.BundleError as exc:
        _, err = _console()
        for e in exc.errors:
            err.print(f"{e['field']}: {e['message']}", markup=False)
        err.print(f"[red]{len(exc.errors)} problem(s); nothing was loaded[/red]")
        return 1
    version, created = services.load_bundle(actor, b, origin=str(args.directory))
    console, _ = _console()
    console.print(f"version {version.number} ({version.label}) {'in force from ' + version.in_force_from.isoformat() if created else 'already loaded: nothing changed'}")
    if created:
        report = services.judge(actor)
        console.print(f"judged {report.incidents} incidents: {report.created} new findings, {report.superseded} superseded")
    return 0


def agreement_judge(args, actor):
    from resolute.agreement import services

    r = services.judge(actor, incident_ids=args.incident or None)
    _console()[0].print(f"judged {r.incidents} incidents ({r.unjudged} before any version): {r.findings_current} current findings, {r.created} new, {r.superseded} superseded")
    return 0


def agreement_versions(args, actor):
    from resolute.agreement.api import version_summary
    from resolute.agreement.models import AgreementVersion

    _print([version_summary(v) for v in AgreementVersion.objects.order_by("number")])
    return 0


# -- verification -----------------------------------------------------------------------------


def _v(args):
    from resolute.commission.models import Verification

    return _get(Verification, args.id, "verification")


def verification_steps(args, actor):
    from resolute.accounts.models import User
    from resolute.commission import serializers, services
    from resolute.commission.models import Verification
    from resolute.monitoring.models import Incident

    step = args.step
    if step == "queue":
        qs = Verification.objects.filter(state__in=("received", "reviewed", "tasked", "reported")).order_by("pk")
        _print([serializers.verification_out(v) for v in qs])
        return 0
    if step == "show":
        _print(serializers.verification_out(_v(args), detail=True))
        return 0
    if step == "open":
        incident = _get(Incident, args.incident, "incident") if args.incident else None
        v = services.open_verification(actor, args.allegation, args.source, incident)
    elif step == "lock":
        v = services.take_lock(actor, _v(args))
    elif step == "unlock":
        v = services.release_lock(actor, _v(args))
    elif step == "review":
        v = services.review(actor, _v(args), not args.dismiss, args.note)
    elif step == "task":
        lead = User.objects.filter(username=args.lead).first()
        v = services.task(actor, _v(args), args.team, lead, _when(args.deadline, "--deadline"))
    elif step == "report":
        evidence = [{"sha256": e.split(":", 1)[0], "description": e.split(":", 1)[1] if ":" in e else ""} for e in args.evidence]
        services.report(actor, _v(args), args.findings, evidence, [], args.recommend or "")
        v = _v(args)
    elif step == "deny-access":
        services.deny_access(actor, _v(args), args.lat, args.lon, args.by or "", args.note)
        v = _v(args)
    else:  # conclude
        v = services.conclude(actor, _v(args), args.outcome, args.note)
    _console()[0].print(f"verification {v.pk}: {v.state}")
    return 0


# -- the Commission ---------------------------------------------------------------------------


def case_steps(args, actor):
    from resolute.commission import serializers, services
    from resolute.commission.models import Case, Decision
    from resolute.errors import InvalidInput
    from resolute.monitoring.models import Incident

    step = args.step
    if step == "refer":
        case = services.refer(actor, args.title, [_get(Incident, i, "incident") for i in args.incident], args.note)
        _console()[0].print(f"case {case.pk} ({case.number}) opened")
        return 0
    case = _get(Case, args.id, "case")
    if step == "show":
        _print(serializers.case_out(case, detail=True))
        return 0
    if step == "invite":
        services.invite_parties(actor, case, _when(args.deadline, "--deadline"))
    elif step == "respond":
        services.record_response(actor, case, args.party, args.text)
    elif step == "note":
        services.note(actor, case, args.text)
    elif step == "deliberate":
        services.open_deliberation(actor, case)
    elif step == "propose":
        services.propose(actor, case, args.attribution or "", args.breach, args.measure, args.rationale)
    elif step == "vote":
        services.vote(actor, case, args.choice, args.opinion)
    elif step == "close":
        d = services.close_vote(actor, case)
        _console()[0].print(f"adopted: decision {d.pk}" if d else "rejected: the case goes back to deliberation")
    elif step == "publish":
        decision = Decision.objects.filter(case=case).first()
        if decision is None:
            raise InvalidInput("no decision", [{"field": "state", "message": f"case is '{case.state}': no decision to publish"}])
        services.publish(actor, decision)
    case.refresh_from_db()
    _console()[0].print(f"case {case.number}: {case.state}")
    return 0


def reliability_cmd(args, actor):
    from resolute.commission import services
    from resolute.commission.models import ReliabilityDay

    if args.step == "compute":
        n = services.refresh_reliability(actor)
        _console()[0].print(f"reliability index computed for {n} reporting days")
    c = services.reliability_condition()
    for r in ReliabilityDay.objects.order_by("-day")[: args.days][::-1]:
        _console()[0].print(f"{r.day}  index {r.index:6.2f}  violations {r.count:3d}  serious {r.serious}  {'calm' if r.calm else '—'}")
    _console()[0].print(f"condition {'MET' if c.met else 'not met'}: {c.reason}")
    return 0


def activations_cmd(args, actor):
    from resolute.commission import serializers
    from resolute.commission.models import ActivationEvent

    qs = ActivationEvent.objects.order_by("pk")
    if args.status:
        qs = qs.filter(status=args.status)
    _print([serializers.activation_out(a) for a in qs])
    return 0


# -- wiring -----------------------------------------------------------------------------------


def _run(handler):
    def run(args) -> int:
        from resolute.cli import _setup
        from resolute.errors import ServiceError

        _setup(args.data_dir)
        try:
            return handler(args, _as(args) or None)
        except ServiceError as exc:
            _, err = _console()
            err.print(f"[red]{exc.detail}[/red]", highlight=False)
            for e in exc.errors:
                err.print(f"  {e.get('field')}: {e.get('message')}", markup=False)
            return 1

    return run


def add_parsers(sub) -> None:
    def cmd(parent, name, handler, help_text, *arguments, actor=True):
        p = parent.add_parser(name, help=help_text)
        if actor:
            p.add_argument("--as", dest="as_user", help="the user who acts (username)")
        for flags, kw in arguments:
            p.add_argument(*flags, **kw)
        p.set_defaults(func=_run(handler), step=name)
        if not actor:
            p.set_defaults(as_user=None)
        return p

    ID = (("id",), {"type": int})
    NOTE = (("--note",), {"default": ""})

    a = sub.add_parser("agreement", help="the agreement: versions, zones, judging").add_subparsers(dest="agreement_command", required=True)
    cmd(a, "load", agreement_load, "load a bundle directory (agreement.yaml + zones.geojson) as a new version", (("directory",), {}))
    cmd(a, "judge", agreement_judge, "judge incidents against the version in force at their time", (("--incident",), {"type": int, "action": "append", "default": []}))
    cmd(a, "versions", agreement_versions, "list versions", actor=False)

    v = sub.add_parser("verification", help="field verification steps").add_subparsers(dest="verification_command", required=True)
    cmd(v, "queue", verification_steps, "items awaiting action, with ages and clocks", actor=False)
    cmd(v, "show", verification_steps, "one item with reports and history", ID, actor=False)
    cmd(v, "open", verification_steps, "record an allegation", (("--allegation",), {"required": True}), (("--incident",), {"type": int}), (("--source",), {"default": "mission", "choices": ("mission", "party", "member", "public", "ngo")}))
    cmd(v, "lock", verification_steps, "take the 'being reviewed by' lock", ID)
    cmd(v, "unlock", verification_steps, "release your lock", ID)
    cmd(v, "review", verification_steps, "preliminary review (admissible unless --dismiss)", ID, (("--dismiss",), {"action": "store_true"}), NOTE)
    cmd(v, "task", verification_steps, "task a monitoring team", ID, (("--team",), {"required": True}), (("--lead",), {"required": True}), (("--deadline",), {"required": True}))
    cmd(v, "report", verification_steps, "the team's investigation report", ID, (("--findings",), {"required": True}), (("--evidence",), {"action": "append", "default": [], "help": "SHA256[:description]"}), (("--recommend",), {"choices": ("verified", "not_verified", "refuted")}))
    cmd(v, "deny-access", verification_steps, "record that the team was denied access", ID, (("--lat",), {"type": float, "required": True}), (("--lon",), {"type": float, "required": True}), (("--by",), {}), NOTE)
    cmd(v, "conclude", verification_steps, "verified / not_verified / refuted (a second analyst)", ID, (("--outcome",), {"required": True, "choices": ("verified", "not_verified", "refuted")}), NOTE)

    c = sub.add_parser("case", help="the Special Commission's cases").add_subparsers(dest="case_command", required=True)
    cmd(c, "refer", case_steps, "a member's referral", (("--title",), {"required": True}), (("--incident",), {"type": int, "action": "append", "default": []}), NOTE)
    cmd(c, "show", case_steps, "one case", ID, actor=False)
    cmd(c, "invite", case_steps, "invite the parties to respond by a deadline", ID, (("--deadline",), {"required": True}))
    cmd(c, "respond", case_steps, "record a party's response", ID, (("--party",), {"required": True}), (("--text",), {"required": True}))
    cmd(c, "note", case_steps, "add to the deliberation record", ID, (("--text",), {"required": True}))
    cmd(c, "deliberate", case_steps, "open deliberation", ID)
    cmd(c, "propose", case_steps, "put a draft decision to the vote", ID, (("--attribution",), {"default": ""}), (("--breach",), {"required": True, "choices": ("minor", "serious", "armed_attack")}), (("--measure",), {"action": "append", "default": []}), (("--rationale",), {"required": True}))
    cmd(c, "vote", case_steps, "vote on the open proposal", ID, (("--choice",), {"required": True, "choices": ("yes", "no", "abstain")}), (("--opinion",), {"default": ""}))
    cmd(c, "close", case_steps, "close the vote under the decision rule", ID)
    cmd(c, "publish", case_steps, "publish the decision", ID)

    r = sub.add_parser("reliability", help="the reliability index").add_subparsers(dest="reliability_command", required=True)
    for name, text in (("compute", "recompute the daily series (run daily)"), ("show", "print the series and the condition")):
        cmd(r, name, reliability_cmd, text, (("--days",), {"type": int, "default": 21}), actor=False)
    p = sub.add_parser("activations", help="armed-attack activations")
    p.add_argument("--status", choices=("pending", "consumed"))
    p.set_defaults(func=_run(activations_cmd), as_user=None)
