"""Every string the pages use exists in Persian and English."""

from __future__ import annotations

import re

from api.ui import TEMPLATES_DIR
from api.ui.i18n import LANGS, STRINGS, pick_lang, translator
from core.labels import COMPLAINT_CATEGORIES, INSIGHT_KINDS, PRIORITIES, REVIEW_KINDS

DYNAMIC = (
    [f"kind.{k}" for k in (*INSIGHT_KINDS, *REVIEW_KINDS)]
    + [f"priority.{p}" for p in PRIORITIES]
    + [f"status.{s}" for s in ("open", "claimed", "resolved", "dismissed")]
    + [f"category.{c}" for c in (*COMPLAINT_CATEGORIES, "none")]
    + [f"channel.{c}" for c in ("call", "email", "chat")]
    + [f"speaker.{s}" for s in ("agent", "customer")]
    + [f"queue.{q}" for q in ("cs", "sales")]
    + [f"nav.{q}" for q in ("cs", "sales")]
    + [f"trend.{d}" for d in ("improving", "worsening", "stable")]
    + [f"conv.{v}" for v in ("confirm", "reject", "correct")]
)


def test_both_languages_have_the_same_keys():
    assert set(STRINGS["fa"]) == set(STRINGS["en"])
    assert all(value.strip() for lang in LANGS for value in STRINGS[lang].values())


def test_every_literal_key_in_the_templates_exists():
    used = set()
    for path in TEMPLATES_DIR.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*['"]([a-z_.]+)['"]\s*\)""", path.read_text("utf-8")))
    assert used, "no t('...') calls found"
    for lang in LANGS:
        assert used - set(STRINGS[lang]) == set(), lang


def test_keys_built_from_values_exist():
    for lang in LANGS:
        assert set(DYNAMIC) - set(STRINGS[lang]) == set(), lang


def test_persian_is_persian_and_default():
    assert pick_lang(None) == "fa" and pick_lang("xx") == "fa" and pick_lang("en") == "en"
    assert translator("fa")("login.title") == "ورود"
    assert translator("en")("login.title") == "Sign in"
