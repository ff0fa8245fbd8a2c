"""Domain signals of element 1, sent after the transaction that caused them has committed."""

from django.dispatch import Signal

#: Sent with `incident_ids` (the incidents a fusion run created, changed, merged or dissolved)
#: once the run's transaction has committed. The agreement app judges them.
incidents_fused = Signal()
