"""What the bot is waiting for from a person: the next step of a flow, a photo, a number.

The state lives in PTB's per-user `user_data` (one process, lost on restart, which only
costs a person their half-finished answer). `Awaiting` lets a handler claim a message only
while its feature waits on that person, so plain text reaches /ask otherwise and a pending
flow never swallows a command.
"""

from __future__ import annotations

from telegram import Message
from telegram.ext import Application, filters


class Awaiting(filters.MessageFilter):
    """Messages from someone whose user_data holds `key`."""

    def __init__(self, app: Application, key: str) -> None:
        super().__init__(name=f"Awaiting({key})")
        self._app = app
        self._key = key

    def filter(self, message: Message) -> bool:
        user = message.from_user
        return user is not None and self._key in self._app.user_data.get(user.id, {})


# user_data keys, one per thing the bot may be waiting for
REPORT_FLOW = "report_flow"  # the next step of a guided /report (bot.report.Flow)
SAME_QUESTION = "report_same"  # open "is this the same as #N?" questions: number -> bot.report.SameQuestion
EVIDENCE_PHOTO = "hazard_evidence"  # a worker pressed "fixed": the hazard id awaiting a photo
ORIGINAL_NUMBER = "hazard_original"  # a worker pressed "dup": the hazard id awaiting a number
WORKER_WAITS = (EVIDENCE_PHOTO, ORIGINAL_NUMBER)
