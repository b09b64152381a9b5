"""/report: a hazard in one message or step by step, a location sent after it, and the
"is this the same as #N?" question.

One message — `/report <text>`, or a photo with `/report …` as its caption — is filed at
once and the reporter gets the ticket number in reply. A bare `/report` starts the guided
flow: category, the category's "is anyone in danger right now?", description, photo, place,
whether to be named, confirm. In a group the flow moves to a private chat through a deep
link, because answering there would show the neighbours who reported. Every filing goes
through the intake (bot.intake) to `hazards.intake.submit_many`, which asks first when an open
report may be the same problem.

Each step of the guided flow is kept in the database as it is taken (bot.pending), and so is
each open "is this the same as #N?" question (hazards.repeats): a restarted bot, or another
bot process, takes the person's next answer where they were.
"""

from __future__ import annotations

import asyncio
import enum
import re
from dataclasses import asdict, dataclass, replace
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import pending, start
from bot.commands import Command, declare
from bot.context import Context, acting, hub_of, identified
from bot.ids import callback_id
from bot.intake import Outcome, intake_of
from bot.uploads import store_sent_photo
from hazards import categories
from hazards import intake as hazard_intake
from hazards.intake import Draft
from hazards.notices import render, render_notice
from hub.core import Hub
from hub.errors import HubError, InvalidInput
from hub.models import Grid, GridLevel

DEEP_LINK = "report_"  # t.me/<bot>?start=report_<grid id>_<signature>, or report_ for no grid
CAPTION_RE = re.compile(r"^/report(?:@(\w+))?(?:\s+(.*))?$", re.DOTALL | re.IGNORECASE)
Reply = tuple[str, InlineKeyboardMarkup | None]


class Step(enum.StrEnum):
    CATEGORY = "cat"
    DANGER = "danger"
    TEXT = "text"
    PHOTO = "photo"
    PLACE = "place"
    NAMED = "named"
    CONFIRM = "confirm"


@dataclass
class Flow:
    """A guided report in progress; nothing is written until it is confirmed."""

    grid_id: int | None
    lang: str
    step: Step = Step.CATEGORY
    category: str | None = None
    urgent: bool = False
    text: str = ""
    photo: str | None = None
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    named: bool = False

    def draft(self) -> Draft:
        return Draft(
            text=self.text, category=self.category, photo=self.photo, lat=self.lat, lon=self.lon,
            address=self.address, named=self.named, urgent=self.urgent,
        )

    def state(self) -> dict[str, Any]:
        """As kept between steps (bot.pending): JSON."""
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Flow:
        return cls(**{**state, "step": Step(state["step"])})


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


# --- filing --------------------------------------------------------------------------------


def _similar_question(hub: Hub, lang: str, similar: hazard_intake.Similar, owner: int, number: int) -> Reply:
    """Ask about the likeliest candidate: rs:<owner>:<question>:<ticket>|new.

    The owner's id keeps others out; the question's number ties the answer to the report it
    was asked about, when the same person has several questions open.
    """
    best, params = similar.candidates[0], similar.params[0]
    text = render(hub.texts, lang, "hazard.similar", params, hub.tz)
    markup = InlineKeyboardMarkup([
        [_button(hub.t(lang, "hazard.similar_yes"), f"rs:{owner}:{number}:{best.id}")],
        [_button(hub.t(lang, "hazard.similar_no"), f"rs:{owner}:{number}:new")],
    ])
    return text, markup


def _answer(context: Context, outcome: Outcome) -> Reply:
    """The reply to a filing: the receipt, or "is this the same as #N?" with its buttons."""
    hub = hub_of(context)
    sender, result = outcome.sender, outcome.result
    if isinstance(result, hazard_intake.Similar):
        # kept open by the intake (hazards.repeats) in the same unit of work that asked it
        assert sender.person.telegram_id is not None and result.question is not None
        return _similar_question(hub, sender.lang, result, sender.person.telegram_id, result.question)
    return render_notice(hub.texts, result.receipt, hub.tz, sender.lang), None


def _here(update: Update, draft: Draft) -> Draft:
    """A one-message report: in a group it belongs to that chat's grid, and remembers the chat."""
    chat = update.effective_chat
    assert chat is not None
    return draft if chat.type == ChatType.PRIVATE else replace(draft, source_chat_id=chat.id)


async def _reply_when_filed(update: Update, context: Context, filing: asyncio.Future[Outcome]) -> None:
    message = update.effective_message
    assert message is not None
    reply, markup = _answer(context, await filing)
    await message.reply_text(reply, reply_markup=markup)


