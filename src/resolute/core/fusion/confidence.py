"""Confidence that an incident is real, combined in log-odds from graded sources.

References: /work/shared/reference/fusion.md ("Confidence") and grading.md (Admiralty code,
UK probability yardstick). All log-odds and log-likelihood ratios are natural logarithms.

Model
-----
Each source s has two numbers, ``tp = P(report from s | event real)`` and
``fp = P(report from s | event not real)``; a report from s multiplies the odds that the incident
is real by the likelihood ratio ``LR = tp / fp``. Only the ratio enters :func:`score`.

Seeding from the Admiralty grade (:func:`prior_for_grade`). Reliability (A-F) and credibility
(1-6) correlate strongly in practice, so they are read as one evidence strength: each judged
component gives a log-LR level and the grade's log-LR is the mean of the judged components.
F and 6 mean "no basis": such a component is left out of the mean (no weight, no penalty), so
F6 has LR = 1 exactly. Component levels: A/1 -> LR 20, B/2 -> 8, C/3 -> 3, D/4 -> 1.5,
E/5 -> 0.8 (an unreliable, improbable report is weak evidence *against*). Resulting table (LR):

    ====  =====  =====  =====  =====  =====  =====
          1      2      3      4      5      6
    ====  =====  =====  =====  =====  =====  =====
    A     20.0   12.6   7.75   5.48   4.00   20.0
    B     12.6   8.00   4.90   3.46   2.53   8.00
    C     7.75   4.90   3.00   2.12   1.55   3.00
    D     5.48   3.46   2.12   1.50   1.10   1.50
    E     4.00   2.53   1.55   1.10   0.80   0.80
    F     20.0   8.00   3.00   1.50   0.80   1.00
    ====  =====  =====  =====  =====  =====  =====

The absolute scale is a convention: ``tp = 0.5`` ("reports half the real incidents it could
have seen") and ``fp = tp / LR``; :func:`reestimate` replaces both when verified records exist.

Credibility 1 means "confirmed by other sources": the grade already contains the corroboration.
Such models carry ``corroborated=True`` and :func:`score` never adds the positive evidence of
the other chains on top of it: the positive part of the total is the larger of (the strongest
credibility-1 chain) and (the sum of the other positive chains), never both. This is
conservative when the confirming reports are not among the observations.

Relay chains. Observations are (source_code, chain_key); chain_key names the originating report
(first element of the relay chain). Reports along one chain are not independent evidence, so a
chain contributes ONE term: the log-LR of its most informative member (largest |log LR|). This
is exact when each relay's (tp, fp) are its marginal reporting rates and the chain is nested
(a relay reports only what its predecessor reported): then P(all members | H) = P(last member
| H), whose LR is the most selective member's; a blind copier has the same LR as its origin.
Each chain's term is then capped to ``|log LR| <= cap`` (default log 18: at an even prior one
origin alone reaches at most p = 0.947, below the yardstick's "almost certain" at 0.95; log 19
would reach exactly 0.95). Chains are then treated as conditionally independent and summed.

Not modelled: the *absence* of reports that would have been expected if the event were real
(a silent observation post next to the alleged impact). Only reports that exist are scored;
absence needs per-source coverage (who was in a position to see) which is not available here.
Dempster-Shafer is deliberately not used (fusion.md: it does not solve double counting).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from resolute.core.grading import CREDIBILITY, RELIABILITY, yardstick

#: log-LR level of each judged grade component; None = "cannot be judged" (left out).
RELIABILITY_LOG_LR: dict[str, float | None] = {
    "A": math.log(20.0),
    "B": math.log(8.0),
    "C": math.log(3.0),
    "D": math.log(1.5),
    "E": math.log(0.8),
    "F": None,
}
CREDIBILITY_LOG_LR: dict[int, float | None] = {
    1: math.log(20.0),
    2: math.log(8.0),
    3: math.log(3.0),
    4: math.log(1.5),
    5: math.log(0.8),
    6: None,
}
#: Convention for the unidentified absolute scale of a grade-seeded model (see module docstring).
TP_SCALE = 0.5
#: Default cap on one chain's |log LR| (natural log): one origin cannot reach 0.95 from p = 0.5.
CHAIN_CAP = math.log(18.0)
#: Default Beta pseudo-count for :func:`reestimate` (per rate): the grade counts as 20 incidents.
DEFAULT_STRENGTH = 20.0


@dataclass(frozen=True)
class SourceModel:
    """P(report | real) = tp and P(report | not real) = fp for one source, both in (0, 1].

    ``corroborated`` marks credibility-1 grades whose strength already includes confirmation by
    other sources; ``grade`` is kept for display ("B2") and is None for re-estimated models
    that were not seeded from a grade."""

    tp: float
    fp: float
    corroborated: bool = False
    grade: str | None = None

    def __post_init__(self):
        for name in ("tp", "fp"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and 0.0 < v <= 1.0):
                raise ValueError(f"SourceModel.{name} must be a probability in (0, 1], got {v!r}")

    @property
    def likelihood_ratio(self) -> float:
        return self.tp / self.fp

    @property
    def log_lr(self) -> float:
        """Natural log of tp / fp: the log-odds shift one report from this source carries."""
        return math.log(self.tp) - math.log(self.fp)


def grade_log_lr(reliability: str, credibility: int | str) -> float:
    """Natural-log likelihood ratio of an Admiralty grade: mean of the judged components' levels
    (F and 6 are left out; F6 gives 0)."""
    r = str(reliability).strip().upper()
    try:
        c = int(credibility)
    except (TypeError, ValueError):
        c = None
    if r not in RELIABILITY or c not in CREDIBILITY:
        raise ValueError(f"grade must be reliability A-F and credibility 1-6, got {reliability!r}{credibility!r}")
    levels = [v for v in (RELIABILITY_LOG_LR[r], CREDIBILITY_LOG_LR[c]) if v is not None]
    return sum(levels) / len(levels) if levels else 0.0


def prior_for_grade(reliability: str, credibility: int | str) -> SourceModel:
    """Seed (tp, fp) from an Admiralty grade, e.g. ``prior_for_grade("B", 2)`` -> LR 8.

    tp = 0.5 (scale convention), fp = tp / LR, except that a grade with LR < 1 keeps fp <= 1 by
    scaling tp down instead. See the module docstring for the table."""
    log_lr = grade_log_lr(reliability, credibility)
    lr = math.exp(log_lr)
    tp, fp = TP_SCALE, TP_SCALE / lr
    if fp > 1.0:  # only for LR < 0.5, not in the table; kept for custom levels
        tp, fp = lr, 1.0
    r, c = str(reliability).strip().upper(), int(credibility)
    return SourceModel(tp=tp, fp=fp, corroborated=(c == 1), grade=f"{r}{c}")


@dataclass(frozen=True)
class Contribution:
    """One relay chain's part in the score.

    log_lr: the term actually added to the log-odds (after the cap and the credibility-1 rule);
    sources: every source seen on this chain, the chosen (most informative) one first;
    capped: the chosen member's |log LR| exceeded the cap; raw_log_lr: before cap;
    absorbed: positive evidence already contained in a credibility-1 report (so counted 0)."""

    chain_key: Hashable
    sources: tuple[str, ...]
    log_lr: float
    capped: bool
    raw_log_lr: float
    absorbed: bool = False


@dataclass(frozen=True)
class Confidence:
    """Posterior that the incident is real: probability in [0, 1], natural-log odds, the UK
    yardstick word, the prior used and each chain's contribution (largest |term| first)."""

    probability: float
    log_odds: float
    word: str
    prior: float
    contributions: tuple[Contribution, ...]

    def explain(self) -> str:
        """Plain text a person can check: prior, one line per chain, result."""
        lines = [f"prior {self.prior:.2f} (log-odds {_logit(self.prior):+.2f})"]
        for c in self.contributions:
            note = " (capped)" if c.capped else ""
            if c.absorbed:
                note += " (already counted in a credibility-1 report)"
            via = " via " + ", ".join(c.sources[1:]) if len(c.sources) > 1 else ""
            lines.append(f"chain {c.chain_key}: {c.sources[0]}{via}: {c.log_lr:+.2f}{note}")
        lines.append(f"=> p = {self.probability:.3f} ({self.word})")
        return "\n".join(lines)


