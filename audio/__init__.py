"""Clip making: speech engines, dialect recordings, assembly, loudness, cache (imports `hub` only).

Where things are, for the transports and the scheduler:
- audio.settings.AudioSettings: what shapes the sound; `of(settings)` for the hub's,
  `for_data_dir(data_dir, tts_engine)` for a folder of one's own.
- audio.tts.synthesize(text, lang, settings): espeak-ng offline, or gTTS falling back to it.
- audio.say.say(text, lang, out, settings): one sentence to .mp3/.ogg/.wav (`gridcast audio say`).
- audio.scripts.load_scripts() / load_dialects(): content/scripts/*.yaml, content/dialects.yaml.
- audio.assembly.render_script(...) / clip_name(...): clips named by the hash of their sound.
- audio.recordings.validate_recording(...) / store_recording(...): dialect uploads.
- audio.measure.measure(path_or_segment): duration, loudness, true peak, silent ends.

Every function here blocks (ffmpeg, espeak-ng, numpy); async callers use asyncio.to_thread.
"""
