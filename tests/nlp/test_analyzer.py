"""The detectors on real sentences, through the real embedder and the committed weights."""

import pytest

from nlp.analyzer import load_analyzer
from nlp.features import Features, ngram_matrix
from training.train import COMPANION_TASKS
from transcribe.types import Transcript, Turn


@pytest.fixture(scope="module")
def analyzer():
    return load_analyzer()


CASES = [
    ("complaint", "en", "I've been charged twice for the same order and nobody answers my emails"),
    ("complaint", "fa", "دو هفته است اینترنتم قطع و وصل میشه و هیچکس جواب نمیده"),
    (
        "unmet_expectation",
        "en",
        "your sales guy promised the plan includes free installation but now you bill me for it",
    ),
    (
        "unmet_expectation",
        "fa",
        "موقع خرید بهم گفتن ارسال رایگانه ولی الان هزینه ارسال ازم کم کردن",
    ),
    ("upsell", "en", "we're opening two new branches, so we need fifteen more licenses"),
    ("upsell", "fa", "می‌خوایم پلن‌مون رو به سازمانی ارتقا بدیم و ده تا کاربر دیگه هم اضافه کنیم"),
    ("churn_risk", "en", "if this isn't fixed by friday we are moving to another provider"),
    ("churn_risk", "fa", "دیگه خسته شدم، می‌خوام قراردادم رو فسخ کنم و برم سراغ یه اپراتور دیگه"),
]


@pytest.mark.parametrize(("kind", "lang", "text"), CASES)
def test_each_detector_fires_in_both_languages(analyzer, kind, lang, text):
    row = analyzer.classify([text])[0]
    assert row["language"] == lang
    assert row[kind] >= 0.5, row


@pytest.mark.parametrize(
    "text",
    [
        "thanks, the technician came on monday exactly as promised",
        "how do i add a new user to the dashboard",
        "ممنون، سفارشم همون روزی که گفته بودید رسید",
        "ساعت کاری شعبه مرکزی تا چنده؟",
    ],
)
def test_neutral_requests_raise_nothing(analyzer, text):
    row = analyzer.classify([text])[0]
    assert max(row[k] for k in ("complaint", "unmet_expectation", "upsell", "churn_risk")) < 0.5


def test_sentiment_polarity_in_both_languages(analyzer):
    rows = analyzer.classify(
        ["this is terrible, I'm furious", "عالی بود، خیلی ممنونم از پشتیبانی خوبتون"]
    )
    assert rows[0]["sentiment"]["label"] == "negative"
    assert rows[1]["sentiment"]["label"] == "positive"


def test_agent_turns_never_raise_customer_insights(analyzer):
    transcript = Transcript(
        channel="chat",
        turns=[
            Turn("agent", "Would you like to upgrade to the premium plan with 20 more seats?"),
            Turn("agent", "I'm sorry the internet keeps dropping; if you cancel you pay a fee."),
            Turn("customer", "We need 20 more seats for the new office, please send a quote."),
        ],
        language="en",
    )
    readings = analyzer.read(transcript.turns)
    # read alone, the agent's offer looks like a lead
    assert readings[0].best["upsell"] >= 0.5
    decisions = analyzer.decision.decide(readings)
    # only the customer's turn is evidence, for every kind
    assert all(set(d.turn_probabilities) == {2} for d in decisions.values())
    assert decisions["upsell"].turn_probabilities[2] >= 0.5
    assert decisions["churn_risk"].probability < 0.1
    analysis = analyzer.analyze(transcript)
    assert all(i.speaker == "customer" and i.turn == 2 for i in analysis.insights)
    assert set(analysis.sentiment) == {"agent", "customer"}


def test_quote_is_the_sentence_that_carries_the_signal(analyzer):
    turn = Turn(
        "customer",
        "Hello, my name is Sara and I manage the Tehran office. "
        "The weather has been nice this week. "
        "Your app has crashed every single day since the update and I'm losing sales.",
        start=12.0,
    )
    analysis = analyzer.analyze(Transcript(channel="call", turns=[turn], language="en"))
    complaint = next(i for i in analysis.insights if i.kind == "complaint")
    assert complaint.quote.startswith("Your app has crashed")
    assert turn.text[complaint.span[0] : complaint.span[1]] == complaint.quote
    assert complaint.category is not None
    assert complaint.detector == "hamsu.complaint.v1"
    assert complaint.explanation["probabilities"]


