"""``python -m bench`` (``make bench``): every benchmark, one JSON object per line.

Sizes are the documented routing sizes (1k, 10k and 100k experts) and the pool-load target
(100,000 experts with 5 skills each), then contact persistence (SQLite, and PostgreSQL when
reachable) and the incoming-call webhook beside a bare aiohttp handler. Figures are medians and
percentiles of one run; the machine is shared, so compare ratios within a run rather than absolute
figures across runs.
"""

from __future__ import annotations

import json
import sys

from bench import persistence, pool_load, routing, webhook

ROUTING_SIZES = ((1_000, 200, 100), (10_000, 500, 1_000), (100_000, 2_000, 10_000))


def main() -> int:
    for experts, skills, waiting in ROUTING_SIZES:
        figures = routing.run(experts, skills, waiting)
        print(json.dumps({"bench": "routing", **figures}), flush=True)
    figures = pool_load.run(100_000, 5, 2_000)
    print(json.dumps({"bench": "pool_load", **figures}), flush=True)
    for figures in persistence.run(2_000):
        print(json.dumps({"bench": "persistence", **figures}), flush=True)
    figures = webhook.measure(2_000, 32)
    print(json.dumps({"bench": "webhook", **figures}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
