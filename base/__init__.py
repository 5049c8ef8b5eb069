"""The foundation every package shares; it imports no other package of the project.

``config`` (the typed, frozen configuration), ``db`` (the database and its transactions),
``audit`` (the append-only audit log), ``logs`` (one-line logs with phone numbers and tokens
masked), ``errors`` (domain errors that carry their HTTP status) and ``http`` (their JSON mapping,
request parsing, paging), ``access`` (roles, principals, scope rules), ``clock`` and ``cli``.
"""
