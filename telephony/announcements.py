"""The routing engine's announcements, handed to the channel that owns each contact.

The listener only queues the work (serially per contact, see ``telephony.tasks``), so the
engine is never held up by a Twilio request or a slow socket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from router.ports import Announcement, Assigned, Ended, Listener, Medium
from telephony import messaging

if TYPE_CHECKING:
    from telephony.service import Telephony


def listener(tel: Telephony) -> Listener:
    async def on_announcement(event: Announcement) -> None:
        tel.tasks.spawn(event.contact_id, handle, tel, event)

    return on_announcement


async def handle(tel: Telephony, event: Announcement) -> None:
    medium = event.contact.medium
    if medium is Medium.PHONE:
        await _voice(tel, event)
    elif medium is Medium.WEB:
        await tel.chats.deliver(event)
    else:
        await messaging.deliver(tel, event)


async def _voice(tel: Telephony, event: Announcement) -> None:
    if isinstance(event, Assigned):
        await tel.connector.assigned(event)
    elif isinstance(event, Ended):
        await tel.connector.ended(event)
