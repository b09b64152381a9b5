"""One warning to many chats: the scenario the fan-out tests and bench/fanout.py share."""

from __future__ import annotations

from broadcasts.warnings import lifecycle as warnings
from hub import grids, people
from hub.core import Hub
from hub.models import Chat, Role

TEXT = "黄 今晚有大风，请收好阳台和窗台上的物品"


async def seed_area(hub: Hub, chats: int, *, first_chat: int = -1_000_000) -> int:
    """A grid with `chats` bound groups and a worker; the worker's warning is sent to all."""
    async with hub.db.session() as s:
        await grids.import_specs(s, [grids.GridSpec("D1", "城厢区"), grids.GridSpec("T1", "第一网格", "D1")],
                                 actor="test", now=hub.now())
        grid = await grids.get(s, "T1")
        s.add_all(Chat(telegram_chat_id=first_chat - i, grid_id=grid.id, title=f"群{i}", active=True,
                       created_at=hub.now()) for i in range(chats))
        await people.appoint(s, telegram_id=5001, name="王芳", role=Role.WORKER, grid_code="T1",
                             actor="test", now=hub.now())
    async with hub.db.session() as s:
        worker = await people.get(s, 5001)
        warning = await warnings.draft(s, hub, worker, warnings.parse_command(TEXT))
        sent = await warnings.send(s, hub, worker, warning.id)
        assert sent.chats == chats
        return warning.id


def deliveries(calls: list, needle: str = "今晚有大风") -> dict[int, int]:
    """How many times each chat received the warning (successful sends only)."""
    counts: dict[int, int] = {}
    for call in calls:
        if call.ok and call.method == "sendMessage" and needle in str(call.params.get("text")):
            counts[call.chat_id] = counts.get(call.chat_id, 0) + 1
    return counts
