"""``expertline sign-in-link``: a one-time link that signs a person in to the desk or console.

    expertline sign-in-link --expert exp-0001 [--minutes 10]
    expertline sign-in-link --role supervisor --org kingsmere-council [--org …] [--minutes 10]
    expertline sign-in-link --role admin

Prints the URL alone (under ``server.public_url``). The link works once, for ``--minutes``
(default 10); the session it starts lasts a shift. An expert or organisation not in the pool
is refused (exit 2, one line). Each link is audited (its hash's start, never the link).
"""

from __future__ import annotations

import argparse
import asyncio

from base import audit
from base.access import Role
from base.cli import CliContext, Subparsers
from base.clock import now_utc
from base.errors import InvalidInput
from pages import sessions
from skills.pool import check_in_pool

DEFAULT_MINUTES = 10


def register_cli(sub: Subparsers) -> None:
    link = sub.add_parser("sign-in-link", help="a one-time link to sign in to /desk or /console")
    link.add_argument("--expert", help="sign in this expert to the desk")
    link.add_argument("--role", choices=("admin", "supervisor", "expert"),
                      help="admin or supervisor (the console); expert is implied by --expert")
    link.add_argument("--org", action="append", default=[], help="a supervisor's organisation")
    link.add_argument("--minutes", type=int, default=DEFAULT_MINUTES,
                      help=f"how long the link works (default {DEFAULT_MINUTES})")
    link.add_argument("--label", default="", help="who it is for (shown in the audit log)")
    link.set_defaults(func=_sign_in_link)


def _sign_in_link(args: argparse.Namespace, ctx: CliContext) -> int:
    if not (args.role or args.expert):
        raise InvalidInput("say who signs in: --expert ID, or --role admin|supervisor")
    role = Role(args.role) if args.role else Role.EXPERT
    token = asyncio.run(_make(ctx, args, role))
    print(f"{ctx.config.server.public_url.rstrip('/')}/sign-in/{token}")
    return 0


async def _make(ctx: CliContext, args: argparse.Namespace, role: Role) -> str:
    orgs = frozenset(args.org)
    async with ctx.database() as db, db.transaction() as session:
        await check_in_pool(session, orgs, args.expert)
        token = sessions.make_link(session, role=role, orgs=orgs, expert_id=args.expert,
                                   label=args.label, minutes=args.minutes, now=now_utc())
        audit.record(session, actor="cli", action="create", entity="sign_in_link",
                     entity_id=sessions.digest(token)[:12],
                     after={"role": role.value, "orgs": sorted(orgs), "expert_id": args.expert,
                            "minutes": args.minutes})
    return token
