"""The IVR state machine: a parameter table of what callers do, and the no-dead-end property."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephony.ivr import Ask, Heard, IvrRules, Route, Step, decide, parse_heard, start, triage_text
from tests.strategies_telephony import heard, langs, steps
from tests.telephony_support import TERMS, keyword_triage

MENU = {"1": "dementia", "2": "carers-support", "0": "general-advice"}
RULES = IvrRules(menu=MENU, general_skill="general-advice", min_confidence=0.35)
ASK, REASK, MENU_STEP = Step.ASK, Step.REASK, Step.MENU


def speech(text: str, confidence: float | None = 0.9) -> Heard:
    return Heard(speech=text, confidence=confidence)


def keys(digits: str) -> Heard:
    return Heard(digits=digits)


SILENCE = Heard()

TABLE = [
    # (step, lang, what the caller did) -> (decision kind, skill or next step, language, method)
    (ASK, "en", speech("my mum has dementia"), ("route", "dementia", "en", "speech")),
    (ASK, "en", speech("my dad keeps wandering off"), ("ask", REASK, "en", None)),
    (ASK, "en", SILENCE, ("ask", REASK, "en", None)),
    (REASK, "en", SILENCE, ("ask", MENU_STEP, "en", None)),
    (MENU_STEP, "en", SILENCE, ("route", "general-advice", "en", "default")),
    (MENU_STEP, "en", keys("2"), ("route", "carers-support", "en", "digits")),
    (MENU_STEP, "en", keys("7"), ("route", "general-advice", "en", "default")),
    (REASK, "en", keys("#"), ("ask", MENU_STEP, "en", None)),
    (ASK, "en", keys("1"), ("route", "dementia", "en", "digits")),
    (ASK, "en", speech("my mum has dementia", confidence=0.2), ("ask", REASK, "en", None)),
    (ASK, "en", speech("my mum has dementia", confidence=0.0), ("route", "dementia", "en",
                                                                 "speech")),
    (ASK, "en", speech("mumble", confidence=0.99), ("ask", REASK, "en", None)),
    (ASK, "en", keys("9"), ("ask", ASK, "cy", None)),
    (ASK, "en", speech("Cymraeg"), ("ask", ASK, "cy", None)),
    (REASK, "en", speech("Welsh please"), ("ask", ASK, "cy", None)),
    (ASK, "en", speech("welsh please, my mum has dementia"), ("route", "dementia", "cy",
                                                             "speech")),
    (ASK, "cy", keys("9"), ("ask", REASK, "cy", None)),
    (ASK, "cy", speech("Cymraeg"), ("ask", REASK, "cy", None)),
    (REASK, "cy", speech("we have been evicted"), ("route", "housing-homelessness", "cy",
                                                   "speech")),
    (MENU_STEP, "cy", SILENCE, ("route", "general-advice", "cy", "default")),
    (MENU_STEP, "cy", keys("1"), ("route", "dementia", "cy", "digits")),
]


@pytest.mark.parametrize(("step", "lang", "did", "expected"), TABLE)
def test_ivr_table(step: Step, lang: str, did: Heard, expected: tuple) -> None:
    decision = decide(step, lang, did, rules=RULES, triage=keyword_triage)
    kind, what, language, method = expected
    if kind == "ask":
        assert decision == Ask(what, language)
    else:
        assert isinstance(decision, Route)
        assert (decision.skill, decision.lang, decision.triage.method) == (what, language, method)


def test_a_menu_key_nine_is_the_menu_at_the_menu_and_welsh_before_it() -> None:
    rules = IvrRules(menu={**MENU, "9": "benefits-advice"}, general_skill="general-advice",
                     min_confidence=0.35)
    at_menu = decide(MENU_STEP, "en", keys("9"), rules=rules, triage=keyword_triage)
    assert isinstance(at_menu, Route) and at_menu.skill == "benefits-advice"
    assert decide(ASK, "en", keys("9"), rules=rules, triage=keyword_triage) == Ask(ASK, "cy")


def test_speech_triage_records_what_matched() -> None:
    decision = decide(ASK, "en", speech("I am a carer, caring for my wife"), rules=RULES,
                      triage=keyword_triage)
    assert isinstance(decision, Route)
    assert decision.triage.matched == ("carer", "caring for")
    assert decision.triage.score == 0.9
    assert decision.triage.text == "I am a carer, caring for my wife"


@pytest.mark.parametrize(("form", "expected"), [
    ({}, Heard()),
    ({"Digits": " 3 "}, Heard(digits="3")),
    ({"SpeechResult": "hello", "Confidence": "0.42"}, Heard(speech="hello", confidence=0.42)),
    ({"SpeechResult": "hello", "Confidence": "n/a"}, Heard(speech="hello")),
])
def test_parse_heard(form: dict[str, str], expected: Heard) -> None:
    assert parse_heard(form) == expected


@pytest.mark.parametrize(("text", "skill", "method"), [
    ("my mum has dementia", "dementia", "text"),
    ("help", "general-advice", "default"),
    ("", "general-advice", "default"),
    ("he keeps wandering", "general-advice", "default"),
])
def test_chat_text_triage(text: str, skill: str, method: str) -> None:
    chosen, info = triage_text(text, general_skill="general-advice", min_score=0.35,
                               triage=keyword_triage)
    assert (chosen, info.method) == (skill, method)


@given(step=steps, lang=langs, inputs=st.lists(heard(), min_size=6, max_size=6))
def test_never_a_dead_end(step: Step, lang: str, inputs: list) -> None:
    """Whatever callers do, they are routed to a menu skill, a triaged skill or the general
    skill: at most three prompts in each language, and Welsh (which starts afresh) is never
    switched off once chosen."""
    known = {*MENU.values(), *TERMS, RULES.general_skill}
    state = Ask(step, lang)
    for answer in inputs:
        decision = decide(state.step, state.lang, answer, rules=RULES, triage=keyword_triage)
        assert decision.lang == "cy" or state.lang == "en"
        if isinstance(decision, Route):
            assert decision.skill in known
            return
        state = decision
    pytest.fail(f"still asking after six answers: {state}")


def test_a_call_starts_with_the_english_greeting() -> None:
    assert start() == Ask(ASK, "en")
