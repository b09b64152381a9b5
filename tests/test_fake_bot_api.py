"""The fake Bot API itself, through python-telegram-bot's real Bot: the faults tests rely on."""

import io

import pytest
from PIL import Image
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from tests.conftest import TOKEN


@pytest.fixture
async def tg_bot(telegram):
    bot = Bot(TOKEN, base_url=telegram.base_url, base_file_url=telegram.base_file_url,
              request=HTTPXRequest(read_timeout=0.3, connect_timeout=1))
    async with bot:
        yield bot


async def test_messages_and_keyboards_round_trip(tg_bot, telegram):
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("接受", callback_data="hz:1:accept")]])
    message = await tg_bot.send_message(-100, "隐患 #1", reply_markup=markup)
    assert message.message_id == 1 and message.chat.id == -100
    assert message.reply_markup.inline_keyboard[0][0].callback_data == "hz:1:accept"
    edited = await tg_bot.edit_message_text("隐患 #1 已受理", chat_id=-100, message_id=1)
    assert edited.text == "隐患 #1 已受理"
    with pytest.raises(BadRequest, match="not modified"):
        await tg_bot.edit_message_text("隐患 #1 已受理", chat_id=-100, message_id=1)


async def test_photos_upload_and_download(tg_bot, telegram):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(buffer, "JPEG")
    sent = await tg_bot.send_photo(5, buffer.getvalue())
    assert (sent.photo[-1].width, sent.photo[-1].height) == (64, 48)
    file = await tg_bot.get_file(sent.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == buffer.getvalue()
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await tg_bot.get_file("nope")


async def test_updates_with_offsets(tg_bot, telegram):
    user = telegram.user(1)
    chat = telegram.private(user)
    for text in ("a", "b", "c"):
        telegram.send_message(chat, user, text)
    first = await tg_bot.get_updates(limit=2)
    assert [u.message.text for u in first] == ["a", "b"]
    rest = await tg_bot.get_updates(offset=first[-1].update_id + 1)
    assert [u.message.text for u in rest] == ["c"]
    assert await tg_bot.get_updates(offset=rest[-1].update_id + 1, timeout=0) == ()


async def test_injected_faults_raise_what_telegram_would(tg_bot, telegram):
    telegram.inject("sendMessage", "429")
    with pytest.raises(RetryAfter) as raised:
        await tg_bot.send_message(1, "x")
    assert raised.value.retry_after == 1
    telegram.inject("sendMessage", "5xx")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await tg_bot.send_message(1, "x")
    telegram.inject("sendMessage", "slow")
    with pytest.raises(TimedOut):
        await tg_bot.send_message(1, "x")
    telegram.inject("sendMessage", "drop")
    with pytest.raises(NetworkError):
        await tg_bot.send_message(1, "x")
    assert dict(telegram.fault_counts) == {"429": 1, "5xx": 1, "slow": 1, "drop": 1}
    assert (await tg_bot.send_message(1, "fine")).text == "fine"


async def test_fault_rate_is_seeded_and_spares_get_updates(tg_bot, telegram):
    telegram.set_faults(0.5, kinds=("5xx",), seed=7)
    outcomes = []
    for _ in range(20):
        try:
            await tg_bot.send_message(1, "x")
            outcomes.append(True)
        except NetworkError:
            outcomes.append(False)
    assert 3 < outcomes.count(False) < 17
    assert await tg_bot.get_updates(timeout=0) == ()


async def test_blocked_and_migrated_chats(tg_bot, telegram):
    telegram.block(77)
    with pytest.raises(Forbidden):
        await tg_bot.send_message(77, "x")
    telegram.migrate_group(-5, -1005)
    with pytest.raises(ChatMigrated) as raised:
        await tg_bot.send_message(-5, "x")
    assert raised.value.new_chat_id == -1005
