"""Who may do what to the pool: roles, the caller (principal) and the scope rules.

Pure functions over plain data, so every route checks the same rules and tests can call them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from base.errors import Forbidden, InvalidInput


class Role(enum.StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    EXPERT = "expert"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller. ``orgs`` scopes a supervisor; ``expert_id`` names an expert."""

    role: Role
    token_id: int | None = None
    orgs: frozenset[str] = field(default_factory=frozenset)
    expert_id: str | None = None
    name: str = ""

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        if self.role is Role.EXPERT:
            return f"expert:{self.expert_id}"
        return self.name or f"{self.role.value}:token{self.token_id}"


SYSTEM = Principal(role=Role.ADMIN, name="system")


def check_scope(role: Role, orgs: frozenset[str], expert_id: str | None, *,
                what: str = "token") -> None:
    """The shapes a principal may have: an expert names one expert, a supervisor at least
    one organisation, an admin neither (``what`` names the thing being made in the error)."""
    if role is Role.SUPERVISOR and not orgs:
        raise InvalidInput(f"a supervisor {what} needs at least one --org")
    if role is Role.EXPERT and not expert_id:
        raise InvalidInput(f"an expert {what} needs --expert")
    if role is Role.ADMIN and (orgs or expert_id):
        raise InvalidInput(f"an admin {what} is not scoped: drop --org/--expert")
    if role is Role.SUPERVISOR and expert_id:
        raise InvalidInput(f"--expert goes with --role expert, not a supervisor {what}")


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise Forbidden(f"this needs the role {allowed}; you are {principal.role.value}")


def can_read_pool(principal: Principal) -> bool:
    """Admins and supervisors read the whole pool (supervisors read other orgs read-only)."""
    return principal.role in (Role.ADMIN, Role.SUPERVISOR)


def require_pool_reader(principal: Principal) -> None:
    require_role(principal, Role.ADMIN, Role.SUPERVISOR)


def can_edit_org(principal: Principal, org_id: str) -> bool:
    if principal.role is Role.ADMIN:
        return True
    return principal.role is Role.SUPERVISOR and org_id in principal.orgs


def require_org_editor(principal: Principal, org_id: str) -> None:
    if not can_edit_org(principal, org_id):
        raise Forbidden(f"you may not change organisation {org_id!r}'s experts")


def can_read_expert(principal: Principal, expert_id: str) -> bool:
    if principal.role is Role.EXPERT:
        return principal.expert_id == expert_id
    return can_read_pool(principal)


def require_expert_reader(principal: Principal, expert_id: str) -> None:
    if not can_read_expert(principal, expert_id):
        raise Forbidden("you may read only your own profile")
