"""What compression does to the evidence: held-out real clips re-encoded at rising x264 CRF, held-out real photos
re-saved at falling JPEG quality, each analysed end to end. Numbers, not pass/fail.

    .venv/bin/python bench/experiments/compression.py [--checkpoint X] [--clips 6] [--photos 8]

Takes the first ``--clips`` videos and ``--photos`` stills of the bundle's recorded validation split (people it was
not trained on), re-encodes them in a temporary folder (deleted afterwards) with the ffmpeg that imageio-ffmpeg ships
and with Pillow, and prints per file and level: the measured quantiser (H.264 QP, 0-51) or estimated JPEG quality,
the face and lip-sync scores (z against real clips), the fake probability and the warnings. This is where the
heavy-compression lines in ``vaedetect/detector.py`` come from.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
CRFS = (28, 33, 38, 43)
QUALITIES = (75, 50, 30, 15, 8)


def reencode(src: Path, crf: int, out: Path) -> Path:
    import imageio_ffmpeg

    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), "-c:v", "libx264", "-crf", str(crf),
        "-preset", "veryfast", "-c:a", "copy", str(out),
    ]  # fmt: skip
    subprocess.run(cmd, check=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint")
    ap.add_argument("--clips", type=int, default=6)
    ap.add_argument("--photos", type=int, default=8)
    args = ap.parse_args()

    from PIL import Image

    import vaedetect

    det = vaedetect.load_detector(args.checkpoint)
    val = det.bundle.config.data.get("split", {}).get("val", [])
    clips = [DATA / p for p in val if p.startswith("real/")][: args.clips]
    photos = [DATA / p for p in val if p.startswith("stills/")][: args.photos]
    if not clips and not photos:
        sys.exit(f"no validation files of this bundle under {DATA}")

    def row(name: str, level: str, path: Path) -> None:
        r = det.analyze(path)
        measured = r.media.quantizer if r.media.quantizer is not None else r.media.jpeg_quality
        face, sync = r.scores.get("face"), r.scores.get("sync")
        print(
            f"{name[:30]:30s} {level:>8s} {'-' if measured is None else f'{measured:.1f}':>7s} "
            f"{'-' if face is None else f'{face:+.2f}':>6s} {'-' if sync is None else f'{sync:+.2f}':>6s} "
            f"{r.manipulation_score:6.3f}  {','.join(r.warning_codes())}",
            flush=True,
        )

    print(f"{'file':30s} {'level':>8s} {'QP/JPEG':>7s} {'face':>6s} {'sync':>6s} {'p(fake)':>6s}  warnings")
    with tempfile.TemporaryDirectory() as td:
        for src in clips:
            row(src.stem, "as is", src)
            for crf in CRFS:
                row(src.stem, f"crf {crf}", reencode(src, crf, Path(td) / f"{src.stem}_crf{crf}.mp4"))
        for src in photos:
            row(src.stem, "as is", src)
            with Image.open(src) as im:
                rgb = im.convert("RGB")
            for q in QUALITIES:
                out = Path(td) / f"{src.stem}_q{q}.jpg"
                rgb.save(out, quality=q)
                row(src.stem, f"q {q}", out)


if __name__ == "__main__":
    main()
