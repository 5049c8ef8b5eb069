"""The routing engine's announcements, handed to the channel that owns each contact.

The listener only queues the work (serially per contact, see ``telephony.tasks``), so the
engine is never held up by a Twilio request or a slow socket. ``handle`` names a channel for
every ``Medium``: a new medium fails the type check here until it is given one, rather than
falling through to another channel's delivery.
"""

from __future__ import annotations

from typing import assert_never

from router.ports import Announcement, Assigned, Ended, Listener, Medium
from telephony import messaging
from telephony.service import Telephony


def listener(tel: Telephony) -> Listener:
    async def on_announcement(event: Announcement) -> None:
        tel.tasks.spawn(event.contact_id, handle, tel, event)

    return on_announcement


async def handle(tel: Telephony, event: Announcement) -> None:
    medium = event.contact.medium
    match medium:
        case Medium.PHONE:
            await _voice(tel, event)
        case Medium.WEB:
            await tel.chats.deliver(event)
        case Medium.SMS | Medium.WHATSAPP:
            await messaging.deliver(tel, event)
        case _:
            assert_never(medium)


async def _voice(tel: Telephony, event: Announcement) -> None:
    if isinstance(event, Assigned):
        await tel.connector.assigned(event)
    elif isinstance(event, Ended):
        await tel.connector.ended(event)
