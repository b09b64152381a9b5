import hashlib
import io
import struct
import zlib

import pytest
from PIL import ExifTags, Image

from hazards import photos
from hub.errors import InvalidInput


def jpeg_with_gps(size=(64, 32), orientation=None) -> bytes:
    """A phone-like JPEG: camera make, GPS position and optionally a rotation flag."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCo"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (25.0, 26.0, 1.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (119.0, 0.0, 25.2)
    image = Image.new("RGB", size, (200, 40, 40))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, quality=90)
    return buffer.getvalue()


def png_claiming(width: int, height: int, mode: str = "L") -> bytes:
    """A tiny PNG whose header claims a huge canvas: a decompression bomb in 60 bytes."""
    buffer = io.BytesIO()
    Image.new(mode, (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def test_gps_and_all_exif_are_gone_and_a_thumbnail_is_made(tmp_path):
    original = jpeg_with_gps(size=(1000, 500))
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # it was there

    stored = photos.store_photo(original, tmp_path)

    assert stored.path == tmp_path / "photos" / stored.hash[:2] / f"{stored.hash}.jpg"
    assert stored.hash == hashlib.sha256(stored.path.read_bytes()).hexdigest()
    with Image.open(stored.path) as clean:
        assert clean.format == "JPEG" and clean.size == (1000, 500)
        assert "exif" not in clean.info
        assert len(clean.getexif()) == 0
        assert clean.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert b"PhoneCo" not in stored.path.read_bytes()
    with Image.open(stored.thumb_path) as thumb:
        assert thumb.size == (320, 160) and "exif" not in thumb.info
    assert not list(tmp_path.rglob(".tmp-*"))


def test_the_photo_is_turned_upright_before_the_flag_is_dropped(tmp_path):
    stored = photos.store_photo(jpeg_with_gps(size=(60, 20), orientation=6), tmp_path)
    assert (stored.width, stored.height) == (20, 60)


def test_the_same_photo_is_stored_once(tmp_path):
    data = jpeg_with_gps()
    first, second = photos.store_photo(data, tmp_path), photos.store_photo(data, tmp_path)
    assert first.hash == second.hash
    assert len(list((tmp_path / "photos").rglob("*.jpg"))) == 1


def test_transparent_png_becomes_a_jpeg_on_white(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(buffer, format="PNG")
    stored = photos.store_photo(buffer.getvalue(), tmp_path)
    with Image.open(stored.path) as clean:
        assert clean.mode == "RGB" and clean.getpixel((5, 5)) == (255, 255, 255)


def test_a_huge_file_is_refused_without_decoding(tmp_path, monkeypatch):
    def never(*_args, **_kwargs):
        raise AssertionError("decoded a file that was too big")

    monkeypatch.setattr(photos.Image, "open", never)
    with pytest.raises(InvalidInput) as raised:
        photos.store_photo(b"\xff\xd8\xff" + bytes(25 * 1024 * 1024), tmp_path)
    assert raised.value.key == "hazard.photo_too_big"
    assert raised.value.params == {"size_mb": 25.0, "limit_mb": 10}
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (b"%PDF-1.7\n1 0 obj << >> endobj\n", "hazard.photo_not_image"),
        (b"", "hazard.photo_not_image"),
        (jpeg_with_gps(size=(300, 300))[:1500], "hazard.photo_broken"),
        (png_claiming(100_000, 100_000), "hazard.photo_too_many_pixels"),
        (png_claiming(9000, 9000), "hazard.photo_too_many_pixels"),
    ],
    ids=["pdf", "empty", "truncated-jpeg", "bomb", "over-our-limit"],
)
def test_bad_uploads_are_refused_and_nothing_is_written(tmp_path, data, key):
    with pytest.raises(InvalidInput) as raised:
        photos.store_photo(data, tmp_path)
    assert raised.value.key == key
    assert not any(tmp_path.iterdir())


def test_gif_is_not_accepted(tmp_path):
    buffer = io.BytesIO()
    Image.new("P", (4, 4)).save(buffer, format="GIF")
    with pytest.raises(InvalidInput, match="photo_not_image"):
        photos.store_photo(buffer.getvalue(), tmp_path)


def test_paths_only_take_hashes(tmp_path):
    with pytest.raises(InvalidInput):
        photos.photo_path(tmp_path, "../../etc/passwd")
    assert photos.thumb_path(tmp_path, "a" * 64) == tmp_path / "thumbs" / f"{'a' * 64}.jpg"


def test_an_announced_size_is_checked_before_downloading():
    photos.check_size(None)  # unknown: the download is checked instead
    photos.check_size(photos.MAX_BYTES)
    with pytest.raises(InvalidInput) as raised:
        photos.check_size(25 * 1024 * 1024)
    assert raised.value.key == "hazard.photo_too_big"
    assert raised.value.params == {"size_mb": 25.0, "limit_mb": 10}
