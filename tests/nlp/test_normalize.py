from nlp.normalize import ZWNJ, clean_display, detect_language, normalize
from nlp.sentences import split_sentences


def test_arabic_letters_become_persian():
    assert normalize("كيفيت خيلي بد است") == "کیفیت خیلی بد است"


def test_persian_and_arabic_digits_become_latin():
    assert normalize("۱۲۳ و ١٢٣") == "123 و 123"


def test_mi_prefix_gets_zwnj_and_zero_width_junk_is_removed():
    assert normalize("من نمی خوام\u200b") == f"من نمی{ZWNJ}خوام"
    assert clean_display("سلام\u200f  دنیا") == "سلام دنیا"


def test_language_by_script_and_mixed_text():
    assert detect_language("قبض این ماه دو بار کسر شده") == "fa"
    assert detect_language("I was charged twice this month") == "en"
    assert detect_language("پنل VPN من از دیروز کار نمی‌کنه") == "fa"
    assert detect_language("12345", default="fa") == "fa"


def test_sentences_keep_offsets_and_decimals():
    text = "The plan costs 2.5 dollars. Why was I charged twice? ok"
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == [
        "The plan costs 2.5 dollars.",
        "Why was I charged twice?",
        "ok",
    ]
    assert all(text[s.start : s.end] == s.text for s in sentences)


def test_persian_question_mark_and_long_asr_text_are_split():
    assert len(split_sentences("چرا قطع شد؟ من پول دادم")) == 2
    assert len(split_sentences(" ".join(["کلمه"] * 75))) == 3
