"""The routing engine: a pure decision core (``core``, ``model``, ``policies``, ``indexes``) in
an async shell (``engine``) that persists every step before announcing it.

Public surface: ``router.ports`` (what channels and the scheduler may ask of the engine),
``router.wiring`` (``setup`` for the composition root, ``engine_of(app)``), ``router.core`` and
``router.model`` (the core, which the simulator drives on a virtual clock).
"""
