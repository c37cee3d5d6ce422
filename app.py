"""vaedetect web app: upload a short clip or a photo, get a verdict and the evidence behind it.

Thin by design: every number comes from ``vaedetect`` (the detector) and every picture from ``vaedetect.viz``; this
file only wires widgets, handles files and turns errors into sentences.

Privacy: nothing leaves the machine. No analytics, no CDN fonts, no share links; the user's upload is deleted as soon
as its analysis ends, and the files we serve back (JSON report, images) live in Gradio's cache, where files older
than 5 minutes are deleted every 5 minutes (``delete_cache``), and all of it when the server stops.

Security: ``vaedetect.webguard`` decides what a request may make the server read or fetch (see README, "Security").

    python app.py                 # http://127.0.0.1:7860
    python app.py --host 0.0.0.0  # or GRADIO_SERVER_NAME / GRADIO_SERVER_PORT
"""

from __future__ import annotations

import os

# Before gradio is imported: it reads these at import time.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import argparse
import contextlib
import hashlib
import json
import logging
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from vaedetect import media, viz, webguard  # importing media also lets PIL read HEIC uploads in the photo widget
from vaedetect.errors import InputError

log = logging.getLogger("vaedetect.app")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
MAX_FILE_SIZE = "200mb"
MAX_FILE_BYTES = 200 * 1024 * 1024  # the same, for the upload guard's Content-Length cap
DELETE_CACHE_S = 300  # Gradio deletes served and unanalysed files older than this, this often
# Example files by widget: 0 the video input, 1 the photo input (any photo type the library reads).
EXAMPLE_SUFFIXES = {".mp4": 0, ".webm": 0, ".mov": 0, ".mkv": 0} | dict.fromkeys(media.IMAGE_EXTENSIONS, 1)
MAX_EXAMPLES = 12
UI_VERSION = 6  # bump when the outputs of the Analyze handler change: it keys the cached example outputs
REPORT_DIR_NAME = "vaedetect-reports"
REPORT_DIR_MAX_AGE_S = 1200  # request folders older than this are swept (delete_cache removes the files sooner)
GENERIC_ERROR = (
    "Something went wrong on our side while analysing this file. Please try again; if it keeps happening, "
    "try a shorter clip or another format (MP4, WebM, JPEG, PNG)."
)
IDLE_TEXT = "### Upload a video or a photo, then press **Analyze**.\nThe verdict and the reasons behind it appear here."

# System fonts only: a GoogleFont here would make every visitor's browser call Google.
THEME = gr.themes.Soft(
    primary_hue="blue",
    neutral_hue="slate",
    font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
).set(
    button_primary_background_fill="*primary_600",
    button_primary_background_fill_hover="*primary_700",
    button_primary_text_color="white",
)
CSS = """
#verdict { min-height: 220px; border-left: 10px solid var(--neutral-300); }
#verdict:has(.tier-real) { border-left-color: #1a9850; background: rgba(26, 152, 80, 0.07); }
#verdict:has(.tier-uncertain) { border-left-color: #e6a000; background: rgba(230, 160, 0, 0.09); }
#verdict:has(.tier-fake) { border-left-color: #d73027; background: rgba(215, 48, 39, 0.08); }
#verdict:has(.tier-error) { border-left-color: #7f7f7f; }
#verdict h2 { font-size: 2rem; margin: 0.2rem 0 0.6rem 0; }
#verdict:has(.tier-real) h2 { color: #1a9850; }
#verdict:has(.tier-uncertain) h2 { color: #b37a00; }
#verdict:has(.tier-fake) h2 { color: #d73027; }
#heatmap img { width: 100%; height: 100%; object-fit: contain; }
.inferno-bar {
  display: inline-block; width: 110px; height: 0.8em; vertical-align: middle; border-radius: 2px;
  background: linear-gradient(to right, #000004, #420a68, #932667, #dd513a, #fca50a, #fcffa4);
}
.caption { color: var(--body-text-color-subdued); font-size: 0.92rem; margin-top: -0.3rem; }
#header-model { font-size: 0.9rem; color: var(--body-text-color-subdued); }
"""

