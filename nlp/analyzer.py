"""Turns in, evidence-backed insights out.

Each turn is cut into sentences; every sentence (and a short turn as a whole) is embedded once and
scored by every detector. Those scores are evidence, not decisions: the decision model
(`nlp.decision`) reads each customer turn with the turn before it and decides once per kind for
the whole conversation. A raised kind becomes one insight quoting its best evidence, the sentence
that carries the signal; the weaker evidence stays in its explanation. An insight whose evidence
turn the recogniser was unsure of is held for a person to listen to (`needs_listening`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np
import scipy.sparse as sp

import nlp.transformers_backend  # noqa: F401  (registers the transformers detectors)
from core.labels import INSIGHT_KINDS, SENTIMENTS, InsightKind
from core.metrics import MODEL_LOAD_SECONDS
from core.settings import NlpSettings, TransformersSettings
from nlp.decision import (
    DECISION_WEIGHTS,
    QUESTION_MARKS,
    DecisionModel,
    KindDecision,
    TurnReading,
)
from nlp.detectors import Detector, create
from nlp.embed import Embedder, embedder_for
from nlp.features import Features, ngram_matrix
from nlp.heads import AGENT_VOICE, AGENT_VOICE_WEIGHTS, DEFAULT_WEIGHTS, Head, HeadBundle
from nlp.normalize import detect_language
from nlp.sentences import Sentence, split_sentences
from transcribe.types import Transcript, Turn

# a turn this short is also scored whole, which catches signals spread over two sentences
WHOLE_TURN_MAX_WORDS = 60
# a sentence needs this many words to be scored as evidence on its own
MIN_EVIDENCE_WORDS = 3
# how many of a decision's evidence turns its explanation lists
EXPLAINED_TURNS = 5


@dataclass(frozen=True)
class SentimentScore:
    label: str
    # probability of `label`
    score: float
    # p(positive) - p(negative), in [-1, 1]: a single number for trends
    polarity: float

    @classmethod
    def from_probabilities(cls, probs: np.ndarray) -> SentimentScore:
        i = int(np.argmax(probs))
        return cls(
            label=SENTIMENTS[i],
            score=round(float(probs[i]), 4),
            polarity=round(float(probs[2] - probs[0]), 4),
        )


@dataclass(frozen=True)
class Insight:
    kind: str
    score: float
    turn: int
    speaker: str
    quote: str
    # seconds into the audio where the quoted sentence starts (calls only)
    start: float | None
    detector: str
    language: str
    # character offsets of the quote within the turn text
    span: tuple[int, int]
    threshold: float
    # complaint insights carry a category and its probability
    category: str | None = None
    category_score: float | None = None
    explanation: dict[str, object] = field(default_factory=dict)
    # calibrated probability that the quoted turn, read with the turn before it, carries the kind
    evidence_score: float | None = None
    # the recogniser's confidence in the quoted turn (calls); None for typed text
    transcript_confidence: float | None = None
    # the evidence comes from a turn the recogniser was unsure of: a person listens before it
    # becomes work
    needs_listening: bool = False


@dataclass
class Analysis:
    turn_sentiments: list[SentimentScore]
    turn_languages: list[str]
    insights: list[Insight]
    # role -> {"overall"|"first"|"last": SentimentScore}
    sentiment: dict[str, dict[str, SentimentScore]]


@dataclass
class _Units:
    """Sentences of one text plus, for short texts, the text itself (last row)."""

    sentences: list[Sentence]
    has_whole: bool
    rows: slice

    def reading(self, task_probs: np.ndarray) -> np.ndarray | None:
        """The text's reading for a task: a short text's whole-text row beats averaging its
        fragments; None when the text has no units."""
        rows = task_probs[self.rows]
        if len(rows) == 0:
            return None
        return rows[-1] if self.has_whole else rows.mean(axis=0)

    def evidence_scores(self, task_probs: np.ndarray) -> np.ndarray:
        """The unit's scores for one binary task, with greetings and other fragments too short to
        be evidence on their own ("سلام.", "ok") zeroed, unless the text is nothing else."""
        scores = task_probs[self.rows].copy()
        short = [len(s.text.split()) < MIN_EVIDENCE_WORDS for s in self.sentences]
        if not all(short):
            scores[: len(self.sentences)][np.array(short, dtype=bool)] = 0.0
        return scores


@dataclass(frozen=True)
class Companion:
    """A second set of heads on another encoder whose probabilities are averaged with the main
    ones for `tasks`: the fine-tuned encoder is sharper on text like its training rows, the
    frozen one holds up better on phrasings it never saw; the average keeps most of both."""

    embedder: Embedder
    idf: np.ndarray
    detectors: Mapping[str, Detector]
    tasks: tuple[str, ...]


@dataclass(frozen=True)
class AgentVoice:
    """Tells an agent's line from a customer's by its wording (`training.agent_voice`), for lines
    that come without a speaker: an agent's offer must not read as a customer's upsell request."""

    embedder: Embedder
    idf: np.ndarray
    head: Head
    # a line reaching this probability is taken as the agent's
    threshold: float


class Analyzer:
    def __init__(
        self,
        *,
        embedder: Embedder,
        idf: np.ndarray,
        detectors: Mapping[str, Detector],
        thresholds: Mapping[str, float],
        companions: Sequence[Companion] = (),
        agent_voice: AgentVoice | None = None,
        decision: DecisionModel | None = None,
        decision_thresholds: Mapping[str, float] | None = None,
        hold_below_confidence: float = 0.0,
        listen_thresholds: Mapping[str, float] | None = None,
    ) -> None:
        self.embedder = embedder
        self.idf = idf
        self.detectors = dict(detectors)
        # sentence level: `hamsu classify` and the conversations of weights with no decision model
        self.thresholds = dict(thresholds)
        self.companions = tuple(companions)
        self.agent_voice = agent_voice
        self.decision = decision
        # conversation level, on the decision model's probabilities
        self.decision_thresholds = dict(decision_thresholds or {})
        self.hold_below_confidence = hold_below_confidence
        # conversation level, for evidence from a turn held for listening (looser: a person checks)
        self.listen_thresholds = dict(listen_thresholds or self.decision_thresholds)

    # ---- plain texts (hamsu classify) -------------------------------------------------------
    def classify(
        self, texts: Sequence[str], speakers: Sequence[str | None] | None = None
    ) -> list[dict[str, object]]:
        """Sentiment and the four insight scores per text. Where `speakers` names a text's
        speaker the row says so, and an agent's text scores 0 for every insight: as in a
        conversation, only customers raise customer insights. A text with no speaker gets its
        `agent_voice` probability, and is taken as the agent's (`speaker_inferred`) when that
        reaches the threshold."""
        speakers = speakers or [None] * len(texts)
        units, probs = self._score(texts, agent_voice=any(s is None for s in speakers))
        results = []
        for text, unit, given in zip(texts, units, speakers, strict=True):
            speaker = given
            sentiment = self._sentiment(unit, probs)
            row: dict[str, object] = {
                "text": text,
                "language": detect_language(text),
                "sentiment": {
                    "label": sentiment.label,
                    "score": sentiment.score,
                    "polarity": sentiment.polarity,
                },
            }
            if given is None and self.agent_voice is not None and AGENT_VOICE in probs:
                reading = unit.reading(probs[AGENT_VOICE])
                agent = 0.0 if reading is None else round(float(reading), 4)
                row["agent_voice"] = agent
                if agent >= self.agent_voice.threshold:
                    speaker = "agent"
                    row["speaker_inferred"] = True
            if speaker is not None:
                row["speaker"] = speaker
            for task in INSIGHT_KINDS:
                scores = unit.evidence_scores(probs[task])
                scored = len(scores) and speaker != "agent"
                row[task] = round(float(scores.max()), 4) if scored else 0.0
            results.append(row)
        return results

    def classify_stream(
        self, lines: Iterable[str | tuple[str, str | None]], batch: int = 256
    ) -> Iterator[dict[str, object]]:
        """`classify` over a stream of texts, or of (text, speaker) pairs, in batches."""
        texts: list[str] = []
        speakers: list[str | None] = []
        for line in lines:
            text, speaker = (line, None) if isinstance(line, str) else line
            texts.append(text)
            speakers.append(speaker)
            if len(texts) >= batch:
                yield from self.classify(texts, speakers)
                texts, speakers = [], []
        if texts:
            yield from self.classify(texts, speakers)

    # ---- transcripts ------------------------------------------------------------------------
    def analyze(self, transcript: Transcript) -> Analysis:
        turns = transcript.turns
        units, probs = self._score([t.text for t in turns])
        sentiments = [self._sentiment(u, probs) for u in units]
        languages = [
            t.language or detect_language(t.text, transcript.language or "en") for t in turns
        ]
        if self.decision is None:
            insights = self._sentence_insights(turns, units, probs, languages)
        else:
            readings = self._readings(turns, units, probs)
            insights = self._decided_insights(
                self.decision.decide(readings), turns, units, probs, languages
            )
        return Analysis(
            turn_sentiments=sentiments,
            turn_languages=languages,
            insights=insights,
            sentiment=_speaker_sentiment(turns, units, probs),
        )

    def read(self, turns: Sequence[Turn]) -> list[TurnReading]:
        """What the sentence detectors see in each turn: the decision model's input
        (`training.decision` fits it on these)."""
        units, probs = self._score([t.text for t in turns])
        return self._readings(turns, units, probs)

    # ---- internals ----------------------------------------------------------------------------
    def _score(
        self, texts: Sequence[str], *, agent_voice: bool = False
    ) -> tuple[list[_Units], dict[str, np.ndarray]]:
        unit_texts: list[str] = []
        units: list[_Units] = []
        for text in texts:
            sentences = split_sentences(text)
            first = len(unit_texts)
            unit_texts.extend(s.text for s in sentences)
            has_whole = len(sentences) > 1 and len(text.split()) <= WHOLE_TURN_MAX_WORDS
            if has_whole:
                unit_texts.append(text)
            units.append(_Units(sentences, has_whole, slice(first, len(unit_texts))))
        features = self.featurize(unit_texts)
        probs = {task: det.predict(features) for task, det in self.detectors.items()}
        # the companion and the agent voice share the frozen encoder: embed the units once
        vectors: dict[str, np.ndarray] = {}

        def embedded(embedder: Embedder) -> np.ndarray:
            if embedder.name not in vectors:
                vectors[embedder.name] = embedder.embed(unit_texts)
            return vectors[embedder.name]

        for companion in self.companions:
            # a task switched to another backend (settings) is that backend's alone
            tasks = [t for t in companion.tasks if self.detectors[t].name == DEFAULT_DETECTORS[t]]
            if not tasks or not unit_texts:
                continue
            extra = Features(embedded(companion.embedder), ngram_matrix(unit_texts, companion.idf))
            for task in tasks:
                probs[task] = (probs[task] + companion.detectors[task].predict(extra)) / 2
        if agent_voice and self.agent_voice is not None and unit_texts:
            voice = self.agent_voice
            probs[AGENT_VOICE] = voice.head.probabilities(
                Features(embedded(voice.embedder), ngram_matrix(unit_texts, voice.idf))
            )
        return units, probs

    def featurize(self, texts: Sequence[str]) -> Features:
        return Features(
            self.embedder.embed(texts), ngram_matrix(texts, self.idf), texts=list(texts)
        )

    def _sentiment(self, unit: _Units, probs: Mapping[str, np.ndarray]) -> SentimentScore:
        reading = unit.reading(probs["sentiment"])
        if reading is None:
            return SentimentScore("neutral", 1.0, 0.0)
        return SentimentScore.from_probabilities(reading)

    def _readings(
        self, turns: Sequence[Turn], units: Sequence[_Units], probs: Mapping[str, np.ndarray]
    ) -> list[TurnReading]:
        ngrams = ngram_matrix([t.text for t in turns], self.idf)
        return [
            self._turn_reading(unit, turn.speaker, probs, ngrams[i])
            for i, (turn, unit) in enumerate(zip(turns, units, strict=True))
        ]

    def _turn_reading(
        self,
        unit: _Units,
        speaker: str,
        probs: Mapping[str, np.ndarray],
        ngrams: sp.csr_matrix,
    ) -> TurnReading:
        n_words = sum(len(s.text.split()) for s in unit.sentences)
        sentiment = unit.reading(probs["sentiment"])
        if sentiment is None or not unit.sentences:
            return TurnReading(speaker, {}, {}, {}, (0.0, 0.0), {}, n_words)
        best, whole, best_sentiment, question = {}, {}, {}, {}
        sentence_scores = {}
        for task in INSIGHT_KINDS:
            scores = unit.evidence_scores(probs[task])
            sentence_scores[task] = tuple(float(p) for p in scores[: len(unit.sentences)])
            i = int(np.argmax(scores[: len(unit.sentences)]))
            best[task] = float(scores.max())
            whole[task] = float(cast(np.ndarray, unit.reading(probs[task])))
            polar = probs["sentiment"][unit.rows.start + i]
            best_sentiment[task] = (float(polar[0]), float(polar[2]))
            question[task] = unit.sentences[i].text.rstrip().endswith(QUESTION_MARKS)
        return TurnReading(
            speaker=speaker,
            best=best,
            whole=whole,
            best_sentiment=best_sentiment,
            sentiment=(float(sentiment[0]), float(sentiment[2])),
            best_is_question=question,
            n_words=n_words,
            sentence_scores=sentence_scores,
            ngrams=ngrams,
        )

    def _sentence_insights(
        self,
        turns: Sequence[Turn],
        units: Sequence[_Units],
        probs: Mapping[str, np.ndarray],
        languages: Sequence[str],
    ) -> list[Insight]:
        """Weights trained without a decision model: every customer turn whose best sentence
        reaches the sentence threshold raises an insight."""
        insights: list[Insight] = []
        for index, (turn, unit) in enumerate(zip(turns, units, strict=True)):
            # agents offer upgrades and describe problems; only customers raise customer insights
            if turn.speaker == "agent" or not unit.sentences:
                continue
            for task in INSIGHT_KINDS:
                score = float(unit.evidence_scores(probs[task]).max())
                threshold = self.thresholds.get(task, 0.5)
                if score >= threshold:
                    insights.append(
                        self._insight(
                            task,
                            index,
                            turn,
                            unit,
                            probs,
                            languages[index],
                            score=score,
                            threshold=threshold,
                        )
                    )
        return insights

    def _decided_insights(
        self,
        decisions: Mapping[str, KindDecision],
        turns: Sequence[Turn],
        units: Sequence[_Units],
        probs: Mapping[str, np.ndarray],
        languages: Sequence[str],
    ) -> list[Insight]:
        """One insight per kind the conversation-level decision raises, quoting its best
        evidence; every customer turn's evidence score stays in the explanation."""
        insights = []
        for task, decision in decisions.items():
            index = decision.best_turn
            if index is None:
                continue
            threshold = self.decision_thresholds.get(task, 0.5)
            if self._unsure(turns[index]):
                threshold = min(threshold, self.listen_thresholds.get(task, threshold))
            if decision.probability < threshold:
                continue
            ranked = sorted(decision.turn_probabilities.items(), key=lambda kv: -kv[1])
            evidence = [
                {
                    "turn": i,
                    "score": round(p, 4),
                    "sentence_score": round(float(units[i].evidence_scores(probs[task]).max()), 4),
                }
                for i, p in ranked[:EXPLAINED_TURNS]
            ]
            insights.append(
                self._insight(
                    task,
                    index,
                    turns[index],
                    units[index],
                    probs,
                    languages[index],
                    score=decision.probability,
                    threshold=threshold,
                    evidence_score=decision.turn_probabilities[index],
                    decision={
                        "evidence": evidence,
                        "model": cast(DecisionModel, self.decision).version,
                    },
                )
            )
        return insights

    def _insight(
        self,
        task: str,
        index: int,
        turn: Turn,
        unit: _Units,
        probs: Mapping[str, np.ndarray],
        language: str,
        *,
        score: float,
        threshold: float,
        evidence_score: float | None = None,
        decision: dict[str, object] | None = None,
    ) -> Insight:
        scores = unit.evidence_scores(probs[task])
        n_sent = len(unit.sentences)
        best = int(np.argmax(scores[:n_sent]))
        sentence = unit.sentences[best]
        if unit.has_whole and scores[best] < min(0.5, float(scores[-1])):
            # only the turn read whole carries the signal: quote the turn, not a random sentence
            sentence = Sentence(turn.text, 0, len(turn.text))
        category = category_score = None
        explanation = self.detectors[task].explain(np.array([float(scores.max())]))
        explanation["sentence_scores"] = [round(float(s), 4) for s in scores[:n_sent]]
        if unit.has_whole:
            explanation["whole_turn_score"] = round(float(scores[-1]), 4)
        if decision is not None:
            explanation["decision"] = decision
        if task == InsightKind.COMPLAINT and "complaint_category" in self.detectors:
            cat_probs = probs["complaint_category"][unit.rows.start + best]
            i = int(np.argmax(cat_probs))
            category = self.detectors["complaint_category"].labels[i]
            category_score = round(float(cat_probs[i]), 4)
        confidence = turn.confidence
        return Insight(
            kind=task,
            score=round(score, 4),
            turn=index,
            speaker=turn.speaker,
            quote=sentence.text,
            start=_time_of_offset(turn, sentence.start),
            detector=self.detectors[task].name,
            language=language,
            span=(sentence.start, sentence.end),
            threshold=round(threshold, 4),
            category=category,
            category_score=category_score,
            explanation=explanation,
            evidence_score=None if evidence_score is None else round(evidence_score, 4),
            transcript_confidence=None if confidence is None else round(confidence, 4),
            needs_listening=self._unsure(turn),
        )

    def _unsure(self, turn: Turn) -> bool:
        """The recogniser was unsure of this turn: what it says waits for a person to listen."""
        return turn.confidence is not None and turn.confidence < self.hold_below_confidence


