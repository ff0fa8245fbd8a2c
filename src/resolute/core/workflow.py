"""State machines for the Commission's records: field verification and the Special Commission's case.

A machine is a table (state, action) -> new state; anything not in the table is refused with
IllegalTransition, which names the machine, the state, the action and what is allowed instead.
VERIFICATION follows the CTSAMVM workflow (reference/monitoring.md): an allegation is reviewed,
a team is tasked (and may be re-tasked or denied access), reports, and the report is concluded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


class IllegalTransition(ValueError):
    """An action that the machine does not allow in the current state (or an unknown state/action)."""

    def __init__(self, machine: str, state: str, action: str, allowed: tuple[str, ...]):
        self.machine, self.state, self.action, self.allowed = machine, state, action, tuple(allowed)
        super().__init__(f"{machine} is {state!r}: cannot {action!r} (allowed: {', '.join(self.allowed) or 'none'})")


@dataclass(frozen=True)
class StateMachine:
    """A finite state machine; states are the ones the table, `initial` and `final` mention."""

    name: str
    initial: str
    transitions: Mapping[tuple[str, str], str]
    final: frozenset[str]

    def __post_init__(self) -> None:
        # A read-only copy: the module-level machines are shared by every caller.
        object.__setattr__(self, "transitions", MappingProxyType(dict(self.transitions)))
        object.__setattr__(self, "final", frozenset(self.final))
        leaving_final = sorted({s for s, _ in self.transitions} & self.final)
        if leaving_final:
            raise ValueError(f"{self.name}: final states {leaving_final} have transitions")

    def states(self) -> frozenset[str]:
        return frozenset({self.initial, *self.final, *(s for s, _ in self.transitions), *self.transitions.values()})

    def allowed(self, state: str) -> tuple[str, ...]:
        """Actions allowed in `state`, sorted; empty for final and unknown states."""
        return tuple(sorted(a for s, a in self.transitions if s == state))

    def next(self, state: str, action: str) -> str:
        """The state after `action` in `state`; raises IllegalTransition when not allowed."""
        try:
            return self.transitions[(state, action)]
        except KeyError:
            raise IllegalTransition(self.name, state, action, self.allowed(state)) from None


def _table(*rows: str) -> dict[tuple[str, str], str]:
    """Rows written 'state --action--> new' so the tables read like the workflow."""
    table = {}
    for row in rows:
        state, rest = row.split(" --")
        action, new = rest.split("--> ")
        table[(state, action)] = new
    return table


VERIFICATION = StateMachine(
    name="verification",
    initial="received",
    transitions=_table(
        "received --review_admit--> reviewed",
        "received --review_dismiss--> dismissed",
        "reviewed --task--> tasked",
        "tasked --task--> tasked",  # re-tasking: a new team or deadline
        "tasked --deny_access--> tasked",  # recorded against the party; the task stands
        "tasked --report--> reported",
        "reported --task--> tasked",  # sent back for more investigation
        "reported --conclude_verified--> verified",
        "reported --conclude_not_verified--> not_verified",
        "reported --conclude_refuted--> refuted",
    ),
    final=frozenset({"dismissed", "verified", "not_verified", "refuted"}),
)

CASE = StateMachine(
    name="case",
    initial="open",
    transitions=_table(
        "open --add_evidence--> open",
        "open --note--> open",
        "open --invite_parties--> awaiting_responses",
        "awaiting_responses --record_response--> awaiting_responses",
        "awaiting_responses --add_evidence--> awaiting_responses",
        "awaiting_responses --note--> awaiting_responses",
        "awaiting_responses --open_deliberation--> deliberation",
        "deliberation --note--> deliberation",
        "deliberation --add_evidence--> deliberation",
        "deliberation --record_response--> deliberation",  # a party's late response is still heard
        "deliberation --propose--> voting",
        "voting --vote--> voting",
        "voting --note--> voting",
        "voting --close_adopted--> decided",
        "voting --close_rejected--> deliberation",
        "decided --publish--> published",
    ),
    final=frozenset({"published"}),
)
