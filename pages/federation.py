"""Who a federated sign-in makes someone here: the claims mapping, as pure decisions.

A provider's verified ID token claims become at most one role, never for more than the
provider's ``orgs`` (and only for organisations that exist):

- **admin** when ``roles_claim`` holds one of ``admin_values`` (only a provider configured
  for every organisation, ``orgs = ["*"]``, may grant it: an admin sees everything);
- **supervisor** of the provider's organisations (narrowed to those ``orgs_claim`` names,
  when configured) when ``roles_claim`` holds one of ``supervisor_values``;
- **expert** when the person is an active expert of one of those organisations, found by
  ``subjects`` (``sub`` -> expert id) first, then by ``expert_claim``: with ``match =
  "email"`` the claim is compared with the experts' stored email, case-insensitively (and a
  token that says ``email_verified: false`` finds nobody), with ``match = "id"`` it is the
  expert's id; ``expert_values``, when set, must also be in ``roles_claim``.

Anyone else gets ``NoAccount``: the page tells them whom to ask; nothing is created.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from base.access import Role
from base.config import OidcProviderConfig

LABEL_MAX = 120


@dataclass(frozen=True, slots=True)
class Lookup:
    """How to find the expert: by ``id`` or by ``email`` (lower-cased)."""

    by: str
    value: str


@dataclass(frozen=True, slots=True)
class ExpertFound:
    id: str
    org_id: str
    active: bool


@dataclass(frozen=True, slots=True)
class Grant:
    role: Role
    orgs: frozenset[str]
    expert_id: str | None
    label: str


@dataclass(frozen=True, slots=True)
class NoAccount:
    """Nobody here for these claims; ``why`` goes to the log, not to the person."""

    why: str


def values_of(claims: Mapping[str, Any], name: str) -> frozenset[str]:
    """A claim's values: a list of strings, or one string (space-separated, as scopes and
    some providers' group claims are)."""
    if not name:
        return frozenset()
    value = claims.get(name)
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(v for v in value if isinstance(v, str))
    return frozenset()


def lookup_of(provider: OidcProviderConfig, claims: Mapping[str, Any]) -> Lookup | None:
    """Which expert the claims name, before looking: None when they name nobody."""
    sub = claims.get("sub")
    if isinstance(sub, str) and sub in provider.subjects:
        return Lookup("id", provider.subjects[sub])
    value = claims.get(provider.expert_claim)
    if not isinstance(value, str) or not value.strip():
        return None
    if provider.match == "id":
        return Lookup("id", value.strip())
    if provider.expert_claim == "email" and claims.get("email_verified") is False:
        return None  # an address the provider has not checked proves nothing
    return Lookup("email", value.strip().lower())


def decide(provider: OidcProviderConfig, claims: Mapping[str, Any],
           experts: Iterable[ExpertFound], known_orgs: Iterable[str]) -> Grant | NoAccount:
    """The one role these claims give, or ``NoAccount``. ``experts`` are those the lookup
    found (more than one is ambiguous: nobody), ``known_orgs`` the organisations that exist."""
    known = frozenset(known_orgs)
    allowed = known if provider.every_org else known & frozenset(provider.orgs)
    roles = values_of(claims, provider.roles_claim)
    label = label_of(provider, claims)
    if roles & frozenset(provider.admin_values) and provider.every_org:
        return Grant(Role.ADMIN, frozenset(), None, label)
    if roles & frozenset(provider.supervisor_values):
        orgs = allowed & values_of(claims, provider.orgs_claim) if provider.orgs_claim \
            else allowed
        if orgs:
            return Grant(Role.SUPERVISOR, orgs, None, label)
    return _expert(provider, roles, list(experts), allowed, label)


def _expert(provider: OidcProviderConfig, roles: frozenset[str], experts: list[ExpertFound],
            allowed: frozenset[str], label: str) -> Grant | NoAccount:
    if not experts:
        return NoAccount("no expert matches the claims")
    if len(experts) > 1:
        return NoAccount(f"{len(experts)} experts match the claims")
    (expert,) = experts
    if expert.org_id not in allowed:
        return NoAccount(f"expert {expert.id}'s organisation is not the provider's")
    if not expert.active:
        return NoAccount(f"expert {expert.id} is not active")
    if provider.expert_values and not roles & frozenset(provider.expert_values):
        return NoAccount("the claims hold none of expert_values")
    return Grant(Role.EXPERT, frozenset(), expert.id, label)


def label_of(provider: OidcProviderConfig, claims: Mapping[str, Any]) -> str:
    """How the audit log names the person: the provider and their email, else their
    ``sub``."""
    email, sub = claims.get("email"), claims.get("sub")
    who = email if isinstance(email, str) and email else str(sub)
    return f"{provider.id}:{who}"[:LABEL_MAX]
