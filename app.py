"""vaedetect web app: upload a short clip or a photo, get a verdict and the evidence behind it.

Thin by design: every number comes from ``vaedetect`` (the detector), every sentence from ``vaedetect.explain`` and
every picture from ``vaedetect.figures``; the page's longer prose and its CSS are files under ``assets/ui/``. This file
only wires widgets, handles files and turns errors into sentences.

Privacy: nothing leaves the machine. No analytics, no CDN fonts, no share links. Every file the app writes (uploads,
the JSON and HTML reports and pictures served back, the example cache) lives in one run folder of its own
(``vaedetect.webfiles``): an upload is deleted as soon as its analysis ends, any other file once it is 5 minutes old,
and the whole folder when the server stops (Ctrl-C, SIGTERM or a normal exit) or, after a crash or SIGKILL, when the
app next starts.

Security: ``vaedetect.webguard`` decides what a request may make the server read, fetch or store (see README,
"Security"); ``vaedetect.display.safe_name`` is how a file name is shown.

    python app.py                 # http://127.0.0.1:7860
    python app.py --host 0.0.0.0  # or GRADIO_SERVER_NAME / GRADIO_SERVER_PORT
"""

from __future__ import annotations

# Importing vaedetect first applies vaedetect.settings.ENV_DEFAULTS (no telemetry): gradio reads them at import time.
import vaedetect  # isort: skip

import argparse
import contextlib
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

import gradio as gr

# Importing media also lets PIL read HEIC uploads in the photo widget.
from vaedetect import explain, media, settings, share, webfiles, webguard
from vaedetect.display import safe_name
from vaedetect.errors import InputError
from vaedetect.report import Report

log = logging.getLogger("vaedetect.app")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
MAX_FILE_SIZE = "200mb"
MAX_FILE_BYTES = 200 * 1024 * 1024  # the same, for the upload guard's Content-Length cap
DELETE_CACHE_S = 300  # served and unanalysed files older than this are deleted (Gradio's delete_cache and our janitor)
# Example files by widget: 0 the video input, 1 the photo input (any photo type the library reads).
EXAMPLE_SUFFIXES = {".mp4": 0, ".webm": 0, ".mov": 0, ".mkv": 0} | dict.fromkeys(media.IMAGE_EXTENSIONS, 1)
MAX_EXAMPLES = 12
# The examples that ship (GRID corpus clips and fakes made from them; see assets/examples/ATTRIBUTION.md).
EXAMPLES_DIR = Path(__file__).resolve().parent / "assets" / "examples"
# What each shipped example is, shown on the page beside it: a file name alone would not say it is a fake.
EXAMPLE_LABELS = {
    "real-grid-speaker-1.mp4": "Real: GRID speaker 1",
    "real-grid-speaker-2.mp4": "Real: GRID speaker 2",
    "fake-audio-swap.mp4": "Fake (made here): speaker 1 with speaker 2's voice",
    "fake-lipsync-shift.mp4": "Fake (made here): voice delayed 0.4 s",
    "fake-self-blend.mp4": "Fake (made here): face blended with a shifted copy of itself",
}
UI_VERSION = 10  # bump when the outputs of the Analyze handler change: it keys the cached example outputs
REPORT_DIR_NAME = "vaedetect-reports"
GENERIC_ERROR = (
    "Something went wrong on our side while analysing this file. Please try again; if it keeps happening, "
    "try a shorter clip or another format (MP4, WebM, JPEG, PNG)."
)
IDLE_TEXT = "### Upload a video or a photo, then press **Analyze**.\nThe verdict and the reasons behind it appear here."
WEBCAM_ADVICE = (
    "**Recording yourself?** Choose the webcam icon under the video box, face the camera in good light, and speak for"
    " 5–10 seconds; then stop and press **Analyze**."
)
MODEL_CARD_ANCHOR = "#model-card"

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
    # WCAG AA (4.5:1): the theme's default label and hint greys are lighter than that on white.
    block_label_text_color="*neutral_700",
    block_title_text_color="*neutral_800",
    block_info_text_color="*neutral_600",
    body_text_color_subdued="*neutral_600",
    input_placeholder_color="*neutral_600",
)
UI_DIR = Path(__file__).resolve().parent / "assets" / "ui"
CSS = (UI_DIR / "style.css").read_text(encoding="utf-8")
HOW_IT_WORKS = (UI_DIR / "how_it_works.md").read_text(encoding="utf-8")
# Runs once when the page loads. Gradio has no attribute for these, so they are set on the rendered page:
# - the verdict panel becomes a polite live region, so a screen reader announces the verdict when it arrives;
# - evidence pictures get the alt text the server wrote into hidden ``.alt-*`` spans of the frame caption, and each
#   plot is labelled by the text summary printed under it;
# - the verdict is scrolled into view when it arrives (on a phone it lands below the fold);
# - the browser's own "Video not playable" toast is dropped: the verdict panel already says what is wrong.
PAGE_JS = (UI_DIR / "page.js").read_text(encoding="utf-8")


