"""Gregorian → Jalali (Solar Hijri) dates and Persian digits, with no dependency.

The conversion is the well-known arithmetic algorithm (as in jalaali-js / Borkowski's 33-year
cycle approximation used by most Iranian software), exact for the years 1 to 3177 of the Jalali
calendar — far beyond anything a contact center will store.
"""

from __future__ import annotations

from datetime import date, datetime

PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
JALALI_MONTHS = (
    "فروردین",
    "اردیبهشت",
    "خرداد",
    "تیر",
    "مرداد",
    "شهریور",
    "مهر",
    "آبان",
    "آذر",
    "دی",
    "بهمن",
    "اسفند",
)
_G_DAYS_BEFORE_MONTH = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def to_persian_digits(value: object) -> str:
    """`str(value)` with ASCII digits as Persian digits (۰–۹); other characters unchanged."""
    return str(value).translate(PERSIAN_DIGITS)


def gregorian_to_jalali(gy: int, gm: int, gd: int) -> tuple[int, int, int]:
    """(year, month, day) of the Jalali date of a Gregorian date."""
    date(gy, gm, gd)  # validates
    gy2 = gy + 1 if gm > 2 else gy
    days = (
        355666
        + 365 * gy
        + (gy2 + 3) // 4
        - (gy2 + 99) // 100
        + (gy2 + 399) // 400
        + gd
        + _G_DAYS_BEFORE_MONTH[gm - 1]
    )
    jy = -1595 + 33 * (days // 12053)
    days %= 12053
    jy += 4 * (days // 1461)
    days %= 1461
    if days > 365:
        jy += (days - 1) // 365
        days = (days - 1) % 365
    if days < 186:
        return jy, 1 + days // 31, 1 + days % 31
    return jy, 7 + (days - 186) // 30, 1 + (days - 186) % 30


def format_date(value: datetime | date, lang: str, *, with_time: bool = True) -> str:
    """A date for people: Jalali with the month's name and Persian digits in fa ("۱ فروردین
    ۱۴۰۴، ۱۴:۳۰"), ISO-like Gregorian in en ("2025-03-21 14:30"). Datetimes are shown as given
    (the caller converts the zone)."""
    clock = with_time and isinstance(value, datetime)
    if lang == "fa":
        jy, jm, jd = gregorian_to_jalali(value.year, value.month, value.day)
        text = f"{jd} {JALALI_MONTHS[jm - 1]} {jy}"
        if clock:
            text += f"، {value:%H:%M}"  # type: ignore[str-format]
        return to_persian_digits(text)
    text = f"{value:%Y-%m-%d}"
    if clock:
        text += f" {value:%H:%M}"  # type: ignore[str-format]
    return text


def format_short(value: datetime | date, lang: str) -> str:
    """A compact date for chart labels: 1404/01/01 (Persian digits) in fa, 2025-03-21 in en."""
    if lang == "fa":
        jy, jm, jd = gregorian_to_jalali(value.year, value.month, value.day)
        return to_persian_digits(f"{jy}/{jm:02d}/{jd:02d}")
    return f"{value:%Y-%m-%d}"
