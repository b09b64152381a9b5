"""`gridcast audio …`: speech, clips and the dialect-recording library from the command line.

A transport like the bot: each command is one call into audio/ and its answer. The CLI
acts as the operator ("cli" in the audit log), so its requests, imports and approvals
need no role; whatever it imports is approved at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.core import Hub
    from hub.settings import Settings

# audio/ pulls in numpy, scipy and ffmpeg: imported by the audio commands only, so the
# rest of the CLI starts as quickly as before.

CLI_ACTOR = "cli"
# What a user types (the hub's language names) -> the speech engines' language.
SAY_LANGUAGES = {"zh": "zh", "zh-Hans": "zh", "zh-Hant": "zh-TW", "yue": "yue", "en": "en"}
SAY_FORMATS = (".mp3", ".ogg")


class AudioCliError(Exception):
    """A mistake in how an audio command was called; cli.main prints it as one line."""


def audio_say(settings: Settings, args: argparse.Namespace) -> int:
    """No database: speech goes straight from the engine to the file."""
    from audio.ffmpeg import FFmpegError
    from audio.say import say
    from audio.settings import AudioSettings
    from audio.tts import TTSError

    out = Path(args.out)
    if out.suffix.lower() not in SAY_FORMATS:
        raise AudioCliError(f"{out.name}: --out must end in {' or '.join(SAY_FORMATS)}")
    audio = AudioSettings.for_data_dir(settings.data_dir, settings.tts_engine)
    try:
        say(args.text, SAY_LANGUAGES[args.lang], out, audio)
    except (TTSError, FFmpegError) as error:
        raise AudioCliError(str(error)) from None
    print(out)
    return 0


def _copy_out(clip: Any, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    copies = []
    for fmt, path in clip.paths.items():
        target = out_dir / f"{stem}.{fmt}"
        shutil.copyfile(path, target)
        copies.append(target)
    return copies


async def audio_render(hub: Hub, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from audio import library

    known = await library.catalogue(hub)
    ids = sorted(known.scripts) if args.script == "all" else [args.script]
    if args.dialect is not None:
        known.dialect(args.dialect)
    out_dir = Path(args.out) if args.out else None
    with tqdm(total=len(ids), unit="clip", disable=len(ids) < 2, file=sys.stderr) as progress:
        for script_id in ids:
            progress.set_description(script_id)
            clip = await library.render(hub, script_id, args.dialect)
            stem = script_id + (f".{args.dialect}" if args.dialect else "")
            paths = (
                await asyncio.to_thread(_copy_out, clip, out_dir, stem)
                if out_dir is not None
                else list(clip.paths.values())
            )
            progress.write(
                f"{script_id}\t{args.dialect or '-'}\t{clip.dialect_source or '-'}\t"
                f"{clip.duration_s:.1f} s\t{clip.clip_hash}\t" + " ".join(str(p) for p in paths),
                file=sys.stdout,
            )
            progress.update()
    return 0


async def audio_import(hub: Hub, args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as error:
        raise AudioCliError(f"cannot read {path}: {error.strerror}") from None
    from audio import library
    from audio.models import RecordingSource

    known = await library.catalogue(hub)
    async with hub.db.session() as session:
        added = await library.add_recording(
            session, known, hub.settings.data_dir, actor=CLI_ACTOR, data=data, hint=path.name,
            source=RecordingSource.CLI, now=hub.now(), script_id=args.script,
            dialect=args.dialect, speaker_name=args.speaker,
        )
    take = added.recording
    print(
        f"recording {take.id}: {take.script_id} in {take.dialect}, version {take.version}, "
        f"{take.duration_s:.1f} s, {take.loudness_lufs:.1f} LUFS, approved"
        + (f"; fulfilled request(s) {', '.join(map(str, added.fulfilled))}" if added.fulfilled else "")
    )
    return 0


async def audio_recordings(hub: Hub, args: argparse.Namespace) -> int:
    from audio import library

    async with hub.db.session() as session:
        found = await library.list_recordings(session, args.script, args.dialect)
    rows = [
        {
            "id": r.id, "script": r.script_id, "dialect": r.dialect, "version": r.version,
            "approved": r.approved, "duration_s": r.duration_s, "loudness_lufs": r.loudness_lufs,
            "speaker": r.speaker_name, "source": r.source.value, "path": r.path,
            "created_at": hub.local(r.created_at).isoformat(timespec="seconds"),
        }
        for r in found
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    for row in rows:
        state = "approved" if row["approved"] else "pending"
        print(
            f"{row['id']}\t{row['script']}\t{row['dialect']}\tv{row['version']}\t{state}\t"
            f"{row['duration_s']:.1f} s\t{row['loudness_lufs']:.1f} LUFS\t{row['speaker']}\t"
            f"{row['source']}\t{row['created_at']}"
        )
    return 0


async def audio_request(hub: Hub, args: argparse.Namespace) -> int:
    from audio import library

    known = await library.catalogue(hub)
    async with hub.db.session() as session:
        request = await library.request_recording(
            session, known, actor=CLI_ACTOR, script_id=args.script, dialect=args.dialect,
            grid_code=args.grid, now=hub.now(),
        )
    print(f"request {request.id}: {args.script} in {args.dialect} for grid {args.grid}")
    return 0


async def audio_approve(hub: Hub, args: argparse.Namespace) -> int:
    from audio import library

    async with hub.db.session() as session:
        take = await library.approve(session, actor=CLI_ACTOR, recording_id=args.id, now=hub.now())
    print(f"recording {take.id} approved: {take.script_id} in {take.dialect}, version {take.version}")
    return 0


def add_parser(sub: Any) -> None:
    """The `audio` command group, added to gridcast's parser by cli.main."""
    audio = sub.add_parser("audio", help="speech, clips and dialect recordings")
    cmds = audio.add_subparsers(dest="audio_command", required=True)

    p = cmds.add_parser("say", help="speak one text into an .mp3 or .ogg file")
    p.add_argument("text")
    p.add_argument("--lang", choices=list(SAY_LANGUAGES), default="zh")
    p.add_argument("--out", required=True, help="file to write; .mp3 or .ogg")
    p.set_defaults(plain=audio_say)

    p = cmds.add_parser("render", help="render a script's loudspeaker clip (or all of them)")
    p.add_argument("script", help="a script id from content/scripts, or 'all'")
    p.add_argument("--dialect", help="add this dialect (its approved recording, or its fallback)")
    p.add_argument("--out", help="also copy the clips here as <script>[.<dialect>].mp3/.ogg")
    p.set_defaults(func=audio_render)

    p = cmds.add_parser("import", help="add an audio file as a dialect recording")
    p.add_argument("file")
    p.add_argument("--script", required=True)
    p.add_argument("--dialect", required=True)
    p.add_argument("--speaker", required=True, help="who is speaking")
    p.set_defaults(func=audio_import)

    p = cmds.add_parser("recordings", help="list dialect recordings")
    p.add_argument("--script")
    p.add_argument("--dialect")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=audio_recordings)

    p = cmds.add_parser("request", help="ask a grid's workers to record a script in a dialect")
    p.add_argument("script")
    p.add_argument("--dialect", required=True)
    p.add_argument("--grid", required=True)
    p.set_defaults(func=audio_request)

    p = cmds.add_parser("approve", help="approve a pending recording")
    p.add_argument("id", type=int)
    p.set_defaults(func=audio_approve)
