"""The Gradio app: handlers called directly, the served app through gradio_client, privacy and load.

The app runs with the real detector, loaded the way ``python app.py`` loads it (``VAEDETECT_CHECKPOINT`` or the
shipped bundle): a bundle that cannot load fails this suite instead of being replaced by a stand-in. Assertions check
that every output is there and well-formed, not which verdict a synthetic clip gets. :class:`fakes.FakeDetector` is
used only where a test says why (a detector that breaks on purpose, the launch settings).
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

import app
from vaedetect import explain

try:  # pytest puts tests/ on sys.path (no tests/__init__.py)
    from faces_factory import opening_curve, speech_like_audio, talking_face_frames
    from fakes import FakeDetector
    from media_factory import moving_pattern_frames, write_browser_webm, write_video
    from socket_guard import guard_sockets
except ImportError:  # pragma: no cover
    from tests.faces_factory import opening_curve, speech_like_audio, talking_face_frames
    from tests.fakes import FakeDetector
    from tests.media_factory import moving_pattern_frames, write_browser_webm, write_video
    from tests.socket_guard import guard_sockets

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = ROOT / "assets" / "checkpoints" / "default" / "config.json"


def app_detector() -> app.Detector:
    """The detector ``python app.py`` would serve. No fallback: if the bundle cannot load, the suite must fail."""
    return app.load_detector()


@pytest.fixture(scope="session")
def detector():
    return app_detector()


# ---------------------------------------------------------------------------------------------------------------
# Media
# ---------------------------------------------------------------------------------------------------------------


def make_talking_clip(path: Path, seed: int = 0, n_frames: int = 50) -> Path:
    op = opening_curve(n_frames, seed=seed)
    return write_video(path, talking_face_frames(op), fps=25, audio=speech_like_audio(op, seed=seed))


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    from PIL import Image

    d = tmp_path_factory.mktemp("media")
    out = {
        "good": make_talking_clip(d / "talking.mp4"),
        "silent": write_video(d / "pattern.mp4", moving_pattern_frames(25, height=120, width=160), fps=25),
        "empty": d / "empty.mp4",
        "text": d / "notes.mp4",
        "random": d / "noise.mp4",
        "photo": d / "face.jpg",
    }
    out["empty"].write_bytes(b"")
    out["text"].write_text("Meeting notes: this is not a video at all.\n" * 20)
    out["random"].write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    Image.fromarray(talking_face_frames(opening_curve(1))[0]).save(out["photo"], quality=92)
    return out


@pytest.fixture
def upload_root(tmp_path, monkeypatch) -> Path:
    """A private GRADIO_TEMP_DIR: the handlers only delete files inside it, as they only delete real uploads."""
    root = tmp_path / "gradio"
    root.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(root))
    return root


def as_upload(src: Path, root: Path) -> str:
    """Copy a file where Gradio would have put the upload (<temp>/<hash>/<name>)."""
    d = root / f"upload-{time.monotonic_ns()}"
    d.mkdir()
    return str(shutil.copy(src, d / src.name))


@pytest.fixture(scope="module")
def handlers(detector):
    return app.Handlers(detector)


# ---------------------------------------------------------------------------------------------------------------
# Handlers called directly
# ---------------------------------------------------------------------------------------------------------------


def ui(handlers, *inputs) -> dict:
    """The Analyze button's answer, by output name."""
    return handlers.out.named(handlers.analyze_ui(*inputs))


def test_a_broken_bundle_stops_the_app_instead_of_a_stand_in(tmp_path, monkeypatch):
    """Copy the shipped bundle, break one weights file: loading it the app's way (and so this suite's fixture, and
    ``python app.py``) raises; nothing substitutes a fake detector."""
    import gradio as gr

    broken = tmp_path / "broken-bundle"
    shutil.copytree(DEFAULT_BUNDLE.parent, broken)
    (broken / "face_vae.safetensors").write_bytes(b"these are not weights")
    monkeypatch.setenv("VAEDETECT_CHECKPOINT", str(broken))
    launched = []
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: launched.append(kw))
    with pytest.raises(Exception):  # noqa: B017 - whatever the loader raises, it must not be swallowed
        app_detector()
    with pytest.raises(Exception):  # noqa: B017
        app.main([])
    assert not launched, "the app must not start on a bundle it could not load"


