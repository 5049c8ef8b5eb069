"""Local rules, the pure part: opening hours in an organisation's own zone, each UK nation's
bank holidays, the out-of-hours fallback, and config.toml's ``[local.ID]`` checked at start-up
with one-line errors naming the key. Every instant is given: no clock."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from base.config import DEFAULT_CONFIG, ConfigError, load_config
from base.local_rules import (
    LocalRules,
    OfferCallback,
    Open,
    SkillRules,
    ToPartner,
    effective,
    is_open,
    next_opening,
    org_of_number,
    parse_day,
    route_out_of_hours,
)

LONDON = ZoneInfo("Europe/London")
WEEKDAYS = {"daily": "08:00-20:00", "sat": "closed", "sun": "closed"}
EASTER_MONDAY = datetime(2026, 4, 6, 10, 0, tzinfo=LONDON)  # England's, not Scotland's
TUESDAY = datetime(2026, 4, 7, 10, 0, tzinfo=LONDON)


def at(day: int, hour: int, minute: int = 0, zone: ZoneInfo = LONDON) -> datetime:
    return datetime(2026, 4, day, hour, minute, tzinfo=zone)


def rules(**keys: object) -> LocalRules:
    return dataclasses.replace(LocalRules(), **keys)  # type: ignore[arg-type]


def state(local: LocalRules, when: datetime, skill: str = "dementia"):
    return is_open(effective("org", local, skill), when)


def test_no_rules_means_open_at_all_hours_even_on_a_bank_holiday() -> None:
    found = state(LocalRules(), EASTER_MONDAY)
    assert (found.open, found.why, found.bank_holiday) == (True, "always", "Easter Monday")


@pytest.mark.parametrize(("when", "is_open_then"), [
    (at(7, 7, 59), False), (at(7, 8, 0), True), (at(7, 19, 59), True), (at(7, 20, 0), False),
    (at(11, 12), False), (at(12, 12), False),  # the weekend
])
def test_hours_are_half_open_spans(when: datetime, is_open_then: bool) -> None:
    assert state(rules(hours=WEEKDAYS), when).open is is_open_then


def test_hours_are_the_organisations_own_time_zone() -> None:
    belfast_by_utc = rules(hours={"daily": "09:00-17:00"}, timezone="America/New_York")
    assert not state(belfast_by_utc, at(7, 10)).open  # 05:00 in New York
    assert state(belfast_by_utc, at(7, 15)).open  # 10:00 there
    opens = state(belfast_by_utc, at(7, 10)).opens_at
    assert opens is not None and opens.utcoffset() is not None
    assert opens.astimezone(LONDON) == at(7, 14)


def test_an_english_bank_holiday_closes_england_but_not_scotland() -> None:
    england = rules(hours=WEEKDAYS, closed_on_bank_holidays=True)
    scotland = dataclasses.replace(england, nation="scotland")
    closed = state(england, EASTER_MONDAY)
    assert (closed.open, closed.why, closed.bank_holiday) == (False, "bank-holiday",
                                                              "Easter Monday")
    assert closed.opens_at == at(7, 8)
    assert state(scotland, EASTER_MONDAY).open
    assert state(dataclasses.replace(england, closed_on_bank_holidays=False), EASTER_MONDAY).open


@pytest.mark.parametrize(("nation", "day", "name"), [
    ("scotland", datetime(2026, 11, 30, 12, tzinfo=LONDON), "Saint Andrew's Day"),
    ("northern-ireland", datetime(2026, 3, 17, 12, tzinfo=LONDON), "Saint Patrick's Day"),
    ("wales", datetime(2026, 8, 31, 12, tzinfo=LONDON), "Late Summer Bank Holiday"),
])
def test_each_nation_has_its_own_bank_holidays(nation: str, day: datetime, name: str) -> None:
    own = rules(nation=nation, closed_on_bank_holidays=True)
    assert (state(own, day).open, state(own, day).bank_holiday) == (False, name)
    assert state(rules(closed_on_bank_holidays=True), day).open is (nation != "wales")


def test_the_next_opening_skips_the_weekend_and_the_holiday() -> None:
    local = rules(hours=WEEKDAYS, closed_on_bank_holidays=True)
    assert next_opening(effective("org", local, "x"), at(3, 21)) == at(7, 8)  # Good Friday
    assert next_opening(effective("org", local, "x"), at(7, 7)) == at(7, 8)
    assert next_opening(effective("org", rules(hours={"mon": "closed"}), "x"), TUESDAY) is None


def test_a_skill_can_keep_its_own_hours() -> None:
    local = rules(hours=WEEKDAYS, closed_on_bank_holidays=True, priority=2, skills={
        "mental-health-crisis": SkillRules(hours={"daily": "00:00-24:00"},
                                           closed_on_bank_holidays=False, priority=7)})
    assert not state(local, EASTER_MONDAY).open
    assert state(local, EASTER_MONDAY, "mental-health-crisis").open
    assert effective("org", local, "mental-health-crisis").priority == 7
    assert effective("org", local, "dementia").priority == 2


def shares(*pairs: tuple[str, str]):
    agreed = {frozenset(p) for p in pairs}
    return lambda a, b: frozenset((a, b)) in agreed


def test_out_of_hours_goes_to_the_partner_under_an_agreement() -> None:
    local = {"a": rules(hours=WEEKDAYS, fallback="org:b", priority=4),
             "b": rules(priority=6)}
    evening = at(7, 21)
    assert route_out_of_hours(local, "a", "dementia", TUESDAY,
                              may_share=shares(("a", "b"))) == Open("a", 4)
    to_b = route_out_of_hours(local, "a", "dementia", evening, may_share=shares(("a", "b")))
    assert isinstance(to_b, ToPartner) and (to_b.partner, to_b.priority) == ("b", 6)
    # no agreement in force, or the partner closed too: the callback instead
    alone = route_out_of_hours(local, "a", "dementia", evening, may_share=shares())
    assert isinstance(alone, OfferCallback) and alone.state.opens_at == at(8, 8)
    local["b"] = rules(hours={"daily": "09:00-17:00"})
    closed_too = route_out_of_hours(local, "a", "dementia", evening,
                                    may_share=shares(("a", "b")))
    assert isinstance(closed_too, OfferCallback)


def test_an_organisation_without_rules_is_always_open() -> None:
    assert route_out_of_hours({}, "z", "dementia", EASTER_MONDAY,
                              may_share=shares()) == Open("z")


def test_numbers_name_the_line() -> None:
    local = {"a": rules(numbers=("+442079460001",)), "b": rules()}
    assert org_of_number(local, "+442079460001") == "a"
    assert org_of_number(local, "whatsapp:+442079460001") == "a"
    assert org_of_number(local, "+443000000000") is None
    assert org_of_number(local, "") is None


@pytest.mark.parametrize(("text", "spans"), [
    ("closed", ()), ("08:00-20:00", ((480, 1200),)), ("00:00-24:00", ((0, 1440),)),
    ("13:30-17:00, 08:00-12:30", ((480, 750), (810, 1020))),
])
def test_parse_day(text: str, spans: tuple) -> None:
    assert parse_day(text) == spans


# -- config.toml --------------------------------------------------------------------------------
def load(tmp_path: Path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path, {})


def test_local_rules_load_from_config_toml(tmp_path: Path) -> None:
    config = load(tmp_path, """
