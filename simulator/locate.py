"""Find the line of a key in TOML text, so scenario errors can say where they are.

``tomllib`` gives values but no positions. ``Locator`` scans the text once for table headers
(``[simulation]``, ``[[team]]``, ``[team.shift]``...), resolves each header to the path of the
value it opens (``("team", 1, "shift")`` for a ``[team.shift]`` after the second ``[[team]]``),
and answers ``line_of(path)``: the line of the deepest key of ``path`` it can find, else the line
of the table that should hold it, else None. Inline tables and arrays are located by the key
that holds them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Path = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]#]+?)\s*\]\]?\s*(?:#.*)?$")
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True, slots=True)
class _Header:
    line: int  # 1-based
    path: Path


def _split_dotted(name: str) -> list[str]:
    """``a."b.c".d`` -> ``["a", "b.c", "d"]`` (quotes removed)."""
    parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([^.\s]+)', name)
    return [next(p for p in groups if p) if any(groups) else "" for groups in parts]


def _key_pattern(key: str) -> re.Pattern[str]:
    quoted = rf"(?:\"{re.escape(key)}\"|'{re.escape(key)}')"
    name = rf"(?:{re.escape(key)}|{quoted})" if _BARE.match(key) else quoted
    return re.compile(rf"^\s*{name}\s*[.=]")


class Locator:
    """Line numbers of keys and tables in one TOML document."""

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines()
        self._headers: list[_Header] = []
        counts: dict[Path, int] = {}
        for number, line in enumerate(self._lines, start=1):
            match = _HEADER.match(line)
            if match is not None:
                path = self._resolve(_split_dotted(match.group(2)), counts,
                                     array=match.group(1) == "[[")
                self._headers.append(_Header(number, path))

    def _resolve(self, names: list[str], counts: dict[Path, int], *, array: bool) -> Path:
        """Insert the current index after every array-of-tables prefix of ``names``."""
        path: Path = ()
        for i, name in enumerate(names):
            path = (*path, name)
            if i == len(names) - 1 and array:
                counts[path] = counts.get(path, 0) + 1
                path = (*path, counts[path] - 1)
            elif path in counts:
                path = (*path, counts[path] - 1)
        return path

    def line_of(self, path: Path) -> int | None:
        """The line of ``path``'s deepest locatable key, or of its table, or None."""
        best: tuple[int, int] | None = None  # (header index, header path length)
        for i, header in enumerate(self._headers):
            n = len(header.path)
            if path[:n] == header.path and (best is None or n >= best[1]):
                best = (i, n)
        if best is None:
            start, end, rest, fallback = 0, self._first_header_index(), path, None
        else:
            index, n = best
            start, rest = self._headers[index].line, path[n:]
            end = (self._headers[index + 1].line - 1 if index + 1 < len(self._headers)
                   else len(self._lines))
            fallback = self._headers[index].line
        if rest and isinstance(rest[0], str):
            found = self._find_key(rest[0], start, end)
            if found is not None:
                return found
        return fallback

    def _first_header_index(self) -> int:
        return self._headers[0].line - 1 if self._headers else len(self._lines)

    def _find_key(self, key: str, start: int, end: int) -> int | None:
        """First line in (start, end] (1-based, ``start`` exclusive) that assigns ``key``."""
        pattern = _key_pattern(key)
        for number in range(start + 1, end + 1):
            if pattern.match(self._lines[number - 1]):
                return number
        return None


def format_path(path: Path) -> str:
    """``("demand", 1, "per_hour")`` -> ``demand[1].per_hour``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out