class Calibrated(Protocol):
    calibration: dict[str, Any]


class Detector(Protocol):
    """What the app needs of :class:`vaedetect.detector.Detector`; the tests' ``FakeDetector`` has the same surface."""

    bundle: Calibrated  # its calibration identifies the weights when a bundle has no revision (examples cache)
    bundle_name: str
    bundle_revision: str | None
    bundle_warnings: list[tuple[str, str]]
    bundle_fingerprint: str  # identifies a bundle without a revision (its calibration's hash)
    card_url: str | None  # the model card online (Hub bundles)
    card_path: Path | None  # the bundle's README.md, shown on the page as the model card

    def analyze(self, path: str | Path, progress: Callable[[float, str], None] | None = None) -> Report: ...

    def reference_map(self) -> dict[str, Any]: ...


@dataclass
class Outputs:
    """The Analyze button's output widgets. Made unrendered, so the layout can place the examples above them, and
    answered with ``{widget: value}`` dicts, so no handler depends on their order."""

    verdict: gr.Markdown
    report_file: gr.File
    html_file: gr.File
    slider: gr.ImageSlider
    heatmap: gr.Image
    frame_pick: gr.Slider
    frame_note: gr.Markdown
    umap_plot: gr.Plot
    umap_note: gr.Markdown
    timeline_plot: gr.Plot
    timeline_note: gr.Markdown
    alignment_plot: gr.Plot
    alignment_note: gr.Markdown
    frames_state: gr.State  # the sampled frames' pictures, for the frame picker

    @classmethod
    def create(cls) -> Outputs:
        caption = {"elem_classes": ["caption"], "render": False}
        return cls(
            verdict=gr.Markdown(IDLE_TEXT, elem_id="verdict", container=True, padding=True, render=False),
            report_file=gr.File(label="Full report, for tools (JSON)", elem_id="report-file", render=False),
            html_file=gr.File(
                label="Shareable report (HTML: opens offline, prints to PDF)", elem_id="html-file", render=False
            ),
            slider=gr.ImageSlider(
                label="Face vs redrawing",
                format="png",
                interactive=False,
                max_height=360,
                buttons=["fullscreen"],
                elem_id="recon-slider",
                render=False,
            ),
            heatmap=gr.Image(
                label="Where it differs",
                format="png",
                interactive=False,
                height=360,
                buttons=["download", "fullscreen"],
                elem_id="heatmap",
                render=False,
            ),
            frame_pick=gr.Slider(
                0, 1, value=0, step=1, label="Choose a sampled frame", visible=False, elem_id="frame-pick", render=False
            ),
            frame_note=gr.Markdown("", elem_id="frame-note", **caption),
            umap_plot=gr.Plot(label="Face map", show_label=False, elem_id="umap-plot", render=False),
            umap_note=gr.Markdown("", elem_id="umap-note", **caption),
            timeline_plot=gr.Plot(label="Timeline", show_label=False, elem_id="timeline-plot", render=False),
            timeline_note=gr.Markdown("", elem_id="timeline-note", **caption),
            alignment_plot=gr.Plot(label="Lip-sync", show_label=False, elem_id="alignment-plot", render=False),
            alignment_note=gr.Markdown("", elem_id="alignment-note", **caption),
            frames_state=gr.State([], render=False),
        )

    def all(self) -> list[Any]:
        return [getattr(self, f.name) for f in fields(self)]

    def cacheable(self) -> list[Any]:
        """What cached examples can hold: all but the frame picker and the frame list (see ``examples_ui``)."""
        return [c for c in self.all() if c not in (self.frame_pick, self.frames_state)]

    def named(self, values: dict[Any, Any]) -> dict[str, Any]:
        """A handler's answer keyed by field name (for tests and the benchmark)."""
        return {f.name: values[getattr(self, f.name)] for f in fields(self) if getattr(self, f.name) in values}


