"""The web app's own folder (issue 34): what an earlier process left is swept at start, what nobody keeps goes by age,
and every way the app stops (SIGTERM, Ctrl-C, a normal exit) leaves the folder empty, including the app served on
127.0.0.1 in a process of its own and stopped with SIGTERM in the middle of an analysis."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import app
from vaedetect import webfiles

try:  # pytest puts tests/ on sys.path (no tests/__init__.py)
    from fakes import FakeDetector
    from test_app import free_port, make_talking_clip
    from test_security import _multipart
except ImportError:  # pragma: no cover
    from tests.fakes import FakeDetector
    from tests.test_app import free_port, make_talking_clip
    from tests.test_security import _multipart

ROOT = Path(__file__).resolve().parents[1]


def _earlier_run(base: Path, name: str, *, lock: bool = True) -> Path:
    """What a process killed outright leaves: its run folder with a visitor's files, and its (now free) lock."""
    run = base / name
    (run / "upload-1").mkdir(parents=True)
    (run / "upload-1" / "face.png").write_bytes(b"\x89PNG a visitor's face")
    (run / "vaedetect-reports" / "abc").mkdir(parents=True)
    (run / "vaedetect-reports" / "abc" / "report.json").write_text("{}")
    if lock:
        (base / f"{name}.lock").touch()
    return run


def test_a_start_sweeps_dead_runs_and_leaves_live_ones_and_foreign_files(tmp_path):
    base = tmp_path / "base"
    base.mkdir(mode=0o700)
    dead = _earlier_run(base, "run-dead")
    orphan = _earlier_run(base, "run-orphan", lock=False)
    live = _earlier_run(base, "run-live")
    held = os.open(base / "run-live.lock", os.O_RDONLY)  # another app that still runs holds its lock
    fcntl.flock(held, fcntl.LOCK_EX)
    (base / "notes.txt").write_text("not ours")
    try:
        files = webfiles.AppFiles.claim(base)
        try:
            assert not dead.exists() and not (base / "run-dead.lock").exists() and not orphan.exists()
            assert (live / "upload-1" / "face.png").exists() and (base / "notes.txt").exists()
            assert files.root.is_dir() and files.root.parent == base and files.root.stat().st_mode & 0o077 == 0
            with pytest.raises(BlockingIOError):  # its own lock is held: a second app's sweep leaves it alone
                fd = os.open(base / f"{files.root.name}.lock", os.O_RDONLY)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                finally:
                    os.close(fd)
        finally:
            files.close()
        assert sorted(p.name for p in base.iterdir()) == ["notes.txt", "run-live", "run-live.lock"]
    finally:
        os.close(held)


