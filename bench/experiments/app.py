"""App benchmark: cold start to first served page, and per-clip analysis vs rendering latency. Numbers, not pass/fail.

    python bench/experiments/app.py                     # clips from ../shared/data/dev if present, else a synthetic one
    python bench/experiments/app.py a.mp4 b.jpg --fake  # given files, with the test FakeDetector (UI cost only)

"analysis" is ``detector.analyze`` (the library); "render" is the figures, markdown and report files the handler
builds (``Handlers.render`` + ``write_reports``: the JSON with inline pictures and the HTML report); "encode" is what
Gradio then does with them (PNG encoding of the images, plotly JSON). The clips are analysed with the detector
directly, never through the handler, because the handler deletes its input.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEV_DIR = ROOT.parent / "shared" / "data" / "dev"
MEDIA_SUFFIXES = {".mp4", ".webm", ".mov", ".mkv", ".avi", ".jpg", ".jpeg", ".png"}
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _real_available() -> bool:
    import vaedetect

    bundle = vaedetect.settings.checkpoint() or (ROOT / "assets/checkpoints/default/config.json").exists()
    return hasattr(vaedetect, "load_detector") and bool(bundle)


def cold_start(use_fake: bool, timeout_s: float = 180.0) -> tuple[float, float | None]:
    """(seconds from `python app.py` to the first HTTP 200 on the page, seconds to the model-loaded log line)."""
    port = _free_port()
    if use_fake:
        code = (
            f"import sys; sys.path[:0] = [{str(ROOT / 'tests')!r}, {str(ROOT)!r}]; import app, fakes; "
            f"app.main(['--port', '{port}'], detector_factory=fakes.FakeDetector)"
        )
        cmd = [sys.executable, "-c", code]
    else:
        cmd = [sys.executable, str(ROOT / "app.py"), "--port", str(port)]
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GRADIO_TEMP_DIR=tmp, PYTHONUNBUFFERED="1")
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                        if r.status == 200:
                            served = time.perf_counter() - t0
                            break
                except OSError:
                    pass
                if proc.poll() is not None:
                    raise RuntimeError("app exited before serving:\n" + (proc.stdout.read() if proc.stdout else ""))
                if time.perf_counter() - t0 > timeout_s:
                    raise RuntimeError(f"no page after {timeout_s:.0f} s")
                time.sleep(0.05)
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=20)
    loaded = None
    for line in out.splitlines():
        if "loaded in" in line:
            with contextlib.suppress(IndexError, ValueError):
                loaded = float(line.split("loaded in")[1].split()[0])
    return served, loaded


def _synthetic_clip(folder: Path) -> Path:
    from faces_factory import opening_curve, speech_like_audio, talking_face_frames
    from media_factory import write_video

    op = opening_curve(100)
    return write_video(folder / "synthetic_talking_4s.mp4", talking_face_frames(op), audio=speech_like_audio(op))


def latency(clips: list[Path], detector, repeats: int) -> list[dict]:
    import gradio as gr

    import app
    from vaedetect import share

    handlers = app.Handlers(detector)
    slider = gr.ImageSlider(format="png", render=False)
    image = gr.Image(format="png", render=False)
    plot = gr.Plot(render=False)
    rows = []
    for clip in clips:
        times: dict[str, list[float]] = {"analysis": [], "render": [], "encode": []}
        verdict = "-"
        for _ in range(repeats):
            facts = share.file_facts(clip)
            t0 = time.perf_counter()
            try:
                report = detector.analyze(str(clip))
            except Exception as err:  # an unusable file is a result too
                verdict = f"error: {str(err)[:40]}"
                break
            t1 = time.perf_counter()
            rendered = handlers.render(report)
            handlers.write_reports(report, facts)
            t2 = time.perf_counter()
            if rendered["frames"]:
                f = rendered["frames"][rendered["start"]]
                slider.postprocess(f["pair"])
                image.postprocess(f["heatmap"])
            for key in ("umap", "alignment", "timeline"):
                plot.postprocess(rendered[key])
            t3 = time.perf_counter()
            times["analysis"].append(t1 - t0)
            times["render"].append(t2 - t1)
            times["encode"].append(t3 - t2)
            verdict = f"{report.verdict} {report.manipulation_score:.2f}"
        rows.append(
            {
                "clip": clip.name,
                "MB": clip.stat().st_size / 1e6,
                **{k: statistics.median(v) if v else float("nan") for k, v in times.items()},
                "verdict": verdict,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--fake", action="store_true", help="use tests/fakes.FakeDetector (measures the UI only)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--max-clips", type=int, default=8)
    parser.add_argument("--no-cold-start", action="store_true")
    args = parser.parse_args()

    use_fake = args.fake or not _real_available()
    which = "FakeDetector (tests/fakes.py)" if use_fake else "real detector (VAEDETECT_CHECKPOINT or default)"
    print(f"detector: {which}")

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GRADIO_TEMP_DIR"] = tmp  # report files and encoded images land here, then vanish
        if not args.no_cold_start:
            served, loaded = cold_start(use_fake)
            extra = f" (model load {loaded:.1f} s)" if loaded is not None else ""
            print(f"cold start: `python app.py` -> first HTTP 200 in {served:.2f} s{extra}\n")

        clips = args.clips or sorted(p for p in DEV_DIR.glob("*") if p.suffix.lower() in MEDIA_SUFFIXES)
        clips = clips[: args.max_clips] or [_synthetic_clip(Path(tmp))]
        if use_fake:
            from fakes import FakeDetector

            detector = FakeDetector()
        else:
            import vaedetect

            detector = vaedetect.load_detector(vaedetect.settings.checkpoint())
        rows = latency(clips, detector, args.repeats)

    width = max(len(r["clip"]) for r in rows)
    print(f"{'clip':<{width}}  {'MB':>6}  {'analysis s':>10}  {'render s':>8}  {'encode s':>8}  verdict")
    for r in rows:
        print(
            f"{r['clip']:<{width}}  {r['MB']:6.2f}  {r['analysis']:10.2f}  {r['render']:8.3f}  {r['encode']:8.3f}  "
            f"{r['verdict']}"
        )
    ok = [r for r in rows if r["analysis"] == r["analysis"]]
    if ok:
        print(
            f"\nmedian over {len(ok)} clips: analysis {statistics.median(r['analysis'] for r in ok):.2f} s, "
            f"render {statistics.median(r['render'] for r in ok):.3f} s, "
            f"encode {statistics.median(r['encode'] for r in ok):.3f} s"
        )


if __name__ == "__main__":
    main()
