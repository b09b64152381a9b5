"""What goes out to many at once: warnings (with CAP in and out), and later loudspeakers
and campaigns, each a subpackage.

Fed by the packages below it (`hub`, `hazards`, `knowledge`, `audio`); imported only by the
transports and the scheduler. Never imports Telegram or aiohttp.web.
"""