async def report_command(update: Update, context: Context) -> None:
    message, chat = update.effective_message, update.effective_chat
    assert message and chat and message.text is not None
    parts = message.text.split(None, 1)
    text = parts[1] if len(parts) > 1 else ""
    if text.strip():
        # Queued, not awaited: the next updates are read while this one waits for its unit of
        # work, which is what lets reports from many chats share one (bot.intake).
        filing = intake_of(context.application).enqueue(update, _here(update, Draft(text=text)))
        context.application.create_task(_reply_when_filed(update, context, filing), update=update)
        return
    async with acting(update, context) as act:
        grid_id = act.chat.grid_id if act.chat else None
        grid = await act.session.get(Grid, grid_id) if grid_id and chat.type != ChatType.PRIVATE else None
    if chat.type == ChatType.PRIVATE:
        await _begin(update, context, chat.id, grid_id, act.lang)
        return
    # The link names the group's grid only when it is a leaf grid, where a worker takes the
    # report; otherwise the flow files in the reporter's own grid, as in private.
    leaf = grid is not None and grid.level is GridLevel.GRID
    link = start.deep_link(act.hub, context.bot.username, DEEP_LINK, str(grid.id) if leaf and grid else "")
    await message.reply_text(
        act.t("hazard.continue_private"),
        reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton(act.t("hazard.continue_button"), url=link)]]
        ),
    )


async def photo_report(update: Update, context: Context) -> None:
    """A photo (or an image sent as a file) with `/report …` as its caption."""
    hub = hub_of(context)
    message = update.effective_message
    assert message is not None
    match = CAPTION_RE.match(message.caption or "")
    if match is None:
        return
    addressee = match.group(1)
    if addressee and addressee.lower() != (context.bot.username or "").lower():
        return  # a command for another bot
    photo = await store_sent_photo(hub, message, first=lambda: _within_rate(update, context))
    draft = _here(update, Draft(text=match.group(2) or "", photo=photo))
    reply, markup = _answer(context, await intake_of(context.application).file(update, draft))
    await message.reply_text(reply, reply_markup=markup)


async def _within_rate(update: Update, context: Context) -> None:
    """Refuse a photo report at the rate limit before its photo is downloaded and decoded."""
    async with acting(update, context) as act:
        await hazard_intake.check_rate(
            act.session, act.person, now=act.hub.now(), limit_per_hour=act.hub.settings.report_limit_per_hour
        )


async def same_answered(update: Update, context: Context) -> None:
    """rs:<owner>:<question>:<ticket>|new — the reporter's answer to "is this the same as #N?".

    Only what was offered can be answered: the presser's own open question, with a ticket it
    offered (hazards.repeats); anything else is refused in an alert and changes nothing.
    """
    query = update.callback_query
    assert query and query.data
    _, owner, number, answer = query.data.split(":")
    if query.from_user.id != int(owner):
        act = await identified(update, context)
        await query.answer(act.t("hazard.not_yours"), show_alert=True)
        return
    question = callback_id(number, not_found="hazard.flow_expired")
    same_as = None if answer == "new" else callback_id(answer, not_found="hazard.not_found")
    async with acting(update, context) as act:
        answered = await hazard_intake.answer(act.session, act.person, question, same_as, now=act.hub.now())
    outcome = await intake_of(context.application).file(
        update, answered.draft, grid=answered.grid_id, offer_similar=False
    )
    reply, _ = _answer(context, outcome)
    await query.answer()
    await query.edit_message_text(reply)


async def location_sent(update: Update, context: Context) -> None:
    """A location: the next step of a guided report, or the place of the report just sent."""
    message, chat = update.effective_message, update.effective_chat
    assert message and message.location and chat
    flow = _flow(update, context)
    if flow is not None and chat.type == ChatType.PRIVATE and flow.step is Step.PLACE:
        flow.lat, flow.lon = message.location.latitude, message.location.longitude
        await _advance(update, context, chat.id, flow, Step.NAMED)
        return
    try:
        async with acting(update, context) as act:
            hazard = await hazard_intake.attach_location(
                act.session, act.person, message.location.latitude, message.location.longitude,
                now=act.hub.now(),
            )
    except HubError:
        if chat.type == ChatType.PRIVATE:
            raise
        return  # a location shared in a group is not necessarily meant for us
    await message.reply_text(act.t("hazard.located", id=hazard.id))


# --- the guided flow -----------------------------------------------------------------------


