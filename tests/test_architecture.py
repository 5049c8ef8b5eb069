"""Docs that cannot drift: docs/architecture.md's list of which package imports which is the
code's (the floors themselves and the absence of import circles are `lint-imports` contracts,
run by `make lint`), and docs/simulator.md names every scenario key and its example runs."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("base", "skills", "router", "telephony", "scheduler", "pages", "simulator", "bench",
            "expertline")


def imports_in_code() -> dict[str, set[str]]:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    found: dict[str, set[str]] = defaultdict(set)
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            importer, target = module.split(".")[0], imported.split(".")[0]
            if importer != target:
                found[importer].add(target)
    return dict(found)


def imports_in_docs() -> dict[str, set[str]]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- imports:start -->\s*```\n(.*?)```", text, re.S)
    assert block is not None, "docs/architecture.md lost its import list"
    listed = {}
    for line in block.group(1).strip().splitlines():
        importer, _, targets = line.partition("->")
        listed[importer.strip()] = {t.strip() for t in targets.split(",")}
    return listed


def test_the_architecture_page_lists_the_imports_the_code_has() -> None:
    assert imports_in_docs() == imports_in_code()


def test_every_package_is_on_a_floor_of_the_layering_contract() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    layers = re.search(r'^layers = \[(.*?)\]', pyproject, re.M | re.S)
    assert layers is not None
    named = set(re.findall(r"[a-z]+", layers.group(1)))
    assert named == set(PACKAGES)


def test_the_simulator_page_documents_every_scenario_key_and_its_example_runs() -> None:
    from simulator.scenario import parse_scenario

    doc = (ROOT / "docs" / "simulator.md").read_text(encoding="utf-8")
    source = (ROOT / "simulator" / "scenario.py").read_text(encoding="utf-8")
    keys = set(re.findall(r'\.(?:number|integer|string|strings|raw|table|tables|has)\("(\w+)"',
                          source))
    assert keys >= {"duration_h", "per_hour", "chat_capacity", "batch_window_s"}
    missing = sorted(k for k in keys if not re.search(rf"\b{k}\b", doc))
    assert missing == []
    example = re.search(r"```toml\n(.*?)```", doc, re.S)
    assert example is not None
    scenario = parse_scenario(example.group(1), "docs/simulator.md")
    assert [d.skill for d in scenario.demand] == ["dementia"]
