"""Personal data in Persian/English text: phones, emails, card numbers, national ids, IBANs.

Matching runs on the original text, so offsets are valid for the display text the customer wrote;
Persian and Arabic-Indic digits are matched by character class and mapped to Latin only for the
checksums (one code point per digit, so nothing shifts). Every numeric kind needs a checksum
(card, national id, IBAN) or a phone shape of at least 8 digits, so prices, dates, times, order
numbers and plan names stay readable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

PHONE = "PHONE"
EMAIL = "EMAIL"
CARD = "CARD"
NATIONAL_ID = "NATIONAL_ID"
IBAN = "IBAN"
# when two kinds claim exactly the same text, the checksummed kind is the stronger evidence
_PRIORITY = {IBAN: 0, CARD: 1, NATIONAL_ID: 2, PHONE: 3, EMAIL: 4}


@dataclass(frozen=True)
class PiiSpan:
    kind: str
    # character offsets into the original text
    start: int
    end: int


_DIGITS = "0-9\u06f0-\u06f9\u0660-\u0669"
_D = f"[{_DIGITS}]"
_TO_LATIN = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def _digit_class(latin: str) -> str:
    """A character class for the given Latin digits in all three scripts."""
    return "[" + "".join(c + chr(0x06F0 + int(c)) + chr(0x0660 + int(c)) for c in latin) + "]"


_0, _8, _9 = _digit_class("0"), _digit_class("8"), _digit_class("9")
# Iranian area codes are 0 + two digits, both 1-8 (021 Tehran, 031 Isfahan, 087 Sanandaj...)
_AREA = _digit_class("12345678")

# between digit groups: spaces, hyphens and dashes, plus the ZWNJ and bidi marks that Persian
# keyboards and chat apps slip around numbers in right-to-left text. Not "," "." "/" ":" —
# those make prices, decimals, dates and times, which must stay whole and unredacted.
_SEP = r"[ \u00a0\u2009\u202f\-\u2010-\u2013\u2212\u200c\u200e\u200f\u2066-\u2069]"
_GAP = f"{_SEP}{{0,3}}"
# phones also wrap the area or country code in parentheses: "+98 (21) 8877 6655"
_PGAP = rf"(?:{_SEP}|[()]){{0,3}}"
# a match must not start or end inside a longer number or word ("12.09123456789", "ID0912...")
_START = rf"(?<![{_DIGITS}A-Za-z])(?<!{_D}[.,٫٬/:])"
_END = rf"(?![{_DIGITS}A-Za-z])(?![.,٫٬/:]{_D})"


def _latin_digits(s: str) -> str:
    return "".join(re.findall(_D, s)).translate(_TO_LATIN)


# --- checksums, on Latin digit strings ---------------------------------------------------------


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def national_id_ok(digits: str) -> bool:
    """Iranian national id (کد ملی): 10 digits, the last one a mod-11 check digit."""
    if len(digits) != 10 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    s = sum(int(digits[i]) * (10 - i) for i in range(9)) % 11
    check = int(digits[9])
    return check == s if s < 2 else check == 11 - s


def iban_ok(iban: str) -> bool:
    """ISO 13616 mod-97 on a compact IBAN (no spaces, Latin digits, upper-case letters)."""
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", iban):
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


# --- the matchers -------------------------------------------------------------------------------

# Iran: +98 / 0098 / 0 then 9xx xxx xxxx (mobile) or a 2-digit area code and 8 local digits;
# "+98 (0)21 ..." keeps the trunk zero in parentheses
_IR_INTL = rf"(?:\+|{_0}{_0}){_PGAP}{_9}{_PGAP}{_8}{_PGAP}(?:\(?{_0}\)?{_PGAP})?"
_IR_NSN = rf"(?:{_9}(?:{_PGAP}{_D}){{9}}|{_AREA}{_PGAP}{_AREA}(?:{_PGAP}{_D}){{8}})"
_IR_PHONE = rf"{_START}(?:{_IR_INTL}|{_0}{_PGAP}){_IR_NSN}{_END}"
# mobiles written with the country code but no plus: 989123456789
_IR_MOBILE_98 = rf"{_START}{_9}{_8}{_PGAP}{_9}(?:{_PGAP}{_D}){{9}}{_END}"
# "+<country> ..." with 8 to 15 digits (E.164); country codes never start with 0. With "00"
# instead of the plus: at least 10 digits after it, so a Tehran national id like 0012345678 is not
# read as a dialled number, and not right after another digit group, where "00" is just zeros
# ("DE88 3704 0044 0532 ...")
_CC = _digit_class("123456789")
_INTL_PHONE = (
    rf"{_START}(?:\+\(?{_CC}(?:{_PGAP}{_D}){{7,14}}"
    rf"|(?<!{_D}{_SEP}){_0}{_0}{_PGAP}{_CC}(?:{_PGAP}{_D}){{9,14}}){_END}"
)
# North American "(415) 555-2671"; the parentheses make it unlike any amount or id
_NANP_PHONE = rf"{_START}\({_D}{{3}}\) ?{_D}{{3}}[-. ]{_D}{{4}}{_END}"

_G = f"{_SEP}{{1,3}}"
_CARD_PATTERNS = (
    rf"{_START}{_D}{{13,19}}{_END}",
    # 4-4-4-4, and 16-19 digits with a short last group
    rf"{_START}{_D}{{4}}(?:{_G}{_D}{{4}}){{3}}{_END}",
    rf"{_START}{_D}{{4}}(?:{_G}{_D}{{4}}){{3}}{_G}{_D}{{1,3}}{_END}",
    # Amex 4-6-5 and Diners 4-6-4
    rf"{_START}{_D}{{4}}{_G}{_D}{{6}}{_G}{_D}{{4,5}}{_END}",
)
# contiguous, or as printed on the card: 001-234567-8
_NATIONAL_ID = rf"{_START}(?:{_D}{{10}}|{_D}{{3}}{_SEP}{{1,2}}{_D}{{6}}{_SEP}{{1,2}}{_D}){_END}"
# Sheba: IR + 24 digits, in any case and spacing, or the 24 digits alone (the form many banking
# apps show); both are checked as IR IBANs
_SHEBA = rf"{_START}[Ii][Rr]{_GAP}{_D}(?:{_GAP}{_D}){{23}}{_END}"
_BARE_SHEBA = rf"{_START}{_D}{{24}}{_END}"
# other countries: upper-case country code, check digits, then alphanumeric groups split by single
# spaces; the run may swallow a following upper-case word, so prefixes are tried at group ends.
# Bounded (an IBAN has at most 34 characters) so a long upper-case text stays linear.
_IBAN_RUN = (
    rf"{_START}[A-Z]{{2}}{_D}{{2}}[A-Z{_DIGITS}]{{0,30}}(?:[ \u00a0][A-Z{_DIGITS}]{{1,30}}){{0,8}}"
)

_EMAIL = (
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"\.[A-Za-z]{2,}(?![A-Za-z0-9-])"
)

# a number right after a currency sign or right before a currency word is an amount, whatever
# its checksum says: "۱۲۰۰۰۰۰۰۰۰ ریال" can pass the national-id check by chance
_CURRENCY_BEFORE = re.compile(r"[$€£﷼]\s?$")
_CURRENCY_AFTER = re.compile(
    r"^\s?(?:تومان|تومن|ریال|toman|tomans|rial|rials|irr|irt|usd|eur|dollars?)(?![A-Za-z])",
    re.IGNORECASE,
)


def _is_amount(text: str, start: int, end: int) -> bool:
    return bool(
        _CURRENCY_BEFORE.search(text[max(0, start - 2) : start])
        or _CURRENCY_AFTER.match(text[end : end + 8])
    )


def _card_ok(s: str) -> bool:
    d = _latin_digits(s)
    # no issuer number starts with 0 (that also keeps 0098... phones out); 0000... passes Luhn
    return 13 <= len(d) <= 19 and d[0] != "0" and len(set(d)) > 1 and luhn_ok(d)


def _phone_ok(s: str) -> bool:
    return len(_latin_digits(s)) >= 8


def _national_id_match_ok(s: str) -> bool:
    return national_id_ok(_latin_digits(s))


def _sheba_ok(s: str) -> bool:
    return iban_ok("IR" + _latin_digits(s))


def _compact_iban(s: str) -> str:
    return re.sub(r"[\s\u200c\u200e\u200f\u2066-\u2069\-\u2010-\u2013\u2212]", "", s).translate(
        _TO_LATIN
    )


_RULES: tuple[tuple[str, re.Pattern[str], Callable[[str], bool], bool], ...] = (
    # (kind, pattern, check on the matched text, whether a currency next to it vetoes it)
    (PHONE, re.compile(_IR_PHONE), _phone_ok, True),
    (PHONE, re.compile(_IR_MOBILE_98), _phone_ok, True),
    (PHONE, re.compile(_INTL_PHONE), _phone_ok, True),
    (PHONE, re.compile(_NANP_PHONE), _phone_ok, True),
    *((CARD, re.compile(p), _card_ok, True) for p in _CARD_PATTERNS),
    (NATIONAL_ID, re.compile(_NATIONAL_ID), _national_id_match_ok, True),
    (IBAN, re.compile(_SHEBA), lambda s: iban_ok(_compact_iban(s).upper()), False),
    (IBAN, re.compile(_BARE_SHEBA), _sheba_ok, True),
    (EMAIL, re.compile(_EMAIL), lambda s: True, False),
)
_IBAN_RUN_RE = re.compile(_IBAN_RUN)
_GROUP_END = re.compile(r"(?=[ \u00a0])|$")


def _candidates(text: str) -> Iterator[PiiSpan]:
    for kind, pattern, ok, amount_veto in _RULES:
        for m in pattern.finditer(text):
            if ok(m.group()) and not (amount_veto and _is_amount(text, m.start(), m.end())):
                yield PiiSpan(kind, m.start(), m.end())
    for m in _IBAN_RUN_RE.finditer(text):
        run = m.group()
        # longest prefix that ends at a group boundary and passes the check
        ends = sorted({g.start() for g in _GROUP_END.finditer(run)}, reverse=True)
        for end in ends:
            if iban_ok(_compact_iban(run[:end])):
                yield PiiSpan(IBAN, m.start(), m.start() + end)
                break


def find_pii(text: str) -> list[PiiSpan]:
    """Non-overlapping PII spans sorted by start; on overlap the longer span wins."""
    chosen: list[PiiSpan] = []
    ranked = sorted(
        set(_candidates(text)), key=lambda s: (s.start - s.end, _PRIORITY[s.kind], s.start)
    )
    for span in ranked:
        if all(span.end <= c.start or c.end <= span.start for c in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


def redact_spans(text: str, spans: Iterable[PiiSpan]) -> str:
    """Replace each span with "[KIND]". Spans may come in any order but must not overlap."""
    parts: list[str] = []
    pos = 0
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if span.start < pos:
            raise ValueError(f"overlapping PII spans at {span.start}")
        parts.append(text[pos : span.start])
        parts.append(f"[{span.kind}]")
        pos = span.end
    parts.append(text[pos:])
    return "".join(parts)


def redact(text: str) -> str:
    return redact_spans(text, find_pii(text))
