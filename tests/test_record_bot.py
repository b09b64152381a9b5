"""/record end to end through the fake Bot API: a voice reply becomes a take, and the clip has it."""

import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import correlate
from sqlalchemy import select

from audio import espeak, library
from audio.library import Catalogue
from audio.models import Recording, RecordingRequest, RequestStatus
from audio.scripts import DialectText, Script
from audio.segment import write_wav
from hub import people
from hub.models import Role
from tests.audio_measure import FFMPEG, RATE, VOICE_LIKE, decode, make_audio
from tests.test_bot_start import seed

SHORT = Script(
    id="test-short",
    title="防火提醒",
    mandarin="请注意防火安全。",
    dialects={"putian": DialectText(reading="注意防火，注意安全")},
)
WORKER, RESIDENT = 5001, 6001


@pytest.fixture(scope="module")
def voice_ogg(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A worker's voice message: espeak-ng's Cantonese, encoded by ffmpeg as OGG/Opus."""
    folder = tmp_path_factory.mktemp("voice")
    speech = espeak.synthesize("請大家注意防火安全，唔好亂拋煙頭。", "yue", rate_wpm=150)
    write_wav(folder / "speech.wav", speech)
    out = folder / "voice.ogg"
    subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", "-y", "-i", str(folder / "speech.wav"), "-ar", "48000",
         "-c:a", "libopus", "-b:a", "24k", str(out)],
        check=True, timeout=60,
    )
    return out.read_bytes()


async def _ready(hub) -> int:
    """Grids, a worker of T1, and one open request for SHORT in Puxian for T1."""
    await seed(hub)
    known = Catalogue({**(await library.catalogue(hub)).scripts, SHORT.id: SHORT},
                      (await library.catalogue(hub)).dialects)
    hub.services[library.CATALOGUE] = known
    async with hub.db.session() as s:
        request = await library.request_recording(
            s, known, actor="test", script_id=SHORT.id, dialect="putian", grid_code="T1",
            now=hub.now(),
        )
    return request.id


async def _say(telegram, chat, user, text):
    mark = len(telegram.calls)
    telegram.send_message(chat, user, text)
    return await telegram.reply_to(chat["id"], since=mark)


async def _prompt(telegram, chat, user):
    """/record, then press the first request's button: the bot's prompt message."""
    listing = await _say(telegram, chat, user, "/record")
    button = listing.params["reply_markup"]["inline_keyboard"][0][0]
    mark = len(telegram.calls)
    query = telegram.press_button(chat, user, listing.result["message_id"], button["callback_data"])
    prompt = await telegram.reply_to(chat["id"], since=mark)
    await telegram.wait_for("answerCallbackQuery", lambda c: c.params["callback_query_id"] == query)
    return listing, button, prompt


def _best_match(clip: np.ndarray, sound: np.ndarray) -> tuple[float, float]:
    """Highest normalised cross-correlation of `sound` anywhere in `clip`, and where (s)."""
    raw = correlate(clip.astype(np.float64), sound.astype(np.float64), mode="valid", method="fft")
    energy = np.concatenate([[0.0], np.cumsum(clip.astype(np.float64) ** 2)])
    window = energy[len(sound):] - energy[: len(energy) - len(sound)]
    score = np.abs(raw) / (np.sqrt(np.maximum(window, 1e-12)) * np.linalg.norm(sound))
    best = int(np.argmax(score))
    return float(score[best]), best / RATE


def _voiced(samples: np.ndarray) -> np.ndarray:
    """The sound between the first and last window within 40 dB of the loudest."""
    size = RATE // 100
    count = len(samples) // size
    levels = 10 * np.log10(np.mean(samples[: count * size].reshape(count, size) ** 2, axis=1) + 1e-20)
    loud = np.flatnonzero(levels > levels.max() - 40)
    return samples[loud[0] * size : (loud[-1] + 1) * size]


async def test_voice_reply_becomes_a_recording_and_the_next_clip_contains_it(
    bot, bot_hub, telegram, voice_ogg, tmp_path
):
    request_id = await _ready(bot_hub)
    before = await library.render(bot_hub, SHORT.id, "putian", formats=("mp3",))
    assert before.dialect_source == "mandarin"

    worker = telegram.user(WORKER, "王芳")
    chat = telegram.private(worker)
    listing, button, prompt = await _prompt(telegram, chat, worker)
    assert "1" in listing.params["text"]
    assert button["callback_data"] == f"rec:{request_id}" and "莆仙话" in button["text"]
    text = prompt.params["text"]
    assert f"#R{request_id}" in text and "莆仙话" in text
    assert SHORT.mandarin in text and "注意防火，注意安全" in text
    assert prompt.params["reply_markup"]["force_reply"] is True

    mark = len(telegram.calls)
    telegram.send_voice(chat, worker, voice_ogg, duration=3, reply_to=prompt.result["message_id"])
    saved = await telegram.reply_to(WORKER, since=mark, timeout=15)
    assert "第 1 版" in saved.params["text"] and "LUFS" in saved.params["text"]
    assert "下次播放" in saved.params["text"]  # a worker answering their grid's request: approved
    assert any(c.method == "getFile" for c in telegram.calls[mark:])

    async with bot_hub.db.session() as s:
        take = await s.scalar(select(Recording))
        request = await s.get(RecordingRequest, request_id)
    assert take.approved and take.speaker_name == "王芳" and take.request_id == request_id
    assert request.status is RequestStatus.FULFILLED
    assert f"{take.duration_s:.1f} 秒" in saved.params["text"]
    assert f"{take.loudness_lufs:.1f} LUFS" in saved.params["text"]

    after = await library.render(bot_hub, SHORT.id, "putian", formats=("mp3",))
    assert after.dialect_source == "recording" and after.clip_hash != before.clip_hash
    # Listen: the clip grew by the take plus one pause, and the take is in the dialect span.
    (voice_path := tmp_path / "sent.ogg").write_bytes(voice_ogg)
    voice = _voiced(decode(voice_path))
    pause = library.audio_settings(bot_hub).pause_ms / 1000
    grown = after.duration_s - before.duration_s
    assert grown == pytest.approx(len(voice) / RATE + pause, abs=0.15)
    span = next(s for s in after.segments if s.kind == "dialect")
    score, at = _best_match(decode(after.paths["mp3"]), voice)
    assert score > 0.8 and span.start_s - 0.1 <= at <= span.start_s + 0.2
    score_before, _ = _best_match(decode(before.paths["mp3"]), voice)
    assert score_before < 0.4
    assert (await library.render(bot_hub, SHORT.id, "putian", formats=("mp3",))).cache_hit

    # The request is done: /record has nothing left, and the prompt cannot be answered again.
    assert "没有待录制" in (await _say(telegram, chat, worker, "/record")).params["text"]
    mark = len(telegram.calls)
    telegram.send_voice(chat, worker, voice_ogg, duration=3, reply_to=prompt.result["message_id"])
    again = await telegram.reply_to(WORKER, since=mark, timeout=15)
    assert "已经完成" in again.params["text"]


async def test_audio_file_and_typed_request_number(bot, bot_hub, telegram, tmp_path):
    request_id = await _ready(bot_hub)
    worker = telegram.user(WORKER, "王芳", language_code="en")
    chat = telegram.private(worker)
    prompt = await _say(telegram, chat, worker, f"/record {request_id}")
    assert f"#R{request_id}" in prompt.params["text"] and "Puxian" in prompt.params["text"]
    m4a = make_audio(tmp_path / "take.m4a", VOICE_LIKE, 2.5, "-c:a", "aac", "-b:a", "64k")
    mark = len(telegram.calls)
    telegram.send_audio(chat, worker, m4a, 3, "take.m4a", "audio/mp4",
                        reply_to=prompt.result["message_id"])
    saved = await telegram.reply_to(WORKER, since=mark, timeout=15)
    assert "version 1" in saved.params["text"] and "2.5 s" in saved.params["text"]


def _refusals(tmp_path: Path) -> list[tuple[str, str, bytes, str]]:
    """(how it is sent, file name, bytes, what the worker is told) for each reason."""
    return [
        ("document", "notes.txt", "今天的会议记录\n".encode() * 40, "这不是音频文件"),
        ("voice", "s.ogg",
         make_audio(tmp_path / "s.ogg", "anullsrc=r=48000:cl=mono", 3.0, "-c:a", "libopus"),
         "听不到声音"),
        ("voice", "c.ogg",
         make_audio(tmp_path / "c.ogg", VOICE_LIKE, 3.0, "-af", "volume=12", "-c:a", "libopus"),
         "削顶"),
        ("voice", "long.ogg",
         make_audio(tmp_path / "long.ogg", "sine=f=300:r=8000", 301.0, "-c:a", "libopus",
                    "-b:a", "6k"),
         "最多 5 分钟"),
        ("document", "empty.ogg", b"", "是空的"),
    ]


async def test_each_bad_take_is_refused_with_its_reason(bot, bot_hub, telegram, tmp_path):
    request_id = await _ready(bot_hub)
    worker = telegram.user(WORKER, "王芳")
    chat = telegram.private(worker)
    _, _, prompt = await _prompt(telegram, chat, worker)
    for kind, name, data, expected in _refusals(tmp_path):
        mark = len(telegram.calls)
        if kind == "voice":
            telegram.send_voice(chat, worker, data, duration=3, reply_to=prompt.result["message_id"])
        else:
            telegram.send_document(chat, worker, data, name, "text/plain" if name.endswith("txt")
                                   else "audio/ogg", reply_to=prompt.result["message_id"])
        reply = await telegram.reply_to(WORKER, since=mark, timeout=15)
        assert expected in reply.params["text"], (name, reply.params["text"])
    async with bot_hub.db.session() as s:
        assert (await s.scalars(select(Recording))).all() == []
        assert (await s.get(RecordingRequest, request_id)).status is RequestStatus.OPEN
    folder = library.recordings_dir(bot_hub.settings.data_dir)
    assert not folder.exists() or not any(folder.iterdir())


async def test_refusal_is_in_the_workers_language(bot, bot_hub, telegram, tmp_path):
    await _ready(bot_hub)
    worker = telegram.user(WORKER, "Wang", language_code="en")
    chat = telegram.private(worker)
    _, _, prompt = await _prompt(telegram, chat, worker)
    clipped = make_audio(tmp_path / "c.ogg", VOICE_LIKE, 3.0, "-af", "volume=12", "-c:a", "libopus")
    mark = len(telegram.calls)
    telegram.send_voice(chat, worker, clipped, duration=3, reply_to=prompt.result["message_id"])
    reply = await telegram.reply_to(WORKER, since=mark, timeout=15)
    assert "too loud and distorted" in reply.params["text"] and "%" in reply.params["text"]


async def test_voice_without_a_prompt_and_residents_are_told_clearly(bot, bot_hub, telegram, voice_ogg):
    await _ready(bot_hub)
    worker = telegram.user(WORKER, "王芳")
    chat = telegram.private(worker)
    mark = len(telegram.calls)
    telegram.send_voice(chat, worker, voice_ogg, duration=3)
    reply = await telegram.reply_to(WORKER, since=mark)
    assert "/record" in reply.params["text"] and "回复" in reply.params["text"]
    # A reply to one of the worker's own messages is not a reply to a prompt either.
    mark = len(telegram.calls)
    own = telegram.send_message(chat, worker, "#R1 我自己写的")
    await telegram.reply_to(WORKER, since=mark)  # plain text in private is a question
    mark = len(telegram.calls)
    telegram.send_voice(chat, worker, voice_ogg, duration=3,
                        reply_to=own["message"]["message_id"])
    assert "/record" in (await telegram.reply_to(WORKER, since=mark)).params["text"]

    resident = telegram.user(RESIDENT, "张阿姨")
    refused = await _say(telegram, telegram.private(resident), resident, "/record")
    assert refused.params["text"] == "只有网格员才能这样做。"
    group = telegram.group(-1001)
    assert "私聊" in (await _say(telegram, group, worker, "/record")).params["text"]
    async with bot_hub.db.session() as s:
        assert (await s.scalars(select(Recording))).all() == []


async def test_worker_of_another_grid_cannot_answer_the_request(bot, bot_hub, telegram):
    request_id = await _ready(bot_hub)
    async with bot_hub.db.session() as s:
        await people.appoint(s, telegram_id=5002, name="李强", role=Role.WORKER, grid_code="T2",
                             actor="test", now=bot_hub.now())
    other = telegram.user(5002, "李强")
    chat = telegram.private(other)
    assert "没有待录制" in (await _say(telegram, chat, other, "/record")).params["text"]
    refused = await _say(telegram, chat, other, f"/record {request_id}")
    assert refused.params["text"] == "网格 T1 不在您负责的范围内。"