HOW_IT_WORKS = """
## How vaedetect decides

vaedetect looks for traces that manipulation tools leave, using models trained **only on real videos**. It combines
several independent kinds of evidence:

1. **Face reconstruction.** A model that has only ever seen real faces tries to redraw each face in the clip. Real
   faces are redrawn closely; faces with blending seams, generator textures or warped mouths are redrawn worse. The
   *heatmap* shows where the redrawing differs more than it usually does for real faces.
2. **Face map.** Every face becomes a point on a map drawn from the model's inner description of faces. Faces of
   one person group together. The manipulated faces we made ourselves (by blending faces, or regenerating them) sit
   mostly beside the real faces they were made from, only a little apart: the map shows how unusual a face is to the
   model, and it cannot sort real from manipulated by position alone. It shows where this clip's faces land.
3. **Voice.** The same redrawing idea applied to the sound of the speech.
4. **Lip-sync.** A model trained on real speakers checks whether the mouth movements fit the voice, and how far the
   sound would have to be shifted to fit best. A second, simpler cue predicts how wide the mouth should open from
   how the voice sounds and compares it with what the mouth does; an offset is only claimed when both cues agree.
   Dubbed or lip-synced fakes often fit poorly.
5. **Smoothness over time.** Real faces change smoothly from frame to frame; many fakes flicker.

## What the verdict means

The evidence is combined into one **manipulation score** (0-100 %) and compared with two lines set on real clips and
photos we held out for testing. A video with sound, a silent clip and a photo are scored with different evidence, so
each has its own lines; the verdict panel shows the ones used.

* **Likely real** — below the "uncertain" line: as unremarkable as most real files (about 4 in 5 land here).
* **Uncertain** — some evidence, but not enough to say. Look at the reasons and at the pictures.
* **Likely manipulated** — the evidence is stronger than in 95% of the real clips and photos we held out for testing:
  about one real file in twenty still lands here, which is why it is never proof on its own.

Warnings such as heavy compression or a very small face move the two lines apart, so more files land on "uncertain"
instead of the detector guessing. The score ranks evidence; it is not the chance that the file is fake.

The reasons start with what moved the verdict most; under them, "Counted in the verdict" gives each evidence's push
(positive: towards "manipulated"). Every check that applies to the file counts alike: each says how unusual the
file is next to real footage. A verdict is **not proof**: it is one input to your judgement, alongside the source,
the context and other reporting.

## Limits and false alarms

* Heavy compression throws fine detail away: it can hide the traces of a manipulation, and it blurs the mouth
  movements the lip-sync check reads, so a real video's lip-sync can look worse.
* Very small or dark videos, strong make-up or filters, unusual camera angles and faces that are partly hidden can
  make **real** videos look suspicious. That is why we prefer "Uncertain" to a wrong accusation.
* The voice check learned from about fifty recordings of mostly English speech: another language, singing, music
  under the voice or an unusual microphone may make a **real** voice look unusual. Read its reason with that in mind.
* New kinds of fakes may not leave the traces we look for: "Likely real" does not guarantee authenticity.
* A photo or a silent clip has less evidence (no lip-sync, no voice), so its verdict is less certain.
* Only the first minute of a long video is analysed.

## Privacy

* Everything runs on this computer or server. Nothing is sent to any other service.
* Your file is deleted as soon as its analysis finishes. The report and images shown on this page (and a file you
  upload but never analyse) are deleted automatically within about 20 minutes.
"""


# ---------------------------------------------------------------------------------------------------------------
# File handling
# ---------------------------------------------------------------------------------------------------------------


