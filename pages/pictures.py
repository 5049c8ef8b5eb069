"""The console's pictures as SVG, rendered on the server (pure: data in, SVG text out).

``graph_svg(neighbourhood, …)`` draws the skills graph around one skill in columns by steps
away: a box per skill (name, holders, organisations), each link labelled with its cost.
``heatmap_svg(heatmap, …)`` draws coverage per skill (rows) and interval (columns), each cell
coloured by the gap between experts scheduled and agents needed, with a legend.

Built with ``xml.etree``, so every name is escaped. The content security policy allows no inline
style, so colours, dashes and fonts are SVG presentation attributes and the page's stylesheet
scales the picture. Each picture has ``role="img"``, its own ``<title>`` (``aria-labelledby``)
and points at the page's caption (``aria-describedby``). Nothing rests on colour alone: a
fragile skill's box is also dashed and says "One organisation only", an unheld skill's box is
dotted, striped and says "Nobody holds it", and a cell short of staff is striped; every box and
cell has a ``<title>`` tooltip with its figures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from xml.etree import ElementTree as ET

from pages.picture_data import (
    ENOUGH,
    IDLE,
    SHORT,
    SPARE,
    CoverCell,
    Heatmap,
    Link,
    Neighbourhood,
    SkillNode,
    day_label,
    figure,
)

SVG_NS = "http://www.w3.org/2000/svg"
INK, RED, GREEN, YELLOW, BLUE = "#0b0c0c", "#d4351c", "#00703c", "#ffdd00", "#1d70b8"
GREY, PALE, WHITE = "#505a5f", "#f3f2f1", "#ffffff"
FONT = "Arial, sans-serif"
PAD = 20
WIDE = 600  # px: a picture this wide or wider is not shrunk on a phone

Value = str | float | int

# -- SVG plumbing -------------------------------------------------------------------------------


def _num(value: Value) -> str:
    if isinstance(value, str):
        return value
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _el(parent: ET.Element, tag: str, attrs: Mapping[str, Value] | None = None,
        text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _num(v) for k, v in (attrs or {}).items()})
    if text is not None:
        element.text = text
    return element


def _root(svg_id: str, width: float, height: float, title: str, caption_id: str) -> ET.Element:
    """The ``<svg>``; on a phone one wider than ``WIDE`` keeps its size (``--wide``) and the
    page scrolls it sideways rather than shrink its words."""
    wide = " expertline-picture--wide" if width >= WIDE else ""
    root = ET.Element("svg", {
        "xmlns": SVG_NS, "id": svg_id, "class": f"expertline-picture{wide}",
        "viewBox": f"0 0 {_num(width)} {_num(height)}", "width": _num(width),
        "height": _num(height), "role": "img", "aria-labelledby": f"{svg_id}-title",
        "aria-describedby": caption_id, "font-family": FONT, "fill": INK})
    _el(root, "title", {"id": f"{svg_id}-title"}, title)
    return root


def _stripes(root: ET.Element, pattern_id: str) -> str:
    """A red pattern with white stripes: what "short" and "nobody" look like besides red."""
    defs = _el(root, "defs")
    pattern = _el(defs, "pattern", {"id": pattern_id, "width": 8, "height": 8,
                                    "patternUnits": "userSpaceOnUse",
                                    "patternTransform": "rotate(45)"})
    _el(pattern, "rect", {"width": 8, "height": 8, "fill": RED})
    _el(pattern, "line", {"x1": 2, "y1": 0, "x2": 2, "y2": 8, "stroke": WHITE,
                          "stroke-width": 3})
    return f"url(#{pattern_id})"


def _label(parent: ET.Element, x: float, y: float, text: str, *, size: int = 14,
           bold: bool = False, anchor: str = "start") -> ET.Element:
    attrs: dict[str, Value] = {"x": x, "y": y, "font-size": size, "fill": INK}
    if bold:
        attrs["font-weight"] = "bold"
    if anchor != "start":
        attrs["text-anchor"] = anchor
    return _el(parent, "text", attrs, text)


def _fit(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def _serialise(root: ET.Element) -> str:
    return ET.tostring(root, encoding="unicode")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# -- the skills graph ---------------------------------------------------------------------------

NODE_W, NODE_H, COL_GAP, ROW_GAP, BULGE, STRIP = 220, 72, 110, 18, 70, 14
GRAPH_LEGEND_H = 4 * 28 + 16
LABEL_AT = 0.6  # where along a link its cost sits: past the middle, so a fan of links spreads
ONE_ORG, NOBODY, CHOSEN = "! One organisation only", "\u00d7 Nobody holds it", "Chosen skill"


def node_summary(node: SkillNode) -> str:
    """The tooltip of a box: the table row's facts in words."""
    where = "the chosen skill" if node.steps == 0 else (
        f"{_plural(node.steps, 'step')} away, substitution cost {node.cost:g}")
    held = (f"{_plural(node.holders, 'expert')} from {_plural(node.orgs, 'organisation')}"
            if node.holders else "no active expert holds it")
    flag = "; held by one organisation only" if node.fragile else ""
    return f"{node.name} ({node.id}): {where}; {held}{flag}"