# ---------------------------------------------------------------------------------------------------------------
# File handling
# ---------------------------------------------------------------------------------------------------------------


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

    def __init__(self, detector: Detector, outputs: Outputs | None = None) -> None:
        self.detector = detector
        self.out = outputs or Outputs.create()
        self.protected: set[str] = set()  # cached example inputs: shared by every visitor, never deleted
        self.leases = webguard.UploadLeases()  # uploads being analysed: deleted when the last analysis ends
        self.card_link = _card_link(detector)
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
        root = webguard.upload_root()
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

    def keeps(self, path: Path) -> bool:
        """Whether a file in the app's folder must outlive the janitor's age limit: a cached example input, or an
        upload an analysis is reading."""
        real = os.path.realpath(path)
        return real in self.protected or self.leases.in_use(real)

    def _request_dir(self) -> Path:
        """A fresh folder inside Gradio's cache for this request's outputs (served from there, swept by age).

        Never creates the cache folder itself: an analysis that ends after the server stopped must not bring back
        the folder the shutdown just deleted.
        """
        base = webguard.upload_root() / REPORT_DIR_NAME
        base.mkdir(mode=0o700, exist_ok=True)
        d = base / uuid.uuid4().hex
        d.mkdir()
        return d

    def run(self, path: str | None, progress: Callable[[float, str], None] | None = None) -> Report:
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

    def run_with_facts(
        self, path: str | None, name: str | None, progress: Callable[[float, str], None] | None = None
    ) -> tuple[Report, share.FileFacts]:
        """``run`` plus the file's name, size and hash for the shareable report, taken before the upload is deleted."""
        if not path:
            raise InputError("Please upload a video or a photo first.")
        real = webguard.checked_upload(path)
        try:
            facts = share.file_facts(real, name=name)
        except OSError:
            self.discard_upload(str(real))
            raise InputError("This file could not be read. Please upload it again.") from None
        return self.run(path, progress=progress), facts

    def write_reports(self, report: Report, facts: share.FileFacts) -> tuple[str, str]:
        """The JSON (pictures inline as base64 PNG) and the self-contained HTML report, in this request's folder."""
        folder = self._request_dir()
        js = folder / share.report_filename(facts, "json")
        js.write_text(report.to_json(images=True))
        page = share.write_html(report, facts, folder / share.report_filename(facts, "html"))
        return str(js), str(page)

    # -- UI ------------------------------------------------------------------------------------------------------

    def render(self, report: Report) -> dict[str, Any]:
        """Everything the page shows for one report (no Gradio types, so it can be timed and tested alone)."""
        from vaedetect import figures  # plotly comes with it: loaded by the warm-up or the first report, not at start

        frames = []
        for i, fr in enumerate(report.frames):
            pair = figures.side_by_side(fr)
            if pair is None:
                continue
            frames.append({"pair": pair, "heatmap": fr.heatmap, "caption": _frame_note(report, i), "index": i})
        best = explain.best_frame_index(report)
        start = next((k for k, f in enumerate(frames) if f["index"] == best), 0)
        return {
            "verdict": explain.verdict_markdown(report, card_link=self.card_link),
            "tier": explain.tier_class(report),
            "frames": frames,
            "start": start,
            "umap": figures.umap_figure(report, self.reference),
            "umap_note": _note("", explain.map_summary(report)),
            "alignment": figures.alignment_figure(report),
            "alignment_note": _note(explain.alignment_caption(report), explain.alignment_summary(report)),
            "timeline_note": _note(explain.timeline_caption(report), explain.timeline_summary(report)),
            "timeline": figures.timeline_figure(report),
        }

    def _ui_outputs(
        self, rendered: dict[str, Any] | None, message: str, paths: tuple[str, str] | None
    ) -> dict[Any, Any]:
        """A value for every output widget; ``rendered=None`` shows ``message`` and clears the evidence."""
        o = self.out
        if rendered is None:
            return {
                o.verdict: _tier_marker("error") + message,
                o.report_file: None,
                o.html_file: None,
                o.slider: None,
                o.heatmap: None,
                o.frame_pick: gr.update(visible=False),
                o.frame_note: "",
                o.umap_plot: None,
                o.umap_note: "",
                o.timeline_plot: None,
                o.timeline_note: "",
                o.alignment_plot: None,
                o.alignment_note: "",
                o.frames_state: [],
            }
        frames = rendered["frames"]
        k = rendered["start"]
        shown = frames[k] if frames else None
        return {
            o.verdict: _tier_marker(rendered["tier"]) + rendered["verdict"],
            o.report_file: paths[0] if paths else None,
            o.html_file: paths[1] if paths else None,
            o.slider: shown["pair"] if shown else None,
            o.heatmap: shown["heatmap"] if shown else None,
            o.frame_pick: gr.update(minimum=0, maximum=max(len(frames) - 1, 1), value=k, visible=len(frames) > 1),
            o.frame_note: shown["caption"] if shown else "No face was found, so there is no face to compare.",
            o.umap_plot: rendered["umap"],
            o.umap_note: rendered["umap_note"],
            o.timeline_plot: rendered["timeline"],
            o.timeline_note: rendered["timeline_note"],
            o.alignment_plot: rendered["alignment"],
            o.alignment_note: rendered["alignment_note"],
            o.frames_state: frames,
        }

    def analyze_ui(self, video: Any, photo: Any, progress: gr.Progress = gr.Progress(track_tqdm=True)) -> dict:  # noqa: B008
        """Analyze button: video if given, else photo. Every failure becomes a sentence in the verdict panel."""
        path = _path_of(video) or _path_of(photo)
        other = _path_of(photo) if _path_of(video) else None
        source_name = _orig_name(video) or _orig_name(photo) or path
        try:
            progress(0, desc="Reading the file…")
            if other and other != path:
                self.discard_upload(other)  # only one file is analysed; the other must not linger either
            report, facts = self.run_with_facts(
                path, source_name, progress=lambda fraction, desc: progress(fraction * 0.95, desc=desc)
            )
            progress(0.95, desc="Drawing the evidence…")
            rendered = self.render(report)
            return self._ui_outputs(rendered, "", self.write_reports(report, facts))
        except InputError as err:
            msg = str(err) or "This file cannot be analysed."
            log.info("refused %s: %s", safe_name(Path(path).name) if path else "no file", msg)  # one line
            gr.Warning(msg)
            return self._ui_outputs(None, _error_markdown(msg), None)
        except Exception:
            log.exception("analysis failed for %s", safe_name(path or ""))
            gr.Warning(GENERIC_ERROR)
            return self._ui_outputs(None, _error_markdown(GENERIC_ERROR), None)

    def examples_ui(self, video: Any, photo: Any) -> dict:
        """Cached examples: analyze_ui without the frame picker and the per-session frame list.

        Both are left out because Gradio 6.31 cannot cache them: the frame list is not serialisable, and a property
        update (``gr.update(visible=...)``) raises inside lazy example caching. ``reset_frames`` hides the picker.
        """
        keep = self.out.cacheable()
        return {c: v for c, v in self.analyze_ui(video, photo).items() if c in keep}

    def reset_frames(self) -> dict:
        return {self.out.frame_pick: gr.update(visible=False, value=0), self.out.frames_state: []}

    def example_video(self, video: Any) -> dict:
        return self.examples_ui(video, None)

    def example_photo(self, photo: Any) -> dict:
        return self.examples_ui(None, photo)

    def select_frame(self, index: float | None, frames: list[dict] | None) -> dict:
        """The picked sampled frame's pictures and caption; nothing changes without frames."""
        if not frames:
            return {}
        f = frames[min(max(round(index or 0), 0), len(frames) - 1)]
        return {self.out.slider: f["pair"], self.out.heatmap: f["heatmap"], self.out.frame_note: f["caption"]}

    # -- API -----------------------------------------------------------------------------------------------------

    def analyze_api(self, file: gr.FileData) -> dict:
        """Analyse a video or photo: the full JSON report (verdict, manipulation_score, reasons, pictures as base64
        PNG, ...) with the shareable HTML report as one string under ``report_html``."""
        path = _path_of(file)
        try:
            if file is not None and not webguard.is_file_value(file):  # a bare path skips Gradio's upload check
                raise InputError(webguard.UPLOAD_REFUSED)
            report, facts = self.run_with_facts(path, _orig_name(file))
            return report.to_dict(images=True) | {"report_html": share.report_html(report, facts)}
        except InputError as err:
            raise gr.Error(
                str(err) or "This file cannot be analysed.", title="Cannot analyse this file", print_exception=False
            ) from None
        except Exception:
            log.exception("API analysis failed for %s", safe_name(path or ""))
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


