"""``expertline coverage --date YYYY-MM-DD [--days N] [--skill ID] [--json]``."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import defaultdict
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from base.cli import CliContext, Subparsers
from scheduler.coverage import Cell
from scheduler.coverage_data import load_coverage, summary

LONDON = ZoneInfo("Europe/London")


def register_cli(sub: Subparsers) -> None:
    parser = sub.add_parser("coverage", help="rota coverage against forecast demand")
    parser.add_argument("--date", type=_date, required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--days", type=int, default=1, help="how many days (1..14)")
    parser.add_argument("--skill", help="one skill id")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=_coverage)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def _coverage(args: argparse.Namespace, ctx: CliContext) -> int:
    cells = asyncio.run(_load(ctx, args))
    if args.json:
        print(json.dumps({"cells": [c.to_json() for c in cells], "by_skill": summary(cells)}))
    else:
        print(render(cells, by_interval=args.skill is not None))
    return 0


async def _load(ctx: CliContext, args: argparse.Namespace) -> list[Cell]:
    config = ctx.config
    async with ctx.database() as db, db.session() as session:
        return await load_coverage(session, first=args.date, days=args.days, skill=args.skill,
                                   config=config, now=datetime.now(UTC))


def render(cells: list[Cell], *, by_interval: bool) -> str:
    """Per half-hour (all skills together, with the skills short), then per skill."""
    rows: dict[datetime, list[Cell]] = defaultdict(list)
    for c in cells:
        rows[c.start].append(c)
    lines = [f"{'local':<17}{'contacts':>9}{'required':>9}{'scheduled':>10}{'gap':>8}  short"]
    for start, group in sorted(rows.items()):
        short = sorted((c for c in group if c.gap < 0), key=lambda c: c.gap)[:3]
        names = ", ".join(f"{c.skill} {c.gap:+.1f}" for c in short)
        lines.append(f"{start.astimezone(LONDON):%Y-%m-%d %H:%M}"
                     f"{sum(c.contacts for c in group):>9.1f}{sum(c.required for c in group):>9d}"
                     f"{sum(c.scheduled for c in group):>10.1f}"
                     f"{sum(c.gap for c in group):>+8.1f}  {names}")
    if not by_interval:
        lines += ["", f"{'skill':<36}{'contacts':>9}{'peak req':>9}{'short':>7}{'worst':>8}"]
        for skill, s in sorted(summary(cells).items()):
            lines.append(f"{skill:<36}{s['contacts']:>9.1f}{s['peak_required']:>9d}"
                         f"{s['intervals_short']:>7d}{s['worst_gap']:>+8.1f}")
    return "\n".join(lines)
