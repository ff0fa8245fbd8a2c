"""The verification and case state machines: every (state, action) pair, against the written workflow."""

from __future__ import annotations

import pytest

from resolute.core.workflow import CASE, VERIFICATION, IllegalTransition, StateMachine

# The workflows as specified, written out independently of the module's tables.
EXPECTED = {
    "verification": {
        ("received", "review_admit"): "reviewed",
        ("received", "review_dismiss"): "dismissed",
        ("reviewed", "task"): "tasked",
        ("tasked", "task"): "tasked",
        ("tasked", "deny_access"): "tasked",
        ("tasked", "report"): "reported",
        ("reported", "task"): "tasked",
        ("reported", "conclude_verified"): "verified",
        ("reported", "conclude_not_verified"): "not_verified",
        ("reported", "conclude_refuted"): "refuted",
    },
    "case": {
        ("open", "add_evidence"): "open",
        ("open", "note"): "open",
        ("open", "invite_parties"): "awaiting_responses",
        ("awaiting_responses", "record_response"): "awaiting_responses",
        ("awaiting_responses", "add_evidence"): "awaiting_responses",
        ("awaiting_responses", "note"): "awaiting_responses",
        ("awaiting_responses", "open_deliberation"): "deliberation",
        ("deliberation", "note"): "deliberation",
        ("deliberation", "add_evidence"): "deliberation",
        ("deliberation", "record_response"): "deliberation",
        ("deliberation", "propose"): "voting",
        ("voting", "vote"): "voting",
        ("voting", "note"): "voting",
        ("voting", "close_adopted"): "decided",
        ("voting", "close_rejected"): "deliberation",
        ("decided", "publish"): "published",
    },
}
FINAL = {"verification": {"dismissed", "verified", "not_verified", "refuted"}, "case": {"published"}}
INITIAL = {"verification": "received", "case": "open"}
MACHINES = pytest.mark.parametrize("machine", [VERIFICATION, CASE], ids=lambda m: m.name)


def _states(name):
    return {s for s, _ in EXPECTED[name]} | set(EXPECTED[name].values()) | FINAL[name]


def _pairs(name):
    actions = sorted({a for _, a in EXPECTED[name]})
    return [(name, s, a) for s in sorted(_states(name)) for a in actions]


@MACHINES
def test_identity_states_and_final(machine):
    assert machine.initial == INITIAL[machine.name]
    assert machine.states() == _states(machine.name)
    assert machine.final == FINAL[machine.name]


@pytest.mark.parametrize("name, state, action", _pairs("verification") + _pairs("case"))
def test_every_state_action_pair(name, state, action):
    machine = {"verification": VERIFICATION, "case": CASE}[name]
    if (state, action) in EXPECTED[name]:
        assert machine.next(state, action) == EXPECTED[name][(state, action)]
    else:
        with pytest.raises(IllegalTransition) as err:
            machine.next(state, action)
        e = err.value
        assert (e.machine, e.state, e.action) == (name, state, action)
        assert e.allowed == tuple(sorted(a for s, a in EXPECTED[name] if s == state))
        assert f"{name} is {state!r}: cannot {action!r}" in str(e)
        assert isinstance(e, ValueError)  # callers that map ValueError to a 4xx keep working


@MACHINES
def test_final_states_allow_nothing_and_others_allow_something(machine):
    for state in machine.states():
        assert (machine.allowed(state) == ()) == (state in machine.final), state


@MACHINES
def test_every_state_reachable_from_initial(machine):
    seen, frontier = {machine.initial}, [machine.initial]
    while frontier:
        state = frontier.pop()
        for action in machine.allowed(state):
            new = machine.next(state, action)
            if new not in seen:
                seen.add(new)
                frontier.append(new)
    assert seen == machine.states()


def test_allowed_is_sorted_and_the_message_lists_it():
    assert VERIFICATION.allowed("tasked") == ("deny_access", "report", "task")
    with pytest.raises(IllegalTransition, match=r"^verification is 'tasked': cannot 'conclude_verified' \(allowed: deny_access, report, task\)$"):
        VERIFICATION.next("tasked", "conclude_verified")


def test_unknown_state_and_action_are_refused():
    with pytest.raises(IllegalTransition, match=r"'archived'.*allowed: none"):
        CASE.next("archived", "note")
    with pytest.raises(IllegalTransition, match="'shred'"):
        CASE.next("open", "shred")


def test_a_whole_verification_with_a_send_back():
    state = VERIFICATION.initial
    for action in ("review_admit", "task", "deny_access", "task", "report", "task", "report", "conclude_refuted"):
        state = VERIFICATION.next(state, action)
    assert state == "refuted" and state in VERIFICATION.final


def test_tables_are_read_only_and_final_states_cannot_leave():
    with pytest.raises(TypeError):
        VERIFICATION.transitions[("verified", "task")] = "tasked"  # type: ignore[index]
    with pytest.raises(ValueError, match="final"):
        StateMachine("x", "a", {("a", "go"): "b", ("b", "back"): "a"}, frozenset({"b"}))