def _time_of_offset(turn: Turn, offset: int) -> float | None:
    """Second at which the word under a character offset of the turn text was spoken."""
    if turn.start is None:
        return None
    if not turn.words:
        return round(turn.start, 2)
    words_before = len(turn.text[:offset].split())
    n_text_words = max(1, len(turn.text.split()))
    # ASR word lists and whitespace words usually agree; scale when they don't
    k = min(len(turn.words) - 1, round(words_before * len(turn.words) / n_text_words))
    return round(turn.words[k].start, 2)


def _speaker_sentiment(
    turns: Sequence[Turn], units: Sequence[_Units], probs: Mapping[str, np.ndarray]
) -> dict[str, dict[str, SentimentScore]]:
    by_role: dict[str, list[np.ndarray]] = {}
    for turn, unit in zip(turns, units, strict=True):
        rows = probs["sentiment"][unit.rows]
        if len(rows):
            by_role.setdefault(turn.speaker, []).append(rows.mean(axis=0))
    summary = {}
    for role, vectors in by_role.items():
        stacked = np.stack(vectors)
        third = max(1, len(vectors) // 3)
        summary[role] = {
            "overall": SentimentScore.from_probabilities(stacked.mean(axis=0)),
            "first": SentimentScore.from_probabilities(stacked[:third].mean(axis=0)),
            "last": SentimentScore.from_probabilities(stacked[-third:].mean(axis=0)),
        }
    return summary


DEFAULT_DETECTORS = {
    task: f"hamsu.{task}.v1" for task in ("sentiment", "complaint_category", *INSIGHT_KINDS)
}


@lru_cache(maxsize=4)
def load_analyzer(
    weights_path: str = "",
    thresholds: tuple[tuple[str, float], ...] = (),
    detectors: tuple[tuple[str, str], ...] = (),
    transformers: TransformersSettings | None = None,
    agent_voice_threshold: float = 0.5,
    decision_precision: float = 0.9,
    decision_thresholds: tuple[tuple[str, float], ...] = (),
    hold_below_confidence: float = 0.0,
    listen_precision: float = 0.8,
) -> Analyzer:
    """Build an analyzer once per process (weights and the embedder are shared).

    Arguments are hashable for the cache: `detectors` maps tasks to registered detector names
    (others keep `hamsu.<task>.v1`); `transformers` configures the transformers backends.
    The decision model (`decision.json` beside the heads) raises a kind at the threshold chosen
    on its dev split for `decision_precision`, unless `decision_thresholds` names one.
    """
    path = Path(weights_path) if weights_path else DEFAULT_WEIGHTS
    bundle = HeadBundle.load(path)
    names = {**DEFAULT_DETECTORS, **dict(detectors)}
    built = {task: create(name, task, bundle, transformers) for task, name in names.items()}
    companions = []
    specs = cast(list[dict[str, Any]], bundle.meta.get("companions") or [])
    for spec in specs:
        other = HeadBundle.load(path.parent / spec["file"])
        companions.append(
            Companion(
                embedder=embedder_for(other.embedder, path.parent),
                idf=other.idf,
                detectors={t: create(DEFAULT_DETECTORS[t], t, other) for t in spec["tasks"]},
                tasks=tuple(spec["tasks"]),
            )
        )
    voice_path = path.parent / AGENT_VOICE_WEIGHTS.name
    agent_voice = None
    if voice_path.exists():
        voice = HeadBundle.load(voice_path)
        agent_voice = AgentVoice(
            embedder=embedder_for(voice.embedder, path.parent),
            idf=voice.idf,
            head=voice.heads[AGENT_VOICE],
            threshold=agent_voice_threshold,
        )
    decision_path = path.parent / DECISION_WEIGHTS.name
    decision = DecisionModel.load(decision_path) if decision_path.exists() else None
    chosen = (
        {
            kind: dict(decision_thresholds).get(kind, decision.threshold(kind, decision_precision))
            for kind in INSIGHT_KINDS
        }
        if decision
        else {}
    )
    listen = (
        {kind: decision.threshold(kind, listen_precision) for kind in INSIGHT_KINDS}
        if decision
        else {}
    )
    return Analyzer(
        embedder=embedder_for(bundle.embedder, path.parent),
        idf=bundle.idf,
        detectors=built,
        thresholds=dict(thresholds),
        companions=companions,
        agent_voice=agent_voice,
        decision=decision,
        decision_thresholds=chosen,
        hold_below_confidence=hold_below_confidence,
        listen_thresholds=listen,
    )


def heads_path(settings: NlpSettings) -> Path:
    """The detector heads the settings name; the decision model and the other bundles lie beside
    them."""
    return Path(settings.weights_dir) / "heads.pt" if settings.weights_dir else DEFAULT_WEIGHTS


def analyzer_for(settings: NlpSettings) -> Analyzer:
    """The analyzer the settings describe: `hamsu classify`, `hamsu analyze` and the worker."""
    loads = load_analyzer.cache_info().misses
    started = time.perf_counter()
    analyzer = load_analyzer(
        str(heads_path(settings)),
        tuple(sorted(settings.thresholds.items())),
        tuple(sorted(settings.detectors.items())),
        settings.transformers,
        settings.agent_voice_threshold,
        settings.decision_precision,
        tuple(sorted(settings.decision_thresholds.items())),
        settings.hold_below_confidence,
        settings.listen_precision,
    )
    if load_analyzer.cache_info().misses > loads:  # loaded now, not taken from the cache
        MODEL_LOAD_SECONDS.labels("analyzer").set(time.perf_counter() - started)
    return analyzer
