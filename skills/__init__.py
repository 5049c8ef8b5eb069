"""The skills pool: tables, the skills graph, pool queries and the supervisor API.

Others import from here: ``setup`` (the composition root), ``pool_watch(app)`` with
``PoolChange`` (the routing engine hears about pool changes), and ``load_snapshot`` with the
plain records it returns (what the routing engine indexes), or ``load_experts`` for a few.
"""

from skills.api import pool_watch, setup
from skills.graph import SkillGraph, SkillSpec
from skills.snapshot import ExpertRecord, PoolSnapshot, load_experts, load_snapshot
from skills.watch import PoolChange, PoolWatch

__all__ = [
    "ExpertRecord",
    "PoolChange",
    "PoolSnapshot",
    "PoolWatch",
    "SkillGraph",
    "SkillSpec",
    "load_experts",
    "load_snapshot",
    "pool_watch",
    "setup",
]
