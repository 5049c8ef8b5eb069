"""Hypothesis strategies for hostile input: what an attacker (or a broken client) sends.

Every value here is meant to be refused: strings with NUL or lone surrogates, huge or deeply
nested JSON, numbers JSON does not have, ids in other scripts' digits, dates the calendar cannot
hold. The fuzz tests throw them at every route and WebSocket and expect a 4xx, never a 5xx,
and no change to stored data.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

POISON = st.sampled_from(["\x00", "\ud800", "\udfff", "a\x00b", "\ud83d"])  # unstorable

# Strings an attacker would try, each with at least one thing no database can store.
hostile_text = st.builds(lambda head, poison, tail: head + poison + tail,
                         st.text(max_size=8), POISON, st.text(max_size=8))

# Ids for path segments: odd digits, overflow, traversal, poison (percent-encoded when sent).
hostile_ids = st.sampled_from([  # superscript two, Arabic-Indic twelve, Thai one, ...
    "\u00b2", "\u0661\u0662", "\u0e51", "999999999999999999", "-1", "0", "1e3", "..",
    "../../etc/passwd", "%00", "\x00", "a" * 300, " ", "NaN", "Infinity", "null", "[]", "{}",
]) | hostile_text

hostile_dates = st.sampled_from([
    "9999-12-31", "0001-01-01", "2026-13-01", "2026-02-30", "20261207", "2026-12-07T00:00", "",
    "x", "\u0661\u0662\u0663\u0664-\u0660\u0661-\u0660\u0661",  # in Arabic-Indic digits
])


def _json_leaves() -> st.SearchStrategy[Any]:
    return st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | \
        st.text(max_size=20) | hostile_text


json_values = st.recursive(_json_leaves(), lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10) | hostile_text, inner,
                                             max_size=4), max_leaves=12)


@st.composite
def hostile_bodies(draw: st.DrawFn) -> bytes:
    """A request body no handler may accept: broken, too deep, not JSON, or holding poison."""
    kind = draw(st.sampled_from(["poisoned", "deep", "constant", "broken", "binary"]))
    if kind == "poisoned":
        document = {draw(st.text(max_size=10)): draw(json_values), "x": draw(hostile_text)}
        return json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if kind == "deep":
        depth = draw(st.sampled_from([33, 100, 1_000, 100_000]))
        return ("[" * depth + "]" * depth).encode()
    if kind == "constant":
        return draw(st.sampled_from([b"NaN", b'{"a": Infinity}', b"[-Infinity]"]))
    if kind == "broken":
        return draw(st.sampled_from([b"{", b'{"a": }', b"\xff\xfe", b"[1, 2", b"'x'"]))
    return draw(st.binary(min_size=1, max_size=64).filter(lambda b: b[:1] not in b"{["))


@st.composite
def hostile_frames(draw: st.DrawFn) -> str:
    """A WebSocket frame no chat or desk may act on."""
    kind = draw(st.sampled_from(["poisoned", "deep", "not json", "wrong shape"]))
    if kind == "poisoned":
        key = draw(st.sampled_from(["type", "action", "text", "id", "status", "language"]))
        frame = {"type": draw(st.sampled_from(["hello", "message"])),
                 "action": draw(st.sampled_from(["status", "accept", "message"])),
                 key: draw(hostile_text)}
        return json.dumps(frame)  # escaped: a lone surrogate only travels as \\ud800
    if kind == "deep":
        return "[" * draw(st.integers(min_value=33, max_value=5_000))
    if kind == "not json":
        return draw(st.sampled_from(["NaN", "{", "hello", "\x00", "[1,"]))
    return json.dumps(draw(st.sampled_from([[], 1, "x", None, {"type": 5}, {"action": []}])))


# Bodies each route would accept (against the pool of tests/engine_support.py), for poisoning
# one field: the request then gets past the shape checks, so the poison meets the real
# validation and the database rather than only the JSON parser.
VALID_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/skills"): {"id": "fuzz", "name": "Fuzz", "synonyms": ["fuzzing"]},
    ("PATCH", "/api/v1/skills/{id}"): {"name": "Dementia care", "description": "d"},
    ("POST", "/api/v1/experts"): {"id": "fuzz", "name": "Fuzz", "organisation": "nhs-a",
                                  "skills": {"dementia": 3}, "languages": ["en"]},
    ("PATCH", "/api/v1/experts/{id}"): {"name": "Ann", "languages": ["en"],
                                        "timezone": "Europe/London"},
    ("PUT", "/api/v1/experts/{id}/skills/{skill}"): {"level": 3},
    ("POST", "/api/v1/experts/{id}/accreditations"): {"kind": "dbs-enhanced",
                                                      "expires_on": "2027-01-01"},
    ("POST", "/api/v1/organisations"): {"id": "fuzz-org", "name": "Fuzz org"},
    ("PATCH", "/api/v1/organisations/{id}"): {"name": "NHS A", "region": "wales"},
    ("POST", "/api/v1/sharing-agreements"): {"org_a": "nhs-a", "org_b": "council-b"},
    ("POST", "/api/v1/contacts"): {"skill": "dementia", "language": "en", "channel": "chat"},
    ("POST", "/api/v1/callbacks"): {"number": "+447700900123", "skill": "dementia",
                                    "language": "en", "due_at": "2026-12-31T09:00:00+00:00"},
    ("POST", "/api/v1/experts/{id}/shifts"): {"kind": "one_off", "start": "2026-12-08T09:00",
                                              "end": "2026-12-08T17:00"},
    ("PUT", "/api/v1/me/status"): {"status": "away"},
}


def _poison(value: Any, path: list[Any], poison: str) -> Any:
    """``value`` with the string at ``path`` (keys and indexes) replaced by ``poison``."""
    if not path:
        return poison
    head, *rest = path
    if isinstance(value, dict):
        return {k: (_poison(v, rest, poison) if k == head else v) for k, v in value.items()}
    return [(_poison(v, rest, poison) if i == head else v) for i, v in enumerate(value)]


def _string_paths(value: Any, path: list[Any]) -> list[list[Any]]:
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _string_paths(v, [*path, k])]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _string_paths(v, [*path, i])]
    return []


@st.composite
def poisoned_bodies(draw: st.DrawFn, body: dict[str, Any]) -> bytes:
    """A body the route accepts, with one of its strings (or, having none, a key) replaced by
    hostile text."""
    paths = _string_paths(body, [])
    if not paths:
        document = {**body, draw(hostile_text): body}
        return json.dumps(document).encode()
    document = _poison(body, draw(st.sampled_from(paths)), draw(hostile_text))
    return json.dumps(document).encode()  # escaped, as a client would send a lone surrogate
