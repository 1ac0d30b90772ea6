"""Sentence spans, so evidence quotes the sentence that carries a signal, not a whole turn.

ASR output often has no punctuation; long unpunctuated stretches are cut into windows of words so
a quote stays readable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# a sentence ends at . ! ? ؟ ; ؛ … or a line break, unless the dot sits inside a number ("2.5")
_BOUNDARY = re.compile(r"(?<!\d)[.!?؟;؛…]+(?=\s|$)|[!?؟؛…]+|\n+")
MAX_WORDS = 30


@dataclass(frozen=True)
class Sentence:
    text: str
    # character offsets into the turn text
    start: int
    end: int


def split_sentences(text: str, max_words: int = MAX_WORDS) -> list[Sentence]:
    return list(_iter_sentences(text, max_words))


def _iter_sentences(text: str, max_words: int) -> Iterator[Sentence]:
    start = 0
    for match in _BOUNDARY.finditer(text):
        yield from _windows(text, start, match.end(), max_words)
        start = match.end()
    yield from _windows(text, start, len(text), max_words)


def _windows(text: str, start: int, end: int, max_words: int) -> Iterator[Sentence]:
    words = list(re.finditer(r"\S+", text[start:end]))
    if not words:
        return
    # cut long stretches into near-equal windows rather than leaving a short tail
    n_windows = -(-len(words) // max_words)
    size = -(-len(words) // n_windows)
    for i in range(0, len(words), size):
        chunk = words[i : i + size]
        s, e = start + chunk[0].start(), start + chunk[-1].end()
        yield Sentence(text=text[s:e], start=s, end=e)
