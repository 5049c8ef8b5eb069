"""The console's pictures as SVG, rendered on the server (pure: data in, SVG text out).

``graph_svg(neighbourhood, …)`` draws the skills graph around one skill in columns by steps
away: a box per skill (name, holders, organisations), each link labelled with its cost.
``heatmap_svg(heatmap, …)`` draws coverage per skill (rows) and interval (columns), each cell
coloured by the gap between experts scheduled and agents needed, with a legend.
``service_svg(today, …)`` and ``queue_svg(today, …)`` draw today per interval: the service
level as bars against a dashed goal line, and the contacts waiting at each interval's end.
``rota_svg(week, …)`` draws a team's week: a row per expert, a column per day, a bar per shift,
absence or leave at its hours.

Built with ``xml.etree``, so every name is escaped. The content security policy allows no inline
style, so colours, dashes and fonts are SVG presentation attributes and the page's stylesheet
scales the picture. Each picture has ``role="img"``, its own ``<title>`` (``aria-labelledby``)
and points at the page's caption (``aria-describedby``). Nothing rests on colour alone: a
fragile skill's box is also dashed and says "One organisation only", an unheld skill's box is
dotted, striped and says "Nobody holds it", a cell short of staff and a service level below
the goal are striped, an absence is a dashed outline marked "Away" and leave a grey bar marked
"Leave"; every box, cell and bar has a ``<title>`` tooltip with its figures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, time, timedelta
from math import ceil
from xml.etree import ElementTree as ET

from pages.picture_data import (
    ABSENCE,
    DASH,
    ENOUGH,
    IDLE,
    KIND_WORDS,
    LEAVE,
    SHIFT,
    SHORT,
    SPARE,
    WEEK,
    CoverCell,
    Heatmap,
    Link,
    Neighbourhood,
    RotaPiece,
    RotaWeek,
    SkillNode,
    Today,
    TodaySlot,
    day_label,
    figure,
    hour_text,
    percent,
    piece_time,
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


# -- today per interval: service level and queue ------------------------------------------------

AXIS_W, PLOT_W, PLOT_TOP, PLOT_H, CHART_FOOT = 64, 672, 44, 200, 112
GRID_GREY = "#b1b4b6"
MET, MISSED, NONE = "met", "missed", "none"


def slot_label(today: Today, slot: TodaySlot) -> str:
    so_far = " (so far)" if slot.end > today.now else ""
    return f"{today.label(slot)}{so_far}"


def service_summary(today: Today, slot: TodaySlot) -> str:
    """The tooltip of a service level bar: the table row's figures in words."""
    head = f"{slot_label(today, slot)}: {_plural(slot.arrived, 'contact')} arrived"
    if slot.service_level is None:
        return f"{head}; no service level (none answered or abandoned yet)"
    return (f"{head}; service level {percent(slot.service_level)}: {slot.within} of "
            f"{slot.settled} answered within {today.target_s:g} s, {slot.abandoned} abandoned")


def queue_summary(today: Today, slot: TodaySlot) -> str:
    return f"{slot_label(today, slot)}: {slot.waiting} waiting at {today.clock(slot.waiting_at)}"


def _slot_state(today: Today, slot: TodaySlot) -> str:
    if slot.service_level is None:
        return NONE
    return MET if slot.service_level >= today.goal else MISSED


def _slots_in_day(today: Today) -> int:
    """How many intervals the whole London day has (the x axis is the day, not just so far)."""
    local = today.start.astimezone(today.zone)
    end = datetime.combine(local.date() + timedelta(days=1), time(0), today.zone)
    return max(ceil((end - today.start) / today.interval), len(today.slots), 1)


def _chart_root(svg_id: str, title: str, caption_id: str) -> ET.Element:
    return _root(svg_id, AXIS_W + PLOT_W + PAD, PLOT_TOP + PLOT_H + CHART_FOOT, title,
                 caption_id)


