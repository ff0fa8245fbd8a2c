"""The French and Ukrainian catalogues: every entry translated, none fuzzy, the placeholders kept,
and the committed .mo files compiled from the .po files as they are now."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parents[2] / "src" / "resolute" / "locale"
LANGUAGES = ["fr", "uk"]
NPLURALS = {"fr": 2, "uk": 4}

# %(name)s, %s, %d, %.1f ... (not %%, which is a literal percent sign).
PLACEHOLDER = re.compile(r"%(?:\([^)]+\))?[-#0 +]*\d*(?:\.\d+)?[sdifr]")
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def unquote(text: str) -> str:
    text = text.strip()
    assert text.startswith('"') and text.endswith('"'), text
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), "\\" + m.group(1)), text[1:-1])


def parse_po(path: Path) -> list[dict]:
    """A small .po reader: entries as dicts with msgctxt, msgid, msgid_plural, msgstr (a str, or
    a dict of form index to str for plurals), flags and the line it starts on. Obsolete (#~)
    entries are left out."""
    entries: list[dict] = []
    entry: dict | None = None
    key: tuple | None = None

    def new_entry(line_no):
        return {"msgctxt": None, "msgid": None, "msgid_plural": None, "msgstr": None, "flags": set(), "line": line_no}

    pending_flags: set[str] = set()
    for line_no, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            key = None
            continue
        if line.startswith("#~"):
            continue
        if line.startswith("#,"):
            pending_flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
            continue
        if line.startswith("#"):
            continue
        m = re.match(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")$", line)
        if m:
            word, index, value = m.group(1), m.group(2), unquote(m.group(3))
            if word in ("msgctxt", "msgid") and (entry is None or entry["msgstr"] is not None):
                entry = new_entry(line_no)
                entry["flags"], pending_flags = pending_flags, set()
                entries.append(entry)
            assert entry is not None, f"{path}:{line_no}: {word} outside an entry"
            if index is not None:
                entry["msgstr"] = entry["msgstr"] or {}
                entry["msgstr"][int(index)] = value
                key = ("msgstr", int(index))
            else:
                entry[word] = value
                key = (word,)
            continue
        assert line.startswith('"') and key is not None, f"{path}:{line_no}: cannot read {raw!r}"
        value = unquote(line)
        if key[0] == "msgstr" and len(key) == 2:
            entry["msgstr"][key[1]] += value
        else:
            entry[key[0]] += value
    return entries


def catalogue(lang: str) -> tuple[dict, list[dict]]:
    entries = parse_po(LOCALE / lang / "LC_MESSAGES" / "django.po")
    header = [e for e in entries if e["msgid"] == "" and e["msgctxt"] is None]
    assert len(header) == 1, "the catalogue has no header entry"
    return header[0], [e for e in entries if e is not header[0]]


def forms(entry: dict) -> list[str]:
    return list(entry["msgstr"].values()) if isinstance(entry["msgstr"], dict) else [entry["msgstr"]]


def where(lang: str, entry: dict) -> str:
    return f"{lang}/django.po:{entry['line']} {entry['msgid']!r}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_header_names_the_language_the_charset_and_the_plural_forms(lang):
    header, _ = catalogue(lang)
    assert "fuzzy" not in header["flags"]
    fields = dict(line.split(": ", 1) for line in header["msgstr"].splitlines() if ": " in line)
    assert fields["Language"] == lang
    assert "charset=UTF-8" in fields["Content-Type"]
    assert fields["Plural-Forms"].startswith(f"nplurals={NPLURALS[lang]};")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_entry_is_translated_and_none_is_fuzzy(lang):
    _, entries = catalogue(lang)
    assert len(entries) > 600
    fuzzy = [where(lang, e) for e in entries if "fuzzy" in e["flags"]]
    untranslated = [where(lang, e) for e in entries if not all(f.strip() for f in forms(e))]
    wrong_plurals = [
        where(lang, e) for e in entries if e["msgid_plural"] is not None and sorted(e["msgstr"]) != list(range(NPLURALS[lang]))
    ]
    assert not fuzzy, f"{len(fuzzy)} fuzzy entries: {fuzzy[:20]}"
    assert not untranslated, f"{len(untranslated)} untranslated entries: {untranslated[:20]}"
    assert not wrong_plurals, f"plural entries without {NPLURALS[lang]} forms: {wrong_plurals[:20]}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_the_placeholders_and_the_outer_whitespace(lang):
    _, entries = catalogue(lang)
    problems = []
    for e in entries:
        source = e["msgid"] if e["msgid_plural"] is None else e["msgid_plural"]
        wanted = set(PLACEHOLDER.findall(e["msgid"])) | set(PLACEHOLDER.findall(source))
        for text in forms(e):
            if set(PLACEHOLDER.findall(text)) != wanted:
                problems.append(f"{where(lang, e)}: placeholders {sorted(PLACEHOLDER.findall(text))} != {sorted(wanted)}")
            if "python-format" in e["flags"]:
                names = re.findall(r"%\(([^)]+)\)", text)
                try:
                    text % ({n: 1 for n in names} if names else tuple(1 for _ in PLACEHOLDER.findall(text)))
                except (ValueError, TypeError, KeyError) as error:
                    problems.append(f"{where(lang, e)}: cannot be formatted ({error})")
            for strip, end in ((str.lstrip, "leading"), (str.rstrip, "trailing")):
                if (strip(e["msgid"]) != e["msgid"]) != (strip(text) != text):
                    problems.append(f"{where(lang, e)}: {end} whitespace differs")
    assert not problems, "\n".join(problems[:30])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_compiled_catalogue_holds_what_the_po_file_says(lang):
    """The .mo is committed (machines without gettext must work): it must not lag behind the .po."""
    mo = LOCALE / lang / "LC_MESSAGES" / "django.mo"
    assert mo.exists(), f"{mo} is missing: run compilemessages"
    with mo.open("rb") as fp:
        compiled = gettext.GNUTranslations(fp)._catalog  # the raw catalogue: msgid (or (msgid, n)) -> msgstr
    _, entries = catalogue(lang)
    stale = []
    for e in entries:
        msgid = e["msgid"] if e["msgctxt"] is None else f"{e['msgctxt']}\x04{e['msgid']}"
        if e["msgid_plural"] is None:
            if compiled.get(msgid) != e["msgstr"]:
                stale.append(where(lang, e))
        elif any(compiled.get((msgid, n)) != text for n, text in e["msgstr"].items()):
            stale.append(where(lang, e))
    assert not stale, f"{len(stale)} entries differ between django.po and django.mo (recompile): {stale[:20]}"


def test_the_situation_map_is_called_by_its_ukrainian_and_french_names():
    from django.utils import translation

    with translation.override("uk"):
        assert translation.gettext("Situation map") == "Ситуаційна карта"
    with translation.override("fr"):
        assert translation.gettext("Situation map") == "Carte de situation"
