"""The HTTP transport (one aiohttp app): health, metrics, the webhook route, CAP feeds out.

Thin views over the domain's services; never imports `bot`, `cli` or the scheduler (the
webhook route is handed its consumer by `cli.serve`).
"""
