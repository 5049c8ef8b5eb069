"""Support for the engine tests: a small real pool in a real database, and a settable clock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web

from base.db import Database
from router.context import engine_of
from router.ports import Channel, ContactRequest, Medium
from skills.models import Expert, ExpertLanguage, Organisation, Proficiency, Skill, SkillEdge

T0 = 1_796_000_000.0  # an epoch second in late 2026


@dataclass
class Clock:
    """The engine's clock, moved by the test (no sleeps)."""

    now: float = T0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


SKILLS = ("dementia", "dementia-carers", "carers-support", "housing")
EXPERTS = {  # id -> (org, {skill: level}, languages, phone)
    "e-ann": ("nhs-a", {"dementia": 5}, ("en",), "+447700900001"),
    "e-bob": ("nhs-a", {"dementia": 4, "carers-support": 3}, ("en", "cy"), "+447700900002"),
    "e-cat": ("council-b", {"housing": 5}, ("en",), "+447700900003"),
}


async def seed_pool(db: Database, experts: dict[str, tuple[str, dict[str, int],
                                                           Iterable[str], str]] = EXPERTS
                    ) -> None:
    async with db.transaction() as session:
        for org in ("nhs-a", "council-b"):
            session.add(Organisation(id=org, name=org.upper()))
        for skill in SKILLS:
            session.add(Skill(id=skill, name=skill.replace("-", " ").title()))
        await session.flush()
        session.add(SkillEdge(source_id="dementia-carers", target_id="dementia", kind="broader"))
        for expert_id, (org, levels, languages, phone) in experts.items():
            session.add(Expert(id=expert_id, name=expert_id[2:].title(), org_id=org, phone=phone))
            await session.flush()
            for skill, level in levels.items():
                session.add(Proficiency(expert_id=expert_id, skill_id=skill, level=level))
            for language in languages:
                session.add(ExpertLanguage(expert_id=expert_id, language=language))


def call(ref: str, skill: str = "dementia", *, language: str = "en",
         channel: Channel = Channel.VOICE, address: str = "+447700900999") -> ContactRequest:
    medium = Medium.PHONE if channel is Channel.VOICE else Medium.WEB
    return ContactRequest(channel=channel, medium=medium, skill=skill, language=language,
                          external_ref=ref, address=address)


async def arrive(app: web.Application, ref: str, skill: str = "dementia", *,
                 address: str = "+447700900999") -> str:
    """A call queued through the app's routing engine, as the voice channel would: its id."""
    return (await engine_of(app).submit(call(ref, skill, address=address))).contact_id
