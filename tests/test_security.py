"""Security of the public app (issue 20): what a request may make the server read, fetch or keep.

Unit tests of ``vaedetect.webguard`` and of the media layer's refusals, then probes of the app served on 127.0.0.1
as an attacker would send them (loopback only, bounded requests). The served app runs ``FakeDetector``, which reads
and probes the file it is given like the real detector, so a hole shows up as a report where a refusal belongs.
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import http.client
import itertools
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import av
import pytest

import app
from vaedetect import media, webguard
from vaedetect.errors import InputError, LimitExceededError

try:  # pytest puts tests/ on sys.path (no tests/__init__.py)
    from fakes import FakeDetector
    from media_factory import ffmpeg_exe, moving_pattern_frames, write_video
    from socket_guard import guard_sockets
    from test_app import Served, make_talking_clip
except ImportError:  # pragma: no cover
    from tests.fakes import FakeDetector
    from tests.media_factory import ffmpeg_exe, moving_pattern_frames, write_video
    from tests.socket_guard import guard_sockets
    from tests.test_app import Served, make_talking_clip

META = {"_type": "gradio.FileData"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_talking_clip(tmp_path_factory.mktemp("sec") / "talking.mp4", n_frames=25)


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    """A private upload folder (GRADIO_TEMP_DIR), resolved as the guard resolves it."""
    r = tmp_path / "gradio"
    r.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(r))
    return Path(os.path.realpath(r))


def _refused(path) -> str:
    with pytest.raises(InputError) as info:
        webguard.checked_upload(path)
    return str(info.value)


# ---------------------------------------------------------------------------------------------------------------
# Upload values (unit)
# ---------------------------------------------------------------------------------------------------------------


def test_only_regular_files_inside_the_upload_folder_pass_and_every_other_path_gets_one_message(root, tmp_path, clip):
    upload = root / "abc" / "clip.mp4"
    upload.parent.mkdir()
    shutil.copy(clip, upload)
    assert webguard.checked_upload(str(upload)) == upload
    (root / "link").symlink_to(upload)  # a link inside the folder to an upload is that upload
    assert webguard.checked_upload(str(root / "link")) == upload

    outside = shutil.copy(clip, tmp_path / "secret.mp4")
    (tmp_path / "notes.txt").write_text("confidential\n")
    (root / "escape.mp4").symlink_to(outside)
    os.mkfifo(root / "fifo.mp4")  # never opened: stat only
    read_end, write_end = os.pipe()
    try:
        probes = [
            outside,  # a server file
            tmp_path / "notes.txt",  # a text file
            tmp_path,  # a folder
            tmp_path / "missing.mp4",  # nothing there
            root,  # the upload folder itself
            root / "abc",  # a folder inside it
            root / "escape.mp4",  # a symlink out of it
            root / "fifo.mp4",  # not a regular file
            f"/proc/self/fd/{read_end}",  # a pipe the server holds
            f"{root}/../secret.mp4",  # a traversal
            "abc/clip.mp4",  # relative
            "http://example.com/clip.mp4",
            "file:///etc/passwd",
            "",
        ]
        messages = {_refused(p) for p in probes}
    finally:
        os.close(read_end)
        os.close(write_end)
    assert messages == {webguard.UPLOAD_REFUSED}
    assert _refused(root / "abc" / "gone.mp4") == webguard.UPLOAD_GONE  # Analyze pressed twice: say why


def test_the_api_takes_only_gradio_file_values(root, clip):
    from gradio.data_classes import FileData

    assert webguard.is_file_value({"path": "/x/y.mp4", "meta": META})
    assert webguard.is_file_value(FileData(path="/x/y.mp4"))
    assert not webguard.is_file_value({"path": "/x/y.mp4"})
    assert not webguard.is_file_value("/x/y.mp4")
    assert not webguard.is_file_value({"path": "/x/y.mp4", "meta": {"_type": "other"}})

    import gradio as gr

    handlers = app.Handlers(FakeDetector())
    upload = root / "abc" / "clip.mp4"
    upload.parent.mkdir()
    shutil.copy(clip, upload)
    for value in (str(upload), {"path": str(upload)}):  # even the right path, without Gradio's meta
        with pytest.raises(gr.Error) as info:
            handlers.analyze_api(value)
        assert info.value.message == webguard.UPLOAD_REFUSED
    assert upload.exists()
    assert handlers.analyze_api({"path": str(upload), "meta": META})["verdict"]
    assert not upload.exists()


def test_an_upload_in_use_is_deleted_when_its_last_analysis_ends(root, clip):
    handlers = app.Handlers(FakeDetector())
    upload = root / "abc" / "clip.mp4"
    upload.parent.mkdir()
    shutil.copy(clip, upload)
    started, release = threading.Event(), threading.Event()
    inner = handlers.detector.analyze

    def slow(path, progress=None):
        started.set()
        release.wait(30)
        return inner(path, progress)

    handlers.detector.analyze = slow
    with cf.ThreadPoolExecutor(1) as pool:
        first = pool.submit(handlers.run, str(upload))
        assert started.wait(30)
        handlers.detector.analyze = inner
        assert handlers.run(str(upload)).verdict  # the second analysis ends first ...
        assert upload.exists()  # ... and leaves the file to the first
        release.set()
        assert first.result(30).verdict
    assert not upload.exists()


def test_url_values_are_found_where_a_file_path_could_be():
    browser_value = {"path": "/tmp/gradio/x/a.mp4", "url": "http://127.0.0.1:7860/gradio_api/file=/tmp/x", "meta": META}
    assert webguard.find_url_value({"data": [browser_value], "fn_index": 3}) is None
    assert webguard.find_url_value({"data": [{"path": "https://example.com/a.mp4", "meta": META}]})
    assert webguard.find_url_value({"data": ["http://example.com/a.mp4"]})
    assert webguard.find_url_value({"data": [{"video": {"path": "//example.com/a.mp4"}}]})
    assert webguard.find_url_value({"data": [{"url": "http://example.com/a.mp4"}]})  # no path: a URL value
    assert webguard.find_url_value({"data": [None, 1.5, "plain text"]}) is None


def test_the_host_header_is_checked_on_loopback_connections_only():
    assert webguard.host_allowed("127.0.0.1:7860", "127.0.0.1")
    assert webguard.host_allowed("localhost:7860", "127.0.0.1")
    assert webguard.host_allowed("[::1]:7860", "::1")
    assert not webguard.host_allowed("attacker.example:7860", "127.0.0.1")  # DNS rebinding
    assert not webguard.host_allowed(None, "127.0.0.1")
    assert webguard.host_allowed("newsroom.local:7860", "127.0.0.1", ["newsroom.local"])  # VAEDETECT_ALLOWED_HOSTS
    assert webguard.host_allowed("user-vaedetect.hf.space", "10.0.3.7")  # a Space behind its proxy


# ---------------------------------------------------------------------------------------------------------------
# Media layer (unit)
# ---------------------------------------------------------------------------------------------------------------


def test_media_refuses_what_is_not_a_regular_file_before_opening_it():
    read_end, write_end = os.pipe()
    os.close(write_end)  # an open pipe would block a reader forever; a closed one used to read as "empty"
    try:
        for path in (f"/proc/self/fd/{read_end}", "/dev/zero"):
            with pytest.raises(InputError, match="not a regular file") as info:
                media.probe(path)
            assert info.value.code == "unreadable"
            with pytest.raises(InputError, match="not a regular file"):
                media.load_image(path)
    finally:
        os.close(read_end)


class _OpenWatch:
    """inotify on one file: counts every open of it by any code in this process, FFmpeg's C code included."""

    IN_ACCESS, IN_OPEN = 0x1, 0x20

    def __init__(self, path: Path) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self._libc.inotify_init1(os.O_NONBLOCK)
        if self.fd < 0 or self._libc.inotify_add_watch(self.fd, os.fsencode(path), self.IN_OPEN | self.IN_ACCESS) < 0:
            pytest.skip("inotify is not available here")

    def events(self) -> int:
        n = 0
        while True:
            try:
                data = os.read(self.fd, 4096)
            except BlockingIOError:
                return n
            n += len(data) // 16  # struct inotify_event without a name (a watch on a file)

    def close(self) -> None:
        os.close(self.fd)


