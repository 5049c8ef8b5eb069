"""Docs that cannot drift: every command the CLI has is in the README's command table."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from expertline.cli import build_parser

README = Path(__file__).resolve().parent.parent / "README.md"


def command_paths(parser: argparse.ArgumentParser) -> list[tuple[str, ...]]:
    """Every leaf command, e.g. ("bench", "routing"), ("serve",)."""
    paths: list[tuple[str, ...]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths += [(name, *inner) for inner in command_paths(sub)] or [(name,)]
    return paths


def documented() -> list[list[set[str]]]:
    """Each `expertline …` command in the README as a list of word sets (a\\|b = either)."""
    found = []
    for usage in re.findall(r"`expertline ([^`]+)`", README.read_text(encoding="utf-8")):
        words = [w for w in usage.split() if not w.startswith(("-", "[", "…"))]
        found.append([set(w.replace("\\|", "|").split("|")) for w in words])
    return found


@pytest.mark.parametrize("path", command_paths(build_parser()), ids=" ".join)
def test_every_command_is_in_the_readme(path: tuple[str, ...]) -> None:
    assert any(len(words) >= len(path) and all(p in w for p, w in zip(path, words, strict=False))
               for words in documented()), f"README: no `expertline {' '.join(path)}`"
