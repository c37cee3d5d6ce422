"""Speed benchmark: analysis time against a plain decode of the same clip, alone and with a second analysis beside it;
real-time factor; detector load; app start; peak RSS. Numbers, not pass/fail.

    .venv/bin/python bench/analyze.py [--runs 3] [--checkpoint X] [--beside thread|process] [--json OUT] [CLIPS...]
    .venv/bin/python bench/analyze.py --graphs      # what keeping MediaPipe graphs between analyses saves

Without CLIPS it measures the issue's cases: a 10 s and a 60 s 1280x720 H.264/AAC clip with speech, made (in a
temporary folder, deleted afterwards) by upscaling and looping a real ../shared/data talking clip with the ffmpeg
that imageio-ffmpeg ships, plus two dev clips at their native size.

- **plain decode**: PyAV decodes every video frame of the file to an RGB array at its own size (FFmpeg's frame
  threads on) and every audio frame; the floor any analysis of the file pays. Measured back to back with each
  analysis, so both see the same machine; the ratio is analysis / decode, medians of ``--runs``.
- **beside**: the same measurements while a second analysis of the same clip runs in a loop, in a thread of this
  process (``thread``: how the app serves two visitors at once) or in a process of its own (``process``: any other
  work on the machine).
- **load**: ``import vaedetect; vaedetect.load_detector()`` in a fresh interpreter (median of 3), and what the first
  analysis then pays once for what loads lazily (MediaPipe graphs, pretrained networks: first minus second analysis
  of the 10 s clip). **app**: ``python app.py`` to the first page served (median of ``--app-runs``).
- **peak RSS**: this process's, after the clips alone, and after the clips with a second analysis (``thread``: the
  two analyses' memory together).

Targets (issue 33, a 2-core machine): the 10 s 720p clip <= 3x a plain decode alone, <= 5x with a second analysis
beside it, <= 0.2x real time; load <= 2 s; app up <= 5 s; peak RSS <= 1.2 GB over a run including a 60 s clip.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

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


def plain_decode(path: Path) -> float:
    """Seconds to decode every video frame to an RGB array at its own size, and every audio frame, with PyAV."""
    import av

    t = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            frame.to_ndarray(format="rgb24")
    with av.open(str(path)) as container:
        if container.streams.audio:
            for frame in container.decode(audio=0):
                frame.to_ndarray()
    return time.perf_counter() - t


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _machine() -> dict[str, Any]:
    cpu = platform.processor()
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as fh:
        cpu = next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "loadavg": os.getloadavg()}


# -- a second analysis beside the measured one -------------------------------------------------------------------------
class Beside:
    """A second analysis of ``clip`` in a loop while the block runs: a thread on ``det`` or a process of its own."""

    def __init__(self, kind: str, det: Any, clip: Path, checkpoint: str | None) -> None:
        self.kind, self.det, self.clip, self.checkpoint = kind, det, clip, checkpoint
        self.done = 0

    def __enter__(self) -> Beside:
        if self.kind == "thread":
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        else:
            ctx = mp.get_context("spawn")
            self._stop = ctx.Event()
            self._ready = ctx.Event()
            args = (self.checkpoint, str(self.clip), self._stop, self._ready)
            self._proc = ctx.Process(target=_beside_process, args=args)
            self._proc.start()
            self._ready.wait(300)  # loaded and one analysis done: from here on it is busy analysing
        time.sleep(0.5)
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.det.analyze(self.clip)
            self.done += 1

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.kind == "thread":
            self._thread.join()
        else:
            self._proc.join(300)


def _beside_process(checkpoint: str | None, clip: str, stop: Any, ready: Any) -> None:
    import vaedetect

    det = vaedetect.load_detector(checkpoint)
    det.analyze(clip)
    ready.set()
    while not stop.is_set():
        det.analyze(clip)


# -- load and app start ------------------------------------------------------------------------------------------------
_LOAD = """
import sys, time
t = time.perf_counter()
import vaedetect
det = vaedetect.load_detector({ckpt!r})
load = time.perf_counter() - t
first = None
if {clip!r}:
    t = time.perf_counter(); det.analyze({clip!r}); first = time.perf_counter() - t
    t = time.perf_counter(); det.analyze({clip!r}); first -= time.perf_counter() - t
