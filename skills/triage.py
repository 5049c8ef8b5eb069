"""Triage of free text to skills: what the IVR heard or the citizen typed -> likely skills.

Text and terms go through the same ``words()``: case-folded, accents and apostrophes dropped,
punctuation split, each word lightly stemmed ("forgetting" -> "forget", "wanders" -> "wander",
"housing" and "houses" -> "hous"). A term matches when its words appear contiguously in the text.

Scoring: each matched term is a piece of evidence of a fixed strength: a synonym (or the skill's
name) ``STRONG``, a keyword ``WEAK``, a little more per extra word. Evidence for one skill adds up
with diminishing returns (``1 - prod(1 - strength)``), so the score stays in 0..1 and reads as a
confidence: one synonym clears the IVR's re-prompt threshold (0.35), one lone keyword does not,
two keywords do. Overlapping matches for one skill count once (the strongest); a repeated term
counts once. Ties are broken by skill id.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from base.errors import InvalidInput

STRONG, WEAK = 0.6, 0.3
STRONG_PER_WORD, WEAK_PER_WORD = 0.1, 0.05
STRONG_MAX, WEAK_MAX = 0.85, 0.45

_APOSTROPHES = str.maketrans("", "", "'\u2018\u2019`\u00b4")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_VOWELS = frozenset("aeiouy")
_IRREGULAR = {"got": "get", "gotten": "get", "forgot": "forget", "forgotten": "forget"}


def words(text: str) -> tuple[str, ...]:
    """Normalised, stemmed words of ``text``; () when it holds no letters or digits."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).translate(_APOSTROPHES)
    return tuple(stem(word) for word in _NON_WORD.split(text) if word)


def stem(word: str) -> str:
    """A deliberately small stemmer: plurals, -ing/-ed, doubled consonants, a final -e."""
    word = _IRREGULAR.get(word, word)
    word = _drop_inflection(_drop_plural(word))
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


def _drop_plural(word: str) -> str:
    if len(word) > 4 and word.endswith(("ies", "ied")):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("sses"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _drop_inflection(word: str) -> str:
    for suffix in ("ing", "ed"):
        root = word[: -len(suffix)]
        if not word.endswith(suffix) or word.endswith("eed") or len(root) < 3:
            continue
        if not _VOWELS.intersection(root):
            return word
        if len(root) > 3 and root[-1] == root[-2] and root[-1] not in _VOWELS | {"l", "s", "z"}:
            return root[:-1]
        return root
    return word


@dataclass(frozen=True, slots=True)
class TriageMatch:
    """A likely skill for some text: ``score`` in 0..1 and the terms that matched, in text order."""

    skill_id: str
    score: float
    matched: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Hint:
    skill_id: str
    words: tuple[str, ...]
    term: str
    strength: float


def _strength(n_words: int, *, strong: bool) -> float:
    if strong:
        return min(STRONG + STRONG_PER_WORD * (n_words - 1), STRONG_MAX)
    return min(WEAK + WEAK_PER_WORD * (n_words - 1), WEAK_MAX)


class TriageIndex:
    """Terms indexed by their words: triage costs a dict lookup per word of text and term length."""

    __slots__ = ("_by_words", "_lengths", "_size")

    def __init__(self, by_words: Mapping[tuple[str, ...], tuple[_Hint, ...]]) -> None:
        self._by_words = dict(by_words)
        self._lengths = tuple(sorted({len(phrase) for phrase in by_words}))
        self._size = sum(len(hints) for hints in by_words.values())

    @classmethod
    def build(cls, skills: Iterable[tuple[str, Iterable[str], Iterable[str]]]) -> TriageIndex:
        """``skills``: (skill id, strong terms (name, synonyms), weak terms (keywords))."""
        best: dict[tuple[str, tuple[str, ...]], _Hint] = {}
        for skill_id, strong_terms, weak_terms in skills:
            for strong, terms in ((True, strong_terms), (False, weak_terms)):
                for hint in _hints(skill_id, terms, strong=strong):
                    key = (skill_id, hint.words)
                    if key not in best or best[key].strength < hint.strength:
                        best[key] = hint
        by_words: dict[tuple[str, ...], list[_Hint]] = defaultdict(list)
        for (_, phrase), hint in sorted(best.items()):
            by_words[phrase].append(hint)
        return cls({phrase: tuple(hints) for phrase, hints in by_words.items()})

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"<TriageIndex terms={self._size} longest={max(self._lengths, default=0)}>"

    def triage(self, text: str, *, limit: int = 3) -> list[TriageMatch]:
        """The ``limit`` likeliest skills for ``text``, best first; [] when nothing matches."""
        if limit < 1:
            raise InvalidInput(f"limit must be at least 1, got {limit}")
        found = self._spans(words(text))
        matches = [_score(skill_id, spans) for skill_id, spans in found.items()]
        matches.sort(key=lambda m: (-m.score, m.skill_id))
        return matches[:limit]

    def _spans(self, text: tuple[str, ...]) -> dict[str, list[tuple[int, int, _Hint]]]:
        found: dict[str, list[tuple[int, int, _Hint]]] = defaultdict(list)
        for start in range(len(text)):
            for length in self._lengths:
                for hint in self._by_words.get(text[start : start + length], ()):
                    found[hint.skill_id].append((start, start + length, hint))
        return found


def _hints(skill_id: str, terms: Iterable[str], *, strong: bool) -> Iterable[_Hint]:
    for term in terms:
        term_words = words(term)
        if not term_words:
            raise InvalidInput(f"term {term!r} of skill {skill_id} has no letters or digits")
        yield _Hint(skill_id, term_words, term, _strength(len(term_words), strong=strong))


def _score(skill_id: str, spans: list[tuple[int, int, _Hint]]) -> TriageMatch:
    """Strongest evidence first; words already explained, and repeats of a term, add nothing."""
    taken: set[int] = set()
    chosen: dict[str, tuple[int, _Hint]] = {}
    for start, end, hint in sorted(spans, key=lambda s: (-s[2].strength, s[0] - s[1], s[0])):
        if not taken.isdisjoint(range(start, end)):
            continue
        taken.update(range(start, end))
        chosen.setdefault(hint.term, (start, hint))
    miss = 1.0
    for _, hint in chosen.values():
        miss *= 1.0 - hint.strength
    terms = tuple(hint.term for _, hint in sorted(chosen.values(), key=lambda c: c[0]))
    return TriageMatch(skill_id, round(1.0 - miss, 6), terms)
