"""Experts as CSV, the form an HR system exports: parsing with line numbers, and writing.

The header is ``id,name,organisation,email,phone,timezone,languages,skills,accreditations``
(any order; ``id``, ``name`` and ``organisation`` are required, a column left out keeps the
current value). Lists are ``;``-separated: ``languages`` as ``en;cy``, ``skills`` as
``dementia:4;carers-support:3``, ``accreditations`` as ``enhanced-dbs:2027-03-31;ig-training``
(no date: it does not expire). An empty cell in a list column clears the list.

``parse_experts_csv`` checks the file's shape (columns, ``skill:level`` syntax, duplicate ids)
and reports each bad row by its line number; the values themselves (levels 1..5, dates, known
skills and organisations) are checked with the rest of an import, and ``problem_at_line`` turns
those problems' paths back into line numbers.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from skills.transfer_check import Problem

COLUMNS = (
    "id",
    "name",
    "organisation",
    "email",
    "phone",
    "timezone",
    "languages",
    "skills",
    "accreditations",
)
REQUIRED = ("id", "name", "organisation")
EXPERT_PATH = re.compile(r"^experts\[(\d+)\](?:\.(.*))?$")


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One expert read from a CSV file, with the line its row starts on (the header is 1)."""

    line: int
    expert: Mapping[str, Any]


class _RowError(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


def parse_experts_csv(text: str) -> tuple[list[CsvRow], list[Problem]]:
    """The rows that parsed, and a problem per bad row or header (``line N[, column]``)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader, None)
        problems = _check_header(header)
        if problems or header is None:
            return [], problems
        return _read_rows(reader, [h.strip().lower() for h in header])
    except csv.Error as exc:
        return [], [Problem(f"line {reader.line_num}", f"not valid CSV: {exc}")]


def _check_header(header: list[str] | None) -> list[Problem]:
    if not header:
        return [Problem("line 1", f"the header is missing; expected {','.join(COLUMNS)}")]
    names = [h.strip().lower() for h in header]
    problems = [
        Problem("line 1", f"unknown column {n!r} (expected {', '.join(COLUMNS)})")
        for n in names
        if n not in COLUMNS
    ]
    problems += [
        Problem("line 1", f"column {n!r} appears twice")
        for n in sorted({n for n in names if names.count(n) > 1})
    ]
    problems += [
        Problem("line 1", f"required column {n!r} is missing") for n in REQUIRED if n not in names
    ]
    return problems


def _read_rows(reader: Any, header: list[str]) -> tuple[list[CsvRow], list[Problem]]:
    rows: list[CsvRow] = []
    problems: list[Problem] = []
    first_seen: dict[str, int] = {}
    end = reader.line_num
    for cells in reader:
        line, end = end + 1, reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.append(
                Problem(f"line {line}", f"expected {len(header)} columns, found {len(cells)}")
            )
            continue
        try:
            expert = parse_row(dict(zip(header, cells, strict=True)))
        except _RowError as exc:
            problems.append(Problem(f"line {line}, {exc.column}", str(exc)))
            continue
        key = expert.get("id")
        if key is not None and key in first_seen:
            problems.append(
                Problem(
                    f"line {line}, id", f"duplicate id {key!r} (first on line {first_seen[key]})"
                )
            )
            continue
        if key is not None:
            first_seen[key] = line
        rows.append(CsvRow(line, expert))
    return rows, problems


def parse_row(cells: Mapping[str, str]) -> dict[str, Any]:
    """One row's cells as an expert record (values are checked later, with the import)."""
    out: dict[str, Any] = {}
    for column, raw in cells.items():
        value = raw.strip()
        if column in ("languages", "skills", "accreditations"):
            out[column] = LIST_PARSERS[column](_items(value))
        elif value or column in ("email", "phone"):
            out[column] = value
    return out


def _items(cell: str) -> list[str]:
    return [item.strip() for item in cell.split(";") if item.strip()]


def _skills(items: list[str]) -> dict[str, int]:
    levels: dict[str, int] = {}
    for item in items:
        skill, sep, level = (part.strip() for part in item.partition(":"))
        if not sep or not skill:
            raise _RowError("skills", f"{item!r} is not skill:level (e.g. dementia:4)")
        if not re.fullmatch(r"[0-9]+", level):
            raise _RowError("skills", f"{item!r}: level must be a whole number 1..5")
        if skill in levels:
            raise _RowError("skills", f"skill {skill!r} is listed twice")
        levels[skill] = int(level)
    return levels


def _accreditations(items: list[str]) -> list[dict[str, Any]]:
    found = []
    for item in items:
        name, _sep, expires = (part.strip() for part in item.partition(":"))
        if not name:
            raise _RowError("accreditations", f"{item!r} is not name:YYYY-MM-DD")
        found.append({"name": name, "expires_on": expires or None})
    return found


LIST_PARSERS: Mapping[str, Any] = {
    "languages": list,
    "skills": _skills,
    "accreditations": _accreditations,
}


def problem_at_line(problem: Problem, rows: Sequence[CsvRow]) -> Problem:
    """``experts[3].skills.x`` (a path in the document built from ``rows``) as ``line N, …``."""
    match = EXPERT_PATH.match(problem.path)
    if match is None:
        return problem
    line = rows[int(match.group(1))].line
    rest = match.group(2)
    return Problem(f"line {line}, {rest}" if rest else f"line {line}", problem.message)


# -- writing ------------------------------------------------------------------------------------


def experts_csv(experts: Iterable[Mapping[str, Any]]) -> str:
    """Experts (in export form) as CSV with the standard header, one row each."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for e in experts:
        writer.writerow(csv_cells(e))
    return out.getvalue()


def csv_cells(e: Mapping[str, Any]) -> list[str]:
    skills = ";".join(f"{s}:{level}" for s, level in e["skills"].items())
    accreditations = ";".join(
        a["name"] + (f":{a['expires_on']}" if a["expires_on"] else "") for a in e["accreditations"]
    )
    return [
        e["id"],
        e["name"],
        e["organisation"],
        e["email"],
        e["phone"],
        e["timezone"],
        ";".join(e["languages"]),
        skills,
        accreditations,
    ]