def _logit(p: float) -> float:
    return math.log(p) - math.log1p(-p)


def _expit(x: float) -> float:
    # Split by sign so that exp never overflows.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def score(
    observations: Iterable[tuple[str, Hashable]],
    sources: Mapping[str, SourceModel],
    prior: float = 0.5,
    cap: float = CHAIN_CAP,
) -> Confidence:
    """Confidence that an incident is real from its observations.

    observations: (source_code, chain_key) pairs; chain_key identifies the originating report
    (first element of the relay chain), so relays of one report share it. Repeated pairs count
    once. sources: source_code -> SourceModel. prior: P(real) before these reports (0.5, or the
    base rate of real incidents among raised ones), strictly between 0 and 1. cap: maximum
    |log LR| of one chain (natural log; math.inf disables).

    Raises ValueError for an unknown source, a missing chain key or a prior outside (0, 1)."""
    if not (isinstance(prior, (int, float)) and 0.0 < prior < 1.0):
        raise ValueError(f"prior must be strictly between 0 and 1, got {prior!r}")
    if not (cap > 0):
        raise ValueError("cap must be positive")
    chains: dict[Hashable, dict[str, SourceModel]] = {}
    for obs in observations:
        source, key = obs
        if key is None:
            raise ValueError(f"observation from {source!r} has no chain key; an origin report uses its own id")
        model = sources.get(source)
        if model is None:
            raise ValueError(f"no source model for {source!r} (grade it, F6 if nothing is known)")
        chains.setdefault(key, {})[source] = model

    terms = []  # (key, ordered sources, raw, capped value, capped flag, corroborated)
    for key, members in chains.items():
        # Most informative member; ties go to the smaller log-LR (the conservative one).
        chosen = max(members, key=lambda s: (abs(members[s].log_lr), -members[s].log_lr))
        raw = members[chosen].log_lr
        value = max(-cap, min(cap, raw))
        ordered = (chosen, *sorted((s for s in members if s != chosen), key=str))
        terms.append([key, ordered, raw, value, abs(raw) > cap, members[chosen].corroborated])

    # Credibility 1 already includes corroboration: positive evidence is the larger of the best
    # credibility-1 chain and the sum of the other positive chains, not both.
    absorbed = set()
    confirmed = [i for i, t in enumerate(terms) if t[5] and t[3] > 0]
    if confirmed:
        best = max(confirmed, key=lambda i: terms[i][3])
        others = [i for i, t in enumerate(terms) if not t[5] and t[3] > 0]
        if terms[best][3] >= sum(terms[i][3] for i in others):
            absorbed = {i for i in confirmed + others if i != best}
        else:
            absorbed = set(confirmed)

    contributions = []
    log_odds = _logit(prior)
    for i, (key, ordered, raw, value, capped, _) in enumerate(terms):
        counted = 0.0 if i in absorbed else value
        log_odds += counted
        contributions.append(Contribution(key, ordered, counted, capped, raw, i in absorbed))
    contributions.sort(key=lambda c: (-abs(c.log_lr), -abs(c.raw_log_lr), str(c.chain_key)))
    p = _expit(log_odds)
    return Confidence(p, log_odds, yardstick(p), float(prior), tuple(contributions))


