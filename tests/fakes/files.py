"""Files the bot sends and fetches: photos, voice, audio and documents, uploaded or by file_id.

An upload arrives as a multipart field, by "attach://name", or as the file_id of a file the
fake already holds; `getFile` gives the path the server's download route serves.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.messages import Messages
from tests.fakes.state import ApiError


class Files(Messages):
    def _media(self, p: dict[str, Any], f: dict[str, bytes], field_name: str) -> bytes:
        value = p.get(field_name)
        if field_name in f:
            return f[field_name]
        if isinstance(value, str) and value.startswith("attach://") and value[9:] in f:
            return f[value[9:]]
        if isinstance(value, str) and value in self.files:
            return self.files[value][0]
        raise ApiError(400, f"Bad Request: there is no {field_name} in the request")

    async def _m_sendPhoto(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        data = self._media(p, f, "photo")
        return self._outgoing(p, photo=self._photo_sizes(data), caption=p.get("caption"))

    async def _send_file(self, p: dict[str, Any], f: dict[str, bytes], kind: str, suffix: str,
                         mime: str) -> Any:
        data = self._media(p, f, kind)
        file_id, _ = self._new_file(data, kind, suffix)
        obj = {"file_id": file_id, "file_unique_id": file_id[-12:], "file_size": len(data),
               "mime_type": mime}
        if kind in {"voice", "audio"}:
            obj["duration"] = int(p.get("duration") or 0)
        return self._outgoing(p, **{kind: obj}, caption=p.get("caption"))

    async def _m_sendVoice(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return await self._send_file(p, f, "voice", "oga", "audio/ogg")

    async def _m_sendAudio(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return await self._send_file(p, f, "audio", "mp3", "audio/mpeg")

    async def _m_sendDocument(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return await self._send_file(p, f, "document", "bin", "application/octet-stream")

    async def _m_getFile(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        self._require(p, "file_id")
        if p["file_id"] not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        data, path = self.files[p["file_id"]]
        return {"file_id": p["file_id"], "file_unique_id": p["file_id"][-12:],
                "file_size": len(data), "file_path": path}
