"""Confidence in log-odds: grade table, chain collapse, cap, calibration, re-estimation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resolute.core.fusion import confidence as cf
from resolute.core.fusion.confidence import SourceModel, prior_for_grade, reestimate, score

# ---------------------------------------------------------------------------------------------
# Synthetic truth for calibration (also imported by bench/fusion_score.py).
#
# Each incident is real with probability BASE_RATE. It has 1 + Poisson(1.2) independent origin
# reports whatever its truth (so the *count* carries no information, which is what score()
# assumes by not modelling absence); each origin's source is drawn from one distribution over
# sources for real incidents and another for false ones, so a source's report carries
# LR = share_real / share_false. Each origin starts a relay chain of 1-6 potential members; each
# member after the first reposts its predecessor with probability 0.9 (copying, whatever the
# truth). A relay is the origin's own channel at that depth (unit summary, national summary...)
# with probability 0.7, else one of three open-source aggregators that repost anything.
# ---------------------------------------------------------------------------------------------
BASE_RATE = 0.4
_ORIGIN_LR = np.array([12.0, 8.0, 6.0, 4.0, 3.0, 2.0, 1.5, 1.0, 0.8, 0.5])
_SHARE_FALSE = np.array([0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.15, 0.20, 0.27])
_SHARE_REAL = _SHARE_FALSE * _ORIGIN_LR / np.sum(_SHARE_FALSE * _ORIGIN_LR)
TRUE_LR = _SHARE_REAL / _SHARE_FALSE  # effective LRs after normalisation (7.1 ... 0.29)
ORIGINS = [f"OP-{i}" for i in range(len(_ORIGIN_LR))]
AGGREGATORS = ["OSINT-0", "OSINT-1", "OSINT-2"]


def simulate(rng: np.random.Generator, n: int, base_rate: float = BASE_RATE):
    """n incidents -> (truth bool array, list of observation lists [(source, chain_key)])."""
    truth = rng.random(n) < base_rate
    incidents = []
    for i in range(n):
        obs = []
        share = _SHARE_REAL if truth[i] else _SHARE_FALSE
        for j in range(1 + rng.poisson(1.2)):
            o = int(rng.choice(len(share), p=share))
            key = f"{i}/{j}"
            obs.append((ORIGINS[o], key))
            length = int(rng.integers(1, 7))
            for depth in range(1, length):
                if rng.random() >= 0.9:
                    break
                if rng.random() < 0.7:
                    obs.append((f"{ORIGINS[o]}/relay-{depth}", key))
                else:
                    obs.append((AGGREGATORS[int(rng.integers(3))], key))
        incidents.append(obs)
    return truth, incidents


def all_sources() -> list[str]:
    return ORIGINS + [f"{o}/relay-{d}" for o in ORIGINS for d in range(1, 6)] + AGGREGATORS


def seed_priors() -> dict[str, SourceModel]:
    """What an analyst would grade: origins by the nearest table LR (credibility 2-5), relays
    C3, open-source aggregators F6."""
    grades = [(r, c) for r in "ABCDE" for c in (2, 3, 4, 5)]
    priors = {}
    for o, lr in zip(ORIGINS, TRUE_LR):
        r, c = min(grades, key=lambda g: abs(cf.grade_log_lr(*g) - math.log(lr)))
        priors[o] = prior_for_grade(r, c)
    for o in ORIGINS:
        for d in range(1, 6):
            priors[f"{o}/relay-{d}"] = prior_for_grade("C", 3)
    for a in AGGREGATORS:
        priors[a] = prior_for_grade("F", 6)
    return priors


def train_models(truth, incidents, strength=cf.DEFAULT_STRENGTH):
    """Report-only re-estimation on a training split: every report becomes one record."""
    records = [(s, True, bool(t)) for t, obs in zip(truth, incidents) for s, _ in set(obs)]
    odds = float(np.sum(truth)) / float(np.sum(~truth))
    models = reestimate(records, seed_priors(), strength, report_only=True, verified_odds=odds)
    return models, float(np.mean(truth))


def naive_probability(obs, models, prior):
    """Summation over every distinct report, no chain collapse, no cap (the reference's naive)."""
    x = math.log(prior / (1 - prior)) + sum(models[s].log_lr for s, _ in set(obs))
    return 1.0 / (1.0 + math.exp(-x))


def precision_above(p, truth, threshold=0.95):
    calls = np.asarray(p) > threshold
    return float(np.mean(np.asarray(truth)[calls])), int(calls.sum())


# ------------------------------------------------------------------------------ grade table --


def test_grade_table_anchors_and_monotone():
    assert prior_for_grade("A", 1).likelihood_ratio == pytest.approx(20.0)
    assert prior_for_grade("B", 2).likelihood_ratio == pytest.approx(8.0)
    assert prior_for_grade("E", 5).likelihood_ratio == pytest.approx(0.8)
    assert prior_for_grade("F", 6).likelihood_ratio == 1.0
    for c in range(1, 6):
        lrs = [prior_for_grade(r, c).log_lr for r in "ABCDE"]
        assert lrs == sorted(lrs, reverse=True)
    for r in "ABCDE":
        lrs = [prior_for_grade(r, c).log_lr for c in range(1, 6)]
        assert lrs == sorted(lrs, reverse=True)


def test_f_and_6_carry_no_weight_and_no_penalty():
    # "cannot be judged" is left out of the mean, not averaged in as neutral.
    assert prior_for_grade("A", 6).log_lr == pytest.approx(prior_for_grade("A", 1).log_lr)
    assert prior_for_grade("F", 2).log_lr == pytest.approx(prior_for_grade("B", 2).log_lr)
    assert prior_for_grade("f", "6").log_lr == 0.0


def test_grade_validation_and_flags():
    for bad in (("G", 1), ("A", 7), ("A", "x"), ("", 2)):
        with pytest.raises(ValueError):
            prior_for_grade(*bad)
    m = prior_for_grade("b", "1")
    assert m.corroborated and m.grade == "B1"
    assert not prior_for_grade("B", 2).corroborated
    with pytest.raises(ValueError):
        SourceModel(tp=0.0, fp=0.1)
    with pytest.raises(ValueError):
        SourceModel(tp=0.5, fp=float("nan"))


# ------------------------------------------------------------------------------------ score --

MODELS = {
    "OP-1": prior_for_grade("B", 2),
    "OP-2": prior_for_grade("C", 3),
    "HQ": prior_for_grade("C", 3),
    "NAT": prior_for_grade("B", 3),
    "OSINT": prior_for_grade("E", 5),
    "ANON": prior_for_grade("F", 6),
    "STAR": prior_for_grade("A", 1),
    "GOOD": prior_for_grade("A", 2),
}


def test_no_reports_and_f6_reports_leave_the_prior_unchanged():
    for prior in (0.5, 0.3, 0.02):
        assert score([], MODELS, prior).probability == pytest.approx(prior, abs=1e-12)
        c = score([("ANON", "r1"), ("ANON", "r2"), ("ANON", "r3")], MODELS, prior)
        assert c.probability == pytest.approx(prior, abs=1e-12)
        assert all(x.log_lr == 0.0 for x in c.contributions)


def test_reposting_along_a_chain_moves_the_posterior_at_most_0_01():
    base = [("OP-1", "op1-report"), ("OP-2", "op2-report")]
    before = score(base, MODELS).probability
    relayed = base + [("HQ", "op2-report"), ("OSINT", "op2-report"), ("OP-2", "op2-report"), ("HQ", "op2-report")]
    after = score(relayed, MODELS).probability
    assert abs(after - before) <= 0.01
    # Summation would have moved it a lot: that is what the collapse prevents.
    naive = naive_probability(relayed, MODELS, 0.5)
    assert naive - before > 0.01


def test_chain_uses_most_informative_member_not_the_sum():
    c = score([("OP-2", "k"), ("NAT", "k"), ("OSINT", "k")], MODELS)
    (only,) = c.contributions
    assert only.sources[0] == "NAT" and set(only.sources) == {"OP-2", "NAT", "OSINT"}
    assert only.log_lr == pytest.approx(MODELS["NAT"].log_lr)
    assert c.log_odds == pytest.approx(MODELS["NAT"].log_lr)


def test_one_origin_alone_cannot_reach_almost_certain():
    c = score([("STAR", "k"), ("GOOD", "k")], MODELS)
    assert c.probability < 0.95 and c.word != "almost certain"
    assert c.contributions[0].capped and c.contributions[0].log_lr == pytest.approx(cf.CHAIN_CAP)
    # Two independent strong origins can.
    two = score([("GOOD", "k1"), ("OP-1", "k2")], MODELS)
    assert two.probability > 0.95 and two.word == "almost certain"
    # Symmetric cap on evidence against.
    liar = {"X": SourceModel(tp=0.001, fp=1.0)}
    assert score([("X", "k")], liar).log_odds == pytest.approx(-cf.CHAIN_CAP)


def test_credibility_1_is_not_counted_on_top_of_its_corroboration():
    # STAR (A1) was confirmed by other sources; those other chains are not added again.
    strong_alone = score([("STAR", "a")], MODELS)
    with_two_weak = score([("STAR", "a"), ("OP-2", "b"), ("HQ", "c")], MODELS)
    assert with_two_weak.log_odds == pytest.approx(strong_alone.log_odds)
    assert {c.chain_key for c in with_two_weak.contributions if c.absorbed} == {"b", "c"}
    # If the independent chains together say more, they count and the A1 term is absorbed.
    many = [("STAR", "a")] + [("OP-1", f"op{i}") for i in range(3)]
    c = score(many, MODELS)
    assert c.log_odds == pytest.approx(3 * MODELS["OP-1"].log_lr)
    assert [x.chain_key for x in c.contributions if x.absorbed] == ["a"]
    # Evidence against is never absorbed.
    against = score([("STAR", "a"), ("OSINT", "b")], MODELS)
    assert against.log_odds == pytest.approx(cf.CHAIN_CAP + MODELS["OSINT"].log_lr)


def test_output_explains_itself():
    c = score([("OP-1", "k1"), ("HQ", "k1"), ("OP-2", "k2")], MODELS, prior=0.3)
    assert c.word == cf.yardstick(c.probability)
    assert [x.chain_key for x in c.contributions] == ["k1", "k2"]
    assert c.contributions[0].sources == ("OP-1", "HQ")
    text = c.explain()
    assert "prior 0.30" in text and "OP-1 via HQ" in text and c.word in text


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match="no source model"):
        score([("NOBODY", "k")], MODELS)
    with pytest.raises(ValueError, match="chain key"):
        score([("OP-1", None)], MODELS)
    for prior in (0.0, 1.0, -0.1, float("nan")):
        with pytest.raises(ValueError):
            score([], MODELS, prior)


