"""Element 4: the binding commitments that activate on a renewed armed attack — instruments,
activation rules, each member's pre-pledged response packages — and, on activation, the response
tasks with their clocks."""

from __future__ import annotations

from django.db import models

from resolute.accounts.restrict import MarkedModel

BINDING = (("draft", "draft"), ("political", "political"), ("legally_binding", "legally binding"))
DOMAINS = ("military_capabilities", "intelligence", "logistics", "diplomatic", "sanctions")


class Instrument(MarkedModel):
    """The declaration, a bilateral security agreement…: what binds whom, how strongly, how long."""

    resource = "playbook"
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=[("declaration", "declaration"), ("bilateral", "bilateral agreement")])
    members = models.JSONField(default=list, help_text="member codes bound by it")
    binding = models.CharField(max_length=20, choices=BINDING)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    # The activation rule: what triggers it and the clocks it sets.
    trigger = models.CharField(max_length=20, choices=[("armed_attack", "armed attack determination"), ("serious", "serious breach or worse")], default="armed_attack")
    consultations_hours = models.PositiveIntegerField(default=24)
    senior_meeting_hours = models.PositiveIntegerField(default=72)


class ResponsePackage(MarkedModel):
    resource = "playbook"
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="packages")
    member = models.ForeignKey("monitoring.CoalitionMember", on_delete=models.PROTECT, related_name="response_packages")
    domain = models.CharField(max_length=30, choices=[(d, d.replace("_", " ")) for d in DOMAINS])
    description = models.TextField()
    value_eur = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    pledge = models.ForeignKey("support.Pledge", null=True, blank=True, on_delete=models.PROTECT, related_name="response_packages")
    national_step = models.CharField(max_length=200, blank=True, help_text="e.g. parliamentary vote")
    national_step_hours = models.PositiveIntegerField(default=0)


class Activation(MarkedModel):
    """The playbook run for one armed-attack determination (one per event: it cannot run twice)."""

    resource = "playbook"
    event = models.OneToOneField("commission.ActivationEvent", on_delete=models.PROTECT, related_name="playbook_run")
    started_at = models.DateTimeField()
    breach_class = models.CharField(max_length=20)
    attribution = models.CharField(max_length=3, blank=True)


class ResponseTask(MarkedModel):
    resource = "playbook"
    activation = models.ForeignKey(Activation, on_delete=models.PROTECT, related_name="tasks")
    key = models.CharField(max_length=60)
    kind = models.CharField(max_length=20)
    title = models.CharField(max_length=300)
    member = models.CharField(max_length=3, blank=True)
    package = models.ForeignKey(ResponsePackage, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, default="open", choices=[(s, s) for s in ("open", "done", "declined", "blocked")])
    done_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["activation", "key"], name="one_task_per_key")]
