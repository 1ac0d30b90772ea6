import pytest

from nlp.pii import (
    PiiSpan,
    find_pii,
    iban_ok,
    luhn_ok,
    national_id_ok,
    redact,
    redact_spans,
)

_FA = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_AR = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def fa(s: str) -> str:
    return s.translate(_FA)


def ar(s: str) -> str:
    return s.translate(_AR)


# Test numbers are built here, independently of nlp.pii, from the published algorithms.


def luhn_complete(body: str) -> str:
    """body + the Luhn check digit."""
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c) * (1 if i % 2 else 2)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def luhn_broken(body: str) -> str:
    good = luhn_complete(body)
    return good[:-1] + str((int(good[-1]) + 1) % 10)


def nid_complete(nine: str) -> str:
    s = sum(int(nine[i]) * (10 - i) for i in range(9)) % 11
    return nine + str(s if s < 2 else 11 - s)


def make_iban(country: str, bban: str) -> str:
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


def grouped(s: str, sep: str = " ", size: int = 4) -> str:
    return sep.join(s[i : i + size] for i in range(0, len(s), size))


def found(text: str) -> list[tuple[str, str]]:
    return [(s.kind, text[s.start : s.end]) for s in find_pii(text)]


CARD = luhn_complete("603799112233445")  # an Iranian (Melli) BIN
CARD19 = luhn_complete("603799112233445566")
BAD_CARD = luhn_broken("603799112233445")
NID = nid_complete("001354241")
NID_LOW = nid_complete("123456789")  # sum % 11 == 1, so the check digit is the sum itself
BAD_NID = NID[:-1] + str((int(NID[-1]) + 1) % 10)
SHEBA = make_iban("IR", "0170000000123456789001")
BAD_SHEBA = SHEBA[:2] + f"{(int(SHEBA[2:4]) + 1) % 100:02d}" + SHEBA[4:]
NL_IBAN = make_iban("NL", "ABNA0417164300")


def test_test_builders_match_hand_computed_values():
    # guards the builders themselves against a shared mistake with the module under test
    assert NID == "0013542419"
    assert NID_LOW == "1234567891"
    assert luhn_complete("411111111111111") == "4111111111111111"
    assert make_iban("DE", "370400440532013000") == "DE89370400440532013000"
    assert make_iban("GB", "WEST12345698765432") == "GB82WEST12345698765432"
    assert len(CARD) == 16 and len(CARD19) == 19 and len(SHEBA) == 26


def test_checksum_functions():
    assert luhn_ok("4111111111111111") and luhn_ok(CARD) and luhn_ok("378282246310005")
    assert not luhn_ok(BAD_CARD) and not luhn_ok("4111111111111112")
    assert national_id_ok(NID) and national_id_ok(NID_LOW)
    assert not national_id_ok(BAD_NID)
    # all-same ids pass the arithmetic (1111111111: 54 % 11 = 10, 11 - 10 = 1) but are not issued
    assert not national_id_ok("1111111111") and not national_id_ok("0000000000")
    assert not national_id_ok("123456789")
    assert iban_ok("DE89370400440532013000") and iban_ok(SHEBA) and iban_ok(NL_IBAN)
    assert not iban_ok("DE88370400440532013000") and not iban_ok(BAD_SHEBA)


@pytest.mark.parametrize(
    "text, number",
    [
        ("Call me on 09123456789 tomorrow.", "09123456789"),
        ("my number is +98 912 345 6789, thanks", "+98 912 345 6789"),
        ("dial 0098 912 345 6789 from abroad", "0098 912 345 6789"),
        ("WhatsApp: 989123456789", "989123456789"),
        ("reach me at +98 (912) 345-6789 after 5pm", "+98 (912) 345-6789"),
        ("cell 0912-345-67-89 ok", "0912-345-67-89"),
        ("office: 021-88776655", "021-88776655"),
        ("Tehran office +98 21 8877 6655.", "+98 21 8877 6655"),
        ("or +98 (0)21 8877 6655", "+98 (0)21 8877 6655"),
        ("London office +44 20 7946 0958.", "+44 20 7946 0958"),
        ("US support +1 (415) 555-2671 any time", "+1 (415) 555-2671"),
        ("US support (415) 555-2671 any time", "(415) 555-2671"),
        ("Berlin +49-30-12345678", "+49-30-12345678"),
        ("شماره‌ام ۰۹۱۲۳۴۵۶۷۸۹ هست", "۰۹۱۲۳۴۵۶۷۸۹"),
        ("با ۰۲۱-۸۸۷۷۶۶۵۵ تماس بگیرید", "۰۲۱-۸۸۷۷۶۶۵۵"),
        ("شماره: +۹۸ ۹۱۲ ۳۴۵ ۶۷۸۹ لطفا", "+۹۸ ۹۱۲ ۳۴۵ ۶۷۸۹"),
        ("رقمي ٠٩١٢٣٤٥٦٧٨٩ شكرا", "٠٩١٢٣٤٥٦٧٨٩"),
        ("اتصل على ٠٠٩٨ ٩١٢ ٣٤٥ ٦٧٨٩", "٠٠٩٨ ٩١٢ ٣٤٥ ٦٧٨٩"),
        ("mixed ۰۹۱۲ 345 ٦٧٨٩ digits", "۰۹۱۲ 345 ٦٧٨٩"),
        # bidi marks that RTL chat apps put around numbers
        ("شماره: \u200e۰۹۱۲-۳۴۵-۶۷۸۹\u200e، ممنون", "۰۹۱۲-۳۴۵-۶۷۸۹"),
    ],
)
def test_phone_numbers(text, number):
    assert found(text) == [("PHONE", number)]