def test_calibration_on_held_out_data_with_relay_chains():
    rng = np.random.default_rng(20250611)
    truth, incidents = simulate(rng, 40_000)
    train, test = slice(0, 20_000), slice(20_000, None)
    models, base = train_models(truth[train], incidents[train])
    y = truth[test]
    p = np.array([score(obs, models, base).probability for obs in incidents[test]])
    naive = np.array([naive_probability(obs, models, base) for obs in incidents[test]])

    ece = cf.expected_calibration_error(p, y)
    precision, calls = precision_above(p, y)
    ece_naive = cf.expected_calibration_error(naive, y)
    precision_naive, _ = precision_above(naive, y)
    print(f"collapsed ECE {ece:.4f} precision>0.95 {precision:.3f} ({calls} calls); naive ECE {ece_naive:.4f} precision {precision_naive:.3f}")
    assert ece <= 0.03
    assert calls >= 200 and precision >= 0.95
    # The simulation really does contain double counting that summation falls for.
    assert ece_naive > 2 * ece and precision_naive < precision


# ------------------------------------------------------------------------------- reestimate --


def _bernoulli_records(rng, truths, n_incidents=3000, real_share=0.4, coverage=0.7):
    """Full records: each verified incident, every source in a position to see it (coverage)."""
    records = []
    verdict = rng.random(n_incidents) < real_share
    for source, (tp, fp) in truths.items():
        seen = rng.random(n_incidents) < coverage
        reported = rng.random(n_incidents) < np.where(verdict, tp, fp)
        records += [(source, bool(r), bool(v)) for r, v, s in zip(reported, verdict, seen) if s]
    return records


