"""Tell the agent from the customer by what each speaker says (English and Persian cues).

Every decision can be explained: `score_speakers` returns the cues found for each speaker.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from transcribe.types import Role, Turn


@dataclass(frozen=True)
class Cue:
    # the phrase as people say it; "*" stands for one to three arbitrary words (a name)
    phrase: str
    # whom saying it points to
    role: Role
    # how strongly: 3 = only an agent says this, 1 = weak hint
    weight: float


# fmt: off
CUES: tuple[Cue, ...] = (
    # --- English, agent ---
    Cue("thank you for calling", "agent", 3), Cue("thanks for calling", "agent", 3),
    Cue("how can i help", "agent", 3), Cue("how may i help", "agent", 3),
    Cue("how can i assist", "agent", 3), Cue("how may i assist", "agent", 3),
    Cue("what can i do for you", "agent", 2),
    Cue("is there anything else i can", "agent", 3),
    Cue("my name is * from", "agent", 2.5), Cue("my name is * with", "agent", 2),
    Cue("this is * from", "agent", 1.5),
    Cue("may i have your", "agent", 1.5), Cue("can i have your", "agent", 1.5),
    Cue("could you give me your", "agent", 1.5), Cue("can i get your", "agent", 1.5),
    Cue("verify your", "agent", 1.5), Cue("for security purposes", "agent", 2),
    Cue("for verification", "agent", 1.5),
    Cue("let me check", "agent", 1.5), Cue("let me look", "agent", 1.5),
    Cue("please hold", "agent", 1.5), Cue("bear with me", "agent", 1.5),
    Cue("thank you for your patience", "agent", 2), Cue("thank you for holding", "agent", 2),
    Cue("sorry to hear that", "agent", 1.5), Cue("sorry for the inconvenience", "agent", 2),
    Cue("apologize for the inconvenience", "agent", 2),
    Cue("your reference number", "agent", 1.5), Cue("your ticket number", "agent", 1.5),
    Cue("have a great day", "agent", 1), Cue("have a nice day", "agent", 1),
    # --- English, customer ---
    Cue("i'm calling", "customer", 2.5), Cue("i am calling", "customer", 2.5),
    Cue("calling about", "customer", 2), Cue("calling because", "customer", 2),
    Cue("i have a problem", "customer", 2), Cue("i have an issue", "customer", 2),
    Cue("i need help", "customer", 2), Cue("can you help me", "customer", 2),
    Cue("not working", "customer", 1.5), Cue("isn't working", "customer", 1.5),
    Cue("doesn't work", "customer", 1.5), Cue("has been down", "customer", 1.5),
    Cue("i want to cancel", "customer", 2.5), Cue("i'd like to cancel", "customer", 2.5),
    Cue("cancel my", "customer", 2),
    Cue("speak to a manager", "customer", 2.5), Cue("speak to your supervisor", "customer", 2.5),
    Cue("i was charged", "customer", 2), Cue("i was told", "customer", 1.5),
    Cue("i bought", "customer", 1.5), Cue("i was wondering", "customer", 1.5),
    Cue("my bill", "customer", 1.5), Cue("my order", "customer", 1.5),
    Cue("my account", "customer", 1), Cue("my internet", "customer", 1.5),
    Cue("i'm upset", "customer", 1.5), Cue("i am upset", "customer", 1.5),
    Cue("really upset", "customer", 1.5), Cue("frustrated", "customer", 1),
    # --- Persian, agent ---
    Cue("ممنون از تماس شما", "agent", 3), Cue("با تشکر از تماس شما", "agent", 3),
    Cue("از تماس شما متشکرم", "agent", 3), Cue("ممنون که تماس گرفتید", "agent", 3),
    Cue("چطور می‌تونم کمکتون کنم", "agent", 3), Cue("چطور می‌توانم کمکتان کنم", "agent", 3),
    Cue("چه کمکی از دستم برمیاد", "agent", 3), Cue("چه کمکی می‌تونم", "agent", 3),
    Cue("در خدمتم", "agent", 2.5), Cue("در خدمت شما هستم", "agent", 2.5),
    Cue("امر دیگه‌ای", "agent", 3), Cue("امر دیگری", "agent", 3),
    Cue("با سلام * هستم", "agent", 2.5), Cue("کارشناس * هستم", "agent", 2.5),
    Cue("کارشناس", "agent", 1),
    Cue("شماره پیگیری شما", "agent", 2.5), Cue("شماره پیگیری", "agent", 1.5),
    Cue("گوشی خدمتتون", "agent", 2), Cue("منتظر بمونید", "agent", 1.5),
    Cue("منتظر بمانید", "agent", 1.5), Cue("عذرخواهی می‌کنم", "agent", 1.5),
    Cue("بفرمایید", "agent", 1), Cue("کد ملی", "agent", 1),
    # --- Persian, customer ---
    Cue("خسته نباشید", "customer", 2),  # said to the person answering
    Cue("تماس گرفتم", "customer", 2), Cue("زنگ زدم", "customer", 2),
    Cue("مشکل دارم", "customer", 2), Cue("مشکلی دارم", "customer", 2),
    Cue("کار نمی‌کنه", "customer", 1.5), Cue("قطع شده", "customer", 1.5),
    Cue("می‌خوام لغو کنم", "customer", 2.5), Cue("لغو کنم", "customer", 2),
    Cue("شکایت دارم", "customer", 2), Cue("اشتراکم", "customer", 1.5),
    Cue("حسابم", "customer", 1.5), Cue("می‌خوام با * صحبت کنم", "customer", 2),
    Cue("پیگیری کنم", "customer", 1.5), Cue("ناراضی", "customer", 1),
)
# fmt: on
# Inbound calls are answered by the agent, so the first voice leans agent; weaker than any cue
# pair, it settles ties and calls without cues.
FIRST_SPEAKER_WEIGHT = 1.0


@dataclass(frozen=True)
class RoleEvidence:
    agent_score: float
    customer_score: float
    # the cue phrases found in this speaker's words, strongest first
    matched: tuple[str, ...]
    spoke_first: bool

    @property
    def margin(self) -> float:
        return self.agent_score - self.customer_score


def assign_roles(labelled_turns: Sequence[Turn]) -> dict[str, Role]:
    """Map each speaker_label to "agent", "customer" (or "unknown" for a cue-less monologue)."""
    return decide_roles(score_speakers(labelled_turns))


def decide_roles(evidence: dict[str, RoleEvidence]) -> dict[str, Role]:
    """The largest agent-minus-customer margin is the agent; everyone else a customer."""
    if len(evidence) == 1:
        ((label, only),) = evidence.items()
        role: Role = "agent" if only.margin > 0 else "customer" if only.margin < 0 else "unknown"
        return {label: role}
    agent = max(evidence, key=lambda label: evidence[label].margin, default=None)
    return {label: "agent" if label == agent else "customer" for label in evidence}


def score_speakers(labelled_turns: Sequence[Turn]) -> dict[str, RoleEvidence]:
    """Cue scores per speaker_label; each cue counts once per speaker, so volume does not win."""
    texts: dict[str, list[str]] = {}
    for turn in _in_time_order(labelled_turns):
        texts.setdefault(turn.speaker_label, []).append(turn.text)
    first = next(iter(texts), None)
    evidence: dict[str, RoleEvidence] = {}
    for label, parts in texts.items():
        text = normalize(" ".join(parts))
        found = [cue for cue, pattern in _COMPILED if pattern.search(text)]
        found.sort(key=lambda cue: -cue.weight)
        spoke_first = label == first and len(texts) > 1
        evidence[label] = RoleEvidence(
            agent_score=sum((c.weight for c in found if c.role == "agent"), 0.0)
            + (FIRST_SPEAKER_WEIGHT if spoke_first else 0.0),
            customer_score=sum((c.weight for c in found if c.role == "customer"), 0.0),
            matched=tuple(cue.phrase for cue in found),
            spoke_first=spoke_first,
        )
    return evidence


def _in_time_order(turns: Sequence[Turn]) -> list[Turn]:
    if all(turn.start is not None for turn in turns):
        return sorted(turns, key=lambda turn: turn.start or 0.0)
    return list(turns)


_CHAR_MAP = str.maketrans(
    {
        "ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "أ": "ا", "إ": "ا", "ٱ": "ا",
        "\u200c": " ", "\u0640": "", "’": "'", "‘": "'",
    }
)  # fmt: skip
# Arabic diacritics ASR sometimes emits; spelling varies with and without them
_DIACRITICS = re.compile("[\u064b-\u065f\u0670]")
_PUNCTUATION = re.compile(r"[^\w\s'*]")


def normalize(text: str) -> str:
    """Lowercase, unify Arabic/Persian letter forms, ZWNJ to space, punctuation to space."""
    text = _DIACRITICS.sub("", text.lower().translate(_CHAR_MAP))
    return " ".join(_PUNCTUATION.sub(" ", text).split())


def _compile(phrase: str) -> re.Pattern[str]:
    tokens = normalize(phrase).split()
    # ASR writes Persian compounds joined, spaced or with ZWNJ: the space is optional there
    persian = any("\u0600" <= ch <= "\u06ff" for ch in phrase)
    separator = r"\s*" if persian else r"\s+"
    wildcard = r"(?:\S+\s+){0,2}\S+"
    body = separator.join(wildcard if t == "*" else re.escape(t) for t in tokens)
    return re.compile(rf"(?<!\w){body}(?!\w)")


_COMPILED: tuple[tuple[Cue, re.Pattern[str]], ...] = tuple((c, _compile(c.phrase)) for c in CUES)
