"""The composition root: the app factory (``app``), the command line (``cli``), token
authentication (``auth``), the schema and its migrations (``schema``, ``migrations/``) and the
demo data. Nothing imports this package but entry points and tests.
"""
