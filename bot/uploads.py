"""A photo a person sent, fetched from Telegram and stored through hazards.photos.

Photos come as photos or as files (phones send big or uncompressed pictures as documents).
The size is checked from what Telegram announces before a byte is downloaded; whether the
file is an image at all is decided from its content, never by its name or MIME type. What
costs least is asked first: the announced size, then the caller's own check (a report's rate
limit), then the download, then the header (`photos.check_header`), and only then the
decoding — off the event loop, like the header.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from telegram import Message

from hazards import photos
from hub.core import Hub


def carries_photo(message: Message) -> bool:
    return bool(message.photo) or message.document is not None


async def store_sent_photo(
    hub: Hub, message: Message, *, first: Callable[[], Awaitable[None]] | None = None
) -> str:
    """Download, check, clean and store the picture a message carries; returns its hash.

    `first` runs before the download, to refuse (by raising) what would be refused anyway.
    """
    if message.photo:
        size = message.photo[-1]  # the largest Telegram made
        file_id, file_size = size.file_id, size.file_size
    elif message.document is not None:
        file_id, file_size = message.document.file_id, message.document.file_size
    else:
        raise ValueError("the message carries no photo")
    photos.check_size(file_size)
    if first is not None:
        await first()
    telegram_file = await message.get_bot().get_file(file_id)
    data = bytes(await telegram_file.download_as_bytearray())
    await asyncio.to_thread(photos.check_header, data)
    stored = await asyncio.to_thread(photos.store_photo, data, hub.settings.data_dir)
    return stored.hash
