"""The ``expertline`` command line (also ``python -m expertline``).

Each package contributes its sub-commands through ``register_cli(subparsers)``; a handler takes
the parsed arguments and the ``CliContext`` made here (configuration, migrated database) and
returns the exit code. Bad arguments or input exit 2 with one line on stderr, never a traceback.
``--config PATH`` is accepted before the sub-command and after it, with the same meaning.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta

import bench.cli
import pages.cli
import scheduler.cli
import scheduler.coverage_cli
import simulator.cli
import skills.cli
import telephony.cli
from base.cli import CliContext, Parser, Subparsers
from base.clock import now_utc, utc
from base.config import LOG_FORMATS, ConfigError
from base.errors import DomainError
from expertline import schema
from expertline.governance import cli as governance_cli

PACKAGE_CLIS = (scheduler.cli, scheduler.coverage_cli, bench.cli, simulator.cli, telephony.cli,
                skills.cli, pages.cli, governance_cli)
CONFIG_HELP = "config file (default: ./config.toml)"

log = logging.getLogger("expertline")


class CommandError(Exception):
    """A command that cannot do what it was asked: one line on stderr, exit 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="expertline", description="Expert-routing contact centre.")
    parser.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    _register_core(sub)
    for module in PACKAGE_CLIS:
        module.register_cli(sub)
    _config_after_subcommands(parser)
    return parser


def _config_after_subcommands(parser: argparse.ArgumentParser) -> None:
    """``--config`` on every sub-command too (``expertline serve --config x.toml``). Its default
    is SUPPRESS, so a sub-command without it leaves the value given before it alone."""
    seen: set[int] = set()

    def visit(node: argparse.ArgumentParser) -> None:
        for action in node._actions:
            if not isinstance(action, argparse._SubParsersAction):
                continue
            for child in action.choices.values():
                if id(child) in seen:  # an alias names the same parser twice
                    continue
                seen.add(id(child))
                if "--config" not in child._option_string_actions:
                    child.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                                       help=CONFIG_HELP)
                visit(child)

    visit(parser)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0..65535, got {port}")
    return port


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {text!r}") from None
    if days <= 0:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {days}")
    return days


def _register_core(sub: Subparsers) -> None:
    serve = sub.add_parser("serve", help="run the service")
    serve.add_argument("--demo", action="store_true", help="seed the demo pool if the db is empty")
    serve.add_argument("--host")
    serve.add_argument("--port", type=_port)
    serve.add_argument("--log-format", choices=LOG_FORMATS,
                       help="text, or json: one object per line (default: server.log_format)")
    serve.set_defaults(func=_serve)

    seed = sub.add_parser("seed", help="seed the configured database")
    seed.add_argument("--demo", action="store_true", required=True, help="the demo pool")
    seed.set_defaults(func=_seed)

    token = sub.add_parser("token", help="API tokens").add_subparsers(dest="action", required=True)
    create = token.add_parser("create", help="issue a token (printed once)")
    create.add_argument("--role", choices=("admin", "supervisor", "expert"), required=True)
    create.add_argument("--org", action="append", default=[], help="organisation (supervisor)")
    create.add_argument("--expert", help="expert id (expert role)")
    create.add_argument("--label", default="", help="who holds it (shown in the audit log)")
    create.add_argument("--days", type=_days, metavar="N",
                        help="expires N days from now (default: never)")
    create.set_defaults(func=_token_create)
    listing = token.add_parser("list", help="every token (never its secret)")
    listing.add_argument("--json", action="store_true", help="as JSON")
    listing.set_defaults(func=_token_list)
    revoke = token.add_parser("revoke", help="refuse a token from its next request on")
    revoke.add_argument("id", type=int, metavar="ID", help="the id `token list` shows")
    revoke.set_defaults(func=_token_revoke)

    db = sub.add_parser("db", help="database").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="apply pending migrations").set_defaults(func=_db_upgrade)


def context_of(args: argparse.Namespace, environ: dict[str, str] | None = None) -> CliContext:
    """The context every command gets: ``--config`` and the environment, loaded when used."""
    return CliContext(config_path=args.config, environ=os.environ if environ is None else environ,
                      open_database=schema.database)


