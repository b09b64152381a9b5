"""Residents' photos: checked, cleaned of metadata and stored by content hash.

A phone photo carries EXIF with the GPS position of the resident's home; a hazard card is
posted in a group of neighbours, so every photo is decoded and re-encoded from pixels only
before anything else sees it. Everything here is blocking: call it through
`asyncio.to_thread`.

Decoding is the one costly step (a 190 KB PNG claiming 7000×7000 once took 1.5 s and 600 MB),
so what it will cost is settled from the file's first bytes before a pixel is unpacked
(`check_header`): the byte size, the format by its signature, the canvas its header declares
(MAX_PIXELS) and the pixels that decoding would unpack (MAX_DECODED_PIXELS). A JPEG is decoded
at 1/2, 1/4 or 1/8 scale when it is that much larger than what we store (libjpeg scales while
it decodes), so a 50 MP phone photo unpacks about 12 MP; PNG and WebP cannot be decoded
scaled, so they are bounded by MAX_DECODED_PIXELS as declared.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from hub.errors import InvalidInput

MAX_BYTES = 10 * 1024 * 1024
# The canvas a header may declare: a phone's 48-50 MP "full resolution" JPEG (8160×6120) fits.
MAX_PIXELS = 50_000_000
# The pixels decoding may unpack, after JPEG's scaled decoding: a 24 MP camera frame
# (6000×4000) as PNG, far more than any phone photo needs once scaled (12.5 MP at most).
# Pillow keeps 4 bytes a pixel, and shrinking an image with alpha premultiplies it into a
# full-size copy first, so those count twice. Either way the peak stays under 150 MB, where
# the 7000×7000 PNG took 600 MB.
MAX_DECODED_PIXELS = 24_000_000
MAX_SIDE = 2560  # stored size; enough to read a label, small enough for a chat
THUMB_SIDE = 320
JPEG_QUALITY = 85
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP"})
# What each accepted format's file starts with: anything else is refused unopened.
SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
HASH_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StoredPhoto:
    hash: str
    path: Path
    thumb_path: Path
    width: int
    height: int
    size: int


def is_photo_hash(value: str | None) -> bool:
    return value is not None and HASH_RE.match(value) is not None


def photo_path(data_dir: Path, photo_hash: str) -> Path:
    """Where a photo lives; the hash is checked so no caller can walk out of the data dir."""
    if not is_photo_hash(photo_hash):
        raise InvalidInput("hazard.photo_unknown")
    return data_dir / "photos" / photo_hash[:2] / f"{photo_hash}.jpg"


def thumb_path(data_dir: Path, photo_hash: str) -> Path:
    if not is_photo_hash(photo_hash):
        raise InvalidInput("hazard.photo_unknown")
    return data_dir / "thumbs" / f"{photo_hash}.jpg"


def _has_signature(data: bytes) -> bool:
    return data.startswith(SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def _scaled_size(width: int, height: int) -> tuple[int, int]:
    """The size we store, the longest side at most MAX_SIDE: what a JPEG need be decoded to."""
    ratio = max(width, height) / MAX_SIDE
    if ratio <= 1:
        return width, height
    return max(1, int(width / ratio)), max(1, int(height / ratio))


def _open(data: bytes, max_bytes: int = MAX_BYTES) -> Image.Image:
    """Read the header only (Pillow opens lazily) and settle what decoding would cost.

    A JPEG is set to decode at the smallest scale that still covers the stored size
    (`draft`, which changes only how the decoder will run); the pixels that decoding will
    then unpack are `image.size`. MAX_PIXELS sits below Pillow's own bomb limit, so a huge
    image is refused here; Pillow's error covers anything beyond.
    """
    check_size(len(data), max_bytes)
    if not _has_signature(data):
        raise InvalidInput("hazard.photo_not_image")
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise InvalidInput("hazard.photo_too_many_pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise InvalidInput("hazard.photo_not_image") from None
    if image.format not in ACCEPTED_FORMATS:
        raise InvalidInput("hazard.photo_not_image")
    width, height = image.size
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise InvalidInput("hazard.photo_too_many_pixels")
    try:
        image.draft(None, _scaled_size(width, height))  # a no-op for formats other than JPEG
    except (OSError, ValueError, SyntaxError):
        raise InvalidInput("hazard.photo_broken") from None
    copies = 2 if _has_alpha(image) else 1
    if image.width * image.height * copies > MAX_DECODED_PIXELS:
        raise InvalidInput("hazard.photo_too_many_pixels")
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info


def check_header(data: bytes, max_bytes: int = MAX_BYTES) -> None:
    """Refuse an upload from its first bytes alone — too big, not a photo, too many pixels —
    without decoding it: cheap enough to run before anything else is spent on it."""
    _open(data, max_bytes)


def _decode(data: bytes, max_bytes: int = MAX_BYTES) -> Image.Image:
    """Check the header, then decode, turning every way an upload can be bad into a clear
    refusal. The result is at most MAX_SIDE on its longest side, in a mode that resizes well."""
    image = _open(data, max_bytes)
    try:
        image.load()
    except (OSError, ValueError, SyntaxError, EOFError):
        # Truncated or corrupt data: Pillow refuses by default to make up the missing part.
        raise InvalidInput("hazard.photo_broken") from None
    if image.mode not in ("L", "LA", "RGB", "RGBA", "CMYK"):
        # Palette, 1-bit and 16-bit images: resized as they are they would come out jagged.
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    # Down to the stored size before anything else. First by a whole factor (a box average
    # into a new image a quarter the size or less), because resampling a full-size image with
    # alpha makes two full-size copies of it; then LANCZOS for the last step.
    factor = max(image.size) // MAX_SIDE
    if factor >= 2:
        image = image.reduce(factor)
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return image


def _flatten(image: Image.Image) -> Image.Image:
    """Upright RGB pixels with nothing else attached (EXIF, GPS, XMP, comments all dropped)."""
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        clean = background
    else:
        clean = image.convert("RGB")
    clean.info = {}
    return clean


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    """Write beside the target and rename, so a reader never sees half a photo."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".jpg")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_size(size: int | None, max_bytes: int = MAX_BYTES) -> None:
    """Refuse an upload by its announced size, so a transport need not even download it."""
    if size is not None and size > max_bytes:
        raise InvalidInput(
            "hazard.photo_too_big",
            size_mb=round(size / 1024 / 1024, 1),
            limit_mb=round(max_bytes / 1024 / 1024),
        )


def clean_photo(data: bytes, max_bytes: int = MAX_BYTES) -> tuple[bytes, bytes, tuple[int, int]]:
    """Check an upload and return (clean JPEG, thumbnail JPEG, size) without storing anything.

    The header is checked (`check_header`) before a single byte is decoded.
    """
    image = _flatten(_decode(data, max_bytes))
    thumb = image.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return _jpeg(image), _jpeg(thumb), image.size


def store_photo(data: bytes, data_dir: Path, max_bytes: int = MAX_BYTES) -> StoredPhoto:
    """Clean a resident's photo and store it under its hash (the same photo is stored once).

    The hash is of the cleaned image, so two uploads that differ only in metadata share a file.
    """
    cleaned, thumb, (width, height) = clean_photo(data, max_bytes)
    digest = hashlib.sha256(cleaned).hexdigest()
    path = photo_path(data_dir, digest)
    small = thumb_path(data_dir, digest)
    if not path.exists():
        _write_atomic(path, cleaned)
    if not small.exists():
        _write_atomic(small, thumb)
    return StoredPhoto(digest, path, small, width, height, len(cleaned))
