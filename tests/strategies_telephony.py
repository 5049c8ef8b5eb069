"""Hypothesis strategies for the telephony tests (the lead merges them into strategies.py)."""

from __future__ import annotations

from hypothesis import strategies as st

from telephony.ivr import Heard, Step

SPEECH = st.sampled_from([
    "", "   ", "my mum has dementia", "I'm a carer", "we have been evicted", "Cymraeg",
    "welsh please", "um", "I need help", "my dad keeps wandering off", "homeless tonight",
]) | st.text(max_size=40)

DIGITS = st.sampled_from(["", "0", "1", "2", "3", "5", "9", "*", "#", "42", "11"])


@st.composite
def heard(draw: st.DrawFn) -> Heard:
    """What a caller might do at one Gather: keys, speech, both, or nothing."""
    confidence = draw(st.none() | st.floats(min_value=0.0, max_value=1.0))
    return Heard(digits=draw(DIGITS), speech=draw(SPEECH), confidence=confidence)


steps = st.sampled_from(list(Step))
langs = st.sampled_from(["en", "cy"])

# Form values as a caller's phone might send them to the callback offer.
callback_keys = st.sampled_from(["", "1", "2", "3", "1#", "2#", "07700900123", "07700900123#",
                                 "0207946000", "02079460000", "09012345678", "07012345678",
                                 "447700900123", "*", "##"]) | st.text(alphabet="0123456789*#",
                                                                       max_size=14)

phone_like = st.from_regex(r"\A(\+44|0|0044|\+1)?[0-9 ]{6,13}\Z")