TRUTHS = {"S-A": (0.6, 0.05), "S-B": (0.4, 0.10), "S-C": (0.3, 0.15), "S-D": (0.2, 0.25)}
GRADES = {"S-A": ("A", 2), "S-B": ("B", 3), "S-C": ("C", 3), "S-D": ("D", 4)}


def test_reestimate_returns_the_prior_without_records_and_stays_sane_with_few():
    priors = {s: prior_for_grade(*g) for s, g in GRADES.items()}
    assert reestimate([], priors) == priors
    out = reestimate([], priors)
    assert all(out[s] is priors[s] for s in priors)
    # Ten verified incidents for S-A (one false report among five refuted), one for S-B.
    rows = [("S-A", True, False)] + [("S-A", False, False)] * 4 + [("S-A", True, True)] * 3 + [("S-A", False, True)] * 2
    few = reestimate(rows + [("S-B", True, True)], priors)
    assert few["S-C"] is priors["S-C"]
    # Each rate is shrunk: it lies between the grade's rate and the raw frequency.
    for s, real_freq, false_freq in (("S-A", 3 / 5, 1 / 5), ("S-B", 1.0, None)):
        m, p0 = few[s], priors[s]
        assert min(p0.tp, real_freq) <= m.tp <= max(p0.tp, real_freq)
        assert m.fp == p0.fp if false_freq is None else min(p0.fp, false_freq) <= m.fp <= max(p0.fp, false_freq)
    assert 1.0 < few["S-A"].likelihood_ratio < priors["S-A"].likelihood_ratio
    with pytest.raises(ValueError):
        reestimate([("UNKNOWN", True, True)], priors)
    with pytest.raises(ValueError):
        reestimate([], priors, strength=0)
    with pytest.raises(ValueError):
        reestimate([], priors, report_only=True)