@pytest.mark.parametrize("kind", ["hls", "concat"])
def test_a_playlist_upload_is_refused_and_the_file_it_names_is_never_opened(tmp_path, kind):
    secret = write_video(tmp_path / "secret.ts", moving_pattern_frames(10, 64, 64), fps=25, container_format="mpegts")
    # The upload: a line of \x01 bytes gets it past the text-file check.
    if kind == "hls":
        upload = tmp_path / "upload.m3u8"
        lines = [
            b"#EXTM3U",
            b"\x01" * 128,
            b"#EXT-X-TARGETDURATION:2",
            b"#EXTINF:1.0,",
            os.fsencode(secret),
            b"#EXT-X-ENDLIST",
        ]
    else:  # FFmpeg's concat list (relative names only, by default)
        upload = tmp_path / "upload.ffconcat"
        lines = [b"ffconcat version 1.0", b"#" + b"\x01" * 128, b"file secret.ts"]
    upload.write_bytes(b"\n".join(lines) + b"\n")
    watch = _OpenWatch(secret)
    try:
        with av.open(str(upload)) as plain:  # the control: FFmpeg left to itself follows the list
            assert plain.format.name == kind
        assert watch.events() > 0
        with pytest.raises(InputError):
            media.probe(upload)
        with pytest.raises(InputError):
            list(media.iter_frames(upload))
        assert watch.events() == 0
    finally:
        watch.close()


