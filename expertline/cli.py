"""The ``expertline`` command line (also ``python -m expertline``).

Each package contributes its sub-commands through ``register_cli(subparsers)``; a handler takes
the parsed arguments and returns the exit code. Bad arguments or input exit 2 with one line on
stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from expertline.config import Config, ConfigError, load_config
from skills.errors import BadRequest, DomainError

PACKAGE_CLIS = ("scheduler.cli", "scheduler.coverage_cli", "bench.cli", "simulator.cli",
                "telephony.cli", "skills.cli")


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="expertline", description="Expert-routing contact centre.")
    parser.add_argument("--config", metavar="PATH", help="config file (default: ./config.toml)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    _register_core(sub)
    for name in PACKAGE_CLIS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register_cli(sub)
    return parser


def _register_core(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run the service")
    serve.add_argument("--demo", action="store_true", help="seed the demo pool if the db is empty")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
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
    create.set_defaults(func=_token_create)

    db = sub.add_parser("db", help="database").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="apply pending migrations").set_defaults(func=_db_upgrade)


def config_of(args: argparse.Namespace) -> Config:
    """The configuration named by ``--config`` and the environment (cached on ``args``)."""
    import os

    if getattr(args, "_config", None) is None:
        args._config = load_config(args.config, os.environ)
    return args._config


def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from expertline.app import create_app
    from expertline.logs import setup_logging

    config = config_of(args)
    server = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    config = config.replace(server=server) if server else config
    setup_logging(config.server.log_level)
    app = create_app(config, demo=args.demo)
    web.run_app(app, host=config.server.host, port=config.server.port, print=None,
                access_log_format='%a "%r" %s %b %Tfs')
    return 0


def _seed(args: argparse.Namespace) -> int:
    from expertline.demo import seed_demo

    summary = asyncio.run(seed_demo(config_of(args)))
    print(summary)
    return 0


def _token_create(args: argparse.Namespace) -> int:
    print(asyncio.run(_issue(config_of(args), args)))
    return 0


async def _issue(config: Config, args: argparse.Namespace) -> str:
    from expertline import audit
    from expertline.auth import issue_token
    from expertline.db import Database
    from skills.access import Role

    async with Database(config.database_url) as db, db.transaction() as session:
        token, row = await issue_token(session, role=Role(args.role), orgs=frozenset(args.org),
                                       expert_id=args.expert, label=args.label)
        audit.record(session, actor="cli", action="create", entity="api_token",
                     entity_id=str(row.id), after={"role": row.role, "orgs": row.orgs,
                                                   "expert_id": row.expert_id})
    return token


def _db_upgrade(args: argparse.Namespace) -> int:
    from expertline.db import Database

    async def run() -> None:
        async with Database(config_of(args).database_url):
            pass

    asyncio.run(run())
    print("database is at the latest schema")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, DomainError) as exc:
        message = exc.message if isinstance(exc, DomainError) else str(exc)
        print(f"expertline: error: {message}", file=sys.stderr)
        return 2
    except (BadRequest, OSError) as exc:
        print(f"expertline: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
