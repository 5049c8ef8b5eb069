"""TwiML documents, built only with the twilio library's ``VoiceResponse``/``MessagingResponse``.

Each function returns the XML text of one document. URLs come in already absolute (built by
``telephony.urls.Urls`` under the public URL); wording comes from ``telephony.prompts``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Conference, Dial, Gather, VoiceResponse

from telephony import prompts
from telephony.ivr import Step
from telephony.prompts import CY, EN

# Amazon Polly voices Twilio offers for each locale; an unknown locale gets Twilio's default.
VOICES: Mapping[str, str] = {"en-GB": "Polly.Amy", "cy-GB": "Polly.Gwyneth"}
CONFERENCE_EVENTS = "start end join leave"


@dataclass(frozen=True, slots=True)
class Speech:
    """Language code (en, cy) -> Twilio locale, from config.toml's ``[voice]``."""

    locales: Mapping[str, str] = field(default_factory=lambda: {EN: "en-GB", CY: "cy-GB"})

    def locale(self, lang: str) -> str:
        return self.locales.get(lang, self.locales[EN])

    def say(self, node: VoiceResponse | Gather, lang: str, sentences: Iterable[str]) -> None:
        locale = self.locale(lang)
        for sentence in sentences:
            if sentence:
                node.say(sentence, language=locale, voice=VOICES.get(locale))


def ask(speech: Speech, step: Step, lang: str, *, action: str,
        menu: Mapping[str, str], before: Iterable[str] = (), greeting: str = "") -> str:
    """Greeting, re-prompt or keypad menu, listening for speech and keys. ``before`` is said
    first and cannot be talked over (the 999 sentence); ``greeting`` is an organisation's own
    welcome, said instead of Expertline's."""
    response = VoiceResponse()
    speech.say(response, lang, before)
    digits = max((len(k) for k in [*menu, "9"]), default=1)
    gather = Gather(input="speech dtmf", action=action, method="POST",
                    language=speech.locale(lang), speech_timeout="auto", timeout=6,
                    num_digits=digits, action_on_empty_result=True)
    speech.say(gather, lang, _ask_sentences(step, lang, menu, greeting))
    if step is Step.ASK and lang == EN:
        speech.say(gather, CY, [prompts.text(EN, "welsh_offer")])
    response.append(gather)
    response.redirect(action, method="POST")
    return str(response)


def _ask_sentences(step: Step, lang: str, menu: Mapping[str, str],
                   greeting: str = "") -> list[str]:
    if step is Step.ASK:
        if greeting:
            return [greeting, prompts.text(lang, "ask_need")]
        return [prompts.text(lang, "greeting")]
    if step is Step.REASK:
        return [prompts.text(lang, "reprompt")]
    items = [prompts.text(lang, "menu_item", label=prompts.skill_label(skill), digit=digit)
             for digit, skill in sorted(menu.items())]
    return [prompts.text(lang, "menu_intro"), *items]


def enqueue(speech: Speech, lang: str, sentences: Iterable[str], *, queue: str,
            wait_url: str, action: str) -> str:
    """Tell the caller what happens next, then hold them in Twilio queue ``queue``."""
    response = VoiceResponse()
    speech.say(response, lang, sentences)
    response.enqueue(queue, wait_url=wait_url, wait_url_method="POST", action=action,
                     method="POST")
    return str(response)


def hold(speech: Speech, lang: str, sentences: Iterable[str], *, key_url: str, wait_url: str,
         pause_s: int) -> str:
    """The wait-URL document: place and wait, "press star", music-free pause, then again."""
    response = VoiceResponse()
    gather = Gather(input="dtmf", num_digits=1, action=key_url, method="POST", timeout=1)
    speech.say(gather, lang, [*sentences, prompts.text(lang, "press_star")])
    gather.pause(length=pause_s)
    response.append(gather)
    response.redirect(wait_url, method="POST")
    return str(response)


def empty() -> str:
    return str(VoiceResponse())


def leave() -> str:
    response = VoiceResponse()
    response.leave()
    return str(response)


def redirect(url: str) -> str:
    response = VoiceResponse()
    response.redirect(url, method="POST")
    return str(response)


def callback_offer(speech: Speech, lang: str, *, last3: str, action: str, fallback: str,
                   before: Iterable[str] = (), keys: tuple[str, str] = ("callback_known",
                                                                         "callback_unknown"),
                   ) -> str:
    """Confirm the calling number (or enter one, then #), or press 2 to keep holding. ``keys``
    are the offer's prompts with and without a number we can call (an out-of-hours offer has
    its own)."""
    response = VoiceResponse()
    speech.say(response, lang, before)
    gather = Gather(input="dtmf", action=action, method="POST", finish_on_key="#", timeout=5)
    key = keys[0] if last3 else keys[1]
    speech.say(gather, lang, [prompts.text(lang, key, last3=last3)])
    response.append(gather)
    response.redirect(fallback, method="POST")
    return str(response)


def say_then(speech: Speech, lang: str, sentences: Iterable[str], *, redirect_to: str) -> str:
    response = VoiceResponse()
    speech.say(response, lang, sentences)
    response.redirect(redirect_to, method="POST")
    return str(response)


def say_hangup(speech: Speech, lang: str, sentences: Iterable[str]) -> str:
    response = VoiceResponse()
    speech.say(response, lang, sentences)
    response.hangup()
    return str(response)


def join_conference(speech: Speech, lang: str, sentences: Iterable[str], *, name: str,
                    starts: bool, status_url: str, wait_url: str | None = None) -> str:
    """Put this call into conference ``name`` (an opaque id); either side leaving ends it."""
    response = VoiceResponse()
    speech.say(response, lang, sentences)
    dial = Dial()
    waiting = {"wait_url": wait_url, "wait_method": "POST"} if wait_url else {}
    dial.append(Conference(name, start_conference_on_enter=starts, end_conference_on_exit=True,
                           beep=False, status_callback=status_url,
                           status_callback_method="POST", status_callback_event=CONFERENCE_EVENTS,
                           **waiting))
    response.append(dial)
    return str(response)


def whisper(speech: Speech, sentence: str, *, accept_url: str) -> str:
    """What a phone expert hears on answering: the call's subject, then "press 1"."""
    response = VoiceResponse()
    gather = Gather(input="dtmf", num_digits=1, action=accept_url, method="POST", timeout=8,
                    action_on_empty_result=True)
    speech.say(gather, EN, [sentence])
    response.append(gather)
    response.redirect(accept_url, method="POST")
    return str(response)


def pause(speech: Speech, lang: str, sentences: Iterable[str], *, seconds: int) -> str:
    """A conference wait document: a sentence, then quiet."""
    response = VoiceResponse()
    speech.say(response, lang, sentences)
    response.pause(length=seconds)
    return str(response)


def message(body: str | None = None) -> str:
    """A messaging reply: empty, or one ``<Message>``."""
    response = MessagingResponse()
    if body:
        response.message(body)
    return str(response)


def error(speech: Speech, lang: str = EN) -> str:
    """The safe answer to any webhook failure."""
    return say_hangup(speech, lang, [prompts.text(lang, "error")])