def test_huge_video_frames_are_refused_before_decoding(tmp_path, clip):
    big = tmp_path / "big.mp4"  # the clip: 8192x8192 at 1 fps (two frames are enough to refuse it)
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=8192x8192:r=1", "-t", "2"]
    subprocess.run([*cmd, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(big)], check=True)
    with pytest.raises(LimitExceededError, match="4096 pixels"):
        media.probe(big)
    with pytest.raises(LimitExceededError, match="frames per second"):  # the pixel-rate budget
        media.probe(clip, media.MediaLimits(max_video_pixel_rate=1000.0))
    photo_limit = media.MediaLimits().max_source_side_px
    assert photo_limit > media.MediaLimits().max_video_side_px  # a 50 MP phone photo is still read


# ---------------------------------------------------------------------------------------------------------------
# The served app
# ---------------------------------------------------------------------------------------------------------------


class RereadingDetector(FakeDetector):
    """Opens the file again at the end of its analysis, as the real detector does (probe, frames, then audio);
    every other call takes longer, so of two analyses running together one ends while the other still reads."""

    def __init__(self, delay_s: float) -> None:
        super().__init__(delay_s=delay_s)
        self._calls = itertools.count()

    def analyze(self, path: str, progress=None):
        report = super().analyze(path, progress)
        time.sleep(self.delay_s * (next(self._calls) % 2))
        media.probe(path)
        return report


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = Served(RereadingDetector(delay_s=0.3), tmp_path_factory.mktemp("served") / "gradio")
    yield s
    s.close()


