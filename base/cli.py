"""What every package's command-line part shares: the parser class and the command context.

A package adds its sub-commands with ``register_cli(sub)``; each sets ``func=`` to a
``Command``, called with the parsed arguments and a ``CliContext``. The composition root
(``expertline.cli``) makes the context: the configuration (loaded on first use, so commands that
need none never read it) and a database that is migrated when opened. Bad arguments exit 2 with
one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NoReturn, TypeAlias

from base.config import Config, load_config
from base.db import Database


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


# What ``register_cli`` receives (``add_parser`` makes a sub-command, a ``Parser``: the root
# passes ``parser_class=Parser``); a string, because argparse's class is generic only to the
# type checker.
Subparsers: TypeAlias = "argparse._SubParsersAction[Parser]"


@dataclass
class CliContext:
    """The configuration and the database, as the composition root provides them."""

    config_path: str | None
    environ: Mapping[str, str]
    open_database: Callable[[str], Database]
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        """``--config`` (or ./config.toml) with the environment's overrides, loaded once."""
        if self._config is None:
            self._config = load_config(self.config_path, self.environ)
        return self._config

    def database(self, url: str | None = None) -> Database:
        """The configured database (or ``url``), migrated when opened."""
        return self.open_database(url or self.config.database_url)


Command = Callable[[argparse.Namespace, CliContext], int]
