"""The clips on disk, named by their SHA-256, and checked again before each play.

A download lands here only after its hash matched (see `hubapi.HubClient.download`); the
check before a play catches what happened to it since — an SD card that rotted a clip
makes the play fail and the clip get fetched again, never a noise on the loudspeaker. A
clip already checked is not hashed again while its size and mtime stay the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from speaker_agent.hubapi import file_sha256
from speaker_agent.plan import Item

CLIP_NAME = re.compile(r"^\.?[0-9a-f]{64}\.(mp3|ogg)(\.part)?$")


class ClipCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._checked: dict[Path, tuple[int, int]] = {}

    def path(self, item: Item) -> Path:
        return self.folder / item.clip.filename

    def present(self, item: Item) -> bool:
        return self.path(item).exists()

    @staticmethod
    def _signature(path: Path) -> tuple[int, int]:
        stat = path.stat()
        return stat.st_size, stat.st_mtime_ns

    def checked(self, path: Path) -> None:
        """`path` was just written and verified."""
        self._checked[path] = self._signature(path)

    def intact(self, item: Item) -> bool:
        """True if the clip may play; a clip that fails its hash is deleted. Blocking."""
        path = self.path(item)
        try:
            signature = self._signature(path)
            if self._checked.get(path) == signature:
                return True
            if file_sha256(path) == item.clip.sha256:
                self._checked[path] = signature
                return True
        except OSError:
            return False
        path.unlink(missing_ok=True)
        self._checked.pop(path, None)
        return False

    def keep_only(self, filenames: Iterable[str]) -> None:
        """Delete the clips (and stale partial downloads) no schedule needs. Blocking."""
        keep = set(filenames)
        for path in self.folder.iterdir():
            if path.name not in keep and CLIP_NAME.match(path.name):
                path.unlink(missing_ok=True)
                self._checked.pop(path, None)