def _request(served, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """(status, headers, body) of one loopback request; errors are answers too."""
    req = urllib.request.Request(served.url.rstrip("/") + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def _call_analyze(served, value, deadline_s: float = 60.0) -> tuple[str, str]:
    """POST /gradio_api/call/analyze then read its event stream: (event, data) of the outcome.

    The stream is read line by line against a deadline (Gradio sends heartbeats), so a worker stuck on a pipe makes
    this answer "stuck" instead of hanging the suite.
    """
    status, _, body = _request(
        served, "POST", "/gradio_api/call/analyze", json.dumps({"data": [value]}).encode(),
        {"Content-Type": "application/json"},
    )  # fmt: skip
    if status != 200:
        return f"http {status}", body.decode()
    event_id = json.loads(body)["event_id"]
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=20)
    end, event = time.monotonic() + deadline_s, ""
    try:
        conn.request("GET", f"/gradio_api/call/analyze/{event_id}")
        stream = conn.getresponse()
        while time.monotonic() < end:
            line = stream.readline().decode().strip()
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                return event, line.split(":", 1)[1].strip()
            elif not line and stream.isclosed():
                break
    finally:
        conn.close()
    return "stuck", ""


def test_the_api_never_analyses_a_server_path(served, clip, tmp_path):
    outside = shutil.copy(clip, tmp_path / "confidential.mp4")
    (tmp_path / "notes.txt").write_text("confidential\n")
    read_end, write_end = os.pipe()  # held open: a reader of /proc/self/fd/N would wait forever
    try:
        values = [
            str(outside),
            {"path": str(outside)},
            str(tmp_path / "notes.txt"),
            str(tmp_path),
            str(tmp_path / "missing.mp4"),
            f"/proc/self/fd/{read_end}",
            {"path": f"/proc/self/fd/{read_end}"},
        ]
        outcomes = [_call_analyze(served, v) for v in values]
    finally:
        os.close(write_end)
        os.close(read_end)
    for value, (event, data) in zip(values, outcomes, strict=True):
        assert event == "error", (value, event, data[:300])
        assert webguard.UPLOAD_REFUSED in data, (value, data[:300])
    # Gradio's own check answers a file value with meta, without a report either
    event, data = _call_analyze(served, {"path": str(outside), "meta": META})
    assert event == "error" and "verdict" not in data
    assert Path(outside).exists()
    # no worker is stuck: a real upload is still analysed
    from gradio_client import handle_file

    assert served.client().predict(handle_file(str(clip)), api_name="/analyze")["verdict"]


@pytest.mark.parametrize("n", [2, 8])
def test_concurrent_analyses_of_the_same_clip_all_succeed(served, clip, tmp_path, n):
    from gradio_client import handle_file

    viral = shutil.copy(clip, tmp_path / "viral.mp4")  # every visitor uploads the same file (same bytes, same name)
    with cf.ThreadPoolExecutor(n) as pool:
        clients = [served.client() for _ in range(n)]
        futures = [pool.submit(c.predict, handle_file(str(viral)), api_name="/analyze") for c in clients]
        results = [f.result(timeout=120) for f in futures]
    assert all(r["verdict"] in ("real", "uncertain", "fake") for r in results), results
    assert served.leftover_uploads(viral) == []  # each visitor's copy deleted after its analysis


def _multipart(files: list[tuple[str, bytes]], field: str = "files", extra: bytes = b"") -> tuple[bytes, str]:
    """A multipart body of file parts under ``field``, then ``extra`` (more parts, as :func:`_part` makes them)."""
    boundary = "vaedetect-test-boundary"
    parts = [_part(field, data, filename=name) for name, data in files]
    return b"".join(parts) + extra + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _part(field: str, data: bytes, filename: str | None = None) -> bytes:
    """One part: a file when it has a ``filename``, a text field otherwise."""
    disposition = f'form-data; name="{field}"' + (f'; filename="{filename}"' if filename is not None else "")
    kind = "application/octet-stream" if filename is not None else "text/plain"
    head = f"--vaedetect-test-boundary\r\nContent-Disposition: {disposition}\r\nContent-Type: {kind}\r\n\r\n"
    return head.encode() + data + b"\r\n"


def _on_disk(root: Path) -> set[Path]:
    """Every file and folder under the served app's temp folder."""
    return set(root.rglob("*"))


def test_one_file_per_upload_request_under_a_size_cap(served, clip):
    before = _on_disk(served.temp_dir)
    data = clip.read_bytes()
    body, ctype = _multipart([("a.mp4", data), ("b.mp4", data + b"x")])
    status, _, _ = _request(served, "POST", "/gradio_api/upload", body, {"Content-Type": ctype})
    assert status == 400
    assert _on_disk(served.temp_dir) == before  # both files removed at once

    body, ctype = _multipart([("a.mp4", data)])
    paths = []
    for _ in range(2):  # the same bytes twice: two files of their own, in the upload folder
        status, _, answer = _request(served, "POST", "/gradio_api/upload", body, {"Content-Type": ctype})
        assert status == 200
        (path,) = json.loads(answer)
        paths.append(Path(path))
    assert paths[0] != paths[1] and all(p.is_file() and p.is_relative_to(served.temp_dir.resolve()) for p in paths)
    for p in paths:
        shutil.rmtree(p.parent)

    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=20)
    try:  # a declared 300 MB is refused before a byte of it is read
        conn.putrequest("POST", "/gradio_api/upload")
        conn.putheader("Content-Type", ctype)
        conn.putheader("Content-Length", str(300 * 1024 * 1024))
        conn.endheaders()
        assert conn.getresponse().status == 413
    finally:
        conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=20)
    try:  # no Content-Length (chunked): refused
        conn.request("POST", "/gradio_api/upload", body=iter([body]), headers={"Content-Type": ctype})
        assert conn.getresponse().status == 411
    finally:
        conn.close()


@pytest.fixture
def outbound(monkeypatch) -> list[str]:
    """A socket guard for this process (the served app included): records and refuses every non-loopback
    connection or name lookup, so nothing leaves the machine even if a check fails."""
    return guard_sockets(monkeypatch, refuse=True)


def test_url_file_values_and_fetch_routes_make_no_outbound_connection(served, outbound):
    url = "http://example.com/clip.mp4"
    for route in (f"/gradio_api/file={url}", "/gradio_api/file=https://example.com/x.png",
                  f"/gradio_api/proxy={url}", "/gradio_api/file=//example.com/x.png"):  # fmt: skip
        assert _request(served, "GET", route)[0] == 403, route
    for value in (url, {"path": url, "meta": META}, {"path": url, "url": url, "meta": META}):
        event, data = _call_analyze(served, value)
        assert event == "http 400" and "verdict" not in data, (value, event)
    join = {"data": [{"path": url, "meta": META}, None], "fn_index": 0, "session_hash": "abc", "event_data": None}
    status, _, _ = _request(
        served, "POST", "/gradio_api/queue/join", json.dumps(join).encode(), {"Content-Type": "application/json"}
    )
    assert status == 400
    assert outbound == [], f"outbound connection attempts: {outbound}"


