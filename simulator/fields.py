"""Typed, located reads of a parsed TOML table: every error names the file, line and key.

    table = Table(data["simulation"], ("simulation",), source)
    duration = table.number("duration_h", above=0)
    table.done()    # refuses keys that were never read

Errors are ``base.errors.BadRequest`` with the message ``scenario.toml:14: demand[1].per_hour:
must be > 0``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NoReturn, TypeVar, overload

from base.errors import BadRequest
from simulator.locate import Locator, Path, format_path

MISSING: Any = object()
_D = TypeVar("_D")


class Source:
    """The scenario's name and text positions, for error messages."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.locator = Locator(text)

    def fail(self, path: Path, message: str) -> NoReturn:
        line = self.locator.line_of(path)
        where = f"{self.name}:{line}" if line is not None else self.name
        key = format_path(path)
        raise BadRequest(f"{where}: {key}: {message}" if key else f"{where}: {message}",
                         path=key, line=line)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Table:
    """One TOML table being read; remembers which keys were read."""

    def __init__(self, data: object, path: Path, source: Source) -> None:
        if not isinstance(data, Mapping):
            source.fail(path, "must be a table")
        self.data: Mapping[str, Any] = data
        self.path = path
        self.source = source
        self._read: set[str] = set()

    def fail(self, key: str | None, message: str) -> NoReturn:
        self.source.fail(self.path if key is None else (*self.path, key), message)

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = MISSING) -> Any:
        self._read.add(key)
        if key not in self.data:
            if default is MISSING:
                self.fail(key, "missing (required)")
            return default
        return self.data[key]

    def _absent(self, key: str, default: Any) -> bool:
        """True when an optional key is not given (the caller returns its default)."""
        self._read.add(key)
        return default is not MISSING and key not in self.data

    # Each reader answers the value, or ``default`` when the key is absent and a default is
    # given (a caller may pass ``None`` for "optional"); without a default the key is required.

    @overload
    def number(self, key: str, *, above: float | None = None,
               at_least: float | None = None) -> float: ...
    @overload
    def number(self, key: str, default: _D, *, above: float | None = None,
               at_least: float | None = None) -> float | _D: ...

    def number(self, key: str, default: object = MISSING, *, above: float | None = None,
               at_least: float | None = None) -> object:
        if self._absent(key, default):
            return default
        value = self.raw(key)
        if not _is_number(value) or not math.isfinite(value):
            self.fail(key, f"must be a number, not {value!r}")
        if above is not None and not value > above:
            self.fail(key, f"must be > {above:g}")
        if at_least is not None and not value >= at_least:
            self.fail(key, f"must be >= {at_least:g}")
        return float(value)

    @overload
    def integer(self, key: str, *, low: int | None = None, high: int | None = None) -> int: ...
    @overload
    def integer(self, key: str, default: _D, *, low: int | None = None,
                high: int | None = None) -> int | _D: ...

    def integer(self, key: str, default: object = MISSING, *, low: int | None = None,
                high: int | None = None) -> object:
        if self._absent(key, default):
            return default
        value = self.raw(key)
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(key, f"must be a whole number, not {value!r}")
        if low is not None and value < low:
            self.fail(key, f"must be >= {low}")
        if high is not None and value > high:
            self.fail(key, f"must be <= {high}")
        return value

    @overload
    def string(self, key: str, *, choices: tuple[str, ...] | None = None) -> str: ...
    @overload
    def string(self, key: str, default: _D, *,
               choices: tuple[str, ...] | None = None) -> str | _D: ...

    def string(self, key: str, default: object = MISSING, *,
               choices: tuple[str, ...] | None = None) -> object:
        if self._absent(key, default):
            return default
        value = self.raw(key)
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f"must be a non-empty string, not {value!r}")
        if choices is not None and value not in choices:
            self.fail(key, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        if self._absent(key, default):
            return default
        value = self.raw(key)
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false, not {value!r}")
        return value

    @overload
    def strings(self, key: str) -> tuple[str, ...]: ...
    @overload
    def strings(self, key: str, default: _D) -> tuple[str, ...] | _D: ...

    def strings(self, key: str, default: object = MISSING) -> object:
        if self._absent(key, default):
            return default
        value = self.raw(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(key, f"must be a list of non-empty strings, not {value!r}")
        return tuple(value)

    def table(self, key: str) -> Table:
        return Table(self.raw(key), (*self.path, key), self.source)

    def tables(self, key: str) -> list[Table]:
        """An array of tables (``[[key]]`` or ``key = [{...}, ...]``)."""
        value = self.raw(key, [])
        if not isinstance(value, list):
            self.fail(key, "must be an array of tables")
        return [Table(item, (*self.path, key, i), self.source) for i, item in enumerate(value)]

    def done(self) -> None:
        """Refuse keys that no reader asked for (unknown keys)."""
        for key in self.data:
            if key not in self._read:
                self.fail(key, "unknown key")
