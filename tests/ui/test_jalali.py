"""Jalali conversion against known dates, Persian digits, date formatting."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from api.ui.jalali import format_date, format_short, gregorian_to_jalali, to_persian_digits


@pytest.mark.parametrize(
    ("gregorian", "jalali"),
    [
        ((2025, 3, 21), (1404, 1, 1)),  # Nowruz 1404
        ((2024, 3, 20), (1403, 1, 1)),  # Nowruz 1403
        ((2025, 3, 20), (1403, 12, 30)),  # 1403 is a leap year: Esfand has 30 days
        ((2024, 3, 19), (1402, 12, 29)),  # 1402 is not
        ((2023, 3, 21), (1402, 1, 1)),
        ((1979, 2, 11), (1357, 11, 22)),  # 22 Bahman 1357
        ((2000, 1, 1), (1378, 10, 11)),
        ((2024, 9, 22), (1403, 7, 1)),  # first day of Mehr: months 7-12 have 30 days
        ((2024, 9, 21), (1403, 6, 31)),  # last day of Shahrivar: months 1-6 have 31
        ((2026, 11, 25), (1405, 9, 4)),
    ],
)
def test_known_dates(gregorian, jalali):
    assert gregorian_to_jalali(*gregorian) == jalali


def test_every_day_of_a_few_years_is_consecutive():
    """Walk day by day: each Jalali date follows the previous one, month lengths are right."""
    day = date(2019, 1, 1)
    previous = gregorian_to_jalali(day.year, day.month, day.day)
    while day < date(2031, 1, 1):
        day += timedelta(days=1)
        current = gregorian_to_jalali(day.year, day.month, day.day)
        y, m, d = previous
        if current[2] != 1:
            assert current == (y, m, d + 1)
        else:
            expected = 31 if m <= 6 else 30 if m <= 11 else None
            assert d == expected if expected else d in (29, 30)
            assert current == ((y + 1, 1, 1) if m == 12 else (y, m + 1, 1))
        previous = current


def test_invalid_date_is_refused():
    with pytest.raises(ValueError):
        gregorian_to_jalali(2025, 2, 30)


def test_persian_digits():
    assert to_persian_digits("1404/01/01 12:30") == "۱۴۰۴/۰۱/۰۱ ۱۲:۳۰"
    assert to_persian_digits(2025) == "۲۰۲۵"
    assert to_persian_digits("no digits") == "no digits"


def test_format_date_in_both_languages():
    moment = datetime(2025, 3, 21, 14, 30, tzinfo=UTC)
    assert format_date(moment, "fa") == "۱ فروردین ۱۴۰۴، ۱۴:۳۰"
    assert format_date(moment, "en") == "2025-03-21 14:30"
    assert format_date(moment, "fa", with_time=False) == "۱ فروردین ۱۴۰۴"
    assert format_short(moment, "fa") == "۱۴۰۴/۰۱/۰۱"
    assert format_short(moment, "en") == "2025-03-21"
