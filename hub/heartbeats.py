"""Signs of life from each running role, and the last run of each scheduled job, read by /healthz."""

from __future__ import annotations

import os
import socket
from datetime import datetime

from sqlalchemy import String, Text, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import UTCDateTime
from hub.models import Base, Heartbeat

INSTANCE = f"{socket.gethostname()}:{os.getpid()}"


class JobRun(Base):
    """The last run of a scheduled job, whichever process ran it: when it last succeeded, and
    when and how it last failed. A job whose success is old is a job that stopped working."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    instance: Mapped[str] = mapped_column(String(128))


async def beat(session: AsyncSession, role: str, now: datetime, detail: str | None = None) -> None:
    result = await session.execute(
        update(Heartbeat)
        .where(Heartbeat.role == role, Heartbeat.instance == INSTANCE)
        .values(at=now, detail=detail)
    )
    if result.rowcount == 0:
        session.add(Heartbeat(role=role, instance=INSTANCE, at=now, detail=detail))


async def job_ran(
    session: AsyncSession, job: str, now: datetime, *, error: BaseException | None = None
) -> None:
    """Record a run of `job`: a success, or a failure with its error (one line)."""
    row = await session.get(JobRun, job)
    if row is None:
        row = JobRun(job=job, instance=INSTANCE)
        session.add(row)
    row.instance = INSTANCE
    if error is None:
        row.last_success_at = now
    else:
        row.last_failure_at = now
        row.last_error = f"{type(error).__name__}: {error}".splitlines()[0][:500]


async def job_runs(session: AsyncSession) -> list[JobRun]:
    return list(await session.scalars(select(JobRun).order_by(JobRun.job)))