def _frame_note(report: Report, index: int) -> str:
    """The frame caption, plus the pictures' alt texts in hidden spans that ``assets/ui/page.js`` copies onto them."""
    hidden = "".join(
        f'<span class="sr-only alt-{key}">{alt}</span>'
        for key, (_title, alt) in zip(("crop", "recon", "heat"), explain.frame_alt_texts(report, index), strict=True)
    )
    return explain.frame_caption(report, index) + hidden


def _note(caption: str, summary: str) -> str:
    """A plot's reading guide (when it has one) and its text summary, which also labels the plot for screen readers."""
    return (f"{caption}\n\n" if caption else "") + f'<span class="plot-summary">{summary}</span>'


def _error_markdown(message: str) -> str:
    return f"### ⚠ Cannot analyse this file\n\n{message}"


def _orig_name(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("orig_name")
    return getattr(value, "orig_name", None)


# ---------------------------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------------------------


def _header(detector: Detector) -> str:
    name, rev = detector.bundle_name, detector.bundle_revision
    ident = f" @ {rev[:12]}" if rev else f" (calibration {detector.bundle_fingerprint})"
    card = _card_link(detector)
    link = f" · <a href='{card}'>model card</a>" if card else ""
    lines = [
        "# vaedetect — is this video manipulated?",
        "Upload a short video (or record one) or a photo of a person. You get a verdict and the evidence behind it. "
        "Everything runs on this machine; your file is deleted after the analysis.",
        "",
        f"<span class='header-model'>Model: <b>{name}</b>{ident}{link}</span>",
    ]
    for code, message in detector.bundle_warnings:
        lines.append(f"\n⚠ **{code.replace('_', ' ')}**: {message}")
    return "\n".join(lines)


def _caption(text: str) -> gr.Markdown:
    return gr.Markdown(text, elem_classes=["caption"])


def _card_link(detector: Detector) -> str | None:
    """Where the model card is: online for a Hub bundle, else the page's own "Model card" section, if it has one."""
    if detector.card_url:
        return detector.card_url
    return MODEL_CARD_ANCHOR if detector.card_path and Path(detector.card_path).is_file() else None


def _model_card(detector: Detector) -> str | None:
    """The loaded bundle's README.md (its model card) without YAML front matter; None when it has none."""
    path = detector.card_path
    if not path or not Path(path).is_file():
        return None
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    if text.startswith("---"):
        end = text.find("\n---", 3)
        text = text[end + 4 :] if end > 0 else text
    return text


def example_files(folder: str | None) -> tuple[list[str], list[str]]:
    """(videos, photos) from a folder: the shipped examples, or VAEDETECT_EXAMPLES; empty when missing or empty."""
    if not folder or not Path(folder).is_dir():
        return [], []
    found: tuple[list[str], list[str]] = ([], [])
    for p in sorted(Path(folder).iterdir()):
        slot = EXAMPLE_SUFFIXES.get(p.suffix.lower())
        if slot is not None and p.is_file() and len(found[slot]) < MAX_EXAMPLES:
            found[slot].append(str(p.resolve()))
    return found


def build_app(detector: Detector, examples_dir: str | None = None) -> gr.Blocks:
    """The Blocks UI around an already-loaded detector (tests inject a fake one). Queue is configured here."""
    handlers = Handlers(detector)
    examples_dir = examples_dir if examples_dir is not None else (settings.examples_dir() or str(EXAMPLES_DIR))

    with gr.Blocks(title="vaedetect — deepfake check", delete_cache=(DELETE_CACHE_S, DELETE_CACHE_S)) as demo:
        gr.Markdown(_header(detector), elem_id="header")
        o = handlers.out  # made unrendered, so the examples can sit under the inputs, before the outputs' places
        o.frames_state.render()

        with gr.Tab("Check a clip"):
            with gr.Row(equal_height=False):
                # Examples first, then the inputs: on a 1440×900 screen and on a phone they are in view on arrival.
                with gr.Column(scale=5):
                    video = gr.Video(
                        label="Video",
                        sources=["upload", "webcam"],
                        include_audio=True,
                        format=None,
                        webcam_options=gr.WebcamOptions(
                            mirror=True, constraints={"video": {"width": {"ideal": 1280}, "height": {"ideal": 720}}}
                        ),
                        elem_id="video-input",
                        min_width=240,  # side by side with the photo on a desktop, stacked on a phone
                        render=False,
                    )
                    photo = gr.Image(
                        label="…or a photo",
                        type="filepath",
                        image_mode=None,  # pass the original file through: re-encoding would hide traces
                        sources=["upload", "clipboard"],
                        elem_id="photo-input",
                        min_width=240,
                        render=False,
                    )
                    example_events = _add_examples(handlers, detector, examples_dir, video, photo)
                    with gr.Row(elem_id="inputs"):
                        video.render()
                        photo.render()
                    photo_note = gr.Markdown("", elem_id="photo-note")
                    analyze_btn = gr.Button("Analyze", variant="primary", elem_id="analyze-btn")
                    gr.Markdown(WEBCAM_ADVICE, elem_id="webcam-advice", elem_classes=["caption"])
                with gr.Column(scale=6):
                    o.verdict.render()
                    o.html_file.render()
                    o.report_file.render()

            # Shown only once there is something in it (assets/ui/style.css keys on the pictures and plots).
            with gr.Column(elem_id="evidence"):
                gr.Markdown("### What the face model saw")
                with gr.Row():
                    with gr.Column(elem_id="slider-col"):
                        o.slider.render()
                        _caption(explain.SLIDER_CAPTION)
                    with gr.Column(elem_id="heatmap-col"):
                        o.heatmap.render()
                        _caption(explain.HEATMAP_CAPTION)
                o.frame_pick.render()
                o.frame_note.render()
                with gr.Row():
                    with gr.Column(min_width=320):
                        o.umap_plot.render()
                        _caption(explain.MAP_CAPTION)
                        o.umap_note.render()
                    with gr.Column(min_width=320):
                        o.timeline_plot.render()
                        o.timeline_note.render()
                o.alignment_plot.render()
                o.alignment_note.render()

        with gr.Tab("How it works / limits"):
            gr.Markdown(HOW_IT_WORKS)
        if card := _model_card(detector):
            with gr.Accordion("Model card", open=False, elem_id="model-card"):
                gr.Markdown(card)

        # One file at a time: a new video clears the photo and vice versa, so it is clear what gets analysed.
        hidden = {"queue": False, "show_progress": "hidden", "api_visibility": "private"}
        video.upload(lambda: (None, ""), None, [photo, photo_note], **hidden)
        video.stop_recording(lambda: (None, ""), None, [photo, photo_note], **hidden)
        photo.upload(photo_uploaded, photo, [video, photo_note], **hidden)
        photo.clear(lambda: "", None, photo_note, **hidden)

        analyze_btn.click(
            handlers.analyze_ui,
            inputs=[video, photo],
            outputs=o.all(),
            show_progress_on=[o.verdict],  # one progress indicator, where the answer will appear
            preprocess=False,  # raw file payloads: a damaged photo becomes our friendly error, not Gradio's
            api_visibility="private",
            concurrency_id="analysis",
            concurrency_limit=2,
        )
        o.frame_pick.input(
            handlers.select_frame,
            inputs=[o.frame_pick, o.frames_state],
            outputs=[o.slider, o.heatmap, o.frame_note],
            trigger_mode="always_last",
            show_progress="hidden",
            concurrency_limit=None,
            api_visibility="private",
        )
        gr.api(
            handlers.analyze_api,
            api_name="analyze",
            api_description="The JSON report of a video or photo (verdict, manipulation_score, reasons…).",
            concurrency_id="analysis",
            concurrency_limit=2,
        )

    for event in example_events:  # a clicked example shows its progress in the verdict panel only, as Analyze does
        demo.fns[event["id"]].show_progress_on = [o.verdict]
    demo.queue(default_concurrency_limit=2, max_size=16)
    demo.vaedetect_handlers = handlers  # type: ignore[attr-defined]  # for tests and the benchmark
    return demo


def _add_examples(
    handlers: Handlers, detector: Detector, folder: str | None, video: gr.Video, photo: gr.Image
) -> list[Any]:
    """Lazily cached example videos/photos from a local folder; nothing at all when there are none. Returns the
    events that compute and show their outputs (for the page's one progress indicator)."""
    o = handlers.out
    events: list[Any] = []
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
                example_labels=[EXAMPLE_LABELS.get(Path(f).name, Path(f).name) for f in files],
                inputs=[component],
                outputs=o.cacheable(),  # no frame picker / frame list: see examples_ui
                fn=handlers.example_video if kind == "video" else handlers.example_photo,
                cache_examples=True,
                cache_mode="lazy",
                label=f"{label}: click one",
                elem_id=f"{kind}-examples",
            )
        if (cached := getattr(ex, "cache_event", None)) is not None:
            events.append(cached)
        handlers.protected.update(_example_cache_paths(ex))
        ex.dataset.click(
            handlers.reset_frames, None, [o.frame_pick, o.frames_state], queue=False, api_visibility="private"
        )
    if videos or photos:
        gr.Markdown(explain.EXAMPLES_NOTE, elem_id="examples-note", elem_classes=["caption"])
    return events