def test_every_output_gets_a_value_in_both_outcomes(handlers, media, upload_root):
    """Good file or bad, the handler answers every widget by name (no positional order to drift)."""
    everything = set(handlers.out.all())
    assert set(handlers.analyze_ui(as_upload(media["good"], upload_root), None)) == everything
    with pytest.warns(UserWarning):
        assert set(handlers.analyze_ui(as_upload(media["text"], upload_root), None)) == everything
    assert set(handlers.examples_ui(None, as_upload(media["photo"], upload_root))) == set(handlers.out.cacheable())


def test_good_clip_populates_every_output_and_deletes_upload(handlers, media, upload_root):
    path = as_upload(media["good"], upload_root)
    out = ui(handlers, path, None)
    text = out["verdict"]
    assert any(label in text for label in explain.TIER_LABELS.values())
    assert "%" in text and "Model:" in text
    assert any(f'class="tier-{t}"' in text for t in ("real", "uncertain", "fake"))  # colours the panel
    for key in ("umap_plot", "alignment_plot", "timeline_plot"):
        assert isinstance(out[key], go.Figure)
        json.loads(out[key].to_json())
    report = json.loads(Path(out["report_file"]).read_text())
    page = Path(out["html_file"]).read_text(encoding="utf-8")
    assert Path(out["html_file"]).name == "vaedetect-report-talking.html"
    assert hashlib.sha256(media["good"].read_bytes()).hexdigest() in page  # the analysed file, identified
    assert explain.TIER_LABELS[report["verdict"]] in page
    assert report["verdict"] in ("real", "uncertain", "fake")
    assert 0.0 <= report["manipulation_score"] <= 1.0 and "fake_probability" not in report
    has_curve = bool(report["sync"] and report["sync"]["curve_t"])
    # The reading guide only under a drawn curve.
    assert out["alignment_note"].startswith(explain.ALIGNMENT_CAPTION) == has_curve
    assert out["timeline_note"].startswith(explain.TIMELINE_CAPTION) == bool(report["timeline"])
    assert 'class="plot-summary"' in out["alignment_note"] and 'class="plot-summary"' in out["timeline_note"]
    assert Path(out["report_file"]).is_relative_to(upload_root)  # served from Gradio's cache, swept by delete_cache
    frames = out["frames_state"]
    if frames:  # the real detector may not find the synthetic face
        pair, heatmap = out["slider"], out["heatmap"]
        assert pair[0].dtype == np.uint8 and pair[0].shape == pair[1].shape
        assert heatmap.ndim == 3 and heatmap.shape[2] == 3
        assert out["frame_pick"]["visible"] == (len(frames) > 1)
        assert "t = " in out["frame_note"]
    assert not Path(path).exists(), "the upload must be deleted after analysis"
    assert not Path(path).parent.exists()


def test_photo_has_no_lip_sync_panel(handlers, media, upload_root):
    out = ui(handlers, None, as_upload(media["photo"], upload_root))
    text = " ".join(a.text or "" for a in out["alignment_plot"].layout.annotations)
    assert "A single photo has no sound" in text
    for note in (out["alignment_note"], out["timeline_note"]):  # no caption explaining curves not drawn
        assert note.startswith('<span class="plot-summary">A single photo has no')
    assert "photo" in out["verdict"]


def test_an_iphone_heic_photo_passes_the_photo_widget_and_is_analysed_as_a_photo(handlers, media, upload_root):
    """Gradio's photo widget opens uploads with PIL before the handler runs: without the HEIF plugin registered in
    the app process, an iPhone photo failed there."""
    import gradio as gr
    from gradio.data_classes import FileData
    from PIL import Image

    made = upload_root.parent / "IMG_0001.HEIC"
    Image.open(media["photo"]).save(made, quality=90)
    heic = as_upload(made, upload_root)
    widget = gr.Image(type="filepath", image_mode=None)
    assert widget.preprocess(FileData(path=heic, orig_name=made.name)) == heic
    out = ui(handlers, None, heic)
    assert "photo" in out["verdict"] and not Path(heic).exists()


def test_a_heic_upload_says_it_arrived_although_the_browser_cannot_show_it():
    assert app.photo_uploaded("/tmp/gradio/abc/IMG_0001.HEIC") == (None, app.HEIC_NOTE)
    assert app.photo_uploaded({"path": "/tmp/gradio/abc/face.jpg"}) == (None, "")
    assert app.photo_uploaded(None) == (None, "")


