"""The labelled conversations (`labelled/conversations/`): whole chats, emails and call transcripts
with the kinds the customer raises and the turns that carry them (`GUIDE.md` there, data card
`labelled/DATA_CARD.md`).

Rows in the folder itself are split into train and dev by a hash of their id (deterministic on
every machine); `blind/` holds conversations written after the recipe was fixed, scored once.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from core.labels import INSIGHT_KINDS
from nlp.analyzer import Analyzer
from nlp.decision import TurnReading
from routing.engine import Context, load_rules
from training.datasets import stable_split
from transcribe.types import Channel, Transcript, Turn

CONVERSATIONS_DIR = Path(__file__).resolve().parent.parent / "labelled" / "conversations"
BLIND_DIR = CONVERSATIONS_DIR / "blind"
# a larger dev share than the sentence set's: thresholds are chosen for precision on it
DEV_SHARE = 0.4
# bump when TurnReading changes shape, so cached readings are not reused
READING_FORMAT = 5


@dataclass(frozen=True)
class LabelledConversation:
    id: str
    language: str
    channel: Channel
    industry: str
    turns: tuple[tuple[str, str], ...]
    labels: frozenset[str]
    # kind -> indexes of the customer turns that carry it
    evidence: dict[str, tuple[int, ...]]
    # the hard-negative family of a conversation with no label
    family: str | None
    split: str

    def transcript(self) -> Transcript:
        return Transcript(
            channel=self.channel,
            turns=[
                Turn(speaker=speaker, text=text, speaker_label=speaker, language=self.language)  # type: ignore[arg-type]
                for speaker, text in self.turns
            ],
            language=self.language,
        )

    def carries(self, kind: str, turn: int) -> bool:
        return turn in self.evidence.get(kind, ())

    @property
    def key(self) -> str:
        """Changes when the conversation's text does: the cache key of its readings."""
        text = json.dumps([self.id, self.turns], ensure_ascii=False)
        return hashlib.sha1(text.encode("utf-8")).hexdigest()


def queue_of(kinds: frozenset[str] | set[str]) -> str:
    """cs, sales, both or none: where the shipped routing rules send a conversation that raises
    these kinds (whatever the scores: every default rule routes from 0)."""
    insights = [{"kind": kind, "score": 1.0} for kind in sorted(kinds)]
    queues = {route.queue for route in load_rules().route(insights, Context())}
    return "both" if queues == {"cs", "sales"} else queues.pop() if queues else "none"


def load_conversations(
    folder: Path = CONVERSATIONS_DIR, split: str | None = None
) -> Iterator[LabelledConversation]:
    """Every conversation in `folder`'s JSONL files; the blind folder's rows have split blind."""
    for path in sorted(folder.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            labels = frozenset(row["labels"])
            unknown = labels - set(INSIGHT_KINDS)
            if unknown:
                raise ValueError(f"{path.name}:{n}: unknown labels {sorted(unknown)}")
            conversation = LabelledConversation(
                id=row["id"],
                language=row["lang"],
                channel=row["channel"],
                industry=row.get("industry", ""),
                turns=tuple((t["speaker"], t["text"]) for t in row["turns"]),
                labels=labels,
                evidence={k: tuple(v) for k, v in row.get("evidence", {}).items()},
                family=row.get("family"),
                split=row.get("split")
                or ("blind" if folder.name == "blind" else stable_split(row["id"], DEV_SHARE)),
            )
            if split is None or conversation.split == split:
                yield conversation


def weights_digest(weights_dir: Path) -> str:
    """Changes whenever any detector weight file in the folder does."""
    digest = hashlib.sha1()
    for path in sorted(weights_dir.glob("*.pt")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def read_all(
    analyzer: Analyzer,
    conversations: Sequence[LabelledConversation],
    *,
    cache: Path | None,
    weights_dir: Path,
) -> dict[str, list[TurnReading]]:
    """Each conversation's turn readings by the analyzer's sentence detectors, cached on disk by
    the detector weights and the conversation's text (reading is the slow part)."""
    version = f"{READING_FORMAT}|{weights_digest(weights_dir)}|{analyzer.embedder.name}"
    version += "|" + "|".join(sorted(f"{t}={d.name}" for t, d in analyzer.detectors.items()))
    store: dict[str, list[TurnReading]] = {}
    file = None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        tag = hashlib.sha1(version.encode()).hexdigest()[:12]
        file = cache / f"conversation-readings-{tag}.pkl"
        if file.exists():
            store = pickle.loads(file.read_bytes())
    missing = [c for c in conversations if c.key not in store]
    for conversation in tqdm(missing, desc="reading conversations", unit="conv", disable=None):
        store[conversation.key] = analyzer.read(conversation.transcript().turns)
    if missing and file is not None:
        tmp = file.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(store))
        tmp.replace(file)
    return {c.id: store[c.key] for c in conversations}