@contextlib.contextmanager
def _examples_cache(detector: Detector, files: list[str]) -> Iterator[None]:
    """Point Gradio's example cache at a folder keyed by model, UI version and example files.

    Gradio keys its lazily cached outputs only by component id. ``python app.py`` keeps the cache in its run folder,
    gone at every stop; an app built into another process with a lasting ``GRADIO_EXAMPLES_CACHE`` would otherwise
    keep showing the old verdicts after a new checkpoint or a replaced example file.
    """
    h = hashlib.sha256(f"{UI_VERSION}|{detector.bundle_name}|".encode())
    h.update(str(detector.bundle_revision or "").encode())
    # A bundled or local checkpoint has no revision: its calibration (redone whenever the weights change) stands in.
    h.update(json.dumps(detector.bundle.calibration, sort_keys=True).encode())
    for f in files:
        st = Path(f).stat()
        h.update(f"|{f}|{st.st_size}|{st.st_mtime_ns}".encode())
    old = os.environ.get("GRADIO_EXAMPLES_CACHE")
    base = Path(old) if old else webguard.upload_root() / webfiles.EXAMPLES_CACHE_NAME
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
        "js": PAGE_JS,
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


def load_detector() -> Detector:
    return vaedetect.load_detector(settings.checkpoint())


