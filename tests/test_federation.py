"""The claims mapping (``pages.federation``) as pure decisions, and the OIDC configuration:
never more than the provider's organisations, admin only from a provider for every
organisation, the client secret only from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from base.access import Role
from base.config import ConfigError, OidcProviderConfig, load_config, oidc_secret_variable
from pages.federation import ExpertFound, Grant, Lookup, NoAccount, decide, lookup_of

NHS = OidcProviderConfig(id="nhs-a", name="NHS A", issuer="https://id.nhs-a.example",
                         client_id="xl", orgs=("nhs-a",), roles_claim="groups",
                         supervisor_values=("sup",), subjects={"s-42": "e-bob"})
OPERATOR = OidcProviderConfig(id="ops", name="Operator", issuer="https://id.ops.example",
                              client_id="xl", orgs=("*",), roles_claim="groups",
                              admin_values=("xl-admin",), supervisor_values=("sup",),
                              orgs_claim="orgs")
ANN = ExpertFound("e-ann", "nhs-a", active=True)
KNOWN = {"nhs-a", "council-b"}


def test_the_expert_is_found_by_subject_first_then_by_verified_email() -> None:
    assert lookup_of(NHS, {"sub": "s-42", "email": "x@y"}) == Lookup("id", "e-bob")
    assert lookup_of(NHS, {"sub": "s-1", "email": " Ann@NHS-A.example "}) == \
        Lookup("email", "ann@nhs-a.example")
    assert lookup_of(NHS, {"sub": "s-1", "email": "a@b", "email_verified": False}) is None
    assert lookup_of(NHS, {"sub": "s-1"}) is None


@pytest.mark.parametrize(("provider", "claims", "experts", "expected"), [
    (NHS, {"sub": "1"}, [ANN], Grant(Role.EXPERT, frozenset(), "e-ann", "nhs-a:1")),
    (NHS, {"sub": "1", "groups": "sup other"}, [], Grant(Role.SUPERVISOR,
                                                         frozenset({"nhs-a"}), None, "nhs-a:1")),
    (NHS, {"sub": "1", "groups": ["xl-admin"]}, [], NoAccount("no expert matches the claims")),
    (NHS, {"sub": "1"}, [ExpertFound("e-cat", "council-b", True)],
     NoAccount("expert e-cat's organisation is not the provider's")),
    (NHS, {"sub": "1"}, [ExpertFound("e-ann", "nhs-a", False)],
     NoAccount("expert e-ann is not active")),
    (NHS, {"sub": "1"}, [ANN, ANN], NoAccount("2 experts match the claims")),
    (OPERATOR, {"sub": "1", "groups": ["xl-admin"]}, [],
     Grant(Role.ADMIN, frozenset(), None, "ops:1")),
    (OPERATOR, {"sub": "1", "groups": ["sup"], "orgs": ["council-b", "elsewhere"]}, [],
     Grant(Role.SUPERVISOR, frozenset({"council-b"}), None, "ops:1")),
    (OPERATOR, {"sub": "1", "groups": ["sup"]}, [], NoAccount("no expert matches the claims")),
])
def test_the_claims_give_one_role_never_beyond_the_providers_organisations(
        provider: OidcProviderConfig, claims: dict[str, object], experts: list[ExpertFound],
        expected: Grant | NoAccount) -> None:
    assert decide(provider, claims, experts, KNOWN) == expected


def test_a_supervisor_of_an_organisation_that_does_not_exist_gets_nothing() -> None:
    assert isinstance(decide(NHS, {"sub": "1", "groups": ["sup"]}, [], {"council-b"}),
                      NoAccount)


PROVIDER_TOML = """
[[oidc.providers]]
id = "kingsmere"
name = "Kingsmere Council"
issuer = "https://login.kingsmere.example"
client_id = "expertline"
orgs = ["kingsmere-council"]
"""


def test_the_client_secret_comes_from_the_environment_only(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(PROVIDER_TOML)
    assert oidc_secret_variable("nhs-a") == "EXPERTLINE_OIDC_NHS_A_SECRET"
    config = load_config(path, {"EXPERTLINE_OIDC_KINGSMERE_SECRET": "s3"})
    (provider,) = config.oidc.providers
    assert provider.client_secret == "s3" and provider.scopes == ("openid", "email", "profile")
    path.write_text(PROVIDER_TOML + 'client_secret = "oops"\n')
    with pytest.raises(ConfigError, match="never in the file; set "
                                          "EXPERTLINE_OIDC_KINGSMERE_SECRET"):
        load_config(path, {})


@pytest.mark.parametrize(("extra", "message"), [
    ('admin_values = ["x"]\n', "oidc.providers\\[0\\].admin_values: an admin sees every"),
    ('match = "name"\n', "match: must be email or id"),
    ('scopes = ["email"]\n', "scopes: must include openid"),
])
def test_a_provider_that_could_grant_too_much_is_refused(tmp_path: Path, extra: str,
                                                         message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(PROVIDER_TOML + extra)
    with pytest.raises(ConfigError, match=message):
        load_config(path, {})
