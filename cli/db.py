"""`gridcast db upgrade`: opening the hub applies the migrations; this says where it stands."""

from __future__ import annotations

import argparse
from typing import Any

from cli.common import command, group, with_hub
from hub import migrate
from hub.core import Hub


@with_hub
async def db_upgrade(hub: Hub, args: argparse.Namespace) -> int:
    print(f"database at revision {await migrate.current_revision(hub.db)}")
    return 0


def add_parser(sub: Any) -> None:
    cmds = group(sub, "db", "database")
    command(cmds, "upgrade", db_upgrade, "apply migrations")