def _prompt(hub: Hub, flow: Flow) -> Reply:
    lang = flow.lang
    cancel = [_button(hub.t(lang, "hazard.confirm_no"), "rf:cancel")]
    skip = [_button(hub.t(lang, "hazard.skip"), "rf:skip")]
    if flow.step is Step.CATEGORY:
        rows = [[_button(c.label(lang), f"rf:cat:{c.id}")] for c in categories.catalogue().categories]
        return hub.t(lang, "hazard.choose_category"), InlineKeyboardMarkup([*rows, cancel])
    if flow.step is Step.DANGER:
        assert flow.category is not None
        yes_no = [_button(hub.t(lang, "hazard.answer_yes"), "rf:danger:yes"),
                  _button(hub.t(lang, "hazard.answer_no"), "rf:danger:no")]
        return categories.get(flow.category).question(lang), InlineKeyboardMarkup([yes_no])
    if flow.step is Step.TEXT:
        return hub.t(lang, "hazard.ask_text"), InlineKeyboardMarkup([cancel])
    if flow.step is Step.PHOTO:
        return hub.t(lang, "hazard.ask_photo"), InlineKeyboardMarkup([skip, cancel])
    if flow.step is Step.PLACE:
        return hub.t(lang, "hazard.ask_location"), InlineKeyboardMarkup([skip, cancel])
    if flow.step is Step.NAMED:
        named = [_button(hub.t(lang, "hazard.named_no"), "rf:named:no"),
                 _button(hub.t(lang, "hazard.named_yes"), "rf:named:yes")]
        return hub.t(lang, "hazard.ask_named"), InlineKeyboardMarkup([named])
    params = {
        "category": flow.category, "text": flow.text, "address": flow.address,
        "has_photo": flow.photo is not None, "urgent": flow.urgent, "named": flow.named,
    }
    confirm = [_button(hub.t(lang, "hazard.confirm_yes"), "rf:confirm:yes")]
    text = render(hub.texts, lang, "hazard.confirm", params, hub.tz)
    return text, InlineKeyboardMarkup([confirm, cancel])


def _flow(update: Update, context: Context) -> Flow | None:
    """The sender's guided report as read for this update (bot.pending), if one is under way."""
    state = pending.current(update, context, pending.REPORT_FLOW)
    try:
        return None if state is None else Flow.from_state(state)
    except (TypeError, ValueError, KeyError):  # kept by an older version of the flow: start again
        return None


async def _show(context: Context, chat_id: int, flow: Flow) -> None:
    text, markup = _prompt(hub_of(context), flow)
    await context.bot.send_message(chat_id, text, reply_markup=markup)


async def _advance(update: Update, context: Context, chat_id: int, flow: Flow, step: Step) -> None:
    """Keep the step taken, then ask for the next: the answer may reach another process."""
    flow.step = step
    await pending.put(update, context, pending.REPORT_FLOW, flow.state())
    await _show(context, chat_id, flow)


async def _begin(update: Update, context: Context, chat_id: int, grid_id: int | None, lang: str) -> None:
    flow = Flow(grid_id=grid_id, lang=lang)
    await pending.wait_for(update, context, pending.REPORT_FLOW, flow.state())  # ends a worker's wait
    await _show(context, chat_id, flow)


async def deep_link(update: Update, context: Context, grid_value: str) -> None:
    """/start report_<grid id>_<signature>: the guided flow, moved here from a group.

    bot.start has checked that the bot signed the link; it must also lead into a leaf grid.
    """
    chat = update.effective_chat
    assert chat is not None
    async with acting(update, context) as act:
        grid = await act.session.get(Grid, int(grid_value)) if grid_value.isdigit() else None
        if grid_value and (grid is None or grid.level is not GridLevel.GRID):
            raise InvalidInput("start.link_invalid")
    await _begin(update, context, chat.id, grid.id if grid else None, act.lang)


async def flow_text(update: Update, context: Context) -> None:
    """Text while a guided report waits: the description, or the address."""
    message, chat = update.effective_message, update.effective_chat
    assert message and message.text is not None and chat
    flow = _flow(update, context)
    assert flow is not None  # the handler's filter saw it
    if flow.step is Step.TEXT:
        flow.text = hazard_intake.clean_text(message.text)
        await _advance(update, context, chat.id, flow, Step.PHOTO)
    elif flow.step is Step.PLACE:
        checked = hazard_intake.check_draft(replace(flow.draft(), address=message.text))
        flow.address = checked.address
        await _advance(update, context, chat.id, flow, Step.NAMED)
    else:
        await _show(context, chat.id, flow)  # say again what we are waiting for