def _y_axis(root: ET.Element, ticks: Iterable[tuple[float, str]], name: str) -> None:
    """Grid lines at ``ticks`` (a share of the plot's height, and its words) and the axis name
    above them."""
    axis = _el(root, "g", {"class": "xl-axis xl-y"})
    _label(axis, PAD, PLOT_TOP - 24, name, size=13, bold=True)
    for share, words in ticks:
        y = PLOT_TOP + PLOT_H * (1 - share)
        _el(axis, "line", {"x1": AXIS_W, "y1": y, "x2": AXIS_W + PLOT_W, "y2": y,
                           "stroke": GRID_GREY, "stroke-width": 1})
        _label(axis, AXIS_W - 6, y + 4, words, size=12, anchor="end")


def _x_axis(root: ET.Element, today: Today, slot_w: float, name: str) -> None:
    """The baseline, a tick and the time every three hours, and the axis name below."""
    axis = _el(root, "g", {"class": "xl-axis xl-x"})
    base = PLOT_TOP + PLOT_H
    _el(axis, "line", {"x1": AXIS_W, "y1": base, "x2": AXIS_W + PLOT_W, "y2": base,
                       "stroke": INK, "stroke-width": 1})
    for n in range(_slots_in_day(today)):
        local = (today.start + n * today.interval).astimezone(today.zone)
        if local.minute == 0 and local.hour % 3 == 0:
            x = AXIS_W + n * slot_w
            _el(axis, "line", {"x1": x, "y1": base, "x2": x, "y2": base + 6, "stroke": INK,
                               "stroke-width": 1})
            _label(axis, x, base + 20, f"{local:%H:%M}", size=12, anchor="middle")
    _label(axis, AXIS_W + PLOT_W / 2, base + 42, name, size=13, bold=True, anchor="middle")


def service_svg(today: Today, *, svg_id: str, caption_id: str) -> str:
    """Bars of each interval's service level (striped red below the goal, a hollow ring when
    nothing was settled) against a dashed line at the goal."""
    root = _chart_root(svg_id, "Service level today, per interval", caption_id)
    fills = {MET: BLUE, MISSED: _stripes(root, f"{svg_id}-missed")}
    slot_w = PLOT_W / _slots_in_day(today)
    _y_axis(root, [(n / 4, f"{25 * n}%") for n in range(5)], "Service level")
    _x_axis(root, today, slot_w, "Time of day (UK), one bar per interval")
    for n, slot in enumerate(today.slots):
        _service_bar(root, today, slot, AXIS_W + n * slot_w, slot_w, fills)
    _goal_line(root, today)
    _service_legend(root, fills)
    return _serialise(root)


def _slot_group(root: ET.Element, slot: TodaySlot, classes: str, tooltip: str) -> ET.Element:
    group = _el(root, "g", {"class": classes, "data-start": slot.start.isoformat()})
    _el(group, "title", text=tooltip)
    return group


def _service_bar(root: ET.Element, today: Today, slot: TodaySlot, x: float, slot_w: float,
                 fills: Mapping[str, str]) -> None:
    state = _slot_state(today, slot)
    group = _slot_group(root, slot, f"xl-slot xl-{state}", service_summary(today, slot))
    base = PLOT_TOP + PLOT_H
    if slot.service_level is None:
        _el(group, "circle", {"cx": x + slot_w / 2, "cy": base - 5, "r": 4, "fill": WHITE,
                              "stroke": GREY, "stroke-width": 2})
        return
    height = max(slot.service_level * PLOT_H, 2)
    _el(group, "rect", {"x": x + 1, "y": base - height, "width": max(slot_w - 2, 1),
                        "height": height, "fill": fills[state]})


def _goal_line(root: ET.Element, today: Today) -> None:
    y = PLOT_TOP + PLOT_H * (1 - today.goal)
    group = _el(root, "g", {"class": "xl-goal"})
    words = f"Goal: {percent(today.goal)} within {today.target_s:g} s"
    _el(group, "title", text=words)
    _el(group, "line", {"x1": AXIS_W, "y1": y, "x2": AXIS_W + PLOT_W, "y2": y, "stroke": INK,
                        "stroke-width": 2, "stroke-dasharray": "8 5"})
    _label(group, AXIS_W + PLOT_W, y - 6, words, size=12, bold=True, anchor="end")


