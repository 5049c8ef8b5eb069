"""The skills pool as SQLModel tables: organisations, experts, skills and how they relate.

Every time column is timezone-aware UTC when written; SQLite hands it back naive, so read it
through ``base.clock.utc()``. Schema changes go through Alembic migrations (expertline/migrations).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from base.clock import now_utc

PROFICIENCY_MIN, PROFICIENCY_MAX = 1, 5


def _ts() -> Any:
    """A ``created_at``-style column: timezone-aware ``DateTime``, defaulting to now (UTC).

    Returns ``Any`` because that is what sqlmodel's ``Field`` returns: the declared annotation
    (``created_at: datetime = _ts()``) is what types the attribute.
    """
    return Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))


class Organisation(SQLModel, table=True):
    __tablename__ = "organisation"
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    kind: str = Field(default="other", max_length=32)  # nhs-trust | council | charity | other
    nation: str = Field(default="england", max_length=32)
    region: str = Field(default="", max_length=64)
    created_at: datetime = _ts()


class Skill(SQLModel, table=True):
    __tablename__ = "skill"
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    created_at: datetime = _ts()


class SkillEdge(SQLModel, table=True):
    """``broader``: source is narrower than target. ``related``: symmetric, with a cost."""

    __tablename__ = "skill_edge"
    source_id: str = Field(foreign_key="skill.id", primary_key=True, max_length=64)
    target_id: str = Field(foreign_key="skill.id", primary_key=True, max_length=64)
    kind: str = Field(primary_key=True, max_length=16)  # broader | related
    cost: float | None = None


class SkillTerm(SQLModel, table=True):
    """Words citizens use for a skill: ``synonym`` (strong) or ``keyword`` (a hint)."""

    __tablename__ = "skill_term"
    skill_id: str = Field(foreign_key="skill.id", primary_key=True, max_length=64)
    term: str = Field(primary_key=True, max_length=200)
    kind: str = Field(default="synonym", max_length=16)


class Expert(SQLModel, table=True):
    __tablename__ = "expert"
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    org_id: str = Field(foreign_key="organisation.id", index=True, max_length=64)
    email: str = Field(default="", max_length=254)
    phone: str = Field(default="", max_length=32)  # E.164, for dialling into a conference
    client_identity: str = Field(default="", max_length=128)  # Twilio Client identity
    sip_address: str = Field(default="", max_length=254)
    timezone: str = Field(default="Europe/London", max_length=64)
    active: bool = True
    # What a citizen is told about who they are talking to: nothing the expert did not agree to
    # show. Empty public_name: "an expert"; the organisation only with show_organisation.
    public_name: str = Field(default="", max_length=64)
    public_role: str = Field(default="", max_length=100)
    show_organisation: bool = False
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Proficiency(SQLModel, table=True):
    __tablename__ = "proficiency"
    expert_id: str = Field(foreign_key="expert.id", primary_key=True, max_length=64)
    skill_id: str = Field(foreign_key="skill.id", primary_key=True, index=True, max_length=64)
    level: int = Field(ge=PROFICIENCY_MIN, le=PROFICIENCY_MAX)


class ExpertLanguage(SQLModel, table=True):
    __tablename__ = "expert_language"
    expert_id: str = Field(foreign_key="expert.id", primary_key=True, max_length=64)
    language: str = Field(primary_key=True, max_length=16)  # en, cy, bsl, pl, ur, pa, ar…


class Accreditation(SQLModel, table=True):
    __tablename__ = "accreditation"
    id: int | None = Field(default=None, primary_key=True)
    expert_id: str = Field(foreign_key="expert.id", index=True, max_length=64)
    name: str = Field(max_length=64)  # enhanced-dbs, ig-training, …
    reference: str = Field(default="", max_length=128)
    expires_on: date | None = None


class SharingAgreement(SQLModel, table=True):
    """Organisations that may route contacts to each other's experts (stored with a < b)."""

    __tablename__ = "sharing_agreement"
    __table_args__ = (sa.UniqueConstraint("org_a", "org_b", name="uq_sharing_pair"),)
    id: int | None = Field(default=None, primary_key=True)
    org_a: str = Field(foreign_key="organisation.id", max_length=64)
    org_b: str = Field(foreign_key="organisation.id", max_length=64)
    purpose: str = Field(default="", max_length=500)
    starts_on: date | None = None
    ends_on: date | None = None
    created_at: datetime = _ts()
