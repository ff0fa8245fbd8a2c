"""Pages of field verification and the Special Commission: the review queue, a verification, the
Commission's cases and a case, with the forms of each workflow step.

Every read goes through `restrict()`: a record the reader may not see answers 404, exactly as if
it did not exist (docs/markings.md). Every write calls the same service as the API
(commission/api.py), so the state machine, the rules of the step and the audit entry are the
service's; the page only turns form fields into the service's arguments.

Errors: input the page cannot parse and the services' InvalidInput re-render the page (422) with
the message next to the field and what was typed kept, because a long report lost to a typo in a
deadline is work lost; refusals (a step the state does not allow, someone else's lock, the
two-person rule, no quorum) are shown as a message after a redirect back to the page."""

from .cases import case_page, case_refer, case_step, commission
from .verification import review_queue, verification_open, verification_page, verification_step

__all__ = ["case_page", "case_refer", "case_step", "commission", "review_queue", "verification_open", "verification_page", "verification_step"]