def _service_legend(root: ET.Element, fills: Mapping[str, str]) -> None:
    group = _el(root, "g", {"class": "xl-legend"})
    y = PLOT_TOP + PLOT_H + 64
    keys = [("Met the goal (solid blue)", fills[MET]),
            ("Below the goal (striped red)", fills[MISSED])]
    for i, (words, fill) in enumerate(keys):
        x = AXIS_W + i * 220
        _el(group, "rect", {"x": x, "y": y, "width": 18, "height": 18, "fill": fill})
        _label(group, x + 26, y + 14, words, size=13)
    x = AXIS_W + 440
    _el(group, "circle", {"cx": x + 9, "cy": y + 9, "r": 5, "fill": WHITE, "stroke": GREY,
                          "stroke-width": 2})
    _label(group, x + 26, y + 14, "Nothing settled", size=13)
    _el(group, "line", {"x1": AXIS_W, "y1": y + 34, "x2": AXIS_W + 40, "y2": y + 34,
                        "stroke": INK, "stroke-width": 2, "stroke-dasharray": "8 5"})
    _label(group, AXIS_W + 48, y + 38, "Dashed line: the goal", size=13)


def _queue_top(today: Today) -> int:
    """The top of the queue axis: a multiple of 4 at or above the longest queue (4 at least)."""
    most = max((s.waiting for s in today.slots), default=0)
    return max(4, ceil(most / 4) * 4)


def queue_svg(today: Today, *, svg_id: str, caption_id: str) -> str:
    """A bar per interval: the contacts waiting at its end (at now for the current one)."""
    root = _chart_root(svg_id, "Queue length today, at the end of each interval", caption_id)
    top = _queue_top(today)
    slot_w = PLOT_W / _slots_in_day(today)
    _y_axis(root, [(n / 4, f"{top * n // 4}") for n in range(5)], "Contacts waiting")
    _x_axis(root, today, slot_w, "Time of day (UK), one bar per interval")
    base = PLOT_TOP + PLOT_H
    for n, slot in enumerate(today.slots):
        group = _slot_group(root, slot, "xl-slot xl-queue", queue_summary(today, slot))
        height = slot.waiting / top * PLOT_H
        _el(group, "rect", {"x": AXIS_W + n * slot_w + 1, "y": base - height,
                            "width": max(slot_w - 2, 1), "height": height, "fill": BLUE})
    return _serialise(root)


# -- a team's rota as a week --------------------------------------------------------------------

NAME_W, DAY_W, WEEK_HEAD, ROTA_ROW, ROTA_LEGEND_H = 170, 140, 48, 50, 96
LANE = {SHIFT: (6, 20), ABSENCE: (29, 16), LEAVE: (29, 16)}  # (top within the row, height)
KIND_LOOK: dict[str, dict[str, Value]] = {
    SHIFT: {"fill": BLUE},
    ABSENCE: {"fill": WHITE, "stroke": RED, "stroke-width": 2, "stroke-dasharray": "4 2"},
    LEAVE: {"fill": PALE, "stroke": INK, "stroke-width": 1},
}
KIND_MARK = {SHIFT: "", ABSENCE: "Away", LEAVE: "Leave"}


def piece_summary(week: RotaWeek, piece: RotaPiece) -> str:
    """The tooltip of a bar: the table row in words."""
    day = week.days[piece.day]
    return (f"{week.name(piece.entry.expert)}, {day_label(day)}: "
            f"{KIND_WORDS[piece.entry.kind]}, {piece_time(piece, week.zone)}")


def rota_svg(week: RotaWeek, *, svg_id: str, caption_id: str) -> str:
    """Experts as rows, Monday to Sunday as columns; each shift a solid blue bar at its hours,
    an absence a dashed red outline marked "Away" and leave a grey bar marked "Leave", both in
    a lane below the shifts."""
    rows_h = max(len(week.experts), 1) * ROTA_ROW
    width = NAME_W + WEEK * DAY_W + PAD
    title = f"Rota for the week of {day_label(week.first)} {week.first:%Y}"
    root = _root(svg_id, width, WEEK_HEAD + rows_h + ROTA_LEGEND_H, title, caption_id)
    _week_grid(root, week, rows_h)
    rows = {expert: n for n, (expert, _) in enumerate(week.experts)}
    for n, (expert, name) in enumerate(week.experts):
        _expert_label(root, expert, name, WEEK_HEAD + n * ROTA_ROW)
    for piece in week.pieces():
        _piece(root, week, piece, WEEK_HEAD + rows[piece.entry.expert] * ROTA_ROW)
    _rota_legend(root, WEEK_HEAD + rows_h + 18)
    return _serialise(root)