def test_phone_list_with_persian_comma():
    text = "شماره‌ها: ۰۹۱۲۳۴۵۶۷۸۹، ۰۹۳۵۱۱۱۲۲۳۳ و 021-88776655"
    assert found(text) == [
        ("PHONE", "۰۹۱۲۳۴۵۶۷۸۹"),
        ("PHONE", "۰۹۳۵۱۱۱۲۲۳۳"),
        ("PHONE", "021-88776655"),
    ]


@pytest.mark.parametrize(
    "text, email",
    [
        ("write to ali.rezaei+support@example.co.ir please", "ali.rezaei+support@example.co.ir"),
        ("ایمیلم sara_k@gmail.com هست", "sara_k@gmail.com"),
        ("ایمیل: test.user@mail.example.com.", "test.user@mail.example.com"),
        ("بريدي omar99@example.org شكرا", "omar99@example.org"),
    ],
)
def test_emails(text, email):
    assert found(text) == [("EMAIL", email)]


@pytest.mark.parametrize(
    "text, card",
    [
        (f"Card {grouped(CARD)} was charged twice", grouped(CARD)),
        (f"card number {CARD}, please refund", CARD),
        (f"شماره کارتم {fa(grouped(CARD, '-'))} است", fa(grouped(CARD, "-"))),
        (f"رقم البطاقة {ar(CARD)} شكرا", ar(CARD)),
        (f"کارت {ar(grouped(CARD))} بانک", ar(grouped(CARD))),
        (
            f"mixed {fa(CARD[:4])} {CARD[4:8]}-{ar(CARD[8:12])} {fa(CARD[12:])} end",
            f"{fa(CARD[:4])} {CARD[4:8]}-{ar(CARD[8:12])} {fa(CARD[12:])}",
        ),
        (f"19 digits {grouped(CARD19)} here", grouped(CARD19)),
        ("Amex 3782 822463 10005 expired", "3782 822463 10005"),
        ("Visa 4111-1111-1111-1111.", "4111-1111-1111-1111"),
    ],
)
def test_card_numbers(text, card):
    assert found(text) == [("CARD", card)]


@pytest.mark.parametrize(
    "text",
    [
        f"Card {grouped(BAD_CARD)} was charged",
        f"card {BAD_CARD}",
        f"کارت {fa(grouped(BAD_CARD, '-'))}",
        f"بطاقة {ar(BAD_CARD)}",
        "4111 1111 1111 1112",
        "0000 0000 0000 0000",
    ],
)
def test_card_failing_luhn_is_kept(text):
    assert find_pii(text) == []


@pytest.mark.parametrize(
    "text, nid",
    [
        (f"My national id is {NID}.", NID),
        (f"id {NID_LOW} for the contract", NID_LOW),
        (f"کد ملی من {fa(NID)} است", fa(NID)),
        (f"الرقم الوطني {ar(NID)}", ar(NID)),
        ("کد ملی: ۰۰۱-۳۵۴۲۴۱-۹ هست", "۰۰۱-۳۵۴۲۴۱-۹"),
        (f"mixed {fa(NID[:5])}{ar(NID[5:])} ok", f"{fa(NID[:5])}{ar(NID[5:])}"),
    ],
)
def test_national_ids(text, nid):
    assert found(text) == [("NATIONAL_ID", nid)]


@pytest.mark.parametrize(
    "text",
    [
        f"My national id is {BAD_NID}.",
        f"کد ملی {fa(BAD_NID)}",
        f"{ar(BAD_NID)}",
        "کد ملی ۱۱۱۱۱۱۱۱۱۱",
        "id 0000000000",
    ],
)
def test_invalid_national_ids_are_kept(text):
    assert find_pii(text) == []