def reestimate(
    records: Iterable[Sequence],
    priors: Mapping[str, SourceModel],
    strength: float = DEFAULT_STRENGTH,
    *,
    report_only: bool = False,
    verified_odds: float | None = None,
) -> dict[str, SourceModel]:
    """Re-estimate each source's (tp, fp) from incidents verified in the field.

    records: (source, reported_in_incident, incident_verdict) with verdict True = real, False =
    refuted. priors: source -> SourceModel (usually :func:`prior_for_grade`); every source in the
    records must have one. strength: Beta pseudo-count per rate (> 0): the prior weighs as much
    as ``strength`` verified incidents. Returns a model for every source in ``priors``; a source
    without records gets its prior object back unchanged.

    What is estimated. Incidents only exist once somebody reported them, so the population is
    "raised and verified incidents", not all possible events: tp and fp here are the rates at
    which the source reports a raised incident that turned out real / refuted. That is the
    conditioning :func:`score` works under, and it is their *ratio* that score uses.

    Default mode (``report_only=False``): the records list, for each verified incident, every
    source that could have reported it, with reported True or False. With a reported-real,
    b missed-real, c reported-refuted, d silent-refuted, the Beta posterior means are
    ``tp = (a + k tp0) / (a + b + k)`` and ``fp = (c + k fp0) / (c + d + k)`` (k = strength).
    Do not pass report-only rows in this mode: b = d = 0 would push both rates to 1 and LR to 1.

    Report-only mode (``report_only=True``): only the source's reports are known (a, c). Then
    tp and fp are not separately identifiable; a / c estimates ``(tp/fp) * (N_real/N_refuted)``,
    so the odds of verified-real to refuted incidents the source could have reported,
    ``verified_odds``, must be given. Conditional on a + c reports, a is binomial with
    ``pi = LR w / (1 + LR w)`` (w = verified_odds); with a Beta prior of strength k centred on
    the grade's LR, ``pi = (a + k pi0) / (a + c + k)`` and ``LR = pi / ((1 - pi) w)``. The
    prior's tp (the scale) is kept and fp = tp / LR (both scaled down if fp would exceed 1)."""
    if not (isinstance(strength, (int, float)) and math.isfinite(strength) and strength > 0):
        raise ValueError("strength must be a positive pseudo-count")
    if report_only and not (isinstance(verified_odds, (int, float)) and math.isfinite(verified_odds) and verified_odds > 0):
        raise ValueError("report-only re-estimation needs verified_odds = N_real / N_refuted (> 0)")
    counts: dict[str, list[int]] = {}
    for rec in records:
        source, reported, verdict = rec
        if source not in priors:
            raise ValueError(f"no prior model for source {source!r}")
        if report_only and not reported:
            raise ValueError("report_only=True but a record says the source did not report")
        c = counts.setdefault(source, [0, 0, 0, 0])
        c[(0 if verdict else 2) + (0 if reported else 1)] += 1

    k = float(strength)
    out = dict(priors)
    for source, (a, b, c, d) in counts.items():
        prior = priors[source]
        if report_only:
            w = float(verified_odds)
            lr0 = prior.likelihood_ratio
            pi0 = lr0 * w / (1.0 + lr0 * w)
            pi = (a + k * pi0) / (a + c + k)
            lr = pi / ((1.0 - pi) * w)
            tp, fp = prior.tp, prior.tp / lr
            if fp > 1.0:
                tp, fp = prior.tp / fp, 1.0
        else:
            # A rate without any record of its class stays exactly the prior's.
            tp = (a + k * prior.tp) / (a + b + k) if a + b else prior.tp
            fp = (c + k * prior.fp) / (c + d + k) if c + d else prior.fp
        out[source] = SourceModel(tp=tp, fp=fp, corroborated=prior.corroborated, grade=prior.grade)
    return out


def expected_calibration_error(probabilities: Sequence[float], outcomes: Sequence[bool], bins: int = 10) -> float:
    """ECE with equal-width bins on [0, 1]: sum over bins of (share of cases) x |mean p - frequency|."""
    n = len(probabilities)
    if n == 0 or n != len(outcomes):
        raise ValueError("need equally many probabilities and outcomes, at least one")
    total = [0.0] * bins
    hits = [0] * bins
    count = [0] * bins
    for p, y in zip(probabilities, outcomes):
        i = min(int(p * bins), bins - 1)
        total[i] += p
        hits[i] += bool(y)
        count[i] += 1
    return sum(abs(total[i] - hits[i]) for i in range(bins) if count[i]) / n
