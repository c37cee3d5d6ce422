"""Build the app's example clips (``assets/examples/``) from two GRID corpus clips in the shared data.

Two real clips are copied as they are; three fakes are made from them by this project, so each one is known to be
manipulated and how:

- ``audio-swap``: the first speaker's video with the second speaker's voice (a voice that belongs to other lips);
- ``lipsync-shift``: the first speaker's own voice delayed by 0.4 s (a badly dubbed or spliced clip);
- ``self-blend``: every frame's inner face blended with a colour- and geometry-shifted copy of itself through a soft
  mask (``pseudofakes.self_blend``, the SBI recipe), then pasted back, so the frame has a blending seam.

    python scripts/make_examples.py [--data /work/shared/data]

Only GRID clips (``source_repo == rizkiarm+LipNet``, CC BY 4.0) are used; attribution is in
``assets/examples/ATTRIBUTION.md``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import cv2
import imageio_ffmpeg
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaedetect.faces import FaceAnalyzer, keypoints_of, similarity_to_template  # noqa: E402
from vaedetect.pseudofakes import self_blend  # noqa: E402

OUT = ROOT / "assets" / "examples"
FIRST, SECOND = "dev/grid__lwbsza.mp4", "dev/grid__swiz3n.mp4"
SHIFT_S = 0.4
BLEND_PX = 192  # the aligned face the blend is made in
SEED = 18


def ffmpeg(*args: str) -> None:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", *args], check=True)


def audio_swap(video: Path, voice: Path, out: Path) -> None:
    ffmpeg("-i", str(video), "-i", str(voice), "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-shortest",
           str(out))  # fmt: skip


def audio_shift(video: Path, shift_s: float, out: Path) -> None:
    """The clip's own audio delayed by ``shift_s`` (silence first), the video untouched, the length kept."""
    ms = round(shift_s * 1000)
    ffmpeg("-i", str(video), "-map", "0:v", "-map", "0:a", "-c:v", "copy", "-af", f"adelay={ms}:all=1",
           "-c:a", "aac", "-shortest", str(out))  # fmt: skip


def self_blended(video: Path, out: Path) -> None:
    """Each frame's face self-blended (one fixed perturbation for the whole clip, like a real forgery) and pasted
    back through the inverse alignment; the original audio is kept."""
    with tempfile.TemporaryDirectory() as tmp:
        silent = Path(tmp) / "video.mp4"
        with av.open(str(video)) as src, av.open(str(silent), "w") as dst, FaceAnalyzer() as fa:
            vin = src.streams.video[0]
            vout = dst.add_stream("libx264", rate=vin.average_rate)
            vout.width, vout.height, vout.pix_fmt = vin.width, vin.height, "yuv420p"
            vout.options = {"crf": "23"}
            for frame in src.decode(vin):
                rgb = frame.to_ndarray(format="rgb24")
                faces = fa.mesh(rgb)
                if faces:
                    rgb = _blend_face(rgb, keypoints_of(faces[0]))
                dst.mux(vout.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            dst.mux(vout.encode())
        ffmpeg("-i", str(silent), "-i", str(video), "-map", "0:v", "-map", "1:a", "-c", "copy", "-shortest", str(out))


def _blend_face(rgb: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    m = similarity_to_template(keypoints, BLEND_PX)
    crop = cv2.warpAffine(rgb, m, (BLEND_PX, BLEND_PX), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    blended, mask = self_blend(crop, np.random.default_rng(SEED))
    h, w = rgb.shape[:2]
    inv = cv2.invertAffineTransform(m)
    back = cv2.warpAffine(blended, inv, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    alpha = cv2.warpAffine(mask.astype(np.float32), inv, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    return np.clip(back * alpha + rgb * (1 - alpha), 0, 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    args = parser.parse_args(argv)
    first, second = args.data / FIRST, args.data / SECOND
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(first, OUT / "real-grid-speaker-1.mp4")
    shutil.copyfile(second, OUT / "real-grid-speaker-2.mp4")
    audio_swap(first, second, OUT / "fake-audio-swap.mp4")
    audio_shift(first, SHIFT_S, OUT / "fake-lipsync-shift.mp4")
    self_blended(first, OUT / "fake-self-blend.mp4")
    for p in sorted(OUT.glob("*.mp4")):
        print(f"{p.name}: {p.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