def _warm_up(detector: Detector) -> None:
    """Once the page is served, build what the first analysis would otherwise wait for (face graphs, pretrained
    networks; ~1-2 s on two cores), in a thread of its own: the first visitor's click then pays only the analysis."""
    warm = getattr(detector, "warm_up", None)
    if warm is None:
        return

    def run() -> None:
        t0 = time.perf_counter()
        try:
            import vaedetect.figures  # noqa: F401  (plotly, for the first report's figures)

            warm()
        except Exception:  # the first analysis then builds them, and reports any real problem itself
            log.exception("warm-up failed")
            return
        log.info("models warmed up in %.1f s", time.perf_counter() - t0)

    threading.Thread(target=run, name="vaedetect-warm-up", daemon=True).start()


def main(argv: list[str] | None = None, detector_factory: Callable[[], Detector] = load_detector) -> None:
    """Serve until Ctrl-C or SIGTERM; either way, and on a normal exit, the app's run folder is deleted."""
    parser = argparse.ArgumentParser(description="vaedetect web app")
    host, port = settings.server_address(DEFAULT_HOST, DEFAULT_PORT)
    parser.add_argument("--host", default=host)
    parser.add_argument("--port", type=int, default=port)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        with webfiles.stop_signals(), webfiles.AppFiles.claim() as files:
            files.export()  # before build_app: Gradio's components read GRADIO_TEMP_DIR when they are made
            t0 = time.perf_counter()
            detector = detector_factory()
            log.info("detector %s loaded in %.1f s", detector.bundle_name, time.perf_counter() - t0)
            demo = build_app(detector)
            files.start_janitor(DELETE_CACHE_S, keep=demo.vaedetect_handlers.keeps)  # type: ignore[attr-defined]
            try:
                demo.launch(server_name=args.host, server_port=args.port, prevent_thread_lock=True, **launch_kwargs())
                _warm_up(detector)
                while demo.is_running:
                    time.sleep(0.2)
            finally:
                demo.close()
    except KeyboardInterrupt as stop:
        log.info("stopped (%s); the app's files are deleted", stop or "SIGINT")


if __name__ == "__main__":
    main()
