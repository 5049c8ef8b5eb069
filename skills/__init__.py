"""The skills pool: tables, the networkx skills graph, pool queries and updates, supervisor API.

Public surface: ``skills.wiring`` (``setup`` for the composition root, ``pool_watch(app)``),
``skills.watch`` (``PoolChange``, ``PoolWatch``: hear about committed pool changes),
``skills.snapshot`` (``load_snapshot``/``load_experts`` and the plain records the routing engine
indexes), ``skills.graph`` (``SkillGraph``, triage), ``skills.models`` (the tables).
"""