def test_silent_clip_is_analysed(handlers, media, upload_root):
    out = ui(handlers, as_upload(media["silent"], upload_root), None)
    # A moving pattern: no face, so its own grey outcome rather than a tier (issue 32).
    assert "## No face found — no verdict" in out["verdict"] and 'class="tier-none"' in out["verdict"]
    assert not any(label in out["verdict"] for label in explain.TIER_LABELS.values())
    assert "no sound track" in " ".join(a.text or "" for a in out["alignment_plot"].layout.annotations)


def test_browser_webcam_webm(handlers, upload_root, tmp_path):
    """What the webcam button uploads: MediaRecorder-style WebM (VP8 + Opus, no duration in the header)."""
    op = opening_curve(30)
    webm = write_browser_webm(tmp_path / "recording.webm", talking_face_frames(op), audio=speech_like_audio(op))
    out = ui(handlers, as_upload(webm, upload_root), None)
    assert any(label in out["verdict"] for label in explain.TIER_LABELS.values())


@pytest.mark.parametrize("kind", ["empty", "text", "random"])
def test_bad_input_gives_friendly_message_and_is_deleted(handlers, media, upload_root, kind):
    path = as_upload(media[kind], upload_root)
    with pytest.warns(UserWarning):  # gr.Warning outside a request falls back to warnings.warn
        out = ui(handlers, path, None)
    text = out["verdict"]
    assert "### ⚠ Cannot analyse this file" in text
    assert "Traceback" not in text and "Error" not in text
    assert 'class="tier-error"' in text
    assert out["slider"] is None and out["heatmap"] is None and out["report_file"] is None
    assert out["alignment_note"] == out["timeline_note"] == "" and out["frames_state"] == []
    assert not Path(path).exists()


def test_a_refused_upload_logs_one_line_and_no_traceback(handlers, media, upload_root, caplog):
    path = as_upload(media["text"], upload_root)
    with caplog.at_level("INFO", logger="vaedetect.app"), pytest.warns(UserWarning):
        ui(handlers, path, None)
    mine = [r for r in caplog.records if r.name == "vaedetect.app"]
    assert len(mine) == 1 and mine[0].exc_info is None and "notes.mp4" in mine[0].getMessage()


def test_nothing_uploaded(handlers):
    with pytest.warns(UserWarning):
        out = ui(handlers, None, None)
    assert "Please upload a video or a photo" in out["verdict"]


def test_reanalysing_a_deleted_upload_explains_why(handlers, media, upload_root):
    path = as_upload(media["good"], upload_root)
    handlers.analyze_ui(path, None)
    with pytest.warns(UserWarning):
        out = ui(handlers, path, None)
    assert "no longer on the server" in out["verdict"]


def test_unexpected_error_is_generic_and_logged(media, upload_root, caplog):
    class Broken(FakeDetector):  # a detector that fails on purpose
        def analyze(self, path, progress=None):
            raise RuntimeError("model exploded: CUDA something")

    h = app.Handlers(Broken())
    path = as_upload(media["good"], upload_root)
    with pytest.warns(UserWarning):
        out = ui(h, path, None)
    assert app.GENERIC_ERROR in out["verdict"] and "CUDA" not in out["verdict"]
    assert "model exploded" in caplog.text  # traceback stays server-side
    assert not Path(path).exists()


def test_video_wins_over_photo_and_both_uploads_are_deleted(handlers, media, upload_root):
    v, p = as_upload(media["good"], upload_root), as_upload(media["photo"], upload_root)
    out = ui(handlers, {"path": v, "orig_name": "talking.mp4"}, {"path": p, "orig_name": "face.jpg"})
    assert "photo" not in out["verdict"].split("Model:")[-1]
    assert Path(out["report_file"]).name == "vaedetect-report-talking.json"
    assert not Path(v).exists() and not Path(p).exists()


def test_never_deletes_outside_upload_folder(handlers, media, upload_root, tmp_path):
    outside = shutil.copy(media["good"], tmp_path / "mine.mp4")
    with pytest.warns(UserWarning, match="Only a file uploaded"):
        handlers.analyze_ui(str(outside), None)
    assert Path(outside).exists()


