"""Chat parsing: JSON and text transcripts, encodings, validation messages and limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import ErrorCode, HamsuError
from transcribe.chat import (
    MAX_CHAT_BYTES,
    MAX_CHAT_MESSAGES,
    parse_chat,
    speaker_role,
    split_speaker_prefix,
)
from transcribe.types import Transcript

DATA = Path(__file__).resolve().parents[1] / "data" / "chat"


def parse(name: str) -> Transcript:
    return parse_chat((DATA / name).read_bytes(), filename=name)


def error_of(data: bytes, filename: str = "") -> HamsuError:
    with pytest.raises(HamsuError) as err:
        parse_chat(data, filename=filename)
    return err.value


def test_json_chat_keeps_roles_names_times_and_consecutive_turns() -> None:
    transcript = parse("support_en.json")

    assert transcript.channel == "chat"
    assert transcript.meta == {"format": "json", "messages": 4}
    # the empty fifth message (an attachment) is skipped; Nina's two messages stay separate
    assert [t.speaker for t in transcript.turns] == ["customer", "agent", "agent", "customer"]
    first, _, second_agent, upsell = transcript.turns
    assert first.speaker_label == "Liam Carter"
    assert first.sent_at == datetime(2025, 3, 12, 10, 31, 4, tzinfo=UTC)
    assert second_agent.text.startswith("The Zendesk token expired on March 11.")
    assert upsell.text.endswith("What would 15 more agent licenses cost?")
    assert upsell.sent_at == datetime(2025, 3, 12, 10, 36, 55, tzinfo=UTC)


def test_json_top_level_list_of_messages() -> None:
    customer, agent = parse("list_messages.json").turns

    assert customer.speaker == "customer"
    assert customer.speaker_label == "customer"
    assert customer.text == "سلام، کد تخفیفی که پیامک شد روی سبد خرید اعمال نمی\u200cشود."
    assert agent.speaker == "agent"
    assert agent.sent_at is None


def test_english_text_transcript_with_timestamps_and_continuations() -> None:
    transcript = parse("text_en.txt")

    assert transcript.meta["format"] == "text"
    roles = [t.speaker for t in transcript.turns]
    assert roles == ["agent", "customer", "customer", "agent", "customer"]
    # the title line before the first prefix is not a message
    assert all("Chat transcript" not in t.text for t in transcript.turns)
    assert transcript.turns[1].text == (
        "My bill this month is $38 higher than usual.\n"
        "I never signed up for the international roaming pack."
    )
    assert transcript.turns[2].text == "And I was abroad for one day only."
    assert transcript.turns[4].text.startswith("Please do. If this happens again")
    # a bare clock time names no day
    assert all(t.sent_at is None for t in transcript.turns)


def test_persian_text_transcript_tolerates_arabic_letters_digits_and_colons() -> None:
    turns = parse("text_fa.txt").turns

    assert [t.speaker for t in turns] == ["agent", "customer", "agent", "customer"]
    assert turns[0].text.startswith("سلام، به پشتیبانی فروشگاه آنلاین نوین خوش آمدید.")
    # "مشتري" with Arabic yeh, continued on the next line
    assert turns[1].text == (
        "سلام. سفارشم با شماره ۴۸۲۱۹ قرار بود دیروز برسد ولی هنوز خبری نیست.\n"
        "هیچ پیامکی هم برای ارسال دریافت نکردم."
    )
    # "كارشناس" with Arabic kaf and a full-width colon
    assert turns[2].text == "بررسی کردم؛ بسته در انبار مرکزی مانده است. عذرخواهی می\u200cکنم."
    assert turns[3].text == "این سومین بار است که سفارشم دیر می\u200cرسد."


def test_windows_1256_persian_chat() -> None:
    turns = parse("windows1256_fa.txt").turns

    assert [t.speaker for t in turns] == ["agent", "customer", "agent", "customer"]
    # windows-1256 carries the Arabic yeh for the Persian one
    assert turns[1].text.replace("ي", "ی") == (
        "سلام، دیروز کارت به کارت زدم ولی پول به مقصد نرسیده و از حسابم کم شده."
    )
    assert turns[3].text == "77410238"


def test_utf16_with_bom() -> None:
    agent, customer = parse("utf16_bom.txt").turns
    assert agent.text == "Good morning, Skyline Bank, how can I help?"
    assert customer.text == "I was charged a late fee although I paid on time."


def test_utf8_bom_and_dated_prefix_becomes_sent_at() -> None:
    data = "\ufeff[2025-03-12 10:32] Agent: Hello\n2025-03-12T10:33:05 Customer: Hi".encode()
    agent, customer = parse_chat(data).turns
    assert agent.sent_at == datetime(2025, 3, 12, 10, 32)
    assert customer.sent_at == datetime(2025, 3, 12, 10, 33, 5)
    assert customer.text == "Hi"


def test_invalid_json_reports_line_and_column() -> None:
    err = error_of((DATA / "malformed.json").read_bytes())
    assert err.code is ErrorCode.MALFORMED_CHAT
    assert err.message == "invalid JSON at line 5, column 5: Expecting ',' delimiter"
    assert err.details == {"line": 5, "column": 5}


def test_unknown_sender_is_named() -> None:
    err = error_of((DATA / "wrong_from.json").read_bytes())
    assert err.code is ErrorCode.MALFORMED_CHAT
    assert err.message == "message 2: 'from' must be customer or agent, got 'bot'"


def test_message_without_text_is_named() -> None:
    err = error_of((DATA / "missing_text.json").read_bytes())
    assert err.code is ErrorCode.MALFORMED_CHAT
    assert err.message == "message 3 has no 'text'"
    assert err.details == {"message": 3}


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"channel": "email", "messages": []}, "'channel' must be 'chat', got 'email'"),
        ({"channel": "chat", "turns": []}, "JSON chat has no 'messages' list (its keys: "),
        ({"messages": {"from": "agent"}}, "'messages' must be a list of messages, got an object"),
        ([{"from": "agent", "text": 5}], "message 1: 'text' must be a string, got a number"),
        (["hello"], "message 1 must be an object, got a string"),
        (
            [{"from": "agent", "text": "hi", "time": "12/03/2025"}],
            "message 1: 'time' must be an ISO-8601 date-time",
        ),
    ],
)
def test_json_validation_messages(doc: object, expected: str) -> None:
    err = error_of(json.dumps(doc).encode())
    assert err.code is ErrorCode.MALFORMED_CHAT
    assert err.message.startswith(expected)


def test_json_without_messages_is_an_empty_transcript() -> None:
    assert error_of(b"[]").code is ErrorCode.EMPTY_TRANSCRIPT


def test_empty_file() -> None:
    err = error_of((DATA / "empty.txt").read_bytes(), "empty.txt")
    assert err.code is ErrorCode.EMPTY_FILE
    assert "'empty.txt' is empty" in err.message


def test_text_without_speaker_prefixes_explains_the_formats() -> None:
    err = error_of(b"Just some notes about the call.\nNothing else.\n")
    assert err.code is ErrorCode.MALFORMED_CHAT
    assert '"Agent:"' in err.message
    assert '"messages"' in err.message


def test_binary_data_is_bad_encoding() -> None:
    err = error_of(bytes(range(1, 9)) * 100)
    assert err.code is ErrorCode.BAD_ENCODING


def test_huge_json_chat_is_refused_with_the_limit(tmp_path: Path) -> None:
    messages = [{"from": "customer", "text": f"message {i}"} for i in range(MAX_CHAT_MESSAGES + 1)]
    path = tmp_path / "huge.json"
    path.write_text(json.dumps({"channel": "chat", "messages": messages}))

    err = error_of(path.read_bytes(), path.name)
    assert err.code is ErrorCode.TOO_LARGE
    assert f"{MAX_CHAT_MESSAGES:,} messages" in err.message


def test_huge_text_chat_is_refused_with_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    path.write_text("".join(f"Customer: line {i}\n" for i in range(MAX_CHAT_MESSAGES + 1)))
    assert error_of(path.read_bytes()).code is ErrorCode.TOO_LARGE

    path.write_bytes(b"Agent: " + b"x" * MAX_CHAT_BYTES)
    err = error_of(path.read_bytes(), path.name)
    assert err.code is ErrorCode.TOO_LARGE
    assert "the limit for a chat is 5 MB" in err.message


def test_chat_at_the_message_limit_is_accepted() -> None:
    data = "".join(f"Agent: line {i}\n" for i in range(MAX_CHAT_MESSAGES)).encode()
    assert len(parse_chat(data).turns) == MAX_CHAT_MESSAGES


def test_sample_chats_parse() -> None:
    samples = Path(__file__).resolve().parents[2] / "samples" / "chats"

    persian = parse_chat((samples / "fa_churn.txt").read_bytes(), filename="fa_churn.txt").turns
    assert len(persian) == 9
    assert persian[6].speaker == "customer"
    assert "موقع عقد قرارداد به من قول دادند" in persian[6].text
    assert "قراردادم را فسخ می\u200cکنم" in persian[7].text

    english = parse_chat((samples / "en_upsell.json").read_bytes(), filename="en_upsell.json")
    customer_text = " ".join(t.text for t in english.turns if t.speaker == "customer")
    assert "We need 5 more lines on the same plan" in customer_text
    assert english.turns[0].speaker_label == "Ravi (BlueWave Business)"


def test_bom_with_nothing_after_it_is_empty() -> None:
    assert error_of("  \n".encode("utf-16")).code is ErrorCode.EMPTY_FILE


def test_broken_utf8_after_a_bom_names_the_byte() -> None:
    err = error_of(b"\xef\xbb\xbfAgent: hi \xff\n")
    assert err.code is ErrorCode.BAD_ENCODING
    assert (
        err.message == "the chat starts with a UTF-8 byte-order mark but byte 10 is not valid UTF-8"
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Agent: how can I help?", ("agent", "how can I help?")),
        ("[10:32] customer: my bill is wrong", ("customer", "my bill is wrong")),
        ("[۱۰:۳۲] كارشناس: سلام، در خدمتم", ("agent", "سلام، در خدمتم")),
        ("مشتری: قبضم اشتباهه", ("customer", "قبضم اشتباهه")),
        ("my agent: said nothing", (None, "my agent: said nothing")),
        ("no prefix at all", (None, "no prefix at all")),
    ],
)
def test_split_speaker_prefix_in_both_languages(line: str, expected: tuple) -> None:
    assert split_speaker_prefix(line) == expected


def test_speaker_role_names() -> None:
    assert speaker_role("Agent") == "agent"
    assert speaker_role(" اپراتور ") == "agent"
    assert speaker_role("مشتري") == "customer"  # Arabic yeh
    assert speaker_role("bot") is None and speaker_role("") is None


@pytest.mark.parametrize(
    "data",
    [
        "\ufeffAgent: How can I help?\nCustomer: مبلغ را دو بار کم کردید\n".encode("utf-32-be"),
        "\ufeffAgent: How can I help?\nCustomer: مبلغ را دو بار کم کردید\n".encode("utf-32-le"),
        # without a mark the zero bytes' side gives the byte order; the other order decodes too
        "Agent: How can I help?\nCustomer: مبلغ را دو بار کم کردید\n".encode("utf-16-be"),
        "Agent: How can I help?\nCustomer: مبلغ را دو بار کم کردید\n".encode("utf-16-le"),
    ],
    ids=["utf-32-be-bom", "utf-32-le-bom", "utf-16-be", "utf-16-le"],
)
def test_wide_encodings_decode(data: bytes) -> None:
    agent, customer = parse_chat(data).turns
    assert (agent.speaker, agent.text) == ("agent", "How can I help?")
    assert (customer.speaker, customer.text) == ("customer", "مبلغ را دو بار کم کردید")
