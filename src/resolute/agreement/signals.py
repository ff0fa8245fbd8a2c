"""Judge incidents against the agreement whenever fusion changes them."""

from __future__ import annotations

import logging

from django.dispatch import receiver

from resolute.monitoring.signals import incidents_fused

log = logging.getLogger(__name__)


@receiver(incidents_fused)
def _judge_fused(sender, incident_ids, **kwargs) -> None:
    from . import services

    try:
        services.judge("system:rules", incident_ids=incident_ids)
    except Exception:
        # Fusion has committed; a failure here must not undo or hide it. The findings are
        # recomputed by the next fusion of these incidents or by `resolute agreement judge`.
        log.exception("judging %d fused incidents failed", len(incident_ids))
