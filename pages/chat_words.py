"""Every word of the citizen's chat page, in English and Welsh.

The page is rendered in the citizen's language (``?lang=cy``) and its script takes the same
catalogue (as JSON in a data attribute, so the page needs no inline script) for the lines it
writes itself: speaker labels a screen reader announces, reconnecting, a chat that is over.
What the server says in the chat (queued, the place in the queue, who the expert is, nobody on
duty, ended, errors) comes translated from telephony. A test checks that both languages have
every key.
"""

from __future__ import annotations

EN = {
    "title": "Chat with an expert",
    "intro": "Tell us what you need and we will put you through to the best expert we have "
             "for it, from the NHS, your council or a charity.",
    "danger": "If someone is in danger now, call 999.",
    "switch": "Cymraeg",
    "switch_lang": "cy",
    "lang_label": "Newid i'r Gymraeg",
    "ask": "What do you need help with?",
    "ask_hint": "For example: my mum has dementia and keeps getting lost.",
    "start": "Start chat",
    "empty": "Type what you need help with.",
    "kept": "If this page reloads or your connection drops, your chat is kept for a few "
            "minutes and carries on when you come back.",
    "conversation": "Conversation",
    "your_message": "Your message",
    "send": "Send",
    "end": "End chat",
    "print": "Print or save the conversation",
    "error": "Error:",
    "noscript": "This chat needs JavaScript. You can also call the number or send a text "
                "message.",
    "sound": "Play a sound when the expert writes",
    "you": "You",
    "you_said": "You said:",
    "expert": "Expert",
    "expert_said": "Expert said:",
    "system": "Expertline",
    "system_said": "System message:",
    "connecting": "Connecting…",
    "reconnecting": "Connection lost. Reconnecting… Your chat is kept for a few minutes.",
    "ended": "The chat has ended. Thank you for using Expertline.",
    "again": "Start a new chat",
    "elsewhere": "This chat carries on in another window or tab.",
    "lost": "We could not carry on your earlier chat: it ended or was kept too long. You can "
            "start a new one.",
    "skip": "Skip to main content",
    "service_label": "Service information",
    "nav_label": "Pages",
    "nav_chat": "Chat with an expert",
    "nav_desk": "Expert desk",
    "nav_console": "Console",
    "footer": "Expertline: one number, one shared pool of experts.",
}

CY = {
    "title": "Sgwrsio ag arbenigwr",
    "intro": "Dywedwch wrthym beth sydd ei angen arnoch a byddwn yn eich rhoi drwodd i'r "
             "arbenigwr gorau sydd gennym, o'r GIG, eich cyngor neu elusen.",
    "danger": "Os oes rhywun mewn perygl nawr, ffoniwch 999.",
    "switch": "English",
    "switch_lang": "en",
    "lang_label": "Switch to English",
    "ask": "Gyda beth sydd angen help arnoch chi?",
    "ask_hint": "Er enghraifft: mae gan fy mam ddementia ac mae hi'n mynd ar goll o hyd.",
    "start": "Dechrau sgwrs",
    "empty": "Teipiwch gyda beth sydd angen help arnoch chi.",
    "kept": "Os bydd y dudalen hon yn ail-lwytho neu os bydd eich cysylltiad yn torri, caiff "
            "eich sgwrs ei chadw am ychydig funudau a bydd yn parhau pan fyddwch yn dod yn ôl.",
    "conversation": "Sgwrs",
    "your_message": "Eich neges",
    "send": "Anfon",
    "end": "Gorffen y sgwrs",
    "print": "Argraffu neu gadw'r sgwrs",
    "error": "Gwall:",
    "noscript": "Mae angen JavaScript ar y sgwrs hon. Gallwch hefyd ffonio'r rhif neu anfon "
                "neges destun.",
    "sound": "Chwarae sain pan fydd yr arbenigwr yn ysgrifennu",
    "you": "Chi",
    "you_said": "Dywedoch chi:",
    "expert": "Arbenigwr",
    "expert_said": "Dywedodd yr arbenigwr:",
    "system": "Expertline",
    "system_said": "Neges system:",
    "connecting": "Yn cysylltu…",
    "reconnecting": "Collwyd y cysylltiad. Yn ailgysylltu… Caiff eich sgwrs ei chadw am "
                    "ychydig funudau.",
    "ended": "Mae'r sgwrs wedi dod i ben. Diolch am ddefnyddio Expertline.",
    "again": "Dechrau sgwrs newydd",
    "elsewhere": "Mae'r sgwrs hon yn parhau mewn ffenestr neu dab arall.",
    "lost": "Doedd dim modd parhau â'ch sgwrs gynharach: daeth i ben neu cafodd ei chadw'n "
            "rhy hir. Gallwch ddechrau un newydd.",
    "skip": "Neidio i'r prif gynnwys",
    "service_label": "Gwybodaeth am y gwasanaeth",
    "nav_label": "Tudalennau",
    "nav_chat": "Sgwrsio ag arbenigwr",
    "nav_desk": "Desg arbenigwyr",
    "nav_console": "Consol",
    "footer": "Expertline: un rhif, un gronfa o arbenigwyr ar draws y gwasanaethau cyhoeddus.",
}

WORDS = {"en": EN, "cy": CY}


def words(lang: str | None) -> tuple[str, dict[str, str]]:
    """``(language, catalogue)`` for ``?lang=``; English unless Welsh is asked for."""
    chosen = "cy" if lang == "cy" else "en"
    return chosen, WORDS[chosen]