def link_summary(link: Link, names: Mapping[str, str]) -> str:
    kind = "broader and narrower" if link.kind == "broader" else "related"
    return f"{names[link.a]} and {names[link.b]}: {kind}, cost {link.cost:g}"


def graph_svg(hood: Neighbourhood, *, svg_id: str, caption_id: str) -> str:
    columns = _columns(hood)
    places = _places(columns)
    tallest = max(len(c) for c in columns)
    width = 2 * PAD + len(columns) * NODE_W + (len(columns) - 1) * COL_GAP + BULGE
    top = max(tallest * (NODE_H + ROW_GAP) - ROW_GAP, 0) + 2 * PAD
    title = f"Skills graph around {hood.node(hood.centre).name}"
    root = _root(svg_id, width, top + GRAPH_LEGEND_H, title, caption_id)
    stripes = _stripes(root, f"{svg_id}-stripes")
    names = {n.id: n.name for n in hood.nodes}
    for link in hood.links:
        _link_line(root, link, places, names)
    for link in hood.links:
        _link_label(root, link, places)
    for node in hood.nodes:
        _node(root, node, places[node.id], centre=node.id == hood.centre, stripes=stripes)
    _graph_legend(root, top, stripes)
    return _serialise(root)


def _columns(hood: Neighbourhood) -> list[list[SkillNode]]:
    """Skills by steps away; a column is ordered to sit near its links in the one before."""
    near: dict[str, set[str]] = defaultdict(set)
    for link in hood.links:
        near[link.a].add(link.b)
        near[link.b].add(link.a)
    columns: list[list[SkillNode]] = []
    for steps in range(max(n.steps for n in hood.nodes) + 1):
        these = [n for n in hood.nodes if n.steps == steps]
        if columns:
            before = {n.id: i for i, n in enumerate(columns[-1])}
            these.sort(key=lambda n: (min((before[o] for o in near[n.id] if o in before),
                                          default=len(before)), n.cost, n.name, n.id))
        columns.append(these)
    return columns


def _places(columns: list[list[SkillNode]]) -> dict[str, tuple[float, float]]:
    """Skill -> the top left corner of its box; each column centred on the tallest."""
    tallest = max(len(c) for c in columns)
    places: dict[str, tuple[float, float]] = {}
    for k, column in enumerate(columns):
        x = PAD + k * (NODE_W + COL_GAP)
        offset = (tallest - len(column)) * (NODE_H + ROW_GAP) / 2
        for i, node in enumerate(column):
            places[node.id] = (x, PAD + offset + i * (NODE_H + ROW_GAP))
    return places


def _ends(link: Link, places: Mapping[str, tuple[float, float]]) -> tuple[str, float, float]:
    """The link's path, and where its cost label sits."""
    (xa, ya), (xb, yb) = places[link.a], places[link.b]
    ya, yb = ya + NODE_H / 2, yb + NODE_H / 2
    if xa == xb:  # the same column: an arc to the right
        right, bend = xa + NODE_W, xa + NODE_W + BULGE
        path = f"M{_num(right)},{_num(ya)} C{_num(bend)},{_num(ya)} {_num(bend)},{_num(yb)} " \
               f"{_num(right)},{_num(yb)}"
        return path, right + BULGE * 0.75, (ya + yb) / 2
    (left, y1), (x2, y2) = sorted([(xa, ya), (xb, yb)])  # from the left box's right edge
    x1 = left + NODE_W
    return (f"M{_num(x1)},{_num(y1)} L{_num(x2)},{_num(y2)}", x1 + (x2 - x1) * LABEL_AT,
            y1 + (y2 - y1) * LABEL_AT)