def test_select_frame(handlers, media, upload_root):
    report = FakeDetector().analyze(str(media["good"]))  # always has several frames with pictures
    frames = handlers.render(report)["frames"]
    out = handlers.out.named(handlers.select_frame(1, frames))
    assert out["slider"][0].shape == frames[1]["pair"][0].shape and out["frame_note"] == frames[1]["caption"]
    assert handlers.out.named(handlers.select_frame(99, frames))["frame_note"] == frames[-1]["caption"]
    assert handlers.select_frame(0, []) == {}  # nothing to pick: nothing changes


def test_api_handler_returns_report_or_raises_friendly(handlers, media, upload_root):
    import gradio as gr

    meta = {"_type": "gradio.FileData"}
    rep = handlers.analyze_api({"path": as_upload(media["good"], upload_root), "meta": meta, "orig_name": "a.mp4"})
    assert rep["verdict"] in ("real", "uncertain", "fake") and "reasons" in rep
    assert hashlib.sha256(media["good"].read_bytes()).hexdigest() in rep["report_html"]
    json.dumps(rep, allow_nan=False)
    with pytest.raises(gr.Error) as info:
        handlers.analyze_api({"path": as_upload(media["text"], upload_root), "meta": meta})
    assert "text" in info.value.message.lower()


def test_examples_folder(tmp_path, media, upload_root, detector, monkeypatch):
    assert app.example_files(None) == ([], [])
    assert app.example_files(str(tmp_path / "missing")) == ([], [])
    ex = tmp_path / "examples"
    ex.mkdir()
    (ex / "readme.txt").write_text("not an example")
    assert app.example_files(str(ex)) == ([], [])
    shutil.copy(media["good"], ex / "a.mp4")
    shutil.copy(media["photo"], ex / "b.jpg")
    videos, photos = app.example_files(str(ex))
    assert [Path(v).name for v in videos] == ["a.mp4"] and [Path(p).name for p in photos] == ["b.jpg"]
    monkeypatch.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path / "examples-cache"))
    demo = app.build_app(detector, examples_dir=str(ex))
    protected = demo.vaedetect_handlers.protected
    assert {Path(p).name for p in protected} == {"a.mp4", "b.jpg"}
    for p in protected:  # the cached example copies survive an analysis of themselves
        demo.vaedetect_handlers.discard_upload(p)
        assert Path(p).exists()


def test_main_binds_loopback_by_default(monkeypatch):
    import gradio as gr

    calls = []
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: calls.append(kw))
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    app.main([], detector_factory=FakeDetector)
    assert calls[-1]["server_name"] == "127.0.0.1" and calls[-1]["server_port"] == 7860
    assert calls[-1]["max_file_size"] == "200mb" and calls[-1]["share"] is False
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "8000")
    app.main([], detector_factory=FakeDetector)
    assert (calls[-1]["server_name"], calls[-1]["server_port"]) == ("0.0.0.0", 8000)
    app.main(["--host", "127.0.0.2", "--port", "9000"], detector_factory=FakeDetector)
    assert (calls[-1]["server_name"], calls[-1]["server_port"]) == ("127.0.0.2", 9000)


def test_header_shows_bundle_and_warnings():
    text = app._header(FakeDetector())
    assert "fake-test-bundle" in text and "0123456789ab" in text and "checkpoint fallback" in text
    assert "model card</a>" not in text  # the fake bundle has no card: no link to nowhere
    real = app._header(app_detector())
    assert "model card</a>" in real and "(calibration " in real


def test_the_shipped_examples_are_offered_without_any_setting_and_each_is_labelled(monkeypatch):
    monkeypatch.delenv("VAEDETECT_EXAMPLES", raising=False)
    videos, _photos = app.example_files(str(app.EXAMPLES_DIR))
    names = {Path(v).name for v in videos}
    assert names == set(app.EXAMPLE_LABELS) and len(names) >= 3
    assert {n.split(":")[0] for n in app.EXAMPLE_LABELS.values()} == {"Real", "Fake (made here)"}
    assert (app.EXAMPLES_DIR / "ATTRIBUTION.md").read_text().count("CC BY 4.0") >= 1
    assert all(Path(v).stat().st_size < 400_000 for v in videos)