def _week_grid(root: ET.Element, week: RotaWeek, rows_h: float) -> None:
    """Each day's name and date above its column, its edges, and faint lines at 06, 12, 18."""
    axis = _el(root, "g", {"class": "xl-axis"})
    bottom = WEEK_HEAD + rows_h
    for n, day in enumerate(week.days):
        x = NAME_W + n * DAY_W
        _label(axis, x + DAY_W / 2, 18, day_label(day), size=13, bold=True, anchor="middle")
        for hour in (6, 12, 18):
            hx = x + hour / 24 * DAY_W
            _el(axis, "line", {"x1": hx, "y1": WEEK_HEAD - 8, "x2": hx, "y2": bottom,
                               "stroke": GRID_GREY, "stroke-width": 1})
            _label(axis, hx, WEEK_HEAD - 12, f"{hour:02d}", size=11, anchor="middle")
        _el(axis, "line", {"x1": x, "y1": 4, "x2": x, "y2": bottom, "stroke": INK,
                           "stroke-width": 1})
    right = NAME_W + WEEK * DAY_W
    _el(axis, "line", {"x1": right, "y1": 4, "x2": right, "y2": bottom, "stroke": INK,
                       "stroke-width": 1})
    for n in range(len(week.experts) + 1):
        y = WEEK_HEAD + n * ROTA_ROW
        _el(axis, "line", {"x1": PAD, "y1": y, "x2": right, "y2": y, "stroke": GRID_GREY,
                           "stroke-width": 1})


def _expert_label(root: ET.Element, expert: str, name: str, y: float) -> None:
    text = _label(root, PAD, y + ROTA_ROW / 2 + 5, _fit(name, 20))
    _el(text, "title", text=f"{name} ({expert})")


def _piece(root: ET.Element, week: RotaWeek, piece: RotaPiece, row_y: float) -> None:
    kind = piece.entry.kind
    group = _el(root, "g", {"class": f"xl-entry xl-{kind}", "data-expert": piece.entry.expert,
                            "data-day": week.days[piece.day].isoformat(), "data-kind": kind})
    _el(group, "title", text=piece_summary(week, piece))
    top, height = LANE[kind]
    x = NAME_W + piece.day * DAY_W + piece.from_h / 24 * DAY_W
    width = max((piece.to_h - piece.from_h) / 24 * DAY_W, 2)
    _el(group, "rect", {"x": x, "y": row_y + top, "width": width, "height": height, "rx": 2,
                        **KIND_LOOK[kind]})
    words = _bar_words(piece) if kind == SHIFT else KIND_MARK[kind]
    if 6.5 * len(words) + 6 <= width:
        _el(group, "text", {"x": x + width / 2, "y": row_y + top + height / 2 + 4,
                            "font-size": 11, "text-anchor": "middle",
                            "fill": WHITE if kind == SHIFT else INK,
                            "font-weight": "bold"}, words)


def _bar_words(piece: RotaPiece) -> str:
    """``09`` to ``17`` or ``09:30`` to ``17`` (an en dash between): the hours, short."""
    def short(hours: float) -> str:
        text = hour_text(hours)
        return text.removesuffix(":00")

    return f"{short(piece.from_h)}{DASH}{short(piece.to_h)}"


def _rota_legend(root: ET.Element, y: float) -> None:
    group = _el(root, "g", {"class": "xl-legend"})
    keys = [(SHIFT, "Solid blue bar: a shift, with its hours"),
            (ABSENCE, "Dashed red outline, “Away”: absent part of a day"),
            (LEAVE, "Grey bar, “Leave”: on leave")]
    for i, (kind, words) in enumerate(keys):
        _el(group, "rect", {"x": PAD, "y": y + i * 24, "width": 28, "height": 18, "rx": 2,
                            **KIND_LOOK[kind]})
        _label(group, PAD + 36, y + i * 24 + 14, words, size=13)
