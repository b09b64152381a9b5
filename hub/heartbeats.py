"""Signs of life from each running role, read by /healthz."""

from __future__ import annotations

import os
import socket
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import Heartbeat

INSTANCE = f"{socket.gethostname()}:{os.getpid()}"


async def beat(session: AsyncSession, role: str, now: datetime, detail: str | None = None) -> None:
    result = await session.execute(
        update(Heartbeat)
        .where(Heartbeat.role == role, Heartbeat.instance == INSTANCE)
        .values(at=now, detail=detail)
    )
    if result.rowcount == 0:
        session.add(Heartbeat(role=role, instance=INSTANCE, at=now, detail=detail))
