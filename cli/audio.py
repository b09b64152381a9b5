"""`gridcast audio …`: speech, clips and the dialect-recording library from the command line.

A transport like the bot: each command is one call into audio/ and its answer. The CLI
acts as the operator ("cli" in the audit log), so its requests, imports and approvals
need no role; whatever it imports is approved at once.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from pathlib import Path
from typing import Any

from cli.common import (
    CLI_ACTOR,
    JSON,
    CliError,
    arg,
    command,
    group,
    print_json,
    read_input,
    with_hub,
)
from hub.core import Hub
from hub.settings import Settings

# audio/ pulls in numpy, scipy and ffmpeg: imported by the audio commands only, so the
# rest of the CLI starts as quickly as before.

# What a user types (the hub's language names) -> the speech engines' language.
SAY_LANGUAGES = {"zh": "zh", "zh-Hans": "zh", "zh-Hant": "zh-TW", "yue": "yue", "en": "en"}
SAY_FORMATS = (".mp3", ".ogg")


def audio_say(settings: Settings, args: argparse.Namespace) -> int:
    """No database: speech goes straight from the engine to the file."""
    from audio.ffmpeg import FFmpegError
    from audio.say import say
    from audio.settings import AudioSettings
    from audio.tts import TTSError

    out = Path(args.out)
    if out.suffix.lower() not in SAY_FORMATS:
        raise CliError(f"{out.name}: --out must end in {' or '.join(SAY_FORMATS)}")
    audio = AudioSettings.of(settings)
    try:
        say(args.text, SAY_LANGUAGES[args.lang], out, audio)
    except (TTSError, FFmpegError) as error:
        raise CliError(str(error)) from None
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


@with_hub
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


@with_hub
async def audio_import(hub: Hub, args: argparse.Namespace) -> int:
    path = Path(args.file)
    data = await read_input(path)
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


@with_hub
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
        print_json(rows)
        return 0
    for row in rows:
        state = "approved" if row["approved"] else "pending"
        print(
            f"{row['id']}\t{row['script']}\t{row['dialect']}\tv{row['version']}\t{state}\t"
            f"{row['duration_s']:.1f} s\t{row['loudness_lufs']:.1f} LUFS\t{row['speaker']}\t"
            f"{row['source']}\t{row['created_at']}"
        )
    return 0


@with_hub
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


@with_hub
async def audio_approve(hub: Hub, args: argparse.Namespace) -> int:
    from audio import library

    async with hub.db.session() as session:
        take = await library.approve(session, actor=CLI_ACTOR, recording_id=args.id, now=hub.now())
    print(f"recording {take.id} approved: {take.script_id} in {take.dialect}, version {take.version}")
    return 0


def add_parser(sub: Any) -> None:
    """The `audio` command group, added to gridcast's parser by cli.main."""
    cmds = group(sub, "audio", "speech, clips and dialect recordings")
    command(
        cmds, "say", audio_say, "speak one text into an .mp3 or .ogg file",
        arg("text"),
        arg("--lang", choices=list(SAY_LANGUAGES), default="zh"),
        arg("--out", required=True, help="file to write; .mp3 or .ogg"),
    )
    command(
        cmds, "render", audio_render, "render a script's loudspeaker clip (or all of them)",
        arg("script", help="a script id from content/scripts, or 'all'"),
        arg("--dialect", help="add this dialect (its approved recording, or its fallback)"),
        arg("--out", help="also copy the clips here as <script>[.<dialect>].mp3/.ogg"),
    )
    command(
        cmds, "import", audio_import, "add an audio file as a dialect recording",
        arg("file"),
        arg("--script", required=True),
        arg("--dialect", required=True),
        arg("--speaker", required=True, help="who is speaking"),
    )
    command(
        cmds, "recordings", audio_recordings, "list dialect recordings",
        arg("--script"), arg("--dialect"), JSON,
    )
    command(
        cmds, "request", audio_request, "ask a grid's workers to record a script in a dialect",
        arg("script"), arg("--dialect", required=True), arg("--grid", required=True),
    )
    command(cmds, "approve", audio_approve, "approve a pending recording", arg("id", type=int))
