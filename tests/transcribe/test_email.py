"""Email parsing: MIME structure, encodings, quoted history, signatures, roles and errors."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.errors import ErrorCode, HamsuError
from core.settings import EmailSettings
from transcribe.email import html_to_text, parse_email
from transcribe.types import Transcript

DATA = Path(__file__).resolve().parents[1] / "data" / "email"
DOMAINS = ["hamsu.example"]
TEHRAN = timezone(timedelta(hours=3, minutes=30))


def parse(name: str) -> Transcript:
    return parse_email((DATA / name).read_bytes(), company_domains=DOMAINS, filename=name)


def simple_email(body: str, *, sender: str = "kim@contoso.example", subject: str = "Hi") -> bytes:
    return (
        f"From: Kim Lee <{sender}>\nTo: support@hamsu.example\nSubject: {subject}\n"
        f"Date: Fri, 14 Mar 2025 08:00:00 +0000\nMIME-Version: 1.0\n"
        f"Content-Type: text/plain; charset=utf-8\n\n{body}"
    ).encode()


def persian(text: str) -> str:
    """windows-1256 has no Persian yeh, so legacy mail carries the Arabic one."""
    return text.replace("ي", "ی")


def test_multipart_alternative_uses_plain_part_and_keeps_informative_subject() -> None:
    transcript = parse("multipart_alternative.eml")

    assert transcript.channel == "email"
    [turn] = transcript.turns
    assert turn.speaker == "customer"
    assert turn.speaker_label == "dana.whitfield@northwind-retail.com"
    assert turn.sent_at == datetime(2025, 3, 4, 9, 14, 49, tzinfo=UTC)
    assert turn.text.startswith("Complaint: double charge on invoice INV-20931\n\nHello,")
    assert "We were charged twice for our March subscription" in turn.text
    assert "<div" not in turn.text
    assert transcript.meta == {
        "subject": "Complaint: double charge on invoice INV-20931",
        "from": "dana.whitfield@northwind-retail.com",
        "to": ["support@hamsu.example"],
        "message_id": "<CAF3k9x2Qm@mail.northwind-retail.com>",
        "quoted_turns": 0,
    }


def test_html_only_body_becomes_text_without_script_style_or_signature() -> None:
    [turn] = parse("html_only.eml").turns

    # "Re: [Ticket #55812]" says nothing, so it is not prepended
    assert turn.text.startswith("Hi team,\n\nThe export to CSV still fails")
    assert "10 000 rows – it stops at row 9,999" in turn.text
    assert "cut off.\nWe need this fixed" in turn.text
    assert "- Browser: Chrome 122\n- Account: Brightlane EU" in turn.text
    for dropped in ("trackOpen", "font-family", "Reply", "Thanks", "Marco"):
        assert dropped not in turn.text


def test_quoted_printable_persian_is_decoded_and_signature_dropped() -> None:
    transcript = parse("quoted_printable_fa.eml")

    [turn] = transcript.turns
    assert turn.speaker == "customer"
    assert turn.text.startswith("قطعی مکرر اینترنت\n\nسلام وقت بخیر،")
    # the ZWNJ inside "می‌شود" survives decoding
    assert "اینترنت ثابت ما مدام قطع می\u200cشود" in turn.text
    assert "با تشکر" not in turn.text
    assert "رضا کریمی" not in turn.text
    assert turn.sent_at == datetime(2025, 3, 8, 11, 42, 7, tzinfo=TEHRAN)


def test_base64_body_from_company_subdomain_is_an_agent_turn() -> None:
    transcript = parse("base64_agent.eml")

    [turn] = transcript.turns
    assert turn.speaker == "agent"
    assert turn.speaker_label == "omid.rahimi@mail.hamsu.example"
    assert "all 1,312 contacts are back in your workspace" in turn.text
    assert turn.text.startswith("Contacts missing after SSO change\n\nHi Priya,")
    assert "Best regards" not in turn.text
    assert "Customer Success, Hamsu" not in turn.text
    assert transcript.meta["to"] == ["priya.nair@tealbyte.co"]
    assert transcript.meta["in_reply_to"] == "<CAJx8821@tealbyte.co>"


def test_windows_1256_persian_body_and_encoded_subject() -> None:
    transcript = parse("windows1256_fa.eml")

    [turn] = transcript.turns
    text = persian(turn.text)
    assert persian(transcript.meta["subject"]) == "برداشت اشتباه از حساب"  # type: ignore[arg-type]
    assert "کارت بانکی من دیروز در دستگاه خودپرداز شعبه ونک ضبط شد" in text
    assert "می\u200cکنم" in text
    assert "ارادتمند" not in text
    assert "مریم صالحی" not in text


def test_wrong_declared_charset_falls_back_to_windows_1256() -> None:
    transcript = parse("wrong_charset_fa.eml")

    [turn] = transcript.turns
    assert "\ufffd" not in turn.text
    assert "فاکتور این ماه دو برابر ماه قبل است" in persian(turn.text)
    # the raw 8-bit subject header goes through the same fallback
    assert persian(transcript.meta["subject"]) == "فاکتور اشتباه"  # type: ignore[arg-type]


def test_reply_keeps_newest_message_and_turns_quoted_history_into_earlier_turns() -> None:
    transcript = parse("reply_with_history.eml")

    first, reply, newest = transcript.turns
    assert transcript.meta["quoted_turns"] == 2
    assert newest.speaker == "customer"
    assert newest.sent_at == datetime(2025, 3, 6, 14, 31, 8, tzinfo=UTC)
    assert "Your sales rep promised us a two-way Salesforce\nsync" in newest.text
    assert newest.text.endswith("Can someone from your side call me today?")
    for quoted_or_signature in (
        "roadmap",
        "one-way export",
        "Best regards",
        "Head of Operations",
        "555-0142",
        "Sent from my iPhone",
        "wrote:",
    ):
        assert quoted_or_signature not in newest.text

    assert reply.speaker == "agent"
    assert reply.speaker_label == "support@hamsu.example"
    assert reply.sent_at == datetime(2025, 3, 4, 10, 2)
    assert "two-way sync is on our roadmap for later this year" in reply.text
    assert "Kind regards" not in reply.text
    assert "how do I turn on" not in reply.text

    assert first.speaker == "customer"
    # a reply subject belongs to the thread's first message
    assert first.text.startswith("Salesforce sync\n\nHello, how do I turn on the two-way")


def test_outlook_html_reply_in_persian_splits_at_the_header_block() -> None:
    transcript = parse("outlook_reply_fa.eml")

    agent, customer = transcript.turns
    assert customer.speaker == "customer"
    assert (
        "سفارش ما هنوز نرسیده و از زمان وعده\u200cداده\u200cشده یک هفته گذشته است" in customer.text
    )
    for dropped in ("پنجشنبه", "با احترام", "نرگس فرخ", "فروشگاه کویر", "support@hamsu.example"):
        assert dropped not in customer.text
    assert agent.speaker == "agent"
    assert agent.speaker_label == "support@hamsu.example"
    assert agent.sent_at == datetime(2025, 3, 10, 14, 15)
    assert "سفارش شما تا پنجشنبه تحویل می\u200cشود" in agent.text
    assert agent.text.startswith("تأخیر در ارسال\n\n")


@pytest.mark.parametrize(
    ("body", "kept", "dropped"),
    [
        (
            "The app crashes on login.\n\n-----Original Message-----\nFrom: a@b.example\n"
            "Old text here",
            "crashes on login",
            "Old text here",
        ),
        (
            "نرم‌افزار هنگام ورود بسته می‌شود.\n\n"
            "\u202bدر تاریخ دوشنبه ۳ مارس ۲۰۲۵، پشتیبانی <support@hamsu.example> نوشت:\u202c\n"
            "> لطفاً نسخه را به‌روز کنید.",
            "بسته می‌شود",
            "نسخه را به‌روز",
        ),
        (
            "> Did the update help?\nNo, it still crashes.\n> Which version?\n4.2.1",
            "No, it still crashes.\n4.2.1",
            "Which version",
        ),
        ("Still broken.\n\n-- \nKim Lee\nCTO, Contoso", "Still broken.", "CTO"),
        ("Still broken.\n\nSent from my Galaxy", "Still broken.", "Galaxy"),
        (
            "Still broken.\n\nبا سپاس فراوان\nکیم لی\nمدیر فنی",
            "Still broken.",
            "مدیر فنی",
        ),
    ],
)
def test_quote_and_signature_variants(body: str, kept: str, dropped: str) -> None:
    [*_, turn] = parse_email(simple_email(body), company_domains=DOMAINS).turns
    assert kept in turn.text
    assert dropped not in turn.text


def test_a_closing_with_content_is_not_taken_for_a_signature() -> None:
    body = "We paid for the premium plan.\n\nThanks, but I am cancelling at the end of the month."
    [turn] = parse_email(simple_email(body), company_domains=DOMAINS).turns
    assert turn.text.endswith("Thanks, but I am cancelling at the end of the month.")


def test_generic_subject_is_not_prepended_and_missing_sender_is_unknown() -> None:
    data = b"Subject: Hello\nTo: support@hamsu.example\n\nWhere is my parcel?\n"
    [turn] = parse_email(data, company_domains=DOMAINS).turns
    assert turn.text == "Where is my parcel?"
    assert turn.speaker == "unknown"


def test_html_to_text_marks_blockquotes_as_quotes() -> None:
    html = "<p>New text</p><blockquote><p>old line</p></blockquote><script>x()</script>"
    assert html_to_text(html) == "New text\n\n> old line"


def test_malformed_email_says_what_was_found() -> None:
    with pytest.raises(HamsuError) as err:
        parse("malformed.eml")
    assert err.value.code is ErrorCode.MALFORMED_EMAIL
    assert "no email headers" in err.value.message
    assert "'Hi team,'" in err.value.message


def test_pdf_renamed_to_eml_is_refused() -> None:
    with pytest.raises(HamsuError) as err:
        parse("renamed_pdf.eml")
    assert err.value.code is ErrorCode.MALFORMED_EMAIL
    assert "'renamed_pdf.eml' is a PDF document" in err.value.message


def test_empty_file() -> None:
    with pytest.raises(HamsuError) as err:
        parse_email(b"\n\n", company_domains=DOMAINS, filename="blank.eml")
    assert err.value.code is ErrorCode.EMPTY_FILE


def test_body_with_only_a_signature_is_an_empty_transcript() -> None:
    with pytest.raises(HamsuError) as err:
        parse_email(simple_email("Sent from my iPhone\n"), company_domains=DOMAINS)
    assert err.value.code is ErrorCode.EMPTY_TRANSCRIPT


def test_attachment_only_email_names_its_parts() -> None:
    data = (
        b"From: kim@contoso.example\nSubject: Invoice\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="b1"\n\n--b1\n'
        b'Content-Type: application/pdf\nContent-Disposition: attachment; filename="inv.pdf"\n'
        b"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b1--\n"
    )
    with pytest.raises(HamsuError) as err:
        parse_email(data, company_domains=DOMAINS)
    assert err.value.code is ErrorCode.EMPTY_TRANSCRIPT
    assert "application/pdf" in err.value.message


def test_undecodable_body_is_bad_encoding() -> None:
    binary = base64.encodebytes(bytes(range(1, 9)) * 40).decode()
    data = (
        "From: kim@contoso.example\nSubject: Data\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n" + binary
    ).encode()
    with pytest.raises(HamsuError) as err:
        parse_email(data, company_domains=DOMAINS)
    assert err.value.code is ErrorCode.BAD_ENCODING


def test_sample_emails_parse_into_the_documented_turns() -> None:
    samples = Path(__file__).resolve().parents[2] / "samples" / "emails"

    english = parse_email(
        (samples / "en_unmet_promise.eml").read_bytes(), company_domains=DOMAINS
    ).turns
    assert [t.speaker for t in english] == ["customer", "agent", "customer"]
    assert "sales rep, Mark, promised us that the platform syncs stock" in english[2].text
    assert "we will not renew in June" in english[2].text
    assert "roadmap for the second half" not in english[2].text
    assert "Head of E-commerce" not in english[2].text

    [persian_turn] = parse_email(
        (samples / "fa_upsell_seats.eml").read_bytes(), company_domains=DOMAINS
    ).turns
    assert persian_turn.speaker == "customer"
    assert "برای همین به ۸ کاربر دیگر نیاز داریم" in persian_turn.text
    assert "هزینه\u200cی ارتقا به پلن سازمانی" in persian_turn.text
    assert "سپیده رحمانی" not in persian_turn.text


def thread(quotes: int, *, newest: str = "Still no refund for the double charge.") -> str:
    """A reply over `quotes` quoted messages, each 40 lines, alternating customer and agent."""
    body = [newest, ""]
    for i in range(quotes):
        author = "support@hamsu.example" if i % 2 == 0 else "kim@contoso.example"
        body.append(f"On Mon, Mar {10 - i % 9}, 2025 at 9:00 AM Someone <{author}> wrote:")
        body += [
            f"> Quoted message {i}, line {n}: we are looking into invoice 7731." for n in range(40)
        ]
        body.append("")
    return "\n".join(body)


def test_long_thread_keeps_the_newest_text_within_the_cap_and_says_so() -> None:
    data = simple_email(thread(12))
    whole = parse_email(data, company_domains=DOMAINS)
    assert "truncated" not in whole.meta and whole.meta["quoted_turns"] == 12

    capped = parse_email(data, company_domains=DOMAINS, max_text_chars=9_000)
    dropped = capped.meta["dropped_chars"]
    assert capped.meta["truncated"] is True and isinstance(dropped, int) and dropped > 0
    assert sum(len(turn.text) for turn in capped.turns) <= 9_000
    # what goes is the oldest history: the newest message and the latest quotes stay whole
    assert capped.turns[-1].text == whole.turns[-1].text == "Still no refund for the double charge."
    kept = len(capped.turns)
    assert 1 < kept < len(whole.turns)
    assert [t.text for t in capped.turns[-kept + 1 :]] == [t.text for t in whole.turns[-kept + 1 :]]


def test_a_newest_message_longer_than_the_cap_loses_its_tail_at_a_space() -> None:
    newest = "\n".join(
        f"Paragraph {n}: the router drops the line every evening." for n in range(400)
    )
    capped = parse_email(
        simple_email(thread(3, newest=newest)), company_domains=DOMAINS, max_text_chars=1_000
    )
    [turn] = capped.turns
    assert capped.meta["truncated"] is True and len(turn.text) <= 1_000
    assert turn.text.startswith("Paragraph 0: the router") and newest.startswith(turn.text)


def test_default_text_cap_leaves_every_test_and_sample_email_whole() -> None:
    limit = EmailSettings().max_text_chars
    samples = Path(__file__).resolve().parents[2] / "samples" / "emails"
    for path in [*DATA.glob("*.eml"), *samples.glob("*.eml")]:
        try:
            transcript = parse_email(
                path.read_bytes(), company_domains=DOMAINS, max_text_chars=limit
            )
        except HamsuError:
            continue  # the malformed fixtures
        assert "truncated" not in transcript.meta, path.name


@pytest.mark.parametrize("codec", ["utf-16", "utf-32"])
def test_email_saved_as_unicode_text_parses(codec: str) -> None:
    data = simple_email("سلام، مبلغ را دو بار کم کردید.").decode().encode(codec)
    [turn] = parse_email(data, company_domains=DOMAINS).turns
    assert turn.text == "سلام، مبلغ را دو بار کم کردید." and turn.speaker == "customer"
