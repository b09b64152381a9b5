"""Benchmark: what a resident's photo costs to check and clean, against decoding it whole.

Each case runs in a fresh process whose peak resident memory (VmHWM, reset through
/proc/self/clear_refs just before) is read after the photo, less what it held before:

  7000×7000 PNG    ~200 KB of flat colour that unpacks to 49 MP: the decompression bomb of #12
  50 MP JPEG       a phone's "full resolution" frame, 8160×6120
  12 MP JPEG       an ordinary phone photo, 4032×3024

"gridcast" is `hazards.photos.clean_photo` (header check, scaled JPEG decoding, the pixel
ceilings, re-encoding at the stored size). The baseline, run beside it, is what the hub did
before #12 and what a naive handler does: Pillow decodes the whole image, then shrinks it to
the same stored size and encodes the same JPEG. Printed per case: time and peak memory of
both, and their ratios. Targets: the bomb is refused for under a tenth of the baseline's
time and memory; no accepted photo costs more than 150 MB at its peak.

Run: .venv/bin/python bench/photo_decode.py
"""

from __future__ import annotations

import io
import multiprocessing
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PEAK_LIMIT_MB = 150.0


def make_png(side: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (side, side), (200, 200, 200)).save(out, "PNG", optimize=True)
    return out.getvalue()


def make_jpeg(width: int, height: int) -> bytes:
    from PIL import Image

    # A gradient with some texture, so the JPEG has real content to decode.
    small = Image.effect_noise((width // 16, height // 16), 60).convert("RGB")
    out = io.BytesIO()
    small.resize((width, height), Image.Resampling.BILINEAR).save(out, "JPEG", quality=90)
    return out.getvalue()


def naive(data: bytes) -> str:
    from PIL import Image

    from hazards.photos import JPEG_QUALITY, MAX_SIDE

    Image.MAX_IMAGE_PIXELS = None  # the pre-#12 hub let Pillow decode whatever it was sent
    image = Image.open(io.BytesIO(data))
    image.load()
    image = image.convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    image.save(io.BytesIO(), "JPEG", quality=JPEG_QUALITY)
    return f"decoded {image.size[0]}×{image.size[1]}"


def gridcast(data: bytes) -> str:
    from hazards.photos import clean_photo
    from hub.errors import InvalidInput

    try:
        _, _, size = clean_photo(data)
    except InvalidInput as refusal:
        return f"refused ({refusal.key})"
    return f"stored {size[0]}×{size[1]}"


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _measure(which: str, data: bytes, answer: multiprocessing.Queue) -> None:
    import PIL.Image  # noqa: F401 - imported before the baseline RSS is read

    import hazards.photos  # noqa: F401

    Path("/proc/self/clear_refs").write_text("5")  # Linux: the peak (VmHWM) restarts from now
    before = _status_kb("VmRSS")
    started = time.perf_counter()
    outcome = (naive if which == "naive" else gridcast)(data)
    seconds = time.perf_counter() - started
    peak_kb = _status_kb("VmHWM") - before
    answer.put((seconds, peak_kb / 1024, outcome))


def measure(which: str, data: bytes) -> tuple[float, float, str]:
    context = multiprocessing.get_context("spawn")
    answer = context.Queue()
    process = context.Process(target=_measure, args=(which, data, answer))
    process.start()
    result = answer.get(timeout=300)
    process.join()
    return result


def main() -> int:
    cases = [
        ("7000×7000 PNG", make_png(7000)),
        ("50 MP JPEG", make_jpeg(8160, 6120)),
        ("12 MP JPEG", make_jpeg(4032, 3024)),
    ]
    print(f"{'photo':15} {'bytes':>9}  {'gridcast':>22}  {'whole decode':>22}  {'time':>6} {'memory':>7}  outcome")
    verdicts = []
    for name, data in cases:
        ours = measure("gridcast", data)
        base = measure("naive", data)
        time_ratio, memory_ratio = ours[0] / base[0], max(ours[1], 0.1) / max(base[1], 0.1)
        print(f"{name:15} {len(data):9,}  {ours[0]:7.2f} s {ours[1]:8.0f} MB   {base[0]:7.2f} s {base[1]:8.0f} MB "
              f"  {time_ratio:5.2f}× {memory_ratio:6.2f}×  {ours[2]}; baseline {base[2]}")
        if name.endswith("PNG"):
            verdicts.append(("bomb refused for < 0.1× the time and memory",
                             ours[2].startswith("refused") and time_ratio < 0.1 and memory_ratio < 0.1))
        else:
            verdicts.append((f"{name} peak <= {PEAK_LIMIT_MB:.0f} MB", ours[1] <= PEAK_LIMIT_MB))
    print("ratios: gridcast / whole decode, in the same run; memory: peak RSS less the RSS before, in a fresh process")
    for label, ok in verdicts:
        print(f"{label}: {'met' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