def _serve(args: argparse.Namespace, ctx: CliContext) -> int:
    from aiohttp import web

    from base.logs import setup_logging
    from expertline.app import create_app
    from expertline.serving import Leadership, serve

    config = ctx.config
    server = {k: v for k, v in (("host", args.host), ("port", args.port),
                                ("log_format", args.log_format)) if v is not None}
    config = config.replace(server=server) if server else config
    # The port first: a second server on a busy port stops here, before it opens (or creates,
    # or migrates, or seeds) any database.
    socks = listen(config.server.host, config.server.port)
    try:
        setup_logging(config.server.log_level, config.server.log_format)
        url = f"http://{_netloc(config.server.host, socks[0].getsockname()[1])}"

        def app(leadership: Leadership) -> web.Application:
            return create_app(config, demo=args.demo, leadership=leadership)

        # "listening" once the app has started (database open) and every socket serves
        asyncio.run(serve(config, socks, app, lambda: log.info("listening on %s", url)))
    finally:
        for sock in socks:
            sock.close()
    return 0


def listen(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on every address ``host`` names (as aiohttp's own would be), or a
    ``CommandError`` naming the address and the reason."""
    where = _netloc(host, port)
    try:
        found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise CommandError(f"cannot listen on {where}: {_reason(exc)}") from None
    socks: list[socket.socket] = []
    try:
        for family, kind, proto, _name, address in dict.fromkeys(found):
            sock = socket.socket(family, kind, proto)
            socks.append(sock)
            if os.name == "posix":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(128)
            sock.setblocking(False)
    except OSError as exc:
        for sock in socks:
            sock.close()
        raise CommandError(f"cannot listen on {where}: {_reason(exc)}") from None
    return socks


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _reason(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return reason[:1].lower() + reason[1:]


def _seed(_args: argparse.Namespace, ctx: CliContext) -> int:
    from expertline.demo import seed_demo

    summary = asyncio.run(seed_demo(ctx.config))
    print(summary)
    return 0


def _token_create(args: argparse.Namespace, ctx: CliContext) -> int:
    print(asyncio.run(_issue(ctx, args)))
    return 0


async def _issue(ctx: CliContext, args: argparse.Namespace) -> str:
    from base import audit
    from base.access import Role
    from expertline.auth import issue_token
    from skills.pool import check_in_pool

    expires_at = now_utc() + timedelta(days=args.days) if args.days else None
    async with ctx.database() as db, db.transaction() as session:
        token, row = await issue_token(session, role=Role(args.role), orgs=frozenset(args.org),
                                       expert_id=args.expert, label=args.label,
                                       expires_at=expires_at)
        await check_in_pool(session, args.org, args.expert)
        audit.record(session, actor="cli", action="create", entity="api_token",
                     entity_id=str(row.id), after={"role": row.role, "orgs": row.orgs,
                                                   "expert_id": row.expert_id,
                                                   "expires_at": _iso(expires_at)})
    return token


def _token_list(args: argparse.Namespace, ctx: CliContext) -> int:
    from expertline.auth import list_tokens

    async def run() -> list[dict[str, object]]:
        async with ctx.database() as db, db.session() as session:
            return [row.to_json() for row in await list_tokens(session)]

    rows = asyncio.run(run())
    if args.json:
        print(json.dumps(rows))
        return 0
    header = ("id", "role", "scope", "label", "created", "expires", "last used", "revoked")
    table = [header] + [(
        str(r["id"]), str(r["role"]), str(r["org"] or r["expert"] or "-"), str(r["label"] or "-"),
        *(_minute(r[k]) for k in ("created_at", "expires_at", "last_used_at", "revoked_at")),
    ) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
              .rstrip())
    return 0


def _minute(value: object) -> str:
    """An ISO instant as ``2025-06-01 14:05`` (UTC), or ``-``."""
    if not isinstance(value, str):
        return "-"
    return f"{datetime.fromisoformat(value):%Y-%m-%d %H:%M}"


def _iso(value: datetime | None) -> str | None:
    at = utc(value)
    return at.isoformat() if at else None


def _token_revoke(args: argparse.Namespace, ctx: CliContext) -> int:
    from base import audit
    from expertline.auth import revoke_token

    async def run() -> str:
        async with ctx.database() as db, db.transaction() as session:
            row = await revoke_token(session, args.id)
            audit.record(session, actor="cli", action="revoke", entity="api_token",
                         entity_id=str(row.id), before={"revoked_at": None},
                         after={"revoked_at": _iso(row.revoked_at)})
            return row.label

    label = asyncio.run(run())
    print(f"revoked token {args.id} ({label or 'no label'})")
    return 0


def _db_upgrade(_args: argparse.Namespace, ctx: CliContext) -> int:
    async def run() -> None:
        async with ctx.database():
            pass

    asyncio.run(run())
    print("database is at the latest schema")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args, context_of(args)))
    except (ConfigError, DomainError, CommandError) as exc:
        message = exc.message if isinstance(exc, DomainError) else str(exc)
        print(f"expertline: error: {message}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"expertline: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
