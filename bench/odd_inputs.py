"""Odd and damaged uploads, end to end: every file must give a report or one clear InputError, never another
exception, and within a time limit. A robustness sweep to rerun after touching media, faces or evidence code.

    .venv/bin/python bench/odd_inputs.py [--source CLIP] [--checkpoint X] [--cuts 0.01 0.05 0.3 0.7 0.97] [--seed 0]

From one source clip with a face and speech (default: the first held-out real clip of the bundle under
../shared/data) it makes, in a temporary folder deleted afterwards, the file types people upload (containers and
codecs through the ffmpeg that imageio-ffmpeg ships; photo formats through Pillow and pillow-heif; non-media files),
then copies of each cut at ``--cuts`` of their length and with random bytes overwritten. Prints one line per file
that is slow or fails badly, a table of outcomes per variant, and exits 1 if any file raised something other than an
InputError or took longer than ``--max-s``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"

# name -> ffmpeg output options (input: the source clip, first 3 s)
VIDEOS: dict[str, list[str]] = {
    "h264.mp4": ["-c:v", "libx264", "-c:a", "aac"],
    "h264_yuv444.mp4": ["-c:v", "libx264", "-pix_fmt", "yuv444p", "-c:a", "aac"],
    "hevc10.mov": ["-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-tag:v", "hvc1", "-c:a", "aac"],
    "vp9_opus.webm": ["-c:v", "libvpx-vp9", "-b:v", "300k", "-c:a", "libopus"],
    "av1.mkv": ["-c:v", "libaom-av1", "-cpu-used", "8", "-c:a", "libopus"],
    "mpeg4_mp3.avi": ["-c:v", "mpeg4", "-c:a", "libmp3lame"],
    "mjpeg_pcm.avi": ["-c:v", "mjpeg", "-q:v", "5", "-c:a", "pcm_s16le"],
    "prores.mov": ["-c:v", "prores", "-an"],
    "theora.ogv": ["-c:v", "libtheora", "-c:a", "libvorbis"],
    "flv.flv": ["-c:v", "flv", "-c:a", "aac"],
    "mpegts.ts": ["-c:v", "libx264", "-c:a", "aac", "-f", "mpegts"],
    "amr.3gp": ["-c:v", "libx264", "-s", "352x288", "-c:a", "libopencore_amrnb", "-ar", "8000", "-ac", "1"],
    "silent.mp4": ["-c:v", "libx264", "-an"],
    "audio_only.m4a": ["-vn", "-c:a", "aac"],
    "gif.gif": ["-vf", "fps=10,scale=320:-2", "-an"],
}


def ffmpeg(*args: str, stdout=None) -> None:
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *args]
    subprocess.run(cmd, check=True, timeout=300, stdout=stdout)


def make_inputs(source: Path, out: Path) -> list[Path]:
    """The originals: every container/codec above, photo formats, and files that are not media at all."""
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    made = []
    for name, opts in VIDEOS.items():
        try:
            ffmpeg("-i", str(source), "-t", "3", *opts, str(out / name))
            made.append(out / name)
        except subprocess.CalledProcessError:
            print(f"  (this ffmpeg cannot make {name}; skipped)")
    side, phone = out / "sideways.mp4", out / "rotated_phone.mp4"  # pixels stored sideways + "turn 90 degrees"
    ffmpeg("-i", str(source), "-t", "3", "-vf", "transpose=1", "-c:v", "libx264", "-c:a", "aac", str(side))
    ffmpeg("-display_rotation", "90", "-i", str(side), "-c", "copy", str(phone))
    side.unlink()
    webm = out / "browser_no_duration.webm"  # MediaRecorder-style: written to a pipe, so no duration or cues
    with webm.open("wb") as fh:
        ffmpeg("-i", str(source), "-t", "3", "-c:v", "libvpx", "-b:v", "400k", "-c:a", "libopus", "-f", "webm", "-",
               stdout=fh)  # fmt: skip
    made += [phone, webm]

    still = out / "frame.png"
    ffmpeg("-i", str(source), "-frames:v", "1", str(still))
    rgb = Image.open(still).convert("RGB")
    photos = {
        "photo.jpg": lambda p: rgb.save(p, quality=90),
        "photo_gray.jpg": lambda p: rgb.convert("L").save(p, quality=90),
        "photo_rgba.png": lambda p: rgb.convert("RGBA").save(p),
        "photo.webp": lambda p: rgb.save(p, quality=80),
        "photo.heic": lambda p: rgb.save(p, quality=90),
        "photo.avif": lambda p: rgb.save(p, quality=80),
        "photo.bmp": lambda p: rgb.save(p),
        "photo.tiff": lambda p: rgb.save(p),
        "tiny.png": lambda p: rgb.resize((8, 8)).save(p),
        "huge.png": lambda p: Image.new("RGB", (20000, 20000)).save(p),
    }
    for name, save in photos.items():
        save(out / name)
        made.append(out / name)
    made.append(still)
    others = {
        "empty.mp4": b"",
        "notes.mp4": b"Meeting notes, not a video.\n" * 50,
        "archive.mp4": b"PK\x03\x04" + bytes(500),
        "paper.pdf": b"%PDF-1.7\n" + bytes(500),
        "photo.jxl": b"\x00\x00\x00\x0cJXL \r\n\x87\n" + bytes(500),
        "noise.bin": np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes(),
    }
    for name, data in others.items():
        (out / name).write_bytes(data)
        made.append(out / name)
    return made


def damaged(original: Path, cuts: list[float], rng: np.random.Generator, out: Path) -> list[tuple[str, Path]]:
    data = original.read_bytes()
    if len(data) < 2000:
        return []
    variants = []
    for c in cuts:
        p = out / f"{original.stem}.cut{int(c * 100):02d}{original.suffix}"
        p.write_bytes(data[: max(16, int(len(data) * c))])
        variants.append((f"cut {c:g}", p))
    b = bytearray(data)
    for i in rng.integers(16, len(b), 200):
        b[i] = int(rng.integers(0, 256))
    p = out / f"{original.stem}.flipped{original.suffix}"
    p.write_bytes(bytes(b))
    variants.append(("200 random bytes", p))
    return variants


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", help="a clip with a face and speech (default: a held-out real clip in ../shared/data)")
    ap.add_argument("--checkpoint")
    ap.add_argument("--cuts", type=float, nargs="+", default=[0.01, 0.05, 0.3, 0.7, 0.97])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-s", type=float, default=60.0, help="a file taking longer than this counts as a failure")
    args = ap.parse_args()

    import vaedetect
    from vaedetect.errors import InputError

    det = vaedetect.load_detector(args.checkpoint)
    source = Path(args.source) if args.source else None
    if source is None:
        val = det.bundle.config.data.get("split", {}).get("val", [])
        speech = [DATA / p for p in val if p.startswith("real/")]
        if not speech:
            sys.exit(f"no --source given and no held-out real clip of this bundle under {DATA}")
        source = speech[0]
    rng = np.random.default_rng(args.seed)
    outcomes: Counter[tuple[str, str]] = Counter()
    failures, slowest = [], (0.0, "")
    with tempfile.TemporaryDirectory(prefix="vaedetect-odd-") as tmp:
        tmp_path = Path(tmp)
        originals = make_inputs(source, tmp_path)
        jobs = [("original", p) for p in originals]
        for p in originals:
            jobs += damaged(p, args.cuts, rng, tmp_path)
        print(f"source {source}; {len(originals)} originals, {len(jobs)} files in all")
        for variant, path in jobs:
            t0 = time.perf_counter()
            try:
                r = det.analyze(path)
                kind = f"report ({r.media.kind})" if r.thresholds else f"report ({r.media.kind}, nothing to score)"
            except InputError as err:
                kind = f"InputError: {type(err).__name__}"
            except Exception as err:
                kind = "FAILED"
                failures.append((path.name, f"{type(err).__name__}: {err}", traceback.format_exc(limit=3)))
            dt = time.perf_counter() - t0
            slowest = max(slowest, (dt, path.name))
            if dt > args.max_s:
                failures.append((path.name, f"took {dt:.0f} s", ""))
            if variant == "original" or kind == "FAILED" or dt > args.max_s:
                print(f"  {path.name:<32} {dt:6.1f} s  {kind}")
            outcomes[(variant.split(" ")[0] if variant.startswith("cut") else variant, kind)] += 1
    print("\noutcomes by variant")
    for (variant, kind), n in sorted(outcomes.items()):
        print(f"  {variant:<18} {kind:<40} {n}")
    print(f"\n{len(jobs)} files, {len(failures)} failures; slowest {slowest[0]:.1f} s ({slowest[1]})")
    for name, what, tb in failures:
        print(f"\nFAILED {name}: {what}\n{tb}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
