"""Both languages everywhere: the Russian catalogue is complete, placeholders
survive translation, and the committed .mo files match their .po sources."""

import gettext
import re
from pathlib import Path

import polib
import pytest

LOCALE = Path(__file__).resolve().parents[2] / "locale"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\{\s*\w+\s*\}\}|\{\w*\}")


@pytest.fixture(scope="module")
def ru():
    return polib.pofile(str(LOCALE / "ru" / "LC_MESSAGES" / "django.po"))


def test_every_russian_string_is_translated_and_none_is_fuzzy(ru):
    untranslated = [e.msgid for e in ru.untranslated_entries()]
    fuzzy = [e.msgid for e in ru.fuzzy_entries()]
    assert not untranslated, f"{len(untranslated)} untranslated, e.g. {untranslated[:5]}"
    assert not fuzzy, f"fuzzy entries: {fuzzy[:5]}"


def test_placeholders_survive_translation(ru):
    for entry in ru.translated_entries():
        expected = sorted(PLACEHOLDER.findall(entry.msgid))
        if entry.msgid_plural:
            for text in entry.msgstr_plural.values():
                assert set(PLACEHOLDER.findall(text)) <= set(PLACEHOLDER.findall(entry.msgid_plural)) | set(
                    expected
                )
        else:
            assert sorted(PLACEHOLDER.findall(entry.msgstr)) == expected, entry.msgid


@pytest.mark.parametrize("language", ["ru", "en"])
def test_the_committed_mo_files_match_the_po_files(language):
    folder = LOCALE / language / "LC_MESSAGES"
    po = polib.pofile(str(folder / "django.po"))
    with open(folder / "django.mo", "rb") as fh:
        mo = gettext.GNUTranslations(fh)
    for entry in po.translated_entries():
        if entry.msgid_plural:
            continue
        context = f"{entry.msgctxt}\x04" if entry.msgctxt else ""
        assert mo._catalog.get(context + entry.msgid) == entry.msgstr, (
            f"stale .mo for {entry.msgid!r}; run make messages"
        )
