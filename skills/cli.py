"""``expertline export`` and ``expertline import``: the pool as JSON, experts as CSV.

``import`` plans first and prints what would change; with ``--dry-run`` it stops there. Bad
input exits 2: a summary line on stderr, then one line per problem (JSON path or CSV line).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from base.cli import CliContext, Subparsers
from base.db import Database
from base.errors import BadRequest
from skills import transfer
from skills.api_common import lock_taxonomy

FORMATS = ("json", "csv")


def register_cli(sub: Subparsers) -> None:
    export = sub.add_parser("export", help="export the pool as JSON, or its experts as CSV")
    export.add_argument("--format", choices=FORMATS, default="json", help="default: json")
    export.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    export.set_defaults(func=_export)

    imp = sub.add_parser(
        "import",
        help="import a pool (JSON) or experts (CSV), upserting by id",
        description="Upserts by id and never deletes, unless --replace.",
    )
    imp.add_argument("file", metavar="FILE", help="the file to import ('-' reads stdin)")
    imp.add_argument("--format", choices=FORMATS, help="default: from the file name (.csv or json)")
    imp.add_argument("--dry-run", action="store_true", help="say what would change; write nothing")
    imp.add_argument(
        "--replace",
        action="store_true",
        help="also delete, in each section the file holds, what it does not name",
    )
    imp.set_defaults(func=_import)


def _export(args: argparse.Namespace, ctx: CliContext) -> int:
    text = asyncio.run(export_text(ctx.database(), args.format))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


async def export_text(database: Database, fmt: str) -> str:
    async with database as db, db.session() as session:
        if fmt == "csv":
            return await transfer.export_experts_csv(session)
        return json.dumps(await transfer.export_pool(session), indent=2, ensure_ascii=False) + "\n"


def _import(args: argparse.Namespace, ctx: CliContext) -> int:
    fmt = args.format or ("csv" if args.file.lower().endswith(".csv") else "json")
    text = _read(args.file)
    data = text if fmt == "csv" else _parse_json(args.file, text)
    plan = asyncio.run(
        import_file(
            ctx.database(), fmt, data, dry_run=args.dry_run, replace=args.replace
        )
    )
    if not plan.valid:
        print(plan.summary(), file=sys.stdout)
        print(f"expertline: error: {args.file}: {plan.headline()}", file=sys.stderr)
        for problem in plan.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    verb = "Dry run, nothing was written" if args.dry_run else f"Imported {args.file}"
    print(f"{verb}: {plan.summary()}")
    return 0


def _read(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise BadRequest(f"cannot read {name}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise BadRequest(f"{name} is not UTF-8 text") from None


def _parse_json(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"{name} is not valid JSON: {exc}") from None


async def import_file(
    database: Database, fmt: str, data: Any, *, dry_run: bool, replace: bool
) -> transfer.ImportPlan:
    """Plan (and unless ``dry_run`` apply) an import in one transaction."""
    async with database as db, db.transaction() as session:
        await lock_taxonomy(session)  # queued with a running service's taxonomy writes
        if fmt == "csv":
            plan = await transfer.plan_experts_csv(session, data, replace=replace)
        else:
            plan = await transfer.plan_import(session, data, replace=replace)
        if plan.valid and not dry_run:
            await transfer.apply_import(session, plan, actor="cli")
    return plan
