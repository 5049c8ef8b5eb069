"""``expertline purge``, ``subject-access``, ``erase`` and ``access-log`` (README, "Information
governance"). Each prints a table or, with ``--json``, the same figures as JSON. The number is
an argument here (an admin's shell, not a web server's access log); the audit log names it by
its reference only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from typing import Any

from base.access_log import list_reads
from base.cli import CliContext, Subparsers
from base.clock import now_utc
from expertline.governance import subjects
from expertline.governance.purge import PurgeReport, purge

ACTOR = "cli"


def register_cli(sub: Subparsers) -> None:
    parser = sub.add_parser("purge", help="apply the retention policy ([retention]) now")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would be purged, change nothing")
    parser.add_argument("--json", action="store_true", help="as JSON")
    parser.set_defaults(func=_purge)

    access = sub.add_parser("subject-access", help="every stored record of a citizen's number")
    access.add_argument("number", metavar="NUMBER", help="+447700900123, 07700 900123, …")
    access.add_argument("--json", action="store_true", help="as JSON")
    access.set_defaults(func=_subject_access)

    erase = sub.add_parser("erase", help="remove or anonymise every trace of a number")
    erase.add_argument("number", metavar="NUMBER")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.add_argument("--json", action="store_true", help="as JSON")
    erase.set_defaults(func=_erase)

    reads = sub.add_parser("access-log", help="who read which citizen's contact, newest first")
    reads.add_argument("--contact", metavar="ID", help="only this contact's reads")
    reads.add_argument("--limit", type=int, default=100, metavar="N", help="at most N (100)")
    reads.add_argument("--json", action="store_true", help="as JSON")
    reads.set_defaults(func=_access_log)


def _purge(args: argparse.Namespace, ctx: CliContext) -> int:
    async def run() -> PurgeReport:
        async with ctx.database() as db:
            return await purge(db.session, now=now_utc(), policy=ctx.config.retention,
                               dry_run=args.dry_run, actor=ACTOR)

    report = asyncio.run(run())
    if args.json:
        print(json.dumps(report.to_json()))
        return 0
    print(purge_text(report))
    return 0


def purge_text(report: PurgeReport) -> str:
    said = "dry run: nothing changed" if report.dry_run else "done"
    lines = [f"retention purge at {report.now:%Y-%m-%d %H:%M} UTC ({said})"]
    table = [("kind", "table", "action", "rows", "before", "oldest")]
    for o in report.outcomes:
        table.append((o.step.kind.value, o.step.table, o.step.action.value, str(o.rows),
                      f"{o.step.before:%Y-%m-%d}",
                      f"{o.oldest:%Y-%m-%d}" if o.oldest else "-"))
    lines += _columns(table)
    for o in report.outcomes:
        related = ", ".join(f"{n} {name}" for name, n in o.related.items() if n)
        if related:
            lines.append(f"with the {o.step.table} rows: {related}")
    return "\n".join(lines)


def _columns(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def _subject_access(args: argparse.Namespace, ctx: CliContext) -> int:
    async def run() -> subjects.Found:
        async with ctx.database() as db:
            return await subjects.subject_access(db.session, args.number,
                                                 retention=ctx.config.retention, actor=ACTOR,
                                                 via="cli")

    found = asyncio.run(run())
    print(json.dumps(found.to_json()) if args.json else found_text(found))
    return 0


def found_text(found: subjects.Found) -> str:
    who = found.subject
    lines = [f"number {who.number} (reference {who.reference})",
             "records: " + ", ".join(f"{n} {name}" for name, n in found.counts().items())]
    for c in found.contacts:
        lines.append(f"contact {c['id']}: {c['channel']}/{c['medium']} {c['skill']} "
                     f"{c['state']} arrived {c['arrived_at']} ended {c['ended_at'] or '-'} "
                     f"expert {c['expert_id'] or '-'}"
                     + (" (number anonymised)" if c["anonymised"] else ""))
        if c["first_words"]:
            lines.append(f"  first words: {c['first_words']}")
        lines += [f"  {m['at']} {m['sender']}: {m['text']}" for m in c["messages"]]
    lines += [f"callback {b['id']}: {b['state']} due {b['due_at']} {b['skill']}"
              for b in found.callbacks]
    lines += [f"opt-out: {o['address']} since {o['since']}" for o in found.opt_outs]
    lines += [f"phone bridge of contact {b['contact_id']}: {b['phase']}" for b in found.bridges]
    lines += [f"read {r['at']} by {r['actor']} ({r['via']}, {r['what']}): contact "
              f"{r['contact_id']}" for r in found.reads]
    return "\n".join(lines)


def _erase(args: argparse.Namespace, ctx: CliContext) -> int:
    retention = ctx.config.retention

    async def look() -> subjects.Found:
        async with ctx.database() as db:
            return await subjects.preview(db.session, args.number, retention=retention)

    async def run() -> dict[str, Any]:
        async with ctx.database() as db:
            return await subjects.erase(db.session, args.number, retention=retention,
                                        actor=ACTOR)

    if not args.yes:
        found = asyncio.run(look())
        print(f"number {found.subject.number}: "
              + ", ".join(f"{n} {name}" for name, n in found.counts().items()))
        if not _confirmed("Erase every trace of this number? Type yes: "):
            print("nothing erased")
            return 1
    done = asyncio.run(run())
    print(json.dumps(done) if args.json
          else "erased: " + ", ".join(f"{name} {n}" for name, n in done.items()))
    return 0


def _confirmed(prompt: str) -> bool:
    try:
        return input(prompt).strip().lower() == "yes"
    except EOFError:
        return False


def _access_log(args: argparse.Namespace, ctx: CliContext) -> int:
    async def run() -> list[dict[str, Any]]:
        async with ctx.database() as db, db.session() as session:
            rows, _total = await list_reads(session, contact_id=args.contact,
                                            limit=max(1, args.limit))
            return [row.to_json() for row in rows]

    rows = asyncio.run(run())
    if args.json:
        print(json.dumps(rows))
        return 0
    table = [("at", "who", "contact", "via", "what")] + [
        (f"{r['at'][:19]}", str(r["actor"]), str(r["contact_id"]), str(r["via"]),
         str(r["what"])) for r in rows]
    print("\n".join(_columns(table)))
    return 0