def _link_line(root: ET.Element, link: Link, places: Mapping[str, tuple[float, float]],
               names: Mapping[str, str]) -> None:
    group = _el(root, "g", {"class": f"xl-link xl-{link.kind}", "data-link": f"{link.a} {link.b}"})
    _el(group, "title", text=link_summary(link, names))
    path, _, _ = _ends(link, places)
    _el(group, "path", {"d": path, "fill": "none", "stroke": GREY, "stroke-width": 2})


def _link_label(root: ET.Element, link: Link,
                places: Mapping[str, tuple[float, float]]) -> None:
    _, x, y = _ends(link, places)
    text = f"{link.cost:g}"
    width = 9 * len(text) + 12
    group = _el(root, "g", {"class": "xl-cost", "data-link": f"{link.a} {link.b}"})
    _el(group, "rect", {"x": x - width / 2, "y": y - 11, "width": width, "height": 22, "rx": 3,
                        "fill": WHITE, "stroke": GREY, "stroke-width": 1})
    _label(group, x, y + 5, text, anchor="middle")


def _node_look(node: SkillNode, centre: bool) -> dict[str, Value]:
    look: dict[str, Value] = {"fill": WHITE, "stroke": INK, "stroke-width": 2}
    if node.uncovered:
        look |= {"stroke": RED, "stroke-width": 3, "stroke-dasharray": "3 3"}
    elif node.fragile:
        look |= {"fill": YELLOW, "stroke-dasharray": "8 4"}
    if centre:
        look |= {"stroke": BLUE, "stroke-width": 5}
    return look


def _node_classes(node: SkillNode, centre: bool) -> str:
    flags = [("xl-centre", centre), ("xl-fragile", node.fragile),
             ("xl-uncovered", node.uncovered)]
    return " ".join(["xl-node", *(name for name, on in flags if on)])


def _node(root: ET.Element, node: SkillNode, place: tuple[float, float], *, centre: bool,
          stripes: str) -> None:
    x, y = place
    group = _el(root, "g", {"class": _node_classes(node, centre), "data-skill": node.id})
    _el(group, "title", text=node_summary(node))
    _el(group, "rect", {"x": x, "y": y, "width": NODE_W, "height": NODE_H, "rx": 4,
                        **_node_look(node, centre)})
    left = x + 10
    if node.uncovered:
        _el(group, "rect", {"x": x + 3, "y": y + 3, "width": STRIP, "height": NODE_H - 6,
                            "fill": stripes})
        left += STRIP
    _label(group, left, y + 22, _fit(node.name, 22), size=15, bold=True)
    held = f"{_plural(node.holders, 'expert')}, {_plural(node.orgs, 'org')}"
    _label(group, left, y + 43, held)
    marker = NOBODY if node.uncovered else ONE_ORG if node.fragile else CHOSEN if centre else ""
    if marker:
        _label(group, left, y + 63, marker, bold=True)


def _graph_legend(root: ET.Element, top: float, stripes: str) -> None:
    group = _el(root, "g", {"class": "xl-legend"})
    rows: list[tuple[dict[str, Value], str]] = [
        ({"fill": WHITE, "stroke": BLUE, "stroke-width": 4}, "Blue border: the chosen skill"),
        ({"fill": YELLOW, "stroke": INK, "stroke-width": 2, "stroke-dasharray": "6 3"},
         "Yellow, dashed, “! One organisation only”: held by one organisation"),
        ({"fill": WHITE, "stroke": RED, "stroke-width": 3, "stroke-dasharray": "3 3"},
         f"Red, dotted, striped, “{NOBODY}”: no active expert"),
        ({"fill": WHITE, "stroke": GREY, "stroke-width": 1}, "Number on a line: its cost"),
    ]
    for i, (look, words) in enumerate(rows):
        y = top + i * 28
        _el(group, "rect", {"x": PAD, "y": y, "width": 28, "height": 18, "rx": 3, **look})
        if i == 2:
            _el(group, "rect", {"x": PAD + 3, "y": y + 3, "width": 8, "height": 12,
                                "fill": stripes})
        _label(group, PAD + 38, y + 14, words, size=13)


# -- the coverage heatmap -----------------------------------------------------------------------

LABEL_W, GRID_W, CELL_H, CELL_GAP, AXIS_H, HEAT_LEGEND_H = 200, 740, 26, 4, 48, 56
STATE_WORDS = {SHORT: "Short of staff (striped red)", ENOUGH: "Just enough (yellow)",
               SPARE: "One or more spare (green)", IDLE: "None needed, nobody on (grey)"}