print(load, first)
"""


def load_times(checkpoint: str | None, clip: Path | None, runs: int = 3) -> tuple[float, float | None]:
    """Median detector load in a fresh interpreter; what the first analysis of ``clip`` pays more than the second."""
    loads, firsts = [], []
    for i in range(runs):
        code = _LOAD.format(ckpt=checkpoint, clip=str(clip) if clip and i == 0 else "")
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
        load, first = out.stdout.split()[-2:]
        loads.append(float(load))
        if first != "None":
            firsts.append(float(first))
    return statistics.median(loads), (firsts[0] if firsts else None)


def app_up(checkpoint: str | None, runs: int, timeout_s: float = 180.0) -> float:
    """Median seconds from ``python app.py`` to the first HTTP 200 on its page."""
    times = []
    for _ in range(runs):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, GRADIO_TEMP_DIR=tmp, VAEDETECT_TEMP_DIR=tmp)
            if checkpoint:
                env["VAEDETECT_CHECKPOINT"] = checkpoint
            t0 = time.perf_counter()
            cmd = [sys.executable, str(REPO / "app.py"), "--port", str(port)]
            proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                while True:
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                            if r.status == 200:
                                times.append(time.perf_counter() - t0)
                                break
                    except OSError:
                        pass
                    if proc.poll() is not None:
                        raise RuntimeError("app.py exited before serving its page")
                    if time.perf_counter() - t0 > timeout_s:
                        raise RuntimeError(f"no page after {timeout_s:.0f} s")
                    time.sleep(0.05)
            finally:
                proc.terminate()
                proc.wait(30)
    return statistics.median(times)


# -- analyses ---------------------------------------------------------------------------------------------------------
def measure_clip(det: Any, clip: Path, runs: int) -> dict[str, Any]:
    """Plain decode and analysis back to back, ``runs`` times; medians, ratio, real-time factor, stage split."""
    decodes, walls, stages = [], [], {}
    rep = None
    for _ in range(runs):
        decodes.append(plain_decode(clip))
        t = time.perf_counter()
        rep = det.analyze(clip)
        walls.append(time.perf_counter() - t)
        for k, v in rep.timings.items():
            stages.setdefault(k, []).append(v)
    med, dec = statistics.median(walls), statistics.median(decodes)
    dur = max(rep.media.analysed_duration_s, 1e-6)
    return {
        "duration_s": round(dur, 2),
        "analysis_s": round(med, 3),
        "decode_s": round(dec, 3),
        "ratio_to_decode": round(med / dec, 2),
        "rtf": round(med / dur, 3),
        "stages_s": {k: round(statistics.median(v), 3) for k, v in stages.items()},
        "runs_s": [round(w, 3) for w in walls],
        "decode_runs_s": [round(d, 3) for d in decodes],
    }


def _print_row(name: str, r: dict[str, Any]) -> None:
    split = " ".join(f"{k}={v:.2f}" for k, v in r["stages_s"].items() if "_" not in k)
    print(
        f"{name[:34]:<34} {r['duration_s']:>6.1f} {r['analysis_s']:>8.2f} {r['decode_s']:>8.2f} "
        f"{r['ratio_to_decode']:>6.2f}x {r['rtf']:>6.3f}  {split}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("clips", nargs="*")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--checkpoint")
    ap.add_argument("--beside", choices=("thread", "process", "none"), default="thread")
    ap.add_argument("--app-runs", type=int, default=3, help="app starts to time (0: skip)")
    ap.add_argument("--json", type=Path, help="write the numbers here")
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
    out: dict[str, Any] = {"machine_before": _machine(), "checkpoint": args.checkpoint or "default", "runs": args.runs}

    load, first = load_times(args.checkpoint, clips[0])
    out.update(load_s=round(load, 2), first_analysis_extra_s=None if first is None else round(first, 2))
    print(f"detector load {load:.2f} s (fresh interpreter, median of 3); first analysis pays {first:.2f} s more")
    if args.app_runs:
        out["app_up_s"] = round(app_up(args.checkpoint, args.app_runs), 2)
        print(f"app up {out['app_up_s']:.2f} s (python app.py -> first page, median of {args.app_runs})")

    import vaedetect

    det = vaedetect.load_detector(args.checkpoint)
    det.analyze(clips[0])  # warm: lazy networks, graphs, allocator
    head = f"{'clip':<34} {'dur s':>6} {'analysis':>8} {'decode':>8} {'ratio':>7} {'RTF':>6}  stages (median s)"
    print(f"\nalone\n{head}")
    out["alone"] = {}
    for clip in clips:
        out["alone"][clip.name] = r = measure_clip(det, clip, args.runs)
        _print_row(clip.name, r)
    out["peak_rss_alone_mb"] = round(_peak_rss_mb())
    print(f"peak RSS {out['peak_rss_alone_mb']} MB")

    if args.beside != "none":
        print(f"\nwith a second analysis of the same clip beside it ({args.beside})\n{head}")
        out["beside"] = {"how": args.beside}
        for clip in clips:
            with Beside(args.beside, det, clip, args.checkpoint) as other:
                out["beside"][clip.name] = r = measure_clip(det, clip, args.runs)
            r["second_analyses_done"] = other.done if args.beside == "thread" else None
            _print_row(clip.name, r)
        out["peak_rss_beside_mb"] = round(_peak_rss_mb())
        print(f"peak RSS {out['peak_rss_beside_mb']} MB (the two analyses together when beside is a thread)")
    out["machine_after"] = _machine()
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
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
