"""The small pure parts: signatures, callback numbers, wait wording, bounded memories, tasks."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.ports import ContactState, QueueInfo
from telephony import prompts
from telephony.dedup import CallIndex, RecentKeys, Replies
from telephony.numbers import CallMeOn, KeepHolding, NotUnderstood, callback_choice, caller_number
from telephony.numbers import uk_callback_number as uk
from telephony.signature import SignatureCheck, public_url_of, sign
from telephony.tasks import Tasks
from tests.strategies_telephony import callback_keys, phone_like

TOKEN = "12345"


# -- signatures --------------------------------------------------------------------------------
@pytest.mark.parametrize(("public", "raw_path", "url"), [
    ("https://x.org", "/twilio/voice", "https://x.org/twilio/voice"),
    ("https://x.org/", "/twilio/voice?a=1&b=%20", "https://x.org/twilio/voice?a=1&b=%20"),
    ("https://x.org/el", "/twilio/voice", "https://x.org/el/twilio/voice"),
    ("https://x.org/el", "/el/twilio/voice", "https://x.org/el/twilio/voice"),
    ("https://x.org:8443/el/", "/el/twilio/voice", "https://x.org:8443/el/twilio/voice"),
])
def test_the_signed_url_is_built_from_the_public_url(public: str, raw_path: str,
                                                     url: str) -> None:
    assert public_url_of(public, raw_path) == url


def test_known_twilio_signature_vector() -> None:
    """The example from Twilio's security documentation."""
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}
    check = SignatureCheck(public_url="https://mycompany.com", auth_token=TOKEN)
    assert check.valid("/myapp.php?foo=1&bar=2", params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")


params_st = st.dictionaries(st.sampled_from(["CallSid", "From", "Digits", "SpeechResult", "x"]),
                            st.text(max_size=20), max_size=5)


@given(params=params_st, path=st.sampled_from(["/twilio/voice", "/twilio/voice/wait?c=c1"]))
def test_what_twilio_signs_is_valid_and_any_change_is_not(params: dict, path: str) -> None:
    check = SignatureCheck(public_url="https://x.org", auth_token=TOKEN)
    signature = sign(TOKEN, "https://x.org" + path, params)
    assert check.valid(path, params, signature)
    assert not check.valid(path, {**params, "Tampered": "1"}, signature)
    assert not check.valid(path + "&extra=1" if "?" in path else path + "?extra=1", params,
                           signature)
    assert not check.valid(path, params, None)


def test_loopback_accepts_anything_and_says_so() -> None:
    check = SignatureCheck(public_url="http://127.0.0.1:8080", auth_token="")
    assert check.valid("/twilio/voice", {}, None)
    assert not check.enforced and "loopback" in repr(check)


# -- callback numbers ----------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "e164"), [
    ("07700900123", "+447700900123"), ("+447700900123", "+447700900123"),
    ("447700900123", "+447700900123"), ("020 7946 0000", "+442079460000"),
    ("01632 960000", "+441632960000"), ("0300 123 4567", "+443001234567"),
    ("09012345678", None),  # premium rate
    ("07012345678", None),  # personal numbering
    ("07612345678", None),  # pagers
    ("08001234567", None),  # freephone: not a citizen's line
    ("+12025550123", None), ("123", None), ("", None), ("0770090012", None),
])
def test_callback_numbers(raw: str, e164: str | None) -> None:
    assert uk(raw) == e164


@given(phone_like)
def test_callback_numbers_are_uk_e164_or_refused(raw: str) -> None:
    number = uk(raw)
    assert number is None or (number.startswith("+44") and number[1:].isdigit()
                              and len(number) in (12, 13) and number[3] in "1237")


@pytest.mark.parametrize(("digits", "caller", "choice"), [
    ("1", "+447700900123", CallMeOn("+447700900123")),
    ("1", "", NotUnderstood()),
    ("2", "+447700900123", KeepHolding()),
    ("2#", "", KeepHolding()),
    ("07700900456#", "+447700900123", CallMeOn("+447700900456")),
    ("09012345678#", "+447700900123", NotUnderstood()),
    ("", "+447700900123", NotUnderstood()),
])
def test_callback_choice(digits: str, caller: str, choice: object) -> None:
    assert callback_choice(digits, caller) == choice


