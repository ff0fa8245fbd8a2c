"""Domain signals of the Commission, sent after the transaction that caused them has committed."""

from django.dispatch import Signal

#: Sent with `event_id` once an armed-attack determination's ActivationEvent has committed.
#: The guarantee playbook takes it (playbook/signals.py).
activation_determined = Signal()
