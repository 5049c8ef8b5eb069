"""The pages people use: the landing page, the citizen's web chat, the expert desk and the
supervisor console, served by the same aiohttp service (templates, static files, sign-in).

Public surface: ``pages.wiring`` (``setup`` for the composition root).
"""
