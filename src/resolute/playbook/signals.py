"""Run the playbook as soon as the Commission determines an armed attack."""

from __future__ import annotations

import logging

from django.dispatch import receiver

from resolute.commission.signals import activation_determined

log = logging.getLogger(__name__)


@receiver(activation_determined)
def _activate(sender, event_id, **kwargs) -> None:
    from . import services

    try:
        services.run_pending("system:playbook")
    except Exception:
        # The determination has committed; the event stays pending and `resolute playbook run`
        # (or the next determination) takes it.
        log.exception("the playbook could not take activation %s", event_id)
