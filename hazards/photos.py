"""Residents' photos: checked, cleaned of metadata and stored by content hash.

A phone photo carries EXIF with the GPS position of the resident's home; a hazard card is
posted in a group of neighbours, so every photo is decoded and re-encoded from pixels only
before anything else sees it. Everything here is blocking: call it through
`asyncio.to_thread`.
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
MAX_PIXELS = 50_000_000  # well above any phone camera, far below what would exhaust memory
MAX_SIDE = 2560  # stored size; enough to read a label, small enough for a chat
THUMB_SIDE = 320
JPEG_QUALITY = 85
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP"})
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


def _decode(data: bytes) -> Image.Image:
    """Open and fully decode, turning every way an upload can be bad into a clear refusal.

    MAX_PIXELS sits below Pillow's own bomb limit, so a huge image is refused from its header
    here, before its pixels are unpacked; Pillow's error covers anything beyond.
    """
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise InvalidInput("hazard.photo_too_many_pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise InvalidInput("hazard.photo_not_image") from None
    if image.format not in ACCEPTED_FORMATS:
        raise InvalidInput("hazard.photo_not_image")
    width, height = image.size
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise InvalidInput("hazard.photo_too_many_pixels")
    try:
        image.load()
    except (OSError, ValueError, SyntaxError, EOFError):
        # Truncated or corrupt data: Pillow refuses by default to make up the missing part.
        raise InvalidInput("hazard.photo_broken") from None
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

    The size limit is checked before a single byte is decoded.
    """
    check_size(len(data), max_bytes)
    if not data:
        raise InvalidInput("hazard.photo_not_image")
    image = _flatten(_decode(data))
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
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