# ---------------------------------------------------------------------------------------------------------------
# The served app
# ---------------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """The app launched in this process on a free loopback port, with its own GRADIO_TEMP_DIR."""

    def __init__(self, detector, temp_dir: Path, examples_dir: str = "") -> None:
        self.temp_dir = temp_dir
        self._old = {k: os.environ.get(k) for k in ("GRADIO_TEMP_DIR", "GRADIO_EXAMPLES_CACHE")}
        os.environ["GRADIO_TEMP_DIR"] = str(temp_dir)
        os.environ["GRADIO_EXAMPLES_CACHE"] = str(temp_dir / "examples-cache")  # not the repo's .gradio/
        self.demo = app.build_app(detector, examples_dir=examples_dir)
        self.port = free_port()
        self.demo.launch(
            prevent_thread_lock=True, server_name="127.0.0.1", server_port=self.port, quiet=True, **app.launch_kwargs()
        )
        self.url = f"http://127.0.0.1:{self.port}/"

    def client(self):
        from gradio_client import Client

        return Client(self.url, verbose=False, download_files=False, analytics_enabled=False)

    def close(self) -> None:
        self.demo.close()
        for key, value in self._old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def leftover_uploads(self, *uploaded: Path | str) -> list[Path]:
        """Copies of the given uploads still in Gradio's upload folder (served outputs, e.g. images, are fine)."""
        names = {Path(u).name for u in uploaded}
        return [p for p in self.temp_dir.rglob("*") if p.is_file() and p.name in names]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _predict(client, path: Path):
    from gradio_client import handle_file

    return client.predict(handle_file(str(path)), api_name="/analyze")


def test_gradio_client_analyze(detector, media, tmp_path):
    from gradio_client.exceptions import AppError

    served = Served(detector, tmp_path / "gradio")
    try:
        client = served.client()
        assert "/analyze" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        report = _predict(client, media["good"])
        assert report["verdict"] in ("real", "uncertain", "fake")
        assert {"manipulation_score", "reasons", "warnings", "scores", "media", "model"} <= set(report)
        with pytest.raises(AppError, match="text file"):
            _predict(client, media["text"])
        assert served.leftover_uploads(media["good"], media["text"]) == []
        with urllib.request.urlopen(served.url, timeout=10) as r:
            page = r.read().decode()
        assert r.status == 200 and "fonts.googleapis" not in page
    finally:
        served.close()


def test_no_outbound_connections(detector, media, tmp_path, monkeypatch):
    """Equivalent socket guard: start the app and run one analysis; every connection and lookup stays local."""
    outbound = guard_sockets(monkeypatch, refuse=False)
    served = Served(detector, tmp_path / "gradio")
    try:
        assert _predict(served.client(), media["good"])["verdict"]
        urllib.request.urlopen(served.url, timeout=10).read()
    finally:
        served.close()
    assert outbound == [], f"outbound connection attempts: {outbound}"


def _unshare_works() -> str | None:
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "unshare or ip not installed"
    try:
        r = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"unshare failed: {err}"
    return None if r.returncode == 0 else f"unshare -n not permitted here: {r.stderr.decode().strip()[:200]}"


def test_app_serves_without_any_network(tmp_path, media):
    """`python app.py` in a network namespace with only loopback: starts, serves its page, analyses a clip."""
    reason = _unshare_works()
    if reason:
        pytest.skip(reason)
    script = tmp_path / "netless.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, subprocess, sys, time, urllib.request
            port = "7861"
            code = "import sys; sys.path[:0] = [{str(ROOT)!r}]; import app; app.main(['--port', '" + port + "'])"
            env = dict(os.environ, VAEDETECT_TEMP_DIR={str(tmp_path / "app-files")!r})
            proc = subprocess.Popen([sys.executable, "-c", code], cwd={str(ROOT)!r}, env=env)
            try:
                deadline = time.time() + 150  # importing torch, gradio and mediapipe on a busy 2-core machine
                while True:
                    try:
                        with urllib.request.urlopen("http://127.0.0.1:" + port + "/", timeout=2) as r:
                            assert r.status == 200
                            break
                    except OSError:
                        if proc.poll() is not None or time.time() > deadline:
                            sys.exit("app did not serve its page")
                        time.sleep(0.3)
                from gradio_client import Client, handle_file
                c = Client("http://127.0.0.1:" + port, verbose=False, download_files=False, analytics_enabled=False)
                print("VERDICT", c.predict(handle_file({str(media["good"])!r}), api_name="/analyze")["verdict"])
            finally:
                proc.terminate()
                proc.wait(10)
            """
        )
    )
    cmd = ["unshare", "-n", "sh", "-c", f"ip link set lo up && {sys.executable} {script}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert "VERDICT" in r.stdout
    assert list((tmp_path / "app-files").iterdir()) == []  # stopped with SIGTERM: nothing of the visit stays


BAD = ("empty", "text", "random")


def expected_input_error(detector, path: Path) -> str:
    """The library's own sentence for a bad file (so the test does not pin the wording)."""
    from vaedetect.errors import InputError

    try:
        detector.analyze(str(path))
    except InputError as err:
        return str(err)
    raise AssertionError(f"{path.name} was accepted")