@pytest.mark.parametrize(
    "text, iban",
    [
        (f"Sheba {grouped(SHEBA)} please", grouped(SHEBA)),
        (f"شبا: IR{fa(SHEBA[2:])} است", f"IR{fa(SHEBA[2:])}"),
        (f"الآيبان IR{ar(SHEBA[2:])}", f"IR{ar(SHEBA[2:])}"),
        (f"sheba ir{grouped(SHEBA[2:])}", f"ir{grouped(SHEBA[2:])}"),
        (f"شماره شبا {fa(SHEBA[2:])} به نام من", fa(SHEBA[2:])),
        ("pay to DE89 3704 0044 0532 0130 00 today", "DE89 3704 0044 0532 0130 00"),
        ("IBAN DE89 3704 0044 0532 0130 00 BANK X", "DE89 3704 0044 0532 0130 00"),
        ("UK: GB82 WEST 1234 5698 7654 32.", "GB82 WEST 1234 5698 7654 32"),
        (f"Dutch account {NL_IBAN}", NL_IBAN),
    ],
)
def test_ibans(text, iban):
    assert found(text) == [("IBAN", iban)]


@pytest.mark.parametrize(
    "text",
    [
        f"Sheba {grouped(BAD_SHEBA)} please",
        f"شبا {fa(BAD_SHEBA)}",
        f"شبا {BAD_SHEBA[2:]}",
        "pay to DE88 3704 0044 0532 0130 00 today",
        "GB83 WEST 1234 5698 7654 32",
    ],
)
def test_iban_with_wrong_check_is_kept(text):
    assert find_pii(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "قیمت ۲,۵۰۰,۰۰۰ تومان است",
        "قیمت ۲٬۵۰۰٬۰۰۰ تومان است",
        "It costs $1,299.99 per year",
        "مبلغ ۱۲,۵۰۰,۰۰۰,۰۰۰ ریال کسر شد",
        # ten digits that pass the national-id check, but next to a currency they are an amount
        f"مبلغ {fa(NID_LOW)} ریال کسر شد",
        f"charged {NID_LOW} rials",
        f"charged ${NID_LOW}",
        "تاریخ ۱۴۰۳/۰۵/۱۲ بود",
        "on 1403/05/12 and 2025-03-14 at 10:30",
        "ساعت ۱۴:۳۰:۱۵ تماس گرفتم",
        "order #1234567 was late",
        "ticket 845512, order 12345",
        "سفارش ۱۲۳۴۵۶۷ و تیکت ٨٤٥٥١٢",
        "۲۵٪ تخفیف و 50% off",
        "I want the Business 20 plan",
        "پلن Business 20 رو می‌خوام",
        "since 2024 or ۱۴۰۲",
        # digits after a decimal point are not an id, even when they would pass its check
        f"ratio 0.{NID}",
        "the code 0912 expired",
        "call 0912 345",
    ],
)
def test_not_pii(text):
    assert find_pii(text) == []


def test_offsets_point_into_the_original_text():
    card = fa(grouped(CARD, "-"))
    sheba = grouped(SHEBA)
    text = (
        f"سلام، شماره من ۰۹۱۲۳۴۵۶۷۸۹ و کارتم {card} است. "
        f"کد ملی {ar(NID)} و ایمیل ali@example.com، شبا {sheba}. "
        "قیمت ۲,۵۰۰,۰۰۰ تومان بود."
    )
    spans = find_pii(text)
    expected = [
        ("PHONE", "۰۹۱۲۳۴۵۶۷۸۹"),
        ("CARD", card),
        ("NATIONAL_ID", ar(NID)),
        ("EMAIL", "ali@example.com"),
        ("IBAN", sheba),
    ]
    assert [(s.kind, text[s.start : s.end]) for s in spans] == expected
    assert [s.start for s in spans] == [text.index(sub) for _, sub in expected]
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:], strict=False))


def test_longer_span_wins_over_a_number_inside_it():
    text = "send it to 09123456789@example.com"
    assert found(text) == [("EMAIL", "09123456789@example.com")]


def test_redact_english_and_persian():
    assert (
        redact("Call 09123456789 or mail ali@example.com, card 4111 1111 1111 1111.")
        == "Call [PHONE] or mail [EMAIL], card [CARD]."
    )
    text = f"کد ملی {fa(NID)}، شبا {SHEBA} و شماره ۰۲۱-۸۸۷۷۶۶۵۵ برای سفارش ۱۲۳۴۵۶۷"
    assert redact(text) == "کد ملی [NATIONAL_ID]، شبا [IBAN] و شماره [PHONE] برای سفارش ۱۲۳۴۵۶۷"


def test_redact_leaves_text_without_pii_alone():
    text = "قیمت ۲,۵۰۰,۰۰۰ تومان برای پلن Business 20 از 1403/05/12"
    assert redact(text) == text


def test_redact_spans_accepts_any_order_and_rejects_overlap():
    text = "a 123 b 456 c"
    spans = [PiiSpan("PHONE", 8, 11), PiiSpan("CARD", 2, 5)]
    assert redact_spans(text, spans) == "a [CARD] b [PHONE] c"
    with pytest.raises(ValueError):
        redact_spans(text, [PiiSpan("PHONE", 2, 6), PiiSpan("CARD", 4, 8)])
