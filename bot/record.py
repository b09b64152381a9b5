"""/record: grid workers record dialect announcements as voice messages.

/record lists the open requests of the worker's grids as buttons (or `/record <number>`
picks one); the bot then sends a prompt with the text to read, and a voice message, audio
file or document sent IN REPLY to that prompt becomes a take of the request's script.

Which request a prompt asks for is kept in the database (bot.pending), keyed by the prompt
message and the worker it was sent to, for a week: a reply reaching the bot after a restart,
or reaching another bot process, files the take all the same, and a reply to any other
message (one that merely quotes "#R<id>") files nothing. The prompt names its request
(`#R<id>`) for the worker to see. Whether the take plays at once is decided by the library
(a worker answering a request of their own grid: at once; see audio.library).
"""

from __future__ import annotations

from datetime import timedelta

from telegram import ForceReply, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from audio import library
from audio.models import RecordingSource
from audio.scripts import Dialect
from bot import keyboards, pending
from bot.commands import Command, declare
from bot.context import Acting, Context, acting, hub_of, hub_of_app, identified
from bot.ids import callback_id, parse_id
from hub.i18n import to_traditional
from hub.models import Role

# The Bot API serves files of at most 20 MB to bots through getFile.
MAX_DOWNLOAD_MB = 20
PROMPT_TTL = timedelta(days=7)  # a prompt may be answered for a week
_BUTTONS = 12


def dialect_name(dialect: Dialect, lang: str) -> str:
    if lang == "en":
        return dialect.name.en
    name = dialect.name.zh_hans
    return to_traditional(name) if lang == "zh-Hant" else name


async def _send_prompt(act: Acting, context: Context, chat_id: int, request_id: int) -> None:
    """One service call (the prompt for a request in the sender's scope) and its message."""
    known = await library.catalogue(act.hub)
    shown = await library.prompt(act.session, known, actor=act.person, request_id=request_id)
    lang = act.lang
    text = act.t(
        "record.prompt", id=shown.request.id, title=shown.script.title,
        dialect=dialect_name(shown.dialect, lang), mandarin=shown.script.mandarin,
        reading=shown.reading,
    )
    prompt = await context.bot.send_message(chat_id, text, reply_markup=ForceReply(selective=True))
    flow = pending.prompt_flow(pending.RECORD_TAKE, prompt.message_id)
    await pending.put(act.update, context, flow, shown.request.id, chat=chat_id, ttl=PROMPT_TTL, session=act.session)


async def record_command(update: Update, context: Context) -> None:
    """/record lists the open requests; /record <number> prompts for one at once."""
    message, chat = update.effective_message, update.effective_chat
    assert message and chat
    args = context.args or []
    async with acting(update, context) as act:
        if not await act.in_private():
            return
        if args:
            number = parse_id(args[0].upper(), not_found="record.request_unknown", strip="#＃R")
            if len(args) > 1 or number is None:
                await message.reply_text(act.t("record.usage"))
                return
            await _send_prompt(act, context, chat.id, number)
            return
        found = await library.open_requests(act.session, act.person)
    if not found:
        await message.reply_text(act.t("record.none"))
        return
    known = await library.catalogue(act.hub)
    rows = []
    for item in found[:_BUTTONS]:
        script = known.scripts.get(item.request.script_id)
        dialect = known.dialects.get(item.request.dialect)
        label = act.t(
            "record.button", id=item.request.id,
            title=script.title if script else item.request.script_id,
            dialect=dialect_name(dialect, act.lang) if dialect else item.request.dialect,
            grid=item.grid.name,
        )
        rows.append([(label[:64], f"rec:{item.request.id}")])
    await message.reply_text(act.t("record.list", count=len(found)), reply_markup=keyboards.inline(rows))


async def request_pressed(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query and query.data
    request_id = callback_id(query.data.removeprefix("rec:"), not_found="record.request_unknown")
    async with acting(update, context) as act:
        chat_id = query.message.chat.id if query.message else act.person.telegram_id
        assert chat_id is not None
        await _send_prompt(act, context, chat_id, request_id)
    await query.answer()


async def take_received(update: Update, context: Context) -> None:
    """A voice message, audio file or document in a private chat: a take, if it answers a prompt."""
    hub = hub_of(context)
    message = update.effective_message
    assert message
    media = message.voice or message.audio or message.document
    assert media is not None
    request_id = pending.replied(context.application, message, pending.RECORD_TAKE)
    if request_id is None:
        if message.document is None:  # documents without a prompt belong to other features
            act = await identified(update, context)
            await message.reply_text(act.t("record.not_a_reply"))
        return
    if media.file_size and media.file_size > MAX_DOWNLOAD_MB << 20:
        act = await identified(update, context)
        await message.reply_text(act.t("record.too_big", limit=MAX_DOWNLOAD_MB))
        return
    telegram_file = await media.get_file()
    data = bytes(await telegram_file.download_as_bytearray())
    hint = getattr(media, "file_name", None) or media.mime_type or telegram_file.file_path
    known = await library.catalogue(hub)
    async with acting(update, context) as act:
        added = await library.add_recording(
            act.session, known, hub.settings.data_dir, actor=act.person, data=data, hint=hint,
            source=RecordingSource.TELEGRAM, now=hub.now(), request_id=request_id,
        )
        take = added.recording
        text = act.t(
            "record.saved", title=added.script.title,
            dialect=dialect_name(added.dialect, act.lang), version=take.version,
            duration=f"{take.duration_s:.1f}", lufs=f"{take.loudness_lufs:.1f}",
            approved=take.approved,
        )
    await message.reply_text(text)


async def load(app: Application) -> None:
    """Read the scripts and dialects before the first /record."""
    await library.catalogue(hub_of_app(app))


def register(app: Application) -> None:
    declare(Command("record", Role.WORKER))
    pending.install(app)
    app.add_handler(CommandHandler("record", record_command))
    app.add_handler(CallbackQueryHandler(request_pressed, pattern=r"^rec:\d+$"))
    app.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & (filters.VOICE | filters.AUDIO | filters.Document.ALL),
            take_received,
        )
    )
