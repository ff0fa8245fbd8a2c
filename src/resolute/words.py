"""The domain's code words (event types, channels, states, stages…) as people read them, in the
interface language. The codes live in core/ and the models; this list gives gettext their
English form ("explosion_impact" -> "explosion impact") so the catalogues carry them.
tests/web/test_words.py checks that no code word is missing here."""

from __future__ import annotations

from django.utils.translation import gettext, gettext_lazy, gettext_noop


def label(code: str) -> str:
    """A code word in the reader's language."""
    return gettext(code.replace("_", " "))


def lazy_label(code: str):
    """The same, for model choices (evaluated when shown)."""
    return gettext_lazy(code.replace("_", " "))


WORDS = (
    gettext_noop("abstain"),
    gettext_noop("acoustic sensor"),
    gettext_noop("additional sanctions"),
    gettext_noop("air strike"),
    gettext_noop("aircraft"),
    gettext_noop("allocation"),
    gettext_noop("armed attack"),
    gettext_noop("armed drone strike"),
    gettext_noop("artillery 100mm plus"),
    gettext_noop("artillery under 100mm"),
    gettext_noop("awaiting responses"),
    gettext_noop("commitment"),
    gettext_noop("contracted"),
    gettext_noop("decided"),
    gettext_noop("deliberation"),
    gettext_noop("demarche"),
    gettext_noop("disbursed"),
    gettext_noop("dismissed"),
    gettext_noop("dissolved"),
    gettext_noop("drone"),
    gettext_noop("explosion airburst"),
    gettext_noop("explosion impact"),
    gettext_noop("explosion outgoing"),
    gettext_noop("explosion undetermined"),
    gettext_noop("fixed camera"),
    gettext_noop("ground assault"),
    gettext_noop("heard"),
    gettext_noop("heard and seen"),
    gettext_noop("heavy machine gun"),
    gettext_noop("heavy machine gun fire"),
    gettext_noop("heavy mlrs"),
    gettext_noop("illumination flare"),
    gettext_noop("instrument"),
    gettext_noop("interference fire at asset"),
    gettext_noop("interference jamming"),
    gettext_noop("member"),
    gettext_noop("merged"),
    gettext_noop("mine"),
    gettext_noop("mine laying"),
    gettext_noop("minor"),
    gettext_noop("mission"),
    gettext_noop("mlrs"),
    gettext_noop("mortar"),
    gettext_noop("movement restriction"),
    gettext_noop("muzzle flash"),
    gettext_noop("national intelligence"),
    gettext_noop("ngo"),
    gettext_noop("no"),
    gettext_noop("not verified"),
    gettext_noop("observation post"),
    gettext_noop("open"),
    gettext_noop("open source"),
    gettext_noop("party"),
    gettext_noop("party complaint"),
    gettext_noop("patrol"),
    gettext_noop("playbook referral"),
    gettext_noop("pledge"),
    gettext_noop("projectile in flight"),
    gettext_noop("public"),
    gettext_noop("public statement"),
    gettext_noop("published"),
    gettext_noop("radar"),
    gettext_noop("received"),
    gettext_noop("refuted"),
    gettext_noop("reinforced monitoring"),
    gettext_noop("reported"),
    gettext_noop("reviewed"),
    gettext_noop("seen"),
    gettext_noop("serious"),
    gettext_noop("shipped"),
    gettext_noop("small arms"),
    gettext_noop("small arms fire"),
    gettext_noop("tactical missile"),
    gettext_noop("tank"),
    gettext_noop("tasked"),
    gettext_noop("uav"),
    gettext_noop("unknown"),
    gettext_noop("verified"),
    gettext_noop("voting"),
    gettext_noop("weapon beyond withdrawal line"),
    gettext_noop("weapon missing from storage"),
    gettext_noop("yes"),
)