def test_a_base_that_is_not_a_private_folder_of_this_user_is_not_used(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / "base"
    link.symlink_to(elsewhere)  # someone placed a link where the app's folder would be
    with webfiles.AppFiles.claim(link) as files:
        assert not files.root.is_relative_to(elsewhere) and files.root.is_dir()
    assert list(elsewhere.iterdir()) == []


def test_the_janitor_deletes_whatever_is_old_and_not_kept(tmp_path):
    with webfiles.AppFiles.claim(tmp_path / "base") as files:
        old = time.time() - 3600
        made = {}
        for name in ("deep_links/x/state.json", "tmpabc123", "upload-1/clip.mp4", "upload-2/busy.mp4",
                     "examples-cache/v/log.csv", "fresh/report.html"):  # fmt: skip
            path = files.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")
            made[name] = path
        for name, path in made.items():
            if name != "fresh/report.html":
                os.utime(path, (old, old))
                os.utime(path.parent, (old, old))
        busy = made["upload-2/busy.mp4"]
        removed = files.sweep(300, keep=lambda p: p == busy)
        assert set(removed) == {made["deep_links/x/state.json"], made["tmpabc123"], made["upload-1/clip.mp4"]}
        left = {p.relative_to(files.root).as_posix() for p in files.root.rglob("*")}
        assert "upload-1" not in left and "deep_links/x" not in left  # old folders emptied go too
        assert {"upload-2/busy.mp4", "examples-cache/v/log.csv", "fresh/report.html"} <= left


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "exit"])
def test_every_way_main_stops_deletes_the_apps_folder(tmp_path, monkeypatch, how):
    import gradio as gr

    base = tmp_path / "base"
    monkeypatch.setenv("VAEDETECT_TEMP_DIR", str(base))
    monkeypatch.setenv("GRADIO_TEMP_DIR", "/before")
    seen: dict[str, Path] = {}

    def launch(self, **kw):
        root = Path(os.environ["GRADIO_TEMP_DIR"])
        seen["root"] = root
        (root / "upload-1").mkdir()
        (root / "upload-1" / "face.png").write_bytes(b"a visitor's face")
        if how != "exit":
            os.kill(os.getpid(), getattr(signal, how))
            time.sleep(10)  # interrupted by the signal

    monkeypatch.setattr(gr.Blocks, "launch", launch)
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    t0 = time.monotonic()
    app.main([], detector_factory=FakeDetector)
    assert time.monotonic() - t0 < 9
    assert seen["root"].parent == base and list(base.iterdir()) == []
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == handlers
    assert os.environ["GRADIO_TEMP_DIR"] == "/before"


def _wait_for(url: str, proc: subprocess.Popen, deadline_s: float = 150) -> None:
    end = time.monotonic() + deadline_s  # importing gradio and torch on a busy 2-core machine
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > end:
                raise AssertionError(f"the app did not serve its page (exit code {proc.poll()})") from None
            time.sleep(0.3)


def test_a_served_app_stopped_with_sigterm_mid_analysis_leaves_its_folder_empty(tmp_path):
    """Issue 34: after SIGTERM, 67 files (reports with face crops, face PNGs, uploads, deep-link states) stayed."""
    base = tmp_path / "base"
    base.mkdir(mode=0o700)
    _earlier_run(base, "run-killed")  # a process before this one, killed with SIGKILL
    clip = make_talking_clip(tmp_path / "talking.mp4", n_frames=25)
    port = free_port()
    code = (
        f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]; import app; from fakes import "
        f"FakeDetector; app.main(['--port', '{port}'], detector_factory=lambda: FakeDetector(delay_s=4.0))"
    )
    system_temp = tmp_path / "system-temp"  # where Gradio would write without the app's folder
    system_temp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADIO_TEMP")}
    env |= {"VAEDETECT_TEMP_DIR": str(base), "TMPDIR": str(system_temp)}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for(url, proc)
        assert not (base / "run-killed").exists() and not (base / "run-killed.lock").exists()
        (run,) = [p for p in base.iterdir() if p.is_dir()]
        assert (base / f"{run.name}.lock").exists()
        body, ctype = _multipart([("never-analysed.mp4", clip.read_bytes())])
        req = urllib.request.Request(f"{url}/gradio_api/upload", body, {"Content-Type": ctype}, method="POST")
        with urllib.request.urlopen(req, timeout=20) as r:
            (kept,) = json.loads(r.read())
        assert Path(kept).is_relative_to(run)
        from gradio_client import Client, handle_file

        client = Client(url, verbose=False, download_files=False, analytics_enabled=False)
        client.submit(handle_file(str(clip)), api_name="/analyze")  # analysing for 4 s
        end = time.monotonic() + 30
        while not list(run.glob("upload-*/talking.mp4")) and time.monotonic() < end:
            time.sleep(0.1)
        assert list(run.glob("upload-*/talking.mp4")), "the analysis did not start"
        assert any(p.is_file() for p in run.rglob("*.mp4"))  # shipped examples, the upload, the one in analysis
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert list(base.iterdir()) == []
    assert not (system_temp / "gradio").exists()  # nothing Gradio wrote lives outside the app's folder
