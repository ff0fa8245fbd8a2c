"""The Special Commission's decision rule: quorum, consensus, qualified and simple majority."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resolute.core.voting import CHOICES, Ballot, DecisionRule, Outcome, tally

NATIONS = (  # 35 seats
    "USA", "FRA", "GBR", "DEU", "POL", "ITA", "CAN", "NLD", "NOR", "DNK", "SWE", "FIN", "EST", "LVA", "LTU", "BEL", "ESP", "PRT",
    "IRL", "ISL", "LUX", "CZE", "SVK", "SVN", "HRV", "ROU", "BGR", "GRC", "TUR", "AUS", "NZL", "JPN", "AUT", "CYP", "ALB",
)


def vote(yes: int, no: int, abstain: int = 0, seats: int = 9, chair: str | None = None, **rule) -> Outcome:
    """Ballots in seat order: first the yes, then the no, then the abstentions; the rest do not vote."""
    members = NATIONS[:seats]
    choices = ["yes"] * yes + ["no"] * no + ["abstain"] * abstain
    return tally(members, [Ballot(s, c) for s, c in zip(members, choices)], DecisionRule(**rule), chair)


# --- quorum -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seats, quorum, required", [
    (9, 2 / 3, 6), (3, 2 / 3, 2), (10, 2 / 3, 7), (12, 2 / 3, 8), (10, 0.2, 2), (5, 0.6, 3), (7, 0.5, 4), (1, 1.0, 1), (35, 2 / 3, 24),
])
def test_quorum_is_the_ceiling_of_the_exact_fraction(seats, quorum, required):
    assert vote(0, 0, seats=seats, quorum=quorum).required_for_quorum == required


def test_quorum_edge_counts_abstentions():
    at = vote(1, 0, 5, seats=9, mode="consensus")  # 6 of 9 cast: exactly 2/3
    below = vote(1, 0, 4, seats=9, mode="consensus")
    assert (at.quorum_met, at.adopted) == (True, True)
    assert (below.quorum_met, below.adopted) == (False, False)
    assert "no quorum: 6 ballots needed (2/3 of 9 seats)" in below.reason


@pytest.mark.parametrize("mode", ["consensus", "qualified_majority", "simple_majority"])
def test_without_quorum_even_unanimity_is_not_adopted(mode):
    out = vote(5, 0, seats=9, mode=mode)
    assert (out.quorum_met, out.adopted, out.cast) == (False, False, 5)


# --- consensus ----------------------------------------------------------------------------------


@pytest.mark.parametrize("yes, no, abstain, adopted, why", [
    (9, 0, 0, True, "at least one yes and no objection"),
    (1, 0, 8, True, "at least one yes and no objection"),  # abstentions do not block
    (8, 1, 0, False, "consensus blocked by 1 no"),
    (0, 0, 9, False, "consensus needs at least one yes"),
])
def test_consensus(yes, no, abstain, adopted, why):
    out = vote(yes, no, abstain, mode="consensus")
    assert out.adopted is adopted and why in out.reason
    assert out.reason.startswith("Adopted" if adopted else "Not adopted")


# --- qualified majority -------------------------------------------------------------------------


@pytest.mark.parametrize("yes, no, abstain, adopted", [
    (2, 1, 3, True),  # exactly 2/3
    (4, 2, 0, True),  # exactly 2/3
    (5, 3, 0, False),  # 0.625
    (3, 2, 4, False),  # 0.6
    (6, 2, 1, True),
    (1, 0, 5, True),  # abstentions are not counted against
    (0, 0, 6, False),  # nobody for it
])
def test_qualified_majority_of_two_thirds(yes, no, abstain, adopted):
    out = vote(yes, no, abstain, seats=9)
    assert out.quorum_met and out.adopted is adopted
    assert f"{yes} of {yes + no} yes-or-no votes" in out.reason and "2/3 qualified majority" in out.reason


@pytest.mark.parametrize("threshold, yes, no, adopted", [
    (0.8, 4, 1, True),  # 0.8 as a float is slightly above 4/5; still exactly reached
    (0.8, 7, 2, False),
    (0.75, 3, 1, True),
    (0.75, 5, 2, False),
    (0.55, 11, 9, True),
    (0.55, 10, 9, False),
    (1.0, 9, 0, True),
    (1.0, 8, 1, False),
])
def test_other_qualified_thresholds_at_and_around_the_boundary(threshold, yes, no, adopted):
    assert vote(yes, no, seats=20, quorum=0.05, threshold=threshold).adopted is adopted


# --- simple majority and the casting vote -------------------------------------------------------


@pytest.mark.parametrize("yes, no, abstain, adopted", [(4, 3, 2, True), (3, 4, 2, False), (1, 0, 5, True), (0, 0, 9, False)])
def test_simple_majority(yes, no, abstain, adopted):
    out = vote(yes, no, abstain, mode="simple_majority")
    assert out.adopted is adopted and not out.casting_vote_used


@pytest.mark.parametrize("chair, casting_vote, adopted, used", [
    ("USA", True, True, True),  # USA is among the yes
    ("POL", True, False, True),  # POL (5th seat) is among the no
    ("CAN", True, False, False),  # CAN abstained
    ("NOR", True, False, False),  # NOR did not vote
    (None, True, False, False),
    ("USA", False, False, False),
])
def test_tie_in_simple_majority(chair, casting_vote, adopted, used):
    out = vote(3, 3, 1, seats=9, chair=chair, mode="simple_majority", casting_vote=casting_vote)
    assert (out.adopted, out.casting_vote_used) == (adopted, used)
    assert ("decided by the chair's" in out.reason) is used


def test_a_tie_never_reaches_a_qualified_majority_even_with_the_chair():
    out = vote(3, 3, 0, seats=6, chair="USA", threshold=0.51)
    assert not out.adopted and not out.casting_vote_used


# --- refused ballots and rules ------------------------------------------------------------------


@pytest.mark.parametrize("seats, ballots, chair, message", [
    (["USA", "FRA"], [Ballot("RUS", "yes")], None, "'RUS': not a member of the Commission"),
    (["USA", "FRA"], [Ballot("USA", "yes"), Ballot("USA", "no")], None, "second ballot from 'USA'"),
    (["USA", "FRA"], [Ballot("FRA", "maybe")], None, "unknown choice 'maybe'"),
    (["USA", "FRA"], [Ballot("FRA", "YES")], None, "unknown choice 'YES'"),
    ([], [], None, "no seats"),
    (["USA", "USA"], [], None, "listed twice"),
    (["USA", "FRA"], [], "GBR", "chair 'GBR' is not a member"),
])
def test_refused(seats, ballots, chair, message):
    with pytest.raises(ValueError, match=message):
        tally(seats, ballots, DecisionRule(), chair)


def test_rule_from_mapping_and_defaults():
    assert DecisionRule.from_mapping({}) == DecisionRule(quorum=2 / 3, mode="qualified_majority", threshold=2 / 3, casting_vote=True)
    rule = DecisionRule.from_mapping({"quorum": 0.5, "mode": "simple_majority", "casting_vote": False})
    assert (rule.quorum, rule.mode, rule.threshold, rule.casting_vote) == (0.5, "simple_majority", 2 / 3, False)


@pytest.mark.parametrize("bad, key", [
    ({"quorum": 0}, "quorum"), ({"quorum": 1.01}, "quorum"), ({"quorum": "2/3"}, "quorum"), ({"quorum": True}, "quorum"),
    ({"quorum": float("nan")}, "quorum"), ({"mode": "unanimity"}, "mode"), ({"threshold": 0.5}, "threshold"),
    ({"threshold": 1.5}, "threshold"), ({"casting_vote": "yes"}, "casting_vote"), ({"veto": True}, "veto"),
])
def test_rule_validation_names_the_key(bad, key):
    with pytest.raises(ValueError, match=key):
        DecisionRule.from_mapping(bad)


# --- properties ---------------------------------------------------------------------------------

RULES = st.builds(
    DecisionRule,
    quorum=st.fractions(min_value=0, max_value=1, max_denominator=12).filter(bool).map(float),
    mode=st.sampled_from(["consensus", "qualified_majority", "simple_majority"]),
    threshold=st.fractions(min_value=0.5, max_value=1, max_denominator=12).filter(lambda f: f > 0.5).map(float),
    casting_vote=st.booleans(),
)


@st.composite
def sittings(draw):
    """Seats, ballots from some of them, the chair, and one seat that has not voted yet."""
    n = draw(st.integers(2, len(NATIONS)))
    seats = list(NATIONS[:n])
    voted = draw(st.integers(0, n - 1))
    ballots = [Ballot(s, draw(st.sampled_from(CHOICES))) for s in seats[:voted]]
    return seats, ballots, draw(st.sampled_from(seats)), seats[voted]


@given(sittings(), RULES)
def test_an_extra_abstention_never_undoes_an_adoption(sitting, rule):
    seats, ballots, chair, latecomer = sitting
    before = tally(seats, ballots, rule, chair)
    after = tally(seats, ballots + [Ballot(latecomer, "abstain")], rule, chair)
    assert after.quorum_met or not before.quorum_met
    if before.adopted:
        assert after.adopted


@given(sittings(), RULES)
def test_consensus_adoption_is_adopted_by_any_majority(sitting, rule):
    seats, ballots, chair, _ = sitting
    if tally(seats, ballots, DecisionRule(rule.quorum, "consensus"), chair).adopted:
        for mode in ("qualified_majority", "simple_majority"):
            assert tally(seats, ballots, DecisionRule(rule.quorum, mode, rule.threshold, rule.casting_vote), chair).adopted
