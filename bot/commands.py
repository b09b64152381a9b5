"""The commands the bot offers, with the least role that may use each.

Feature modules declare theirs here-through `COMMANDS`; /help, /start and the Telegram
command menu (setMyCommands) are all built from this one list, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Bot, BotCommand, BotCommandScopeDefault

from hub.i18n import Texts
from hub.models import Role


@dataclass(frozen=True)
class Command:
    name: str
    role: Role = Role.RESIDENT


COMMANDS: list[Command] = []


def declare(*commands: Command) -> None:
    for command in commands:
        if command.name not in {c.name for c in COMMANDS}:
            COMMANDS.append(command)


def visible_to(role: Role) -> dict[Role, list[Command]]:
    """Commands this role may use, grouped by the role that unlocks them."""
    groups: dict[Role, list[Command]] = {}
    for command in COMMANDS:
        if command.role.rank <= role.rank:
            groups.setdefault(command.role, []).append(command)
    return groups


def help_text(texts: Texts, lang: str, role: Role) -> str:
    titles = {Role.RESIDENT: "help.everyone", Role.WORKER: "help.worker", Role.STAFF: "help.staff"}
    parts = []
    for unlocked_by, commands in visible_to(role).items():
        lines = [texts.get(lang, titles.get(unlocked_by, "help.staff"))]
        lines += [f"/{c.name} — {texts.get(lang, f'command.{c.name}')}" for c in commands]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


async def publish_menu(bot: Bot, texts: Texts) -> None:
    """Register residents' commands with Telegram: Chinese by default, English for en clients."""
    everyone = [c for c in COMMANDS if c.role is Role.RESIDENT]
    for lang, code in (("zh-Hans", None), ("en", "en")):
        menu = [BotCommand(c.name, texts.get(lang, f"command.{c.name}")) for c in everyone]
        await bot.set_my_commands(menu, scope=BotCommandScopeDefault(), language_code=code)
