"""`gridcast run|bot|web|scheduler`: the hub's roles, together or one each, for scaling out.

Thin: `cli.serve` starts them. It is imported when a role runs, not before, so the other
commands do not load the bot, the web app and the scheduler.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from cli.common import Runner, command
from hub.settings import Settings


def serve_roles(*roles: str) -> Runner:
    def run(settings: Settings, args: argparse.Namespace) -> int:
        from cli.serve import serve

        asyncio.run(serve(settings, roles))
        return 0

    return run


def add_parser(sub: Any) -> None:
    command(sub, "run", serve_roles("bot", "web", "scheduler"), "bot + web + scheduler in one process")
    command(sub, "bot", serve_roles("bot"), "only the Telegram bot")
    command(sub, "web", serve_roles("web"), "only the web app")
    command(sub, "scheduler", serve_roles("scheduler"), "only the scheduler")