@given(callback_keys, st.sampled_from(["", "+447700900123"]))
def test_a_callback_is_only_ever_to_a_callable_number(digits: str, caller: str) -> None:
    choice = callback_choice(digits, caller)
    if isinstance(choice, CallMeOn):
        assert uk(choice.number) == choice.number


@pytest.mark.parametrize(("from_", "number"), [
    ("+447700900123", "+447700900123"), ("anonymous", ""), ("+266696687", ""), ("", ""),
    ("client:someone", ""), ("+12025550123", ""),
])
def test_caller_number(from_: str, number: str) -> None:
    assert caller_number(from_) == number


# -- what callers are told -----------------------------------------------------------------------
@pytest.mark.parametrize(("seconds", "minutes"), [
    (1, 1), (60, 1), (61, 2), (600, 10), (601, 15), (1500, 25), (1501, 30),
])
def test_wait_minutes_round_up(seconds: float, minutes: int) -> None:
    assert prompts.wait_minutes(seconds) == minutes


@given(st.floats(min_value=0, max_value=20_000))
def test_a_wait_is_never_promised_shorter_than_estimated(seconds: float) -> None:
    assert prompts.wait_minutes(seconds) * 60 >= seconds


@pytest.mark.parametrize(("info", "said"), [
    (QueueInfo(ContactState.QUEUED, 1, 50), ["You are next in the queue.",
                                             "Your expected wait is about a minute."]),
    (QueueInfo(ContactState.QUEUED, 4, 400), ["You are number 4 in the queue.",
                                              "Your expected wait is about 7 minutes."]),
    (QueueInfo(ContactState.QUEUED, 9, 9000), ["You are number 9 in the queue.",
                                               "Your expected wait is more than an hour and "
                                               "a half."]),
    (QueueInfo(ContactState.QUEUED, None, None), ["We cannot give a reliable waiting time at "
                                                  "the moment."]),
    (QueueInfo(ContactState.OFFERED), ["An expert is about to take your call."]),
])
def test_queue_sentences(info: QueueInfo, said: list[str]) -> None:
    assert prompts.queue_sentences("en", info) == said


def test_every_sentence_exists_in_welsh() -> None:
    english = prompts._TEXTS["en"]
    welsh = prompts._TEXTS["cy"]
    expert_only = {k for k in english if k.startswith(("whisper", "calling_", "caller_gone"))}
    assert set(english) - expert_only == set(welsh)


# -- bounded memories --------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_recent_keys_forget_after_the_ttl() -> None:
    clock = Clock()
    seen = RecentKeys(clock=clock, ttl_s=60)
    assert seen.first_time("SM1") and not seen.first_time("SM1")
    clock.now = 61
    assert seen.first_time("SM1")


@given(st.lists(st.text(max_size=3), max_size=60))
def test_memories_stay_bounded(keys: list[str]) -> None:
    replies, calls = Replies(clock=Clock(), size=10), CallIndex(clock=Clock(), size=10)
    for key in keys:
        replies.remember(key, f"reply {key}")
        calls.remember(key, f"c-{key}")
    assert len(replies) <= 10 and len(calls) <= 10
    if keys:
        assert replies.get(keys[-1]) == f"reply {keys[-1]}"
        assert calls.get(keys[-1]) == f"c-{keys[-1]}"


# -- background tasks --------------------------------------------------------------------------
async def test_work_for_one_key_runs_in_order_and_failures_do_not_stop_it() -> None:
    tasks, done = Tasks(), []
    gate = asyncio.Event()

    async def work(label: str, wait: bool = False, fail: bool = False) -> None:
        if wait:
            await gate.wait()
        if fail:
            raise RuntimeError("boom")
        done.append(label)

    tasks.spawn("c1", work, "first", True)
    tasks.spawn("c1", work, "broken", False, True)
    tasks.spawn("c1", work, "second")
    tasks.spawn("c2", work, "other")
    await asyncio.sleep(0)
    gate.set()
    await tasks.idle()
    assert done == ["other", "first", "second"]
    await tasks.close()
    await tasks.close()
    tasks.spawn("c1", work, "after close")
    await tasks.idle()
    assert "after close" not in done


async def test_close_cancels_pending_timers() -> None:
    tasks, fired = Tasks(), []

    async def job() -> None:
        fired.append(True)

    tasks.later(3600, "c1", job)
    assert "timers=1" in repr(tasks)
    await tasks.close()
    assert "timers=0" in repr(tasks) and fired == []
