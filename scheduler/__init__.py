"""Shift patterns, rota expansion, reconciliation, scheduled callbacks, staffing maths, coverage.

Public surface: ``scheduler.wiring`` (``setup`` for the composition root, ``scheduler_of(app)``),
``scheduler.rota`` (pure rota expansion), ``scheduler.erlang`` (Erlang C and A),
``scheduler.coverage`` and ``scheduler.forecast``. It reaches the routing engine only through
``router.ports``.
"""