async def flow_media(update: Update, context: Context) -> None:
    hub = hub_of(context)
    message, chat = update.effective_message, update.effective_chat
    assert message and chat
    flow = _flow(update, context)
    assert flow is not None  # the handler's filter saw it
    if flow.step is not Step.PHOTO:
        await _show(context, chat.id, flow)
        return
    flow.photo = await store_sent_photo(hub, message, first=lambda: _within_rate(update, context))
    await _advance(update, context, chat.id, flow, Step.PLACE)


EXPECTED = {
    "cat": (Step.CATEGORY,),
    "danger": (Step.DANGER,),
    "skip": (Step.PHOTO, Step.PLACE),
    "named": (Step.NAMED,),
    "confirm": (Step.CONFIRM,),
}


async def flow_pressed(update: Update, context: Context) -> None:
    """rf:<what>[:<value>] — a button of the guided flow."""
    hub = hub_of(context)
    query = update.callback_query
    assert query and query.data
    what, _, value = query.data.removeprefix("rf:").partition(":")
    flow = _flow(update, context)
    chat_id = query.message.chat.id if query.message else query.from_user.id
    if flow is None or (what != "cancel" and flow.step not in EXPECTED.get(what, ())):
        act = await identified(update, context)
        await query.answer(act.t("hazard.flow_expired"), show_alert=True)
        return
    if what == "cancel":
        await pending.clear(update, context, pending.REPORT_FLOW)
        await query.answer()
        await query.edit_message_text(hub.t(flow.lang, "hazard.cancelled"))
        return
    if what == "cat":
        flow.category = categories.get(value).id
        await query.answer()
        await _advance(update, context, chat_id, flow, Step.DANGER)
    elif what == "danger":
        flow.urgent = value == "yes"
        await query.answer()
        if flow.urgent:
            assert flow.category is not None
            number = categories.get(flow.category).emergency_number
            await context.bot.send_message(chat_id, hub.t(flow.lang, "hazard.call_now", number=number))
        await _advance(update, context, chat_id, flow, Step.TEXT)
    elif what == "skip":
        await query.answer()
        await _advance(update, context, chat_id, flow, Step.PLACE if flow.step is Step.PHOTO else Step.NAMED)
    elif what == "named":
        flow.named = value == "yes"
        await query.answer()
        await _advance(update, context, chat_id, flow, Step.CONFIRM)
    else:
        # Taken before filing, so a second press (in this process or another) files nothing;
        # put back on a refusal, to try again or cancel.
        if not await pending.take(update, context, pending.REPORT_FLOW):
            act = await identified(update, context)
            await query.answer(act.t("hazard.flow_expired"), show_alert=True)
            return
        try:
            outcome = await intake_of(context.application).file(update, flow.draft(), grid=flow.grid_id)
        except HubError:
            await pending.put(update, context, pending.REPORT_FLOW, flow.state())
            raise
        reply, markup = _answer(context, outcome)
        await query.answer()
        await context.bot.send_message(chat_id, reply, reply_markup=markup)


async def after_filing(update: Update, context: Context) -> None:
    """Hold any update of someone whose report is still being filed until it is committed."""
    user = update.effective_user
    intake = intake_of(context.application)
    if user is not None and intake.busy(user.id):
        await intake.settled(user.id)


def register(app: Application) -> None:
    declare(Command("report"))
    app.add_handler(TypeHandler(Update, after_filing), group=pending.LOAD_GROUP - 2)  # before the read
    pending.install(app)
    start.DEEP_LINKS[DEEP_LINK] = deep_link
    media = filters.PHOTO | filters.Document.ALL
    private = filters.ChatType.PRIVATE
    app.add_handler(CommandHandler("report", report_command))
    app.add_handler(MessageHandler(media & filters.CaptionRegex(r"(?i)^/report(@\w+)?(\s|$)"), photo_report))
    # While a guided report waits on someone, their private text and photos are its answers;
    # commands still reach their own handlers.
    flow = pending.Awaiting(app, pending.REPORT_FLOW)
    app.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND & flow, flow_text))
    app.add_handler(MessageHandler(private & media & flow, flow_media))
    app.add_handler(MessageHandler(filters.LOCATION, location_sent))
    app.add_handler(CallbackQueryHandler(flow_pressed, pattern=r"^rf:"))
    app.add_handler(CallbackQueryHandler(same_answered, pattern=r"^rs:\d+:\d+:(\d+|new)$"))
