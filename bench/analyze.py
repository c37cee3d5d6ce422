"""Detector benchmark: model load time, end-to-end analysis time per clip (median of N runs) with a per-stage split,
real-time factor, and peak RSS. Numbers, not pass/fail.

    .venv/bin/python bench/analyze.py [--runs 3] [--checkpoint X] [--graphs] [CLIPS...]

Without CLIPS it measures the issue's cases: a 10 s and a 60 s 1280x720 H.264/AAC clip with speech, made (in a
temporary folder, deleted afterwards) by upscaling and looping a real ../shared/data talking clip with the ffmpeg
that imageio-ffmpeg ships, plus two dev clips at their native size.

``--graphs`` measures what keeping MediaPipe graphs between analyses saves per request: building the face graphs
versus resetting them, and each clip analysed with the Detector's kept graphs versus with fresh ones (the graphs
released before every run, as every analysis did before graphs were kept).

Targets (issue 4): 10 s 720p clip with speech <= 0.3x real time on a 2-core CPU, model load <= 5 s,
peak RSS <= 1.5 GB for a 60 s clip.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
SOURCE = DATA / "real" / "styletalk__src_obama_clip2.mp4"


def make_720p(src: Path, seconds: float, out: Path) -> Path:
    """A ``seconds``-long 1280x720 25 fps clip with its audio, looping ``src`` as needed."""
    import imageio_ffmpeg

    video = "scale=-2:480,pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1"  # a 720p frame with a ~300 px face
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-stream_loop", "-1", "-i", str(src), "-t", f"{seconds}",
        "-vf", video, "-r", "25", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-ar", "44100", str(out),
    ]  # fmt: skip
    subprocess.run(cmd, check=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("clips", nargs="*")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--checkpoint")
    ap.add_argument("--graphs", action="store_true", help="per-request saving of kept MediaPipe graphs")
    args = ap.parse_args()
    if args.graphs:
        graph_saving(args)
        return
    tmp = tempfile.TemporaryDirectory(prefix="vaedetect-bench-")
    clips = [Path(c) for c in args.clips]
    if not clips:
        clips = [make_720p(SOURCE, s, Path(tmp.name) / f"speech_720p_{s}s.mp4") for s in (10, 60)]
        clips += [DATA / "dev" / "lrs2__00001.mp4", DATA / "dev" / "dfdc-aaron__abofeumbvv.mp4"]

    import vaedetect

    t0 = time.perf_counter()
    det = vaedetect.load_detector(args.checkpoint)
    print(f"model load: {time.perf_counter() - t0:.2f} s ({det.bundle_name})")
    print(f"{'clip':<40} {'dur s':>6} {'median s':>9} {'RTF':>6}  stages (median s)")
    for clip in clips:
        walls, stages = [], {}
        for _ in range(args.runs):
            t = time.perf_counter()
            rep = det.analyze(clip)
            walls.append(time.perf_counter() - t)
            for k, v in rep.timings.items():
                stages.setdefault(k, []).append(v)
        med = statistics.median(walls)
        dur = max(rep.media.analysed_duration_s, 1e-6)
        split = " ".join(f"{k}={statistics.median(v):.2f}" for k, v in stages.items() if not k.startswith("ingest_"))
        print(f"{clip.name[:40]:<40} {dur:>6.1f} {med:>9.2f} {med / dur:>6.3f}  {split}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    tmp.cleanup()


def graph_saving(args: argparse.Namespace) -> None:
    """Build vs reset of the face graphs, and analysis time with kept vs fresh graphs (median of ``--runs``)."""
    import vaedetect
    from vaedetect.faces import FaceAnalyzer

    builds, resets = [], []
    for _ in range(args.runs):
        t = time.perf_counter()
        fa = FaceAnalyzer()
        builds.append(time.perf_counter() - t)
        t = time.perf_counter()
        fa.reset()
        resets.append(time.perf_counter() - t)
        fa.close()
    print(f"face graphs: build {statistics.median(builds):.3f} s, reset {statistics.median(resets):.4f} s")
    det = vaedetect.load_detector(args.checkpoint)
    dev = ("lrs2__00001.mp4", "dfdc-aaron__abofeumbvv.mp4")
    clips = [Path(c) for c in args.clips] or [DATA / "dev" / n for n in dev]
    for clip in clips:
        det.analyze(clip)  # warm: models, allocator, the kept graphs
        kept, fresh = [], []
        for _ in range(args.runs):
            t = time.perf_counter()
            det.analyze(clip)
            kept.append(time.perf_counter() - t)
            det.close()  # the next analysis builds its graphs, as before they were kept
            t = time.perf_counter()
            det.analyze(clip)
            fresh.append(time.perf_counter() - t)
        k, f = statistics.median(kept), statistics.median(fresh)
        print(f"{clip.name[:40]:<40} kept graphs {k:.2f} s, fresh graphs {f:.2f} s, saving {f - k:.2f} s per request")


if __name__ == "__main__":
    main()
