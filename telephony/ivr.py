"""The voice IVR as a pure state machine: (step, language, what the caller did) -> next action.

Steps: ``ask`` (say what you need, in your own words), ``reask`` (one re-prompt), ``menu`` (the
keypad menu from config.toml). Low confidence, silence or an unknown key moves one step on;
after the menu the caller goes to ``voice.general_skill``: never a dead end. In English, key 9
or saying "Cymraeg"/"Welsh" sets a Welsh-language requirement and the IVR continues in Welsh.
A menu key pressed at any step is honoured at once. No I/O: triage is a function passed in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from router.ports import Triage, TriageInfo, TriageMatch
from telephony.prompts import CY, EN

_WELSH_SPEECH = re.compile(r"\b(cymraeg|welsh)\b", re.IGNORECASE)
_CYMRAEG = re.compile(r"\bcymraeg\b", re.IGNORECASE)


class Step(StrEnum):
    ASK = "ask"
    REASK = "reask"
    MENU = "menu"


_NEXT = {Step.ASK: Step.REASK, Step.REASK: Step.MENU}


@dataclass(frozen=True, slots=True)
class Heard:
    """What Twilio's Gather reported: keys pressed, speech text and its ASR confidence.

    ``confidence`` None (or 0, which Twilio sends when a speech model gives none) means unknown.
    """

    digits: str = ""
    speech: str = ""
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class IvrRules:
    menu: Mapping[str, str]
    general_skill: str
    min_confidence: float
    welsh_digit: str = "9"


@dataclass(frozen=True, slots=True)
class Ask:
    """Gather again at ``step`` in ``lang``."""

    step: Step
    lang: str


@dataclass(frozen=True, slots=True)
class Route:
    """Triage is done: queue the caller for ``skill`` with ``lang`` as a requirement."""

    skill: str
    lang: str
    triage: TriageInfo


Decision = Ask | Route


def start() -> Ask:
    """A new call: the English greeting, which offers Welsh."""
    return Ask(Step.ASK, EN)


def decide(step: Step, lang: str, heard: Heard, *, rules: IvrRules, triage: Triage) -> Decision:
    """The next action after a Gather at ``step``."""
    if lang == EN and _asks_for_welsh(step, heard, rules):
        match = _speech_match(heard, rules, triage)
        return _route_speech(match, heard, CY) if match else Ask(Step.ASK, CY)
    if heard.digits:
        skill = rules.menu.get(heard.digits)
        if skill is not None:
            return Route(skill, lang, TriageInfo("digits", 1.0, (heard.digits,)))
    else:
        match = _speech_match(heard, rules, triage)
        if match is not None:
            return _route_speech(match, heard, lang)
    if step in _NEXT:
        return Ask(_NEXT[step], lang)
    return Route(rules.general_skill, lang, TriageInfo("default", 0.0, (), heard.speech))


def _asks_for_welsh(step: Step, heard: Heard, rules: IvrRules) -> bool:
    if heard.digits:
        is_menu_key = step is Step.MENU and heard.digits in rules.menu
        return heard.digits == rules.welsh_digit and not is_menu_key
    return bool(_WELSH_SPEECH.search(heard.speech))


def _speech_match(heard: Heard, rules: IvrRules, triage: Triage) -> TriageMatch | None:
    speech = heard.speech.strip()
    if not speech:
        return None
    confidence = heard.confidence
    if confidence is not None and 0 < confidence < rules.min_confidence:
        return None
    matches = [m for m in triage(speech) if m.score >= rules.min_confidence]
    return max(matches, key=lambda m: m.score, default=None)


def _route_speech(match: TriageMatch, heard: Heard, lang: str) -> Route:
    terms = tuple(match.matched)
    return Route(match.skill_id, lang, TriageInfo("speech", float(match.score), terms,
                                                  heard.speech))


def parse_heard(form: Mapping[str, str]) -> Heard:
    """Gather's action parameters (``Digits``, ``SpeechResult``, ``Confidence``) as ``Heard``."""
    raw = form.get("Confidence", "")
    try:
        confidence: float | None = float(raw) if raw else None
    except ValueError:
        confidence = None
    return Heard(digits=form.get("Digits", "").strip(), speech=form.get("SpeechResult", ""),
                 confidence=confidence)


def triage_text(text: str, *, general_skill: str, min_score: float,
                triage: Triage) -> tuple[str, TriageInfo]:
    """A chat's first message to a skill (the general skill when nothing is confident)."""
    match = _speech_match(Heard(speech=text), IvrRules({}, general_skill, min_score), triage)
    if match is None:
        return general_skill, TriageInfo("default", 0.0, (), text)
    route = _route_speech(match, Heard(speech=text), EN)
    return route.skill, TriageInfo("text", route.triage.score, route.triage.matched, text)


def wants_welsh(text: str) -> bool:
    """Does a written message ask for Welsh? Only the word "Cymraeg" counts: "my mum is Welsh"
    says nothing about the language she wants to write in."""
    return bool(_CYMRAEG.search(text))
