"""What callers hear and read, in English and Welsh: plain data and pure wording functions."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta

from router.ports import ContactState, QueueInfo, ShownExpert

EN, CY = "en", "cy"

_TEXTS: Mapping[str, Mapping[str, str]] = {
    EN: {
        # 999 signposting: the first thing every caller hears and every chat's first message
        "safety": "If someone is in immediate danger, {leave}call 999 now; for urgent medical "
                  "help, call NHS 111.",
        "safety_leave": "hang up and ",
        "greeting": "Welcome to Expertline. In a few words, please tell us what you need help "
                    "with.",
        "ask_need": "In a few words, please tell us what you need help with.",
        # local rules: an organisation's line out of hours (base.local_rules)
        "closed": "Sorry, this service is closed just now.",
        "closed_bank_holiday": "Sorry, this service is closed today for the bank holiday.",
        "opens": "We open again at {time} {day}.",
        "opens_today": "today",
        "opens_tomorrow": "tomorrow",
        "opens_on": "on {weekday} {date}",
        "partner": "We are passing you to a partner service that can help.",
        "ooh_callback_known": "To be called back then on the number ending {last3}, press 1. "
                              "To use a different number, enter it now followed by the hash "
                              "key.",
        "ooh_callback_unknown": "To be called back then, enter your phone number followed by "
                                "the hash key.",
        "ooh_callback_done": "Thank you. We will call you on the number ending {last3} at "
                             "{time} {day}. Goodbye.",
        "ooh_goodbye": "Please contact us again when we are open. Goodbye.",
        "chat_callback_offer": "If you would like us to ring you then, send us your phone "
                               "number.",
        "chat_callback_booked": "Thank you. We will ring you on the number ending {last3} at "
                                "{time} {day}.",
        "chat_callback_invalid": "Sorry, we cannot ring that number. Please give a UK phone "
                                 "number.",
        "chat_callback_none": "Please contact us again when we are open.",
        "welsh_offer": "Am wasanaeth Cymraeg, pwyswch 9 neu dywedwch Cymraeg.",
        "reprompt": "Sorry, I didn't catch that. Please tell us briefly what you need help with, "
                    "for example: my dad has dementia.",
        "menu_intro": "Please choose from the following options.",
        "menu_item": "For {label}, press {digit}.",
        "routed": "Thank you. We are finding you an expert in {label}.",
        "routed_general": "Thank you. We will put you through to one of our advisers.",
        "position_next": "You are next in the queue.",
        "position": "You are number {n} in the queue.",
        "offered": "An expert is about to take your call.",
        "wait_unknown": "We cannot give a reliable waiting time at the moment.",
        "wait_minute": "Your expected wait is about a minute.",
        "wait_minutes": "Your expected wait is about {m} minutes.",
        "wait_long": "Your expected wait is more than an hour and a half.",
        "press_star": "To ask us to call you back instead, without losing your place, "
                      "press star.",
        "callback_known": "We can call you back on the number ending {last3}, and you will keep "
                          "your place. To confirm, press 1. To use a different number, enter it "
                          "now followed by the hash key. To keep holding, press 2.",
        "callback_unknown": "Please enter the number we should call you back on, followed by "
                            "the hash key. To keep holding, press 2.",
        "callback_invalid": "Sorry, that number was not recognised.",
        "callback_done": "Thank you. We will call you on the number ending {last3} as soon as an "
                         "expert is free. Goodbye.",
        "queue_trouble": "Sorry, we cannot hold your call right now.",
        "connecting": "Connecting you to an expert now.",
        "requeued": "Sorry, the expert could not take your call. You keep your place in the "
                    "queue.",
        "callback_greeting": "Hello, this is Expertline calling you back. Connecting you to "
                             "your expert now.",
        "not_connected": "Sorry, we could not connect you this time. Please call again.",
        "error": "Sorry, something went wrong. Please call again.",
        "chat_help": "Reply BYE to finish, or STOP to stop all messages.",
        "chat_connected": "You are now talking to an expert in {label}.",
        "chat_ended": "This conversation has ended. Message us again any time.",
        "chat_bye": "Thank you. This conversation has ended.",
        "chat_resumed": "You will receive our messages again. Tell us what you need.",
        # the citizen's web chat: written words, never "call"
        "webchat_routed_general": "Thank you. We will connect you with one of our advisers.",
        "webchat_offered": "An expert is about to join your chat.",
        "webchat_nobody_on_duty": "Nobody is on duty just now. Your chat keeps its place and "
                                  "will be answered when someone comes on duty. If someone is "
                                  "in danger, call 999.",
        "webchat_connected": "You are now chatting with {who}.",
        "webchat_connected_anonymous": "You are now chatting with an expert{details}.",
        "webchat_resumed": "Welcome back. Your chat carries on from where it was.",
        "webchat_elsewhere": "This chat has been opened in another window, so it carries on "
                             "there.",
        "webchat_language": "We will write to you in English from now on.",
        "webchat_ended_citizen": "Thank you. This chat has ended.",
        "webchat_ended_expert": "The expert has ended this chat. If you need more help, you can "
                                "start a new chat.",
        "webchat_ended_system": "This chat has been closed. If you still need help, please "
                                "start a new chat.",
        "webchat_resume_unknown": "Sorry, we could not find that chat. Please start a new chat.",
        "webchat_resume_expired": "Sorry, this chat has closed because it was left for too "
                                  "long. Please start a new chat if you still need help.",
        "webchat_resume_ended": "This chat has ended. Please start a new chat if you still need "
                                "help.",
        "webchat_bad_json": "Sorry, we could not read that: send JSON objects.",
        "webchat_bad_type": "Sorry, we did not understand that. The type must be hello, resume, "
                            "message, position, language, end or callback.",
        "webchat_binary": "Sorry, we could not read that: send text, not binary data.",
        "webchat_not_started": "Please tell us what you need first, so that your chat can "
                               "start.",
        "webchat_started": "This chat has already started.",
        "webchat_empty": "Please write a message first.",
        "webchat_too_long": "That message is too long: please keep it under {n} characters.",
        "webchat_bad_language": "Please choose English (en) or Welsh (cy).",
        "webchat_trouble": "Sorry, something went wrong on our side. Please try again in a "
                           "moment.",
        "whisper": "Expertline call about {label}. The caller has waited {waited}. To accept, "
                   "press 1.",
        "whisper_callback": "Expertline callback about {label}. To accept, press 1, and we will "
                            "then call the citizen.",
        "whisper_missed": "No key was pressed. The call goes back to the queue. Goodbye.",
        "calling_citizen": "Calling the citizen now. Please hold.",
        "caller_gone": "Sorry, the caller has already left. Goodbye.",
    },
    CY: {
        "safety": "Os oes rhywun mewn perygl uniongyrchol, {leave}ffoniwch 999 nawr; am help "
                  "meddygol brys, ffoniwch GIG 111.",
        "safety_leave": "rhowch y ffôn i lawr a ",
        "greeting": "Croeso i Expertline. Mewn ychydig eiriau, dywedwch wrthym beth sydd ei "
                    "angen arnoch.",
        "ask_need": "Mewn ychydig eiriau, dywedwch wrthym beth sydd ei angen arnoch.",
        "closed": "Mae'n ddrwg gen i, mae'r gwasanaeth hwn ar gau ar hyn o bryd.",
        "closed_bank_holiday": "Mae'n ddrwg gen i, mae'r gwasanaeth hwn ar gau heddiw oherwydd "
                               "gŵyl y banc.",
        "opens": "Byddwn ar agor eto {day} am {time}.",
        "opens_today": "heddiw",
        "opens_tomorrow": "yfory",
        "opens_on": "ddydd {weekday} {date}",
        "partner": "Rydym yn eich trosglwyddo i wasanaeth partner a all helpu.",
        "ooh_callback_known": "I ni eich ffonio'n ôl bryd hynny ar y rhif sy'n gorffen gyda "
                              "{last3}, pwyswch 1. I ddefnyddio rhif arall, rhowch y rhif nawr "
                              "ac yna'r allwedd hash.",
        "ooh_callback_unknown": "I ni eich ffonio'n ôl bryd hynny, rhowch eich rhif ffôn ac yna'r "
                                "allwedd hash.",
        "ooh_callback_done": "Diolch. Byddwn yn eich ffonio ar y rhif sy'n gorffen gyda {last3} "
                             "{day} am {time}. Hwyl fawr.",
        "ooh_goodbye": "Cysylltwch â ni eto pan fyddwn ar agor. Hwyl fawr.",
        "chat_callback_offer": "Os hoffech i ni eich ffonio bryd hynny, anfonwch eich rhif ffôn "
                               "atom.",
        "chat_callback_booked": "Diolch. Byddwn yn eich ffonio ar y rhif sy'n gorffen gyda "
                                "{last3} {day} am {time}.",
        "chat_callback_invalid": "Mae'n ddrwg gen i, ni allwn ffonio'r rhif hwnnw. Rhowch rif "
                                 "ffôn yn y DU.",
        "chat_callback_none": "Cysylltwch â ni eto pan fyddwn ar agor.",
        "welsh_offer": "",
        "reprompt": "Mae'n ddrwg gen i, chlywais i mo hynny. Dywedwch yn fyr beth sydd ei angen "
                    "arnoch.",
        "menu_intro": "Dewiswch o'r opsiynau canlynol.",
        "menu_item": "Ar gyfer {label}, pwyswch {digit}.",
        "routed": "Diolch. Rydym yn chwilio am arbenigwr {label} i chi.",
        "routed_general": "Diolch. Byddwn yn eich trosglwyddo i un o'n cynghorwyr.",
        "position_next": "Chi sydd nesaf yn y ciw.",
        "position": "Rydych chi'n rhif {n} yn y ciw.",
        "offered": "Mae arbenigwr ar fin ateb eich galwad.",
        "wait_unknown": "Ni allwn roi amser aros dibynadwy ar hyn o bryd.",
        "wait_minute": "Mae'r amser aros tua munud.",
        "wait_minutes": "Mae'r amser aros tua {m} munud.",
        "wait_long": "Mae'r amser aros yn fwy nag awr a hanner.",
        "press_star": "I ofyn i ni eich ffonio'n ôl heb golli eich lle, pwyswch seren.",
        "callback_known": "Gallwn eich ffonio'n ôl ar y rhif sy'n gorffen gyda {last3}, a byddwch "
                          "yn cadw eich lle. I gadarnhau, pwyswch 1. I ddefnyddio rhif arall, "
                          "rhowch y rhif ac yna'r allwedd hash. I barhau i aros, pwyswch 2.",
        "callback_unknown": "Rhowch y rhif y dylem eich ffonio arno, ac yna'r allwedd hash. I "
                            "barhau i aros, pwyswch 2.",
        "callback_invalid": "Mae'n ddrwg gen i, ni chafodd y rhif hwnnw ei adnabod.",
        "callback_done": "Diolch. Byddwn yn eich ffonio ar y rhif sy'n gorffen gyda {last3} cyn "
                         "gynted ag y bydd arbenigwr ar gael. Hwyl fawr.",
        "queue_trouble": "Mae'n ddrwg gen i, ni allwn ddal eich galwad ar hyn o bryd.",
        "connecting": "Rydym yn eich cysylltu ag arbenigwr nawr.",
        "requeued": "Mae'n ddrwg gen i, nid oedd yr arbenigwr yn gallu cymryd eich galwad. "
                    "Rydych chi'n cadw eich lle yn y ciw.",
        "callback_greeting": "Helo, Expertline sydd yma yn eich ffonio'n ôl. Rydym yn eich "
                             "cysylltu â'ch arbenigwr nawr.",
        "not_connected": "Mae'n ddrwg gen i, ni allem eich cysylltu y tro hwn. Ffoniwch eto.",
        "error": "Mae'n ddrwg gen i, aeth rhywbeth o'i le. Ffoniwch eto os gwelwch yn dda.",
        "chat_help": "Atebwch HWYL i orffen, neu STOP i atal pob neges.",
        "chat_connected": "Rydych chi nawr yn siarad ag arbenigwr {label}.",
        "chat_ended": "Mae'r sgwrs hon wedi dod i ben. Anfonwch neges atom eto unrhyw bryd.",
        "chat_bye": "Diolch. Mae'r sgwrs hon wedi dod i ben.",
        "chat_resumed": "Byddwch yn derbyn ein negeseuon eto. Dywedwch wrthym beth sydd ei "
                        "angen arnoch.",
        "webchat_routed_general": "Diolch. Byddwn yn eich cysylltu ag un o'n cynghorwyr.",
        "webchat_offered": "Mae arbenigwr ar fin ymuno â'ch sgwrs.",
        "webchat_nobody_on_duty": "Does neb ar ddyletswydd ar hyn o bryd. Bydd eich sgwrs yn "
                                  "cadw ei lle a chaiff ei hateb pan ddaw rhywun ar ddyletswydd. "
                                  "Os oes rhywun mewn perygl, ffoniwch 999.",
        "webchat_connected": "Rydych chi wedi'ch cysylltu. Eich arbenigwr yw {who}.",
        "webchat_connected_anonymous": "Rydych chi wedi'ch cysylltu ag arbenigwr{details}.",
        "webchat_resumed": "Croeso'n ôl. Mae eich sgwrs yn parhau o'r man lle'r oedd hi.",
        "webchat_elsewhere": "Mae'r sgwrs hon wedi'i hagor mewn ffenestr arall, felly mae'n "
                             "parhau yno.",
        "webchat_language": "Byddwn yn ysgrifennu atoch yn Gymraeg o hyn ymlaen.",
        "webchat_ended_citizen": "Diolch. Mae'r sgwrs hon wedi dod i ben.",
        "webchat_ended_expert": "Mae'r arbenigwr wedi dod â'r sgwrs hon i ben. Os oes angen "
                                "rhagor o help arnoch, gallwch ddechrau sgwrs newydd.",
        "webchat_ended_system": "Mae'r sgwrs hon wedi cau. Os oes angen help arnoch o hyd, "
                                "dechreuwch sgwrs newydd.",
        "webchat_resume_unknown": "Mae'n ddrwg gen i, ni allem ddod o hyd i'r sgwrs honno. "
                                  "Dechreuwch sgwrs newydd.",
        "webchat_resume_expired": "Mae'n ddrwg gen i, mae'r sgwrs hon wedi cau am ei bod wedi'i "
                                  "gadael yn rhy hir. Dechreuwch sgwrs newydd os oes angen help "
                                  "arnoch o hyd.",
        "webchat_resume_ended": "Mae'r sgwrs hon wedi dod i ben. Dechreuwch sgwrs newydd os oes "
                                "angen help arnoch o hyd.",
        "webchat_bad_json": "Mae'n ddrwg gen i, ni allem ddarllen hynny: anfonwch wrthrychau "
                            "JSON.",
        "webchat_bad_type": "Mae'n ddrwg gen i, nid oeddem yn deall hynny. Rhaid i'r math fod "
                            "yn hello, resume, message, position, language, end neu callback.",
        "webchat_binary": "Mae'n ddrwg gen i, ni allem ddarllen hynny: anfonwch destun, nid data "
                          "deuaidd.",
        "webchat_not_started": "Dywedwch wrthym beth sydd ei angen arnoch yn gyntaf, er mwyn i'ch "
                               "sgwrs ddechrau.",
        "webchat_started": "Mae'r sgwrs hon eisoes wedi dechrau.",
        "webchat_empty": "Ysgrifennwch neges yn gyntaf, os gwelwch yn dda.",
        "webchat_too_long": "Mae'r neges honno'n rhy hir: cadwch hi o dan {n} nod, os gwelwch "
                            "yn dda.",
        "webchat_bad_language": "Dewiswch Saesneg (en) neu Gymraeg (cy).",
        "webchat_trouble": "Mae'n ddrwg gen i, aeth rhywbeth o'i le ar ein hochr ni. Rhowch "
                           "gynnig arall arni mewn munud.",
    },
}


def text(lang: str, key: str, **values: object) -> str:
    """The sentence ``key`` in ``lang`` (English when the language has no texts)."""
    table = _TEXTS.get(lang, _TEXTS[EN])
    return table[key].format(**values)


def safety(lang: str, *, spoken: bool) -> str:
    """The 999 (and NHS 111) sentence that comes first in every call and chat: a caller is
    told to hang up first, a chat just to call."""
    return text(lang, "safety", leave=text(lang, "safety_leave") if spoken else "")


_WEEKDAYS = {EN: ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
             CY: ("Llun", "Mawrth", "Mercher", "Iau", "Gwener", "Sadwrn", "Sul")}
_MONTHS = {EN: ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December"),
           CY: ("Ionawr", "Chwefror", "Mawrth", "Ebrill", "Mai", "Mehefin", "Gorffennaf",
                "Awst", "Medi", "Hydref", "Tachwedd", "Rhagfyr")}


def when_words(lang: str, at: datetime, now: datetime) -> dict[str, str]:
    """``time`` and ``day`` of ``at`` (in its own zone) as said to a citizen: "8:30 am",
    "today", "tomorrow" or "on Tuesday 7 April" (Welsh: 08:30, heddiw, ddydd Mawrth 7 Ebrill)."""
    lang = lang if lang in _WEEKDAYS else EN
    today = now.astimezone(at.tzinfo).date()
    if at.date() == today:
        day = text(lang, "opens_today")
    elif at.date() == today + timedelta(days=1):
        day = text(lang, "opens_tomorrow")
    else:
        day = text(lang, "opens_on", weekday=_WEEKDAYS[lang][at.weekday()],
                   date=f"{at.day} {_MONTHS[lang][at.month - 1]}")
    if lang == CY:
        return {"time": f"{at:%H:%M}", "day": day}
    hour = at.hour % 12 or 12
    clock = f"{hour}" if at.minute == 0 else f"{hour}:{at.minute:02d}"
    return {"time": f"{clock} {'am' if at.hour < 12 else 'pm'}", "day": day}


def skill_label(skill_id: str) -> str:
    """A speakable name for a skill id: ``carers-support`` -> ``carers support``."""
    return skill_id.replace("-", " ").replace("_", " ")


def wait_minutes(estimated_wait_s: float) -> int:
    """Whole minutes, rounded up (never promise less than the estimate), to 5 above 10."""
    minutes = max(1, math.ceil(estimated_wait_s / 60))
    return minutes if minutes <= 10 else 5 * math.ceil(minutes / 5)


def wait_sentence(lang: str, estimated_wait_s: float | None) -> str:
    if estimated_wait_s is None:
        return text(lang, "wait_unknown")
    minutes = wait_minutes(estimated_wait_s)
    if minutes == 1:
        return text(lang, "wait_minute")
    if minutes > 90:
        return text(lang, "wait_long")
    return text(lang, "wait_minutes", m=minutes)


def queue_sentences(lang: str, info: QueueInfo) -> list[str]:
    """What a waiting citizen is told about their place and the wait."""
    if info.state is ContactState.OFFERED:
        return [text(lang, "offered")]
    if info.state is ContactState.CONNECTED:
        return [text(lang, "connecting")]
    if info.position is None:
        return [wait_sentence(lang, info.estimated_wait_s)]
    place = text(lang, "position_next") if info.position == 1 else text(lang, "position",
                                                                          n=info.position)
    return [place, wait_sentence(lang, info.estimated_wait_s)]


def chat_queue_sentences(lang: str, info: QueueInfo) -> list[str]:
    """What a waiting chat (web, SMS, WhatsApp) is told about its place: written words, never
    "call", and plainly when nobody who could answer it is on duty."""
    if info.state is ContactState.OFFERED:
        return [text(lang, "webchat_offered")]
    if info.state is ContactState.CONNECTED:
        return [text(lang, "connecting")]
    said = [] if info.position is None else [
        text(lang, "position_next") if info.position == 1 else text(lang, "position",
                                                                    n=info.position)]
    if info.experts_on_duty == 0:
        return [*said, text(lang, "webchat_nobody_on_duty")]
    return [*said, wait_sentence(lang, info.estimated_wait_s)]


def connected_sentence(lang: str, shown: ShownExpert) -> str:
    """Who the citizen is now chatting with: only what the expert agreed to show."""
    details = ", ".join(part for part in (shown.role.strip(), shown.organisation.strip()) if part)
    if not shown.name.strip():
        return text(lang, "webchat_connected_anonymous",
                    details=f" ({details})" if details else "")
    who = f"{shown.name.strip()} ({details})" if details else shown.name.strip()
    return text(lang, "webchat_connected", who=who)


def last_digits(number: str, count: int = 3) -> str:
    """The last digits of a number, spaced so text-to-speech reads them one by one."""
    digits = [c for c in number if c.isdigit()]
    return " ".join(digits[-count:])


def waited_words(seconds: float) -> str:
    """A spoken duration for the expert's whisper: "40 seconds", "3 minutes"."""
    if seconds < 60:
        return f"{max(0, round(seconds))} seconds"
    minutes = round(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