[local.nhs-caledon]
timezone = "Europe/London"
nation = "scotland"
hours = {daily = "08:00-20:00", sun = "closed"}
closed_on_bank_holidays = true
fallback = "org:alba-carers"
priority = 5
numbers = ["+441312345678"]
[local.nhs-caledon.skills.mental-health-crisis]
hours = {daily = "00:00-24:00"}
""")
    caledon = config.local["nhs-caledon"]
    assert (caledon.nation, caledon.fallback, caledon.priority) == ("scotland",
                                                                    "org:alba-carers", 5)
    assert caledon.skills["mental-health-crisis"].closed_on_bank_holidays is None
    assert state(caledon, EASTER_MONDAY).open


@pytest.mark.parametrize(("toml", "error"), [
    ('timezone = "Mars/Olympus"',
     "local.x.timezone: 'Mars/Olympus' is not an IANA time zone (Europe/London)"),
    ('nation = "cornwall"',
     "local.x.nation: must be one of england, wales, scotland, northern-ireland"),
    ('hours = {mon = "9-5"}',
     "local.x.hours.mon: must be \"closed\" or spans like \"08:00-20:00\": '9-5' is not "
     "HH:MM-HH:MM"),
    ('hours = {mon = "22:00-06:00"}',
     "local.x.hours.mon: must be \"closed\" or spans like \"08:00-20:00\": '22:00-06:00' ends "
     "before it starts (write a span over midnight as two days)"),
    ('hours = {weekdays = "08:00-20:00"}',
     "local.x.hours.weekdays: unknown day: use mon, tue, wed, thu, fri, sat, sun or daily"),
    ('fallback = "partner"', "local.x.fallback: must be \"callback\" or \"org:ID\" (an "
                             "organisation with a data-sharing agreement)"),
    ('fallback = "org:x"', "local.x.fallback: names the organisation itself: name a partner "
                           "organisation"),
    ("priority = 11", "local.x.priority: must be 0..10"),
    ('numbers = ["020 7946 0000"]', "local.x.numbers[0]: must be an E.164 number "
                                    "(+443001234567)"),
    ("closed_on_bank_holidays = 1", "local.x.closed_on_bank_holidays: expected bool, got 1"),
    ('opening = "9"', "local.x.opening: unknown key"),
    ("[local.x.skills.dementia]\npriority = -1", "local.x.skills.dementia.priority: must be "
                                                 "0..10"),
])
def test_bad_local_rules_stop_start_up_naming_the_key(tmp_path: Path, toml: str,
                                                      error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, f"[local.x]\n{toml}\n")
    assert str(caught.value) == error


def test_a_number_belongs_to_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^local\.b\.numbers\[0\]: \+442079460001 is already "
                                          r"local\.a's$"):
        load(tmp_path, '[local.a]\nnumbers = ["+442079460001"]\n'
                       '[local.b]\nnumbers = ["+442079460001"]\n')


def test_every_local_key_is_in_config_toml_and_the_demo_line_is_open_all_hours() -> None:
    text = DEFAULT_CONFIG.read_text()
    for field in dataclasses.fields(LocalRules):
        assert f"{field.name} = " in text or f".{field.name}." in text, field.name
    kingsmere = load_config(None, {}).local["kingsmere-council"]
    for day in range(5, 12):
        assert state(kingsmere, at(day, 3)).open  # the example surprises nobody in `make run`
