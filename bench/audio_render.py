"""Benchmark: render a one-minute loudspeaker clip, against one raw ffmpeg command.

The clip is what a village loudspeaker plays: chime in, Mandarin speech (espeak-ng), a
dialect recording (an OGG/Opus voice message, as Telegram delivers it), chime out, with
pauses; each part loudness-matched, the whole normalised to -16 LUFS / -1 dBTP and encoded
to MP3 and OGG/Opus. The baseline is a single ffmpeg command doing the same concat,
loudnorm and the same two encodes from the same inputs (already synthesised).

Prints: speed as a multiple of real time (cold, and with speech already cached), the
cache-hit time, and the ratio of our render to the baseline. Targets: >= 20x real time,
cache hit <= 20 ms, ratio <= 1.5. Run: .venv/bin/python bench/audio_render.py [--check]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from audio import espeak
from audio.assembly import RenderedClip, render_script
from audio.chimes import load_chime, synthesize_chime
from audio.ffmpeg import encode, ffmpeg_exe
from audio.measure import measure
from audio.recordings import store_recording
from audio.scripts import load_scripts
from audio.segment import write_wav
from audio.settings import AudioSettings
from audio.tts import load, plan

TARGET_SPEED = 20.0
TARGET_HIT_MS = 20.0
TARGET_RATIO = 1.5
SCRIPT_ID = "autumn-winter-fire"
DIALECT = "putian"


def _voice_message(work: Path, text: str) -> bytes:
    """A stand-in for a worker's Telegram voice message: speech encoded as OGG/Opus."""
    speech = espeak.synthesize(text, "yue", rate_wpm=140).resampled(48000)
    path = work / "voice.ogg"
    encode(speech, {"ogg": path})
    return path.read_bytes()


def _timed(call: object, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _baseline_inputs(work: Path, settings: AudioSettings, script_mandarin: str) -> list[Path]:
    rate = settings.sample_rate
    inputs = []
    for name in ("ding-dong-in", "mandarin", "recording", "ding-dong-out"):
        path = work / f"in-{name}.wav"
        if name == "mandarin":
            write_wav(path, load(plan(script_mandarin, "zh", settings), settings))
        elif name == "recording":
            path = work / "recording.flac"
        else:
            write_wav(path, synthesize_chime(load_chime(name), rate))
        inputs.append(path)
    return inputs


def _baseline(inputs: list[Path], out: Path, settings: AudioSettings) -> None:
    """One ffmpeg command: pauses, concat, single-pass loudnorm, MP3 and OGG/Opus."""
    pause = settings.pause_ms / 1000
    cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y"]
    for path in inputs:
        cmd += ["-i", str(path)]
    chains, labels = [], []
    for index in range(len(inputs)):
        chains.append(
            f"[{index}:a]aformat=sample_rates={settings.sample_rate}:channel_layouts=mono[p{index}]"
        )
        labels.append(f"[p{index}]")
        if index < len(inputs) - 1:
            chains.append(f"aevalsrc=0:d={pause}:s={settings.sample_rate}:c=mono[g{index}]")
            labels.append(f"[g{index}]")
    chains.append(
        f"{''.join(labels)}concat=n={len(labels)}:v=0:a=1,"
        f"loudnorm=I={settings.target_lufs}:TP={settings.true_peak_db},"
        f"aresample={settings.sample_rate},asplit=2[mp3][ogg]"
    )
    cmd += ["-filter_complex", ";".join(chains)]
    cmd += ["-map", "[mp3]", "-ac", "1", "-c:a", "libmp3lame", "-q:a", str(settings.mp3_quality)]
    cmd += [str(out.with_suffix(".mp3"))]
    cmd += [
        "-map",
        "[ogg]",
        "-ac",
        "1",
        "-c:a",
        "libopus",
        "-b:a",
        f"{settings.opus_bitrate_kbps}k",
    ]
    cmd += ["-ar", "48000", str(out.with_suffix(".ogg"))]
    subprocess.run(cmd, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    script = load_scripts()[SCRIPT_ID].model_copy(update={"repeat": 1})
    with tempfile.TemporaryDirectory(prefix="gridcast-bench-") as folder:
        work = Path(folder)
        settings = AudioSettings(cache_dir=work / "cache")
        # The worker reads the dialect text aloud; espeak-ng's Cantonese stands in for them.
        spoken = script.speech_text_for("cantonese") or script.mandarin
        stored = store_recording(_voice_message(work, spoken), work / "rec", "voice.ogg")
        shutil.copy(stored.path, work / "recording.flac")

        def render() -> RenderedClip:
            return render_script(script, settings, DIALECT, stored.path, stored.content_hash)

        def render_cold() -> RenderedClip:
            shutil.rmtree(settings.cache_dir, ignore_errors=True)
            return render()

        def render_speech_cached() -> RenderedClip:
            for path in settings.cache_dir.glob("*.*"):
                path.unlink()
            return render()

        render_cold()  # warm-up: library loading, imports, first-call costs
        cold, clip = _timed(render_cold, args.repeats)
        warm, clip = _timed(render_speech_cached, args.repeats)
        hit, again = _timed(render, max(args.repeats, 5))
        assert (
            isinstance(clip, RenderedClip) and isinstance(again, RenderedClip) and again.cache_hit
        )

        inputs = _baseline_inputs(work, settings, script.mandarin)
        base_out = work / "baseline"
        baseline, _ = _timed(lambda: _baseline(inputs, base_out, settings), args.repeats)

        ours = measure(clip.paths["mp3"])
        theirs = measure(base_out.with_suffix(".mp3"))
        parts = ", ".join(f"{s.kind} {s.end_s - s.start_s:.1f} s" for s in clip.segments)

    duration = clip.duration_s
    speed_cold, speed_warm = duration / cold, duration / warm
    ratio_cold, ratio_warm = cold / baseline, warm / baseline
    print(f"clip: {duration:.1f} s ({parts}; pauses {settings.pause_ms} ms), mp3 + ogg/opus")
    print(
        f"render, cold (synthesis, decode, normalise, encode): {cold:.3f} s = {speed_cold:.1f}x real time"
    )
    print(
        f"render, speech already cached:                      {warm:.3f} s = {speed_warm:.1f}x real time"
    )
    print(f"cache hit:                                           {hit * 1000:.2f} ms")
    print(f"baseline, one ffmpeg command (concat, loudnorm, encode): {baseline:.3f} s")
    print(f"ratio to baseline: {ratio_cold:.2f} cold, {ratio_warm:.2f} speech cached")
    print(
        f"loudness of the MP3: ours {ours.integrated_lufs:.1f} LUFS / {ours.true_peak_db:.1f} dBTP, "
        f"baseline {theirs.integrated_lufs:.1f} LUFS / {theirs.true_peak_db:.1f} dBTP"
    )
    print(
        f"targets: >= {TARGET_SPEED:.0f}x real time, cache hit <= {TARGET_HIT_MS:.0f} ms, ratio <= {TARGET_RATIO}"
    )
    missed = speed_cold < TARGET_SPEED or hit * 1000 > TARGET_HIT_MS or ratio_cold > TARGET_RATIO
    print("all targets met" if not missed else "TARGET MISSED")
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
