"""How long a picture takes to take in, and how much memory: a phone photo (4032x3024
JPEG with EXIF) and a large PNG, each read, turned, re-saved without metadata and
thumbnailed by chat.uploads.picture, as an upload is. Medians of 5 runs, and the process's
peak memory (the pixels are outside Python's heap, so ru_maxrss, not tracemalloc).

    .venv/bin/python bench/upload_look.py
"""

from __future__ import annotations

import io
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, PngImagePlugin

from chat.uploads import picture


def photo(size: tuple[int, int], image_format: str, tagged: bool = True) -> bytes:
    # Noise compresses like a photo does, unlike a flat colour.
    image = Image.effect_noise(size, 60).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    if image_format == "JPEG":
        image.save(out, image_format, exif=exif.tobytes(), quality=90)
    else:
        chunks = PngImagePlugin.PngInfo()
        if tagged:
            chunks.add_text("Software", "a screenshot tool")  # so it is re-encoded
        image.save(out, image_format, pnginfo=chunks)
    return out.getvalue()


def main() -> None:
    for label, size, image_format, tagged in (
        ("phone photo 4032x3024 JPEG", (4032, 3024), "JPEG", True),
        ("2880x1800 PNG with a text chunk", (2880, 1800), "PNG", True),
        ("2880x1800 PNG, pixels only (kept as it came)", (2880, 1800), "PNG", False),
    ):
        data = photo(size, image_format, tagged)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        times = []
        for _ in range(5):
            started = time.perf_counter()
            result = picture(io.BytesIO(data), max_pixels=50_000_000, thumbnail_px=480)
            times.append(time.perf_counter() - started)
        assert result is not None
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(
            f"{label}: {len(data) / 1e6:.1f} MB in, {statistics.median(times) * 1000:.0f} ms, "
            f"kept {len(result.cleaned or b'') / 1e6:.1f} MB, "
            f"thumbnail {len(result.thumbnail) / 1e3:.0f} kB, "
            f"peak memory +{(peak - before) / 1024:.0f} MB (process {peak / 1024:.0f} MB)"
        )


if __name__ == "__main__":
    main()
