"""What a photo may cost: refused from its header before decoding, decoded scaled when it can
be, and a report at the rate limit refused before its photo is even fetched (issue 12, item 11)."""

import io

import pytest
from PIL import Image, ImageFile

from hazards import photos
from hub.errors import InvalidInput
from tests.test_photos import png_claiming
from tests.test_report_bot import count, jpeg, seed


@pytest.fixture(scope="module")
def png_7000() -> bytes:
    """A real 7000×7000 PNG, small on disk (it was 1.5 s and 600 MB to decode)."""
    buffer = io.BytesIO()
    Image.new("1", (7000, 7000)).save(buffer, format="PNG")
    assert len(buffer.getvalue()) < 200 * 1024
    return buffer.getvalue()


@pytest.fixture
def no_decoding(monkeypatch):
    def never(self, *args, **kwargs):
        raise AssertionError(f"decoded {self.size}")

    monkeypatch.setattr(ImageFile.ImageFile, "load", never)
    monkeypatch.setattr(Image.Image, "load", never)


def test_a_7000_by_7000_png_is_refused_from_its_header(tmp_path, png_7000, no_decoding):
    with pytest.raises(InvalidInput) as raised:
        photos.store_photo(png_7000, tmp_path)
    assert raised.value.key == "hazard.photo_too_many_pixels"
    with pytest.raises(InvalidInput):
        photos.check_header(png_7000)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (png_claiming(6000, 4001), "hazard.photo_too_many_pixels"),  # just over 24 MP, no alpha
        (png_claiming(4000, 3001, "RGBA"), "hazard.photo_too_many_pixels"),  # alpha counts twice
        (png_claiming(50_000, 2), "hazard.photo_broken"),  # few pixels: passes the header, no data
        (b"BM" + bytes(100), "hazard.photo_not_image"),  # a bitmap: not a format we take
        (b"GIF89a" + bytes(100), "hazard.photo_not_image"),
    ],
    ids=["24mp-png", "12mp-rgba", "wide", "bmp", "gif"],
)
def test_what_decoding_would_cost_is_settled_first(tmp_path, data, key, monkeypatch):
    if key != "hazard.photo_broken":
        def never(*_args, **_kwargs):
            raise AssertionError("decoded")

        monkeypatch.setattr(ImageFile.ImageFile, "load", never)
    with pytest.raises(InvalidInput) as raised:
        photos.store_photo(data, tmp_path)
    assert raised.value.key == key


def test_a_big_jpeg_is_decoded_scaled(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    Image.new("L", (6000, 4000), 128).save(buffer, format="JPEG", quality=70)
    decoded = []
    real_load = ImageFile.ImageFile.load

    def spy(self):
        decoded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    stored = photos.store_photo(buffer.getvalue(), tmp_path)
    assert decoded[0] == (3000, 2000)  # libjpeg decoded it at half scale
    assert (stored.width, stored.height) == (2560, 1707)


async def test_a_7000_by_7000_png_report_is_refused_without_decoding(bot, bot_hub, telegram, png_7000, no_decoding):
    await seed(bot_hub)
    user = telegram.user(6001, "张阿姨")
    mark = len(telegram.calls)
    telegram.send_document(telegram.group(-1001), user, png_7000, "big.png", "image/png",
                           caption="/report 楼道堆满纸箱")
    assert "图片尺寸过大" in (await telegram.reply_to(-1001, since=mark)).params["text"]
    assert await count(bot_hub) == 0


async def test_a_photo_report_over_the_rate_limit_is_not_fetched(bot, bot_hub, telegram, monkeypatch):
    await seed(bot_hub)
    monkeypatch.setattr(bot_hub.settings, "report_limit_per_hour", 1)
    user, group = telegram.user(6001, "张阿姨"), telegram.group(-1001)
    mark = len(telegram.calls)
    telegram.send_photo(group, user, jpeg(), caption="/report 楼道堆满纸箱")
    assert "编号 #1" in (await telegram.reply_to(-1001, since=mark)).params["text"]
    # The group also gets the hazard's card from the outbox; wait for it so it is not taken for
    # the reply to the second report.
    await telegram.wait_for(predicate=lambda c: c.chat_id == -1001 and "隐患 #1" in str(c.params.get("text")),
                            since=mark)

    def never(*_args, **_kwargs):
        raise AssertionError("decoded a photo for a report that is refused anyway")

    monkeypatch.setattr(photos, "store_photo", never)
    monkeypatch.setattr(photos, "check_header", never)
    mark = len(telegram.calls)
    telegram.send_photo(group, user, jpeg((0, 0, 200)), caption="/report 5号楼门口电线裸露")
    reply = await telegram.reply_to(-1001, since=mark)
    assert "一小时内已上报 1 条" in reply.params["text"]
    assert not [c for c in telegram.calls[mark:] if c.method == "getFile"]
    assert await count(bot_hub) == 1
