"""Persian/English text normalization and language identification.

Two forms of a text exist: the display text (what the customer wrote, only cleaned of invisible
junk) and the model text (letters unified, digits Latin, spacing regular) that detectors read.
"""

from __future__ import annotations

import re
import unicodedata

import langid

_ARABIC_TO_PERSIAN = str.maketrans(
    {
        "ي": "ی",
        "ى": "ی",
        "ئ": "ی",
        "ك": "ک",
        "ة": "ه",
        "ۀ": "هٔ",
        "أ": "ا",
        "إ": "ا",
        "ٱ": "ا",
    }
)
_DIGITS_TO_LATIN = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
ZWNJ = "\u200c"
# zero-width and bidi controls that copy-paste and chat apps leave behind; ZWNJ is kept
_INVISIBLE = re.compile("[\u200b\u200d\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\u00ad]")
# Arabic diacritics (harakat) and tatweel carry no meaning for detection
_DIACRITICS = re.compile("[\u064b-\u065f\u0670\u0640]")
_ZWNJ_RUNS = re.compile(f"\\s*{ZWNJ}[{ZWNJ}\\s]*")
_SPACES = re.compile(r"[ \t\u00a0\u2009\u202f]+")
# "می خوام" / "نمی دونم" written with a space where ZWNJ belongs
_MI_PREFIX = re.compile(r"(?<![\w\u0600-\u06ff])(ن?می) (?=[\u0600-\u06ff])")
_PERSIAN_LETTERS = re.compile("[\u0600-\u06ff\ufb50-\ufdff\ufe70-\ufeff]")
_LATIN_LETTERS = re.compile("[A-Za-z]")


def clean_display(text: str) -> str:
    """Remove invisible controls and unify whitespace; keep the writer's letters and digits."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    text = _ZWNJ_RUNS.sub(ZWNJ, text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def normalize(text: str) -> str:
    """The model form: Arabic letters to Persian, digits to Latin, diacritics gone, ZWNJ regular."""
    text = clean_display(text).translate(_ARABIC_TO_PERSIAN).translate(_DIGITS_TO_LATIN)
    text = _DIACRITICS.sub("", text)
    text = _MI_PREFIX.sub(lambda m: m.group(1) + ZWNJ, text)
    return text.replace("\n", " ").strip()


def persian_ratio(text: str) -> float:
    """Share of letters in Arabic script (Persian) among all Persian + Latin letters."""
    fa = len(_PERSIAN_LETTERS.findall(text))
    en = len(_LATIN_LETTERS.findall(text))
    return fa / (fa + en) if fa + en else 0.0


def detect_language(text: str, default: str = "en") -> str:
    """'fa' or 'en'. Script decides when it is clear; langid only breaks ties on mixed text."""
    ratio = persian_ratio(text)
    if ratio >= 0.6:
        return "fa"
    if ratio <= 0.2:
        return "en" if _LATIN_LETTERS.search(text) else default
    lang, _ = langid.classify(text)
    return "fa" if lang in {"fa", "ar", "ur"} else "en"
