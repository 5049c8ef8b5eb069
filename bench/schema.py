"""A benchmark's database gets the product's schema the way an operator's does: by running
``expertline db upgrade`` on it. The migrations belong to the composition root (``expertline``),
which sits above the benchmarks, so they are run as a command rather than imported.
"""

from __future__ import annotations

import os
import subprocess
import sys

from base.db import Database


def migrated(url: str) -> Database:
    """``url``'s database, brought to the latest schema; open it with ``async with``."""
    env = {**os.environ, "EXPERTLINE_DATABASE_URL": url}
    done = subprocess.run([sys.executable, "-m", "expertline", "db", "upgrade"], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"expertline db upgrade failed on {url}: {done.stderr.strip()}")
    return Database(url)