def cell_summary(cell: CoverCell, name: str, grid: Heatmap) -> str:
    """The tooltip of a cell: when, needed, scheduled and the gap in words."""
    gap = {SHORT: f"short by {figure(-cell.gap)}", ENOUGH: "just enough",
           SPARE: f"{figure(cell.gap)} spare", IDLE: "none needed, nobody scheduled"}
    return (f"{name}, {grid.label(cell.start)}: {cell.required} needed, "
            f"{figure(cell.scheduled)} scheduled, {gap[cell.state]}")


def heatmap_svg(grid: Heatmap, *, svg_id: str, caption_id: str) -> str:
    width = LABEL_W + GRID_W + PAD
    rows_h = len(grid.rows) * (CELL_H + CELL_GAP)
    root = _root(svg_id, width, AXIS_H + rows_h + HEAT_LEGEND_H,
                 "Coverage: agents needed against experts scheduled", caption_id)
    fills = {SHORT: _stripes(root, f"{svg_id}-short"), ENOUGH: YELLOW, SPARE: GREEN, IDLE: PALE}
    cell_w = GRID_W / max(len(grid.starts), 1)
    _time_axis(root, grid, cell_w, rows_h)
    for row, (skill, name) in enumerate(grid.rows):
        y = AXIS_H + row * (CELL_H + CELL_GAP)
        _row_label(root, skill, name, y)
        group = _el(root, "g", {"class": "xl-row", "data-skill": skill})
        for i, start in enumerate(grid.starts):
            cell = grid.cells.get((skill, start))
            if cell is not None:
                _cell(group, cell, name, grid, LABEL_W + i * cell_w, y, cell_w, fills)
    _heat_legend(root, AXIS_H + rows_h + 16, fills)
    return _serialise(root)


def _row_label(root: ET.Element, skill: str, name: str, y: float) -> None:
    text = _label(root, LABEL_W - 10, y + 18, _fit(name, 24), anchor="end")
    _el(text, "title", text=f"{name} ({skill})")


def _cell(group: ET.Element, cell: CoverCell, name: str, grid: Heatmap, x: float, y: float,
          width: float, fills: Mapping[str, str]) -> None:
    rect = _el(group, "rect", {"class": f"xl-cell xl-{cell.state}", "x": x, "y": y,
                               "width": width, "height": CELL_H, "fill": fills[cell.state],
                               "data-start": cell.start.isoformat()})
    _el(rect, "title", text=cell_summary(cell, name, grid))


def _day_starts(grid: Heatmap) -> Iterable[tuple[int, datetime]]:
    """(column, local time) of the first interval and of each local midnight."""
    for i, start in enumerate(grid.starts):
        local = start.astimezone(grid.zone)
        if i == 0 or (local.hour, local.minute) == (0, 0):
            yield i, local


def _time_axis(root: ET.Element, grid: Heatmap, cell_w: float, rows_h: float) -> None:
    """A line and a label at each day's start; the hours 06, 12 and 18 when there is room,
    else (a narrow day) the weekday above the date."""
    axis = _el(root, "g", {"class": "xl-axis"})
    roomy = cell_w * 12 >= 30
    for i, local in _day_starts(grid):
        x = LABEL_W + i * cell_w
        if x + 40 > LABEL_W + GRID_W:  # a day that starts at the very end: no room for words
            pass
        elif roomy:
            _label(axis, x + 3, 18, day_label(local), size=13, bold=True)
        else:
            _label(axis, x + 3, 18, f"{local:%a}", size=12, bold=True)
            _label(axis, x + 3, 36, f"{local.day} {local:%b}", size=12)
        _el(axis, "line", {"x1": x, "y1": 4, "x2": x, "y2": AXIS_H + rows_h, "stroke": INK,
                           "stroke-width": 1})
    if not roomy:
        return
    for i, start in enumerate(grid.starts):
        local = start.astimezone(grid.zone)
        if local.minute == 0 and local.hour % 6 == 0 and local.hour:
            _label(axis, LABEL_W + i * cell_w, 40, f"{local:%H:%M}", size=12, anchor="middle")


def _heat_legend(root: ET.Element, y: float, fills: Mapping[str, str]) -> None:
    group = _el(root, "g", {"class": "xl-legend"})
    for i, (state, words) in enumerate(STATE_WORDS.items()):
        x = PAD + i * (LABEL_W + GRID_W - PAD) / 4
        _el(group, "rect", {"class": f"xl-key xl-{state}", "x": x, "y": y, "width": 20,
                            "height": 20, "fill": fills[state], "stroke": INK,
                            "stroke-width": 1})
        _label(group, x + 28, y + 15, words, size=13)