def test_reestimate_recovers_true_rates_from_a_few_thousand_verified_incidents():
    rng = np.random.default_rng(7)
    priors = {s: prior_for_grade(*g) for s, g in GRADES.items()}
    records = _bernoulli_records(rng, TRUTHS)
    assert 7000 < len(records) < 9500
    out = reestimate(records, priors)
    for s, (tp, fp) in TRUTHS.items():
        n_real = sum(1 for src, _, v in records if src == s and v)
        n_false = sum(1 for src, _, v in records if src == s and not v)
        # Honest tolerance: 3 binomial standard errors on the log ratio (delta method) plus the
        # pull of 20 prior pseudo-counts towards the grade's rates.
        se = math.sqrt((1 - tp) / (tp * n_real) + (1 - fp) / (fp * n_false))
        k = cf.DEFAULT_STRENGTH
        pull = abs(math.log((n_real * tp + k * priors[s].tp) / (n_real + k) / tp)) + abs(
            math.log((n_false * fp + k * priors[s].fp) / (n_false + k) / fp)
        )
        err = abs(out[s].log_lr - math.log(tp / fp))
        print(f"{s}: LR true {tp / fp:.2f} est {out[s].likelihood_ratio:.2f} (|dlog| {err:.3f} <= {3 * se + pull:.3f})")
        assert err <= 3 * se + pull
        assert out[s].tp == pytest.approx(tp, abs=4 * math.sqrt(tp * (1 - tp) / n_real) + k / n_real)
        assert out[s].fp == pytest.approx(fp, abs=4 * math.sqrt(fp * (1 - fp) / n_false) + k / n_false)


def test_reestimate_report_only_recovers_the_ratio_but_keeps_the_scale():
    rng = np.random.default_rng(11)
    priors = {s: prior_for_grade(*g) for s, g in GRADES.items()}
    full = _bernoulli_records(rng, TRUTHS, coverage=1.0)
    n_real = sum(1 for s, _, v in full if s == "S-A" and v)
    odds = n_real / (3000 - n_real)
    reports = [r for r in full if r[1]]
    out = reestimate(reports, priors, report_only=True, verified_odds=odds)
    for s, (tp, fp) in TRUTHS.items():
        a = sum(1 for src, _, v in reports if src == s and v)
        c = sum(1 for src, _, v in reports if src == s and not v)
        se = math.sqrt(1 / a + 1 / c)  # log of a ratio of two Poisson-like counts
        err = abs(out[s].log_lr - math.log(tp / fp))
        print(f"{s} report-only: LR true {tp / fp:.2f} est {out[s].likelihood_ratio:.2f} (|dlog| {err:.3f}, se {se:.3f})")
        assert err <= 3 * se + 0.05
        assert out[s].tp == priors[s].tp  # the scale is not identifiable from reports alone
    with pytest.raises(ValueError):
        reestimate(full, priors, report_only=True, verified_odds=odds)


def test_ece_helper():
    assert cf.expected_calibration_error([0.05, 0.95], [False, True]) == pytest.approx(0.05)
    assert cf.expected_calibration_error([1.0, 1.0], [True, False]) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        cf.expected_calibration_error([], [])