def _upload_root() -> Path:
    """Gradio's upload/cache folder (GRADIO_TEMP_DIR), where uploads land and served outputs must live."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve()


def _path_of(value: Any) -> str | None:
    """The file path inside a component value: a str, a FileData-like object or its dict form."""
    if value is None:
        return None
    if isinstance(value, str | Path):
        return str(value) or None
    if isinstance(value, dict):
        return value.get("path") or None
    return getattr(value, "path", None)


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


class Handlers:
    """Request handlers around one loaded detector; all state here is read-only after construction."""

    def __init__(self, detector: Any) -> None:
        self.detector = detector
        self.protected: set[str] = set()  # cached example inputs: shared by every visitor, never deleted
        self.leases = webguard.UploadLeases()  # uploads being analysed: deleted when the last analysis ends
        try:
            self.reference = detector.reference_map()
        except Exception:  # the map is a nice-to-have: never let it block the app
            log.exception("reference_map() failed; the face map will show this clip only")
            self.reference = None

    # -- files ---------------------------------------------------------------------------------------------------

    def discard_upload(self, path: str | None) -> None:
        """Delete the user's upload (and its now-empty folder); only ever inside Gradio's upload folder."""
        if not path:
            return
        p = Path(path)
        root = _upload_root()
        if not _is_within(p, root) or str(p.resolve()) in self.protected or p.resolve().parent == root:
            return
        if self.leases.in_use(p.resolve()):  # another request is analysing it: the last one deletes it
            return
        try:
            p.unlink(missing_ok=True)
            if p.parent.resolve() != root and not any(p.parent.iterdir()):
                p.parent.rmdir()
        except OSError:
            log.warning("could not delete upload %s", p, exc_info=True)

    def _request_dir(self) -> Path:
        """A fresh folder inside Gradio's cache for this request's outputs (served from there, swept later)."""
        base = _upload_root() / REPORT_DIR_NAME
        base.mkdir(parents=True, exist_ok=True)
        now = time.time()
        for old in base.iterdir():
            try:
                if old.is_dir() and now - old.stat().st_mtime > REPORT_DIR_MAX_AGE_S:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                pass
        d = base / uuid.uuid4().hex
        d.mkdir()
        return d

    def run(self, path: str | None, progress: Callable[[float, str], None] | None = None) -> Any:
        """Analyse one file and delete it afterwards, whatever happens. Raises InputError for unusable input."""
        if not path:
            raise InputError("Please upload a video or a photo first.")
        real = webguard.checked_upload(path)  # an upload of this app, or one generic refusal; nothing is deleted then
        self.leases.acquire(real)
        try:
            return self.detector.analyze(str(real), progress=progress)
        finally:
            if self.leases.release(real):
                self.discard_upload(str(real))

    def write_report(self, report: Any, source_name: str | None) -> str:
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(source_name or "clip").stem)[:60] or "clip"
        out = self._request_dir() / f"vaedetect-report-{stem}.json"
        out.write_text(report.to_json())
        return str(out)

    # -- UI ------------------------------------------------------------------------------------------------------

    def render(self, report: Any) -> dict[str, Any]:
        """Everything the page shows for one report (no Gradio types, so it can be timed and tested alone)."""
        frames = []
        for i, fr in enumerate(report.frames):
            pair = viz.side_by_side(fr)
            if pair is None:
                continue
            frames.append({"pair": pair, "heatmap": fr.heatmap, "caption": viz.frame_caption(report, i), "index": i})
        best = viz.best_frame_index(report)
        start = next((k for k, f in enumerate(frames) if f["index"] == best), 0)
        return {
            "verdict": viz.verdict_markdown(report),
            "tier": report.verdict,
            "frames": frames,
            "start": start,
            "umap": viz.umap_figure(report, self.reference),
            "alignment": viz.alignment_figure(report),
            "alignment_note": viz.alignment_caption(report),
            "timeline_note": viz.timeline_caption(report),
            "timeline": viz.timeline_figure(report),
        }

    @staticmethod
    def _ui_outputs(rendered: dict[str, Any] | None, message: str, report_path: str | None) -> tuple:
        """Values for the UI outputs, in order; ``rendered=None`` shows ``message`` and clears the evidence."""
        if rendered is None:
            return (
                _tier_marker("error") + message,
                None,
                None,
                gr.update(visible=False),
                "",
                None,
                None,
                None,
                None,
                "",
                "",
                [],
            )
        frames = rendered["frames"]
        k = rendered["start"]
        shown = frames[k] if frames else None
        return (
            _tier_marker(rendered["tier"]) + rendered["verdict"],
            shown["pair"] if shown else None,
            shown["heatmap"] if shown else None,
            gr.update(minimum=0, maximum=max(len(frames) - 1, 1), value=k, visible=len(frames) > 1),
            shown["caption"] if shown else "No face was found, so there is no face to compare.",
            report_path,
            rendered["umap"],
            rendered["alignment"],
            rendered["timeline"],
            rendered["alignment_note"],
            rendered["timeline_note"],
            frames,
        )

    def analyze_ui(self, video: Any, photo: Any, progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple:  # noqa: B008
        """Analyze button: video if given, else photo. Every failure becomes a sentence in the verdict panel."""
        path = _path_of(video) or _path_of(photo)
        other = _path_of(photo) if _path_of(video) else None
        source_name = _orig_name(video) or _orig_name(photo) or path
        try:
            progress(0, desc="Reading the file…")
            if other and other != path:
                self.discard_upload(other)  # only one file is analysed; the other must not linger either
            report = self.run(path, progress=lambda fraction, desc: progress(fraction * 0.95, desc=desc))
            progress(0.95, desc="Drawing the evidence…")
            rendered = self.render(report)
            report_path = self.write_report(report, source_name)
            return self._ui_outputs(rendered, "", report_path)
        except InputError as err:
            msg = str(err) or "This file cannot be analysed."
            gr.Warning(msg)
            return self._ui_outputs(None, _error_markdown(msg), None)
        except Exception:
            log.exception("analysis failed for %s", path)
            gr.Warning(GENERIC_ERROR)
            return self._ui_outputs(None, _error_markdown(GENERIC_ERROR), None)

    def examples_ui(self, video: Any, photo: Any) -> tuple:
        """Cached examples: analyze_ui without the frame picker and the per-session frame list.

        Both are left out because Gradio 6.31 cannot cache them: the frame list is not serialisable, and a property
        update (``gr.update(visible=...)``) raises inside lazy example caching. ``reset_frames`` hides the picker.
        """
        out = self.analyze_ui(video, photo)
        return out[:3] + out[4:-1]

    @staticmethod
    def reset_frames() -> tuple:
        return gr.update(visible=False, value=0), []

    def example_video(self, video: Any) -> tuple:
        return self.examples_ui(video, None)

    def example_photo(self, photo: Any) -> tuple:
        return self.examples_ui(None, photo)

    @staticmethod
    def select_frame(index: float | None, frames: list[dict] | None) -> tuple:
        if not frames:
            return gr.skip(), gr.skip(), gr.skip()
        k = min(max(round(index or 0), 0), len(frames) - 1)
        f = frames[k]
        return f["pair"], f["heatmap"], f["caption"]

    # -- API -----------------------------------------------------------------------------------------------------

    def analyze_api(self, file: gr.FileData) -> dict:
        """Analyse a video or photo and return the full JSON report (verdict, fake_probability, reasons, ...)."""
        path = _path_of(file)
        try:
            if file is not None and not webguard.is_file_value(file):  # a bare path skips Gradio's upload check
                raise InputError(webguard.UPLOAD_REFUSED)
            return self.run(path).to_dict()
        except InputError as err:
            raise gr.Error(
                str(err) or "This file cannot be analysed.", title="Cannot analyse this file", print_exception=False
            ) from None
        except Exception:
            log.exception("API analysis failed for %s", path)
            raise gr.Error(GENERIC_ERROR, title="Analysis failed", print_exception=False) from None


# Chrome, Edge and Firefox cannot draw HEIC: the photo widget shows a broken picture although the file arrived.
HEIC_NOTE = (
    "<small>HEIC photo received. Most browsers other than Safari cannot show it here; it will be analysed.</small>"
)


def photo_uploaded(photo: Any) -> tuple[None, str]:
    """A new photo clears the video (one file at a time); a HEIC one also gets a line saying it arrived, since most
    browsers cannot preview it."""
    path = _path_of(photo)
    return None, HEIC_NOTE if path and Path(path).suffix.lower() in (".heic", ".heif") else ""


def _tier_marker(tier: str) -> str:
    """An empty element the CSS keys the verdict panel's colour on (``#verdict:has(.tier-fake)``).

    Colour travels inside the value rather than as an ``elem_classes`` update, because cached examples cannot carry
    property updates (see ``examples_ui``).
    """
    return f'<span class="tier-{tier}"></span>\n\n'


def _error_markdown(message: str) -> str:
    return f"### ⚠ Cannot analyse this file\n\n{message}"


def _orig_name(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("orig_name")
    return getattr(value, "orig_name", None)


# ---------------------------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------------------------


def _header(detector: Any) -> str:
    name = getattr(detector, "bundle_name", "unknown")
    rev = getattr(detector, "bundle_revision", None)
    lines = [
        "# vaedetect — is this video manipulated?",
        "Upload a short video (or record one) or a photo of a person. You get a verdict and the evidence behind it. "
        "Everything runs on this machine; your file is deleted after the analysis.",
        "",
        f"<span id='header-model'>Model: <b>{name}</b>" + (f" @ <code>{rev[:12]}</code>" if rev else "") + "</span>",
    ]
    for code, message in getattr(detector, "bundle_warnings", None) or []:
        lines.append(f"\n⚠ **{code.replace('_', ' ')}**: {message}")
    return "\n".join(lines)


def _caption(text: str) -> gr.Markdown:
    return gr.Markdown(text, elem_classes=["caption"])


def example_files(folder: str | None) -> tuple[list[str], list[str]]:
    """(videos, photos) from a local folder (VAEDETECT_EXAMPLES); both empty when unset, missing or empty."""
    if not folder or not Path(folder).is_dir():
        return [], []
    found: tuple[list[str], list[str]] = ([], [])
    for p in sorted(Path(folder).iterdir()):
        slot = EXAMPLE_SUFFIXES.get(p.suffix.lower())
        if slot is not None and p.is_file() and len(found[slot]) < MAX_EXAMPLES:
            found[slot].append(str(p.resolve()))
    return found


def build_app(detector: Any, examples_dir: str | None = None) -> gr.Blocks:
    """The Blocks UI around an already-loaded detector (tests inject a fake one). Queue is configured here."""
    handlers = Handlers(detector)
    examples_dir = examples_dir if examples_dir is not None else os.environ.get("VAEDETECT_EXAMPLES")

    with gr.Blocks(title="vaedetect — deepfake check", delete_cache=(DELETE_CACHE_S, DELETE_CACHE_S)) as demo:
        gr.Markdown(_header(detector), elem_id="header")
        # Outputs are made first (unrendered) so the examples can sit under the inputs, before the outputs' places.
        verdict = gr.Markdown(IDLE_TEXT, elem_id="verdict", container=True, padding=True, render=False)
        report_file = gr.File(label="Download the full report (JSON)", elem_id="report-file", render=False)
        slider = gr.ImageSlider(
            label="Original ↔ redrawn by the model",
            format="png",
            interactive=False,
            max_height=360,
            buttons=["fullscreen"],
            elem_id="recon-slider",
            render=False,
        )
        heatmap = gr.Image(
            label="Where the redrawing differs most",
            format="png",
            interactive=False,
            height=360,
            buttons=["download", "fullscreen"],
            elem_id="heatmap",
            render=False,
        )
        frame_pick = gr.Slider(
            0, 1, value=0, step=1, label="Choose a sampled frame", visible=False, elem_id="frame-pick", render=False
        )
        frame_note = gr.Markdown("", elem_classes=["caption"], render=False)
        umap_plot = gr.Plot(label="Face map", elem_id="umap-plot", render=False)
        timeline_plot = gr.Plot(label="Timeline", elem_id="timeline-plot", render=False)
        alignment_plot = gr.Plot(label="Lip-sync", elem_id="alignment-plot", render=False)
        alignment_note = gr.Markdown("", elem_classes=["caption"], elem_id="alignment-note", render=False)
        timeline_note = gr.Markdown("", elem_classes=["caption"], elem_id="timeline-note", render=False)
        frames_state = gr.State([])
        ui_outputs = [
            verdict,
            slider,
            heatmap,
            frame_pick,
            frame_note,
            report_file,
            umap_plot,
            alignment_plot,
            timeline_plot,
            alignment_note,
            timeline_note,
            frames_state,
        ]

        with gr.Tab("Check a clip"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=5):
                    video = gr.Video(
                        label="Video: upload, or record with webcam + mic",
                        sources=["upload", "webcam"],
                        include_audio=True,
                        format=None,
                        height=300,
                        webcam_options=gr.WebcamOptions(
                            mirror=True, constraints={"video": {"width": {"ideal": 1280}, "height": {"ideal": 720}}}
                        ),
                        elem_id="video-input",
                    )
                    photo = gr.Image(
                        label="…or a photo",
                        type="filepath",
                        image_mode=None,  # pass the original file through: re-encoding would hide traces
                        sources=["upload", "clipboard"],
                        height=180,
                        elem_id="photo-input",
                    )
                    photo_note = gr.Markdown("", elem_id="photo-note")
                    analyze_btn = gr.Button("Analyze", variant="primary", elem_id="analyze-btn")
                    _add_examples(handlers, detector, examples_dir, video, photo, ui_outputs)
                with gr.Column(scale=6):
                    verdict.render()
                    report_file.render()

            gr.Markdown("### What the face model saw")
            with gr.Row():
                with gr.Column():
                    slider.render()
                    _caption(
                        "Drag the handle. Left: the face from your file. Right: the same face redrawn by a model "
                        "that has only seen real faces. Real faces are redrawn closely."
                    )
                with gr.Column():
                    heatmap.render()
                    _caption(
                        "<span class='inferno-bar'></span> Colour = how much worse the redrawing is than for real "
                        "faces: dark = normal, bright yellow = far worse (4+ standard deviations). Only the face "
                        "area the score uses is coloured; the rest is greyed. Hair edges and glasses can glow on real "
                        "videos too."
                    )
            frame_pick.render()
            frame_note.render()
            with gr.Row():
                with gr.Column():
                    umap_plot.render()
                    _caption(
                        "Each dot is a face; one person's faces group together. Blue: real reference faces. "
                        "Orange/pink: faces we manipulated on purpose (mostly beside their originals). Diamonds: this "
                        "clip (colour = time). Diamonds far from every group are unlike the faces the model learned."
                    )
                with gr.Column():
                    timeline_plot.render()
                    timeline_note.render()
            alignment_plot.render()
            alignment_note.render()

        with gr.Tab("How it works / limits"):
            gr.Markdown(HOW_IT_WORKS)

        # One file at a time: a new video clears the photo and vice versa, so it is clear what gets analysed.
        hidden = {"queue": False, "show_progress": "hidden", "api_visibility": "private"}
        video.upload(lambda: (None, ""), None, [photo, photo_note], **hidden)
        video.stop_recording(lambda: (None, ""), None, [photo, photo_note], **hidden)
        photo.upload(photo_uploaded, photo, [video, photo_note], **hidden)
        photo.clear(lambda: "", None, photo_note, **hidden)

        analyze_btn.click(
            handlers.analyze_ui,
            inputs=[video, photo],
            outputs=ui_outputs,
            preprocess=False,  # raw file payloads: a damaged photo becomes our friendly error, not Gradio's
            api_visibility="private",
            concurrency_id="analysis",
            concurrency_limit=2,
        )
        frame_pick.input(
            handlers.select_frame,
            inputs=[frame_pick, frames_state],
            outputs=[slider, heatmap, frame_note],
            trigger_mode="always_last",
            show_progress="hidden",
            concurrency_limit=None,
            api_visibility="private",
        )
        gr.api(
            handlers.analyze_api,
            api_name="analyze",
            api_description="Analyse a video or photo; returns the JSON report (verdict, fake_probability, reasons…).",
            concurrency_id="analysis",
            concurrency_limit=2,
        )

    demo.queue(default_concurrency_limit=2, max_size=16)
    demo.vaedetect_handlers = handlers  # type: ignore[attr-defined]  # for tests and the benchmark
    return demo


def _add_examples(
    handlers: Handlers, detector: Any, folder: str | None, video: gr.Video, photo: gr.Image, ui_outputs: list
) -> None:
    """Lazily cached example videos/photos from a local folder; nothing at all when there are none."""
    frame_pick, frames_state = ui_outputs[3], ui_outputs[-1]
    videos, photos = example_files(folder)
    for files, component, kind, label in (
        (videos, video, "video", "Example videos"),
        (photos, photo, "photo", "Example photos"),
    ):
        if not files:
            continue
        with _examples_cache(detector, files):
            ex = gr.Examples(
                examples=[[f] for f in files],
                inputs=[component],
                outputs=ui_outputs[:3] + ui_outputs[4:-1],  # no frame picker / frame list: see examples_ui
                fn=handlers.example_video if kind == "video" else handlers.example_photo,
                cache_examples=True,
                cache_mode="lazy",
                label=f"{label} (click one)",
                elem_id=f"{kind}-examples",
            )
        handlers.protected.update(_example_cache_paths(ex))
        ex.dataset.click(handlers.reset_frames, None, [frame_pick, frames_state], queue=False, api_visibility="private")


@contextlib.contextmanager
def _examples_cache(detector: Any, files: list[str]) -> Iterator[None]:
    """Point Gradio's example cache at a folder keyed by model, UI version and example files.

    Gradio keys its lazily cached outputs only by component id, and keeps them on disk across restarts: without
    this, a new checkpoint or a replaced example file would keep showing the old verdicts.
    """
    h = hashlib.sha256(f"{UI_VERSION}|{getattr(detector, 'bundle_name', '')}|".encode())
    h.update(str(getattr(detector, "bundle_revision", "")).encode())
    # A bundled or local checkpoint has no revision: its calibration (redone whenever the weights change) stands in.
    h.update(json.dumps(getattr(getattr(detector, "bundle", None), "calibration", None), sort_keys=True).encode())
    for f in files:
        st = Path(f).stat()
        h.update(f"|{f}|{st.st_size}|{st.st_mtime_ns}".encode())
    old = os.environ.get("GRADIO_EXAMPLES_CACHE")
    base = Path(old or ".gradio/cached_examples")
    os.environ["GRADIO_EXAMPLES_CACHE"] = str(base / f"vaedetect-{h.hexdigest()[:16]}")
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("GRADIO_EXAMPLES_CACHE", None)
        else:
            os.environ["GRADIO_EXAMPLES_CACHE"] = old


def _example_cache_paths(examples: Any) -> set[str]:
    """Paths of the cached copies Gradio made of example inputs (they must survive every analysis)."""
    found: set[str] = set()

    def walk(obj: Any) -> None:
        if isinstance(obj, dict):
            if isinstance(obj.get("path"), str):
                found.add(str(Path(obj["path"]).resolve()))
            for v in obj.values():
                walk(v)
        elif isinstance(obj, list | tuple):
            for v in obj:
                walk(v)
        elif hasattr(obj, "model_dump"):
            walk(obj.model_dump())

    walk(getattr(examples, "processed_examples", None))
    walk(getattr(getattr(examples, "dataset", None), "samples", None))
    return found


def launch_kwargs() -> dict[str, Any]:
    """launch() settings shared by main() and the tests (Gradio 6 takes theme and css here, not in Blocks)."""
    return {
        "max_file_size": MAX_FILE_SIZE,
        "theme": THEME,
        "css": CSS,
        "share": False,
        "footer_links": ["api"],
        "ssr_mode": False,
        "pwa": False,
        "mcp_server": False,
        "show_error": False,
        "enable_monitoring": False,
        "run_history": False,  # it keeps reports in the browser and can connect a Hub bucket
        "app_kwargs": {"middleware": webguard.middleware(MAX_FILE_BYTES)},
    }


def load_detector() -> Any:
    import vaedetect

    return vaedetect.load_detector(os.environ.get("VAEDETECT_CHECKPOINT"))


def main(argv: list[str] | None = None, detector_factory: Callable[[], Any] = load_detector) -> None:
    parser = argparse.ArgumentParser(description="vaedetect web app")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", DEFAULT_HOST))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", DEFAULT_PORT)))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    t0 = time.perf_counter()
    detector = detector_factory()
    log.info("detector %s loaded in %.1f s", getattr(detector, "bundle_name", "?"), time.perf_counter() - t0)
    demo = build_app(detector)
    demo.launch(server_name=args.host, server_port=args.port, **launch_kwargs())


if __name__ == "__main__":
    main()