def test_monitoring_is_off_security_headers_are_set_and_foreign_hosts_are_refused(served):
    status, headers, _ = _request(served, "GET", "/")
    assert status == 200
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'self' https://huggingface.co" in headers["Content-Security-Policy"]
    for route in ("/monitoring", "/monitoring/summary", "/gradio_api/runs", "/gradio_api/run-history/buckets"):
        assert _request(served, "GET", route)[0] in (403, 404), route
    body, ctype = _multipart([("rec.mp4", b"ffconcat version 1.0\nfile x.mp4\n")])
    assert _request(served, "POST", "/gradio_api/process_recording", body, {"Content-Type": ctype})[0] == 403
    assert _request(served, "GET", "/", headers={"Host": "attacker.example"})[0] == 421
    assert _request(served, "GET", "/", headers={"Host": f"localhost:{served.port}"})[0] == 200


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param([("other", "x.mp4")], id="a file under another name"),
        pytest.param([("other", "x.mp4")] * 9, id="nine files under another name"),
        pytest.param([("other", None)], id="a text field"),
        pytest.param([("files", None)], id="a text files field"),
    ],
)
@pytest.mark.parametrize("with_files", [True, False], ids=["beside files", "alone"])
def test_an_upload_with_any_other_part_is_refused_and_leaves_nothing_on_disk(served, clip, extra, with_files):
    """Issue 34: Gradio wrote every part into the upload folder and kept those not under ``files`` forever."""
    before = _on_disk(served.temp_dir)
    data = clip.read_bytes()
    parts = b"".join(_part(field, data if name else b"text", filename=name) for field, name in extra)
    body, ctype = _multipart([("a.mp4", data)] if with_files else [], extra=parts)
    status, _, answer = _request(served, "POST", "/gradio_api/upload", body, {"Content-Type": ctype})
    assert status == 400, answer[:200]  # a text-only files field used to be a 500 and a traceback
    assert answer.decode() == webguard.UPLOAD_ONE_FILE
    assert _on_disk(served.temp_dir) == before


def test_an_upload_cut_off_midway_leaves_nothing_on_disk(served, clip):
    before = _on_disk(served.temp_dir)
    body, ctype = _multipart([("a.mp4", clip.read_bytes())])
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=20)
    try:
        conn.putrequest("POST", "/gradio_api/upload")
        conn.putheader("Content-Type", ctype)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        conn.send(body[: len(body) // 2])  # the file part has begun: Gradio's parser has a file open
        time.sleep(0.5)
    finally:
        conn.close()
    deadline = time.monotonic() + 10
    while _on_disk(served.temp_dir) != before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _on_disk(served.temp_dir) == before


def test_a_name_with_a_colon_is_a_name_not_a_url(served, clip):
    """Issue 34: ``Interview:Smith.mp4`` from a browser got 400 "URLs are not fetched" (its orig_name was read)."""
    body, ctype = _multipart([("Interview:Smith.mp4", clip.read_bytes())])
    status, _, answer = _request(served, "POST", "/gradio_api/upload", body, {"Content-Type": ctype})
    assert status == 200
    (path,) = json.loads(answer)
    value = {
        "path": path,
        "url": f"{served.url}gradio_api/file={path}",
        "orig_name": "Interview:Smith.mp4",
        "size": clip.stat().st_size,
        "mime_type": "video/mp4",
        "meta": META,
    }  # what the browser sends
    event, data = _call_analyze(served, value)
    assert event == "complete", (event, data[:300])
    assert "Interview:Smith.mp4" in json.loads(data)[0]["report_html"]
    assert not Path(path).exists()
    assert webguard.find_url_value({"data": [{"path": "/tmp/a.mp4", "orig_name": "https://x.example/a.mp4"}]}) is None
    assert webguard.find_url_value({"data": [{"path": path, "url": "data:image/png;base64,AAAA", "meta": META}]})


def test_deep_links_and_the_example_cache_log_are_refused(served):
    assert _request(served, "GET", "/gradio_api/deep_link?session_hash=abc")[0] == 403
    log = served.temp_dir / "examples-cache" / "x" / "log.csv"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("verdict,report\nfake,/tmp/gradio/x/report.json\n")
    try:
        status, _, body = _request(served, "GET", f"/gradio_api/file={log}")
        assert status == 403 and b"report.json" not in body
    finally:
        shutil.rmtree(log.parent)
    assert not (served.temp_dir / "deep_links").exists()