def test_concurrent_load(detector, media, tmp_path):
    """8 simultaneous requests, good and bad: each gets its own answer, the server survives, nothing lingers."""
    from gradio_client.exceptions import AppError

    d = tmp_path / "load"
    d.mkdir()
    jobs: list[tuple[Path, str | None]] = [  # (file, expected error message or None for success)
        (make_talking_clip(d / "a.mp4", seed=1), None),
        (make_talking_clip(d / "b.mp4", seed=2), None),
        (make_talking_clip(d / "c.mp4", seed=3), None),
        (shutil.copy(media["photo"], d / "p.jpg"), None),
        (shutil.copy(media["silent"], d / "s.mp4"), None),
        *[(shutil.copy(media[k], d / f"{k}.mp4"), expected_input_error(detector, media[k])) for k in BAD],
    ]
    served = Served(detector, tmp_path / "gradio")
    try:
        client = served.client()
        _predict(client, media["good"])  # warm-up: first-call allocations are not a leak
        before = rss_mb()
        with cf.ThreadPoolExecutor(len(jobs)) as pool:
            futures = [pool.submit(_predict, served.client(), Path(p)) for p, _ in jobs]
            results = []
            for f in futures:
                try:
                    results.append(f.result(timeout=150))
                except AppError as err:
                    results.append(err)
        for (path, expected), res in zip(jobs, results, strict=True):
            if expected is None:
                assert isinstance(res, dict) and res["verdict"] in ("real", "uncertain", "fake"), (path, res)
            else:
                assert isinstance(res, AppError), (path, res)
                assert str(res) == expected, (path, str(res))  # its own message, not a neighbour's
        growth = rss_mb() - before
        assert growth < 1536, f"RSS grew by {growth:.0f} MB"
        assert _predict(client, media["good"])["verdict"]  # still up
        assert served.leftover_uploads(*(p for p, _ in jobs)) == []
    finally:
        served.close()


def test_example_cache_moves_when_the_bundled_checkpoint_changes(tmp_path, monkeypatch):
    from types import SimpleNamespace

    monkeypatch.delenv("GRADIO_EXAMPLES_CACHE", raising=False)
    monkeypatch.chdir(tmp_path)
    example = tmp_path / "clip.mp4"
    example.write_bytes(b"x")

    def folder(calibration):
        det = SimpleNamespace(
            bundle_name="default", bundle_revision=None, bundle=SimpleNamespace(calibration=calibration)
        )
        with app._examples_cache(det, [str(example)]):
            return os.environ["GRADIO_EXAMPLES_CACHE"]

    first = folder({"heads": {"full": {"bias": 0.1}}})
    assert folder({"heads": {"full": {"bias": 0.1}}}) == first  # same checkpoint, same cached verdicts
    assert folder({"heads": {"full": {"bias": 0.2}}}) != first  # same name, no revision, new weights: new cache


def test_one_progress_indicator_for_analyze_and_for_a_clicked_example(tmp_path, monkeypatch):
    """Issue 32: one progress bar was drawn in three boxes at once. Every event that fills the verdict panel shows its
    progress there only. (The layout's configuration, so the stand-in detector is enough.)"""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "tmp"))
    monkeypatch.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path / "examples"))
    demo = app.build_app(FakeDetector(), examples_dir=str(app.EXAMPLES_DIR))
    verdict = demo.vaedetect_handlers.out.verdict._id
    filling = [d for d in demo.get_config_file()["dependencies"] if verdict in d["outputs"]]
    assert {d["api_name"] for d in filling} >= {"analyze_ui", "load_example"}
    assert all(d["show_progress_on"] == [verdict] for d in filling), filling
