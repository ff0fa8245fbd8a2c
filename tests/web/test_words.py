"""Every code word people read (event types, channels, states, stages…) is in the list the
translation catalogues are built from, so no part of a page stays in English by omission."""

from __future__ import annotations

from django.utils import translation

from resolute.commission.models import ALLEGATION_SOURCES, BREACH_CLASSES, MEASURES
from resolute.core import valuation, vocabulary, workflow
from resolute.words import WORDS, label


def test_every_code_word_is_listed_for_translation():
    codes = [*vocabulary.CHANNELS, *vocabulary.EVENT_TYPES, *vocabulary.PERCEPTIONS, *vocabulary.WEAPON_CLASSES,
             *workflow.VERIFICATION.states(), *workflow.CASE.states(), *ALLEGATION_SOURCES, *BREACH_CLASSES, *MEASURES, *valuation.STAGES]  # fmt: skip
    missing = sorted({c.replace("_", " ") for c in codes} - set(WORDS))
    assert not missing, f"add to resolute/words.py: {missing}"


def test_code_words_read_in_the_interface_language():
    with translation.override("uk"):
        assert label("explosion_impact") != "explosion impact"
    with translation.override("fr"):
        assert label("armed_attack") != "armed attack"
    with translation.override("en"):
        assert label("explosion_impact") == "explosion impact"
