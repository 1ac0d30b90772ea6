"""Agent vs customer from what each speaker says, in English and Persian."""

from __future__ import annotations

from transcribe.roles import CUES, assign_roles, normalize, score_speakers
from transcribe.types import Turn


def _turns(*lines: tuple[str, str]) -> list[Turn]:
    return [
        Turn(speaker="unknown", text=text, speaker_label=label, start=float(i * 5))
        for i, (label, text) in enumerate(lines)
    ]


def test_english_agent_greets_customer_complains():
    turns = _turns(
        ("spk0", "Thank you for calling Acme, my name is John from billing. How can I help?"),
        ("spk1", "Hi, I'm calling about my bill, I was charged twice."),
        ("spk0", "Let me check that for you."),
    )
    assert assign_roles(turns) == {"spk0": "agent", "spk1": "customer"}
    evidence = score_speakers(turns)
    assert "thank you for calling" in evidence["spk0"].matched
    assert "my name is * from" in evidence["spk0"].matched
    assert {"i'm calling", "my bill", "i was charged"} <= set(evidence["spk1"].matched)


def test_customer_speaking_first_is_still_the_customer():
    # outbound-style opening: the customer talks first, the cues decide
    turns = _turns(
        ("spk0", "Hello? Yes, I have a problem, my internet is not working."),
        ("spk1", "I am sorry to hear that. May I have your account number?"),
    )
    assert assign_roles(turns) == {"spk0": "customer", "spk1": "agent"}
    assert score_speakers(turns)["spk0"].spoke_first


def test_persian_cues_with_zwnj_spacing_and_arabic_letters():
    turns = _turns(
        ("a", "الو سلام خسته نباشید، یه مشکلی دارم با اینترنتم"),
        # ASR writes «می‌تونم» joined, and Arabic kaf/yeh (ك ي) in «کمکتون»
        ("b", "با سلام، رضایی هستم. چطور میتونم كمكتون كنم؟"),
        ("a", "اینترنتم از دیروز قطع شده"),
        ("b", "شماره پیگیری شما ۱۲۳۴ است. امر دیگه ای هست؟"),
    )
    assert assign_roles(turns) == {"a": "customer", "b": "agent"}
    agent = score_speakers(turns)["b"]
    assert {"چطور می‌تونم کمکتون کنم", "با سلام * هستم", "امر دیگه‌ای"} <= set(agent.matched)


def test_persian_short_agent_phrases():
    turns = _turns(
        ("x", "سلام، من کارشناس پشتیبانی هستم، در خدمتم."),
        ("y", "سلام، زنگ زدم برای اشتراکم."),
    )
    assert assign_roles(turns) == {"x": "agent", "y": "customer"}


def test_no_cues_first_speaker_is_agent():
    turns = _turns(("s1", "Hello."), ("s2", "Hello there."), ("s1", "Okay."))
    assert assign_roles(turns) == {"s1": "agent", "s2": "customer"}


def test_single_speaker_role_from_cues_or_unknown():
    assert assign_roles(_turns(("m", "Thanks for calling, how may I help you?"))) == {"m": "agent"}
    assert assign_roles(_turns(("m", "I want to cancel my subscription."))) == {"m": "customer"}
    assert assign_roles(_turns(("m", "The weather is nice."))) == {"m": "unknown"}
    assert assign_roles([]) == {}


def test_cue_counts_once_per_speaker():
    chatty = _turns(*[("c", "my account, my account, my account")] * 5, ("d", "how can I help"))
    evidence = score_speakers(chatty)
    assert evidence["c"].customer_score == 1.0
    assert assign_roles(chatty)["d"] == "agent"


def test_words_inside_longer_words_do_not_match():
    assert score_speakers(_turns(("z", "I hate unfrustratedness")))["z"].matched == ()
    assert score_speakers(_turns(("z", "کارشناسی ارشد دارم")))["z"].matched == ()


def test_normalize_and_cue_table_are_sane():
    assert normalize("چطور  می‌تونم كمكتون کنم؟") == "چطور می تونم کمکتون کنم"
    assert normalize("I'M Calling, ABOUT it!") == "i'm calling about it"
    assert all(cue.role in ("agent", "customer") and 0 < cue.weight <= 3 for cue in CUES)
    assert len({cue.phrase for cue in CUES}) == len(CUES)