def test_greetings_are_not_evidence_on_their_own():
    import numpy as np

    from nlp.analyzer import _Units
    from nlp.sentences import split_sentences

    text = "سلام. از دیروز اینترنت من قطع است و کسی جواب نمی‌دهد"
    unit = _Units(split_sentences(text), has_whole=True, rows=slice(0, 3))
    scores = unit.evidence_scores(np.array([0.9, 0.2, 0.4]))
    assert scores.tolist() == [0.0, 0.2, 0.4]  # "سلام." alone scores nothing; the turn still does
    alone = _Units(split_sentences("سلام."), has_whole=False, rows=slice(0, 1))
    assert alone.evidence_scores(np.array([0.7])).tolist() == [0.7]


def test_insight_scores_average_the_fine_tuned_and_frozen_heads(analyzer):
    (companion,) = analyzer.companions
    assert companion.tasks == COMPANION_TASKS
    assert companion.embedder.name != analyzer.embedder.name
    texts = [
        "we will not renew when the contract ends in March",
        "قراردادمون رو برای سال بعد تمدید نمی‌کنیم",
    ]
    rows = analyzer.classify(texts)
    mine = analyzer.featurize(texts)
    theirs = Features(companion.embedder.embed(texts), ngram_matrix(texts, companion.idf))
    for task in COMPANION_TASKS:
        expected = (
            analyzer.detectors[task].predict(mine) + companion.detectors[task].predict(theirs)
        ) / 2
        assert [row[task] for row in rows] == pytest.approx(expected, abs=1e-3), task


def test_classify_with_speakers_zeroes_only_the_agents_insights(analyzer):
    text = "if this isn't fixed by friday we are moving to another provider"
    unknown, customer, agent = analyzer.classify([text] * 3, [None, "customer", "agent"])
    assert "speaker" not in unknown and customer["speaker"] == "customer"
    assert customer["churn_risk"] == unknown["churn_risk"] > 0.5
    assert agent["speaker"] == "agent" and agent["churn_risk"] == 0.0
    assert agent["sentiment"] == customer["sentiment"]


AGENT_OFFERS = [
    "Would you like to upgrade to our premium plan? It's only five dollars more a month.",
    "جناب، اگه بخواید می‌تونم اشتراک شما رو به پلن سازمانی ارتقا بدم که کاربر نامحدود داره.",
]


@pytest.mark.parametrize("text", AGENT_OFFERS)
def test_an_agents_offer_without_a_speaker_is_taken_as_the_agents(analyzer, text):
    row = analyzer.classify([text])[0]
    assert row["agent_voice"] >= 0.5
    assert row["speaker"] == "agent" and row["speaker_inferred"] is True
    assert row["upsell"] == 0.0


def test_customer_requests_keep_their_insights_beside_the_agent_voice(analyzer):
    texts = [text for kind, _lang, text in CASES]
    rows = analyzer.classify(texts)
    assert all(row["agent_voice"] < 0.5 and "speaker" not in row for row in rows)
    assert all(row[kind] >= 0.5 for (kind, _l, _t), row in zip(CASES, rows, strict=True))


def test_a_named_speaker_is_never_second_guessed(analyzer):
    (customer,) = analyzer.classify(AGENT_OFFERS[:1], ["customer"])
    assert customer["speaker"] == "customer" and "agent_voice" not in customer
    assert "speaker_inferred" not in customer


def test_the_agent_voice_check_is_off_above_a_threshold_of_one():
    lenient = load_analyzer(agent_voice_threshold=1.01)
    row = lenient.classify(AGENT_OFFERS[:1])[0]
    assert row["agent_voice"] >= 0.5 and "speaker" not in row
