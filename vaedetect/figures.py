"""Pictures drawn from a :class:`~vaedetect.report.Report`: heatmap overlays, the face map, the lip-sync and timeline
figures. The words beside them live in :mod:`vaedetect.explain`.

No Gradio here, so the CLI, notebooks and tests can draw the same pictures. Every function accepts a partial report
(a photo has no audio, a clip may have no face): missing evidence becomes a figure with a short centred sentence
instead of an exception, because an empty axis with no explanation is the worst thing to show a journalist.

All figures hold plain Python lists (never numpy arrays): plotly 7 would otherwise encode arrays as base64 typed
arrays, which older plotly.js bundles cannot read and which make the JSON hard to inspect.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import cv2
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vaedetect.explain import LINE_NAMES, no_sync_text, offset_sentence, sigma, sync_fps
from vaedetect.report import FrameEvidence, Report, SyncResult

__all__ = [
    "alignment_figure",
    "empty_figure",
    "frame_images",
    "heatmap_overlay",
    "side_by_side",
    "timeline_figure",
    "umap_figure",
]

DISPLAY_PX = 192  # face pictures in a report: the crop, its reconstruction and the heatmap
HEATMAP_MAX_Z = 4.0  # brightest heatmap colour: this many standard deviations worse than real faces
NO_FACE_MAP_TEXT = "No face was analysed — the face map is not available"
EMPTY_TEXT_CHARS = 40  # an empty figure's sentence wraps at this many characters (fits a phone)

NO_TIMELINE_TEXT = "A single photo has no timeline"
NO_TIMELINE_SCORES_TEXT = "No per-second scores for this clip (too short, or no second had enough evidence)"
# Colour-blind-safe palette (Okabe-Ito), one distinct hue and symbol per reference group; the clip's own frames use a
# sequential scale on top and a black star for their median.
_REAL_COLOUR = "#0072B2"
_FAKE_COLOURS = ["#D55E00", "#E69F00", "#CC79A7", "#009E73", "#56B4E9", "#F0E442"]
_FAKE_SYMBOLS = ["x", "triangle-up", "square", "cross", "triangle-down", "pentagon"]
_SERIES_COLOURS = {"face": "#0072B2", "sync": "#E69F00", "fused": "#000000"}
_MAX_REFERENCE_POINTS = 1500  # per cluster: keeps the page light and SVG rendering fast
_FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 13}


# ---------------------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------------------


def _floats(values: Iterable[Any]) -> list[float | None]:
    """Plain floats for plotly; NaN/inf/None become None (a gap in the line) so the JSON stays strict."""
    out: list[float | None] = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        f = float(v)
        out.append(f if math.isfinite(f) else None)
    return out


def _base_layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        template="plotly_white",
        font=_FONT,
        height=height,
        margin={"l": 55, "r": 20, "t": 60, "b": 45},
        legend={"orientation": "h", "yanchor": "top", "y": -0.15, "xanchor": "left", "x": 0.0},
        hoverlabel={"font": {"size": 13}},
    )
    return fig


def empty_figure(message: str, title: str = "", height: int = 320) -> go.Figure:
    """A blank figure that says, in the middle, why there is nothing to plot."""
    fig = go.Figure()
    fig.add_annotation(
        text="<br>".join(textwrap.wrap(message, EMPTY_TEXT_CHARS)),  # plotly does not wrap: a long line is cut
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        showarrow=False,
        font={"size": 15, "color": "#555"},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _base_layout(fig, title, height)


def with_gaps(t: Sequence[float], y: Sequence[float | None]) -> tuple[list[float], list[float | None]]:
    """A curve sampled on a regular step with a None wherever a step is missing (more than 1.5 steps apart), so a
    plot draws a gap where nothing was measured instead of a straight line across it."""
    t, y = [float(v) for v in t], list(y)
    if len(t) < 3:
        return t, y
    step = float(np.median(np.diff(t)))
    out_t, out_y = [t[0]], [y[0]]
    for i in range(1, len(t)):
        if step > 0 and t[i] - t[i - 1] > 1.5 * step:
            out_t.append((t[i] + t[i - 1]) / 2)
            out_y.append(None)
        out_t.append(t[i])
        out_y.append(y[i])
    return out_t, out_y


def confidence_curve(s: SyncResult) -> tuple[list[float], list[float | None]]:
    """The alignment confidence over time as drawn: at least 0 (0 = the true pairing fits no better than other
    shifts; the measured margin can dip below, which means the same), with gaps where no speech window was read."""
    conf = [None if v is None else max(float(v), 0.0) for v in _floats(s.curve_confidence)]
    return with_gaps(s.curve_t, conf)


def analysed_span(report: Report) -> tuple[float, float]:
    """The time axis of a clip's plots: from 0 to the end of what was analysed, so every panel covers the same span."""
    end = float(report.media.analysed_duration_s or 0.0)
    s = report.sync
    last = max([*(s.curve_t if s else []), *(s.lip_t if s else []), *(p.t for p in report.timeline)], default=0.0)
    return 0.0, max(end, float(last))


def offset_fit(s: SyncResult) -> tuple[list[float | None], str] | None:
    """The mismatch-by-shift curve the best shift is the minimum of, in the alignment model's units (lower = better):
    both cues together (the combination the detector picks its offset from) when lip-from-voice had enough overlap,
    else the alignment model's own. None without a curve."""
    if not s.offsets or not s.mean_distance_by_offset:
        return None
    dist = np.array([np.nan if v is None else float(v) for v in s.mean_distance_by_offset], dtype=float)
    corr = np.array([np.nan if v is None else float(v) for v in s.lipvoice_corr_by_offset], dtype=float)
    if len(corr) != len(dist) or np.isfinite(corr).sum() <= len(corr) // 2 or not np.isfinite(dist).all():
        return _floats(dist), "mismatch: alignment model"
    fused = _fuse_offsets()(dist, corr)
    lo, hi = float(dist.min()), float(dist.max())
    span = float(fused.max() - fused.min()) or 1.0
    return _floats(lo + (fused.max() - fused) / span * (hi - lo)), "mismatch: both cues together"


def _fuse_offsets() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The detector's own combination of the two offset cues (imported late: it lives with the models)."""
    from vaedetect.evidence import fuse_offset_curves

    return fuse_offset_curves


def _normalise(values: Sequence[float | None]) -> list[float | None]:
    """Min-max to 0..1 so lip opening (pixels) and loudness (dB) can share an axis; flat input maps to 0.5."""
    arr = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    ok = np.isfinite(arr)
    if not ok.any():
        return [None] * len(values)
    lo, hi = float(arr[ok].min()), float(arr[ok].max())
    scaled = np.full_like(arr, 0.5) if hi - lo < 1e-12 else (arr - lo) / (hi - lo)
    return _floats(np.where(ok, scaled, np.nan))


# ---------------------------------------------------------------------------------------------------------------
# Frames
# ---------------------------------------------------------------------------------------------------------------


def heatmap_overlay(
    crop: np.ndarray, zmap: np.ndarray, max_z: float = HEATMAP_MAX_Z, region: np.ndarray | None = None
) -> np.ndarray:
    """Normalised error (0..max_z sigma above real faces) as a colour overlay on the face: hot = unlike real faces.

    With ``region`` (a mask at the zmap's resolution: the face area the score is taken from) everything outside it is
    shown dimmed and grey, so a background or collar the redrawing misses does not draw the eye to what is not scored.
    """
    h, w = crop.shape[:2]
    z = cv2.resize(np.clip(zmap, 0.0, max_z) / max_z, (w, h), interpolation=cv2.INTER_CUBIC)
    z = np.clip(z, 0.0, 1.0)
    colour = cv2.cvtColor(cv2.applyColorMap((z * 255).astype(np.uint8), cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
    alpha = (0.25 + 0.6 * z)[..., None]
    out = crop * (1 - alpha) + colour * alpha
    if region is not None:
        inside = cv2.resize(region.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        inside = cv2.GaussianBlur(inside, (0, 0), max(w, h) / 96)[..., None]  # a soft edge, not a cut-out
        grey = 0.35 * crop.mean(axis=2, keepdims=True) + 40.0
        out = out * inside + grey * (1 - inside)
    return np.clip(out, 0, 255).astype(np.uint8)


def frame_images(
    crop: np.ndarray, reconstruction: np.ndarray, zmap: np.ndarray, region: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(crop, reconstruction, heatmap) at ``DISPLAY_PX`` for one sampled frame of a report."""
    shown = cv2.resize(crop, (DISPLAY_PX, DISPLAY_PX), interpolation=cv2.INTER_AREA)
    redrawn = cv2.resize(reconstruction, (DISPLAY_PX, DISPLAY_PX), interpolation=cv2.INTER_CUBIC)
    return shown, redrawn, heatmap_overlay(shown, zmap, region=region)


def side_by_side(frame: FrameEvidence | None) -> tuple[np.ndarray, np.ndarray] | None:
    """(original crop, VAE reconstruction) for an image slider; None when the frame has no face images."""
    if frame is None or frame.crop is None or frame.reconstruction is None:
        return None
    return np.asarray(frame.crop, dtype=np.uint8), np.asarray(frame.reconstruction, dtype=np.uint8)


# ---------------------------------------------------------------------------------------------------------------
# Latent map
# ---------------------------------------------------------------------------------------------------------------


def _subsample(xy: np.ndarray, limit: int, seed: int = 0) -> np.ndarray:
    if len(xy) <= limit:
        return xy
    idx = np.random.default_rng(seed).choice(len(xy), size=limit, replace=False)
    return xy[np.sort(idx)]


def umap_figure(report: Report, reference: dict | None) -> go.Figure:
    """Reference groups (pseudo-fakes by kind, then real faces on top of them) with this clip's frames over all.

    A clip's frames often land on one spot, so besides one small diamond per frame (colour = time) a large black star
    marks their median: the clip's place on the map stays visible however the frames pile up.
    """
    title = "Face map: this clip among known faces"
    frames = [f for f in report.frames if f.map_xy is not None]
    reference = reference or {}
    real_xy = np.asarray(reference.get("real_xy", np.zeros((0, 2))), dtype=float).reshape(-1, 2)
    fake_xy = np.asarray(reference.get("fake_xy", np.zeros((0, 2))), dtype=float).reshape(-1, 2)
    kinds = list(reference.get("fake_kinds", ["pseudo-fake"] * len(fake_xy)))
    if not frames and not len(real_xy) and not len(fake_xy):
        return empty_figure(NO_FACE_MAP_TEXT, title, height=460)

    fig = go.Figure()
    if len(real_xy):
        xy = _subsample(real_xy, _MAX_REFERENCE_POINTS)
        fig.add_trace(
            go.Scatter(
                x=_floats(xy[:, 0]),
                y=_floats(xy[:, 1]),
                mode="markers",
                name="real faces (reference)",
                marker={"size": 5, "color": _REAL_COLOUR, "opacity": 0.55},
                hoverinfo="skip",
            )
        )
    if len(fake_xy):
        kinds_arr = np.asarray(kinds[: len(fake_xy)] + ["pseudo-fake"] * (len(fake_xy) - len(kinds)), dtype=object)
        for j, kind in enumerate(dict.fromkeys(kinds_arr.tolist())):
            xy = _subsample(fake_xy[kinds_arr == kind], _MAX_REFERENCE_POINTS, seed=j + 1)
            fig.add_trace(
                go.Scatter(
                    x=_floats(xy[:, 0]),
                    y=_floats(xy[:, 1]),
                    mode="markers",
                    name=f"{kind} (manipulated reference)",
                    marker={
                        "size": 6,
                        "color": _FAKE_COLOURS[j % len(_FAKE_COLOURS)],
                        "symbol": _FAKE_SYMBOLS[j % len(_FAKE_SYMBOLS)],
                        "opacity": 0.6,
                    },
                    hoverinfo="skip",
                )
            )
        if len(real_xy):  # real faces drawn last of the reference, so manipulated groups cannot hide them
            fig.data = (*fig.data[1:], fig.data[0])
    if frames:
        t = [float(f.time_s) for f in frames]
        scores = [None if f.face_score is None else float(f.face_score) for f in frames]
        xs = _floats(f.map_xy[0] for f in frames)  # type: ignore[index]
        ys = _floats(f.map_xy[1] for f in frames)  # type: ignore[index]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                name="this photo's face" if report.media.kind == "image" else "this clip's frames",
                customdata=[[ti, "n/a" if s is None else sigma(s)] for ti, s in zip(t, scores, strict=True)],
                hovertemplate="t = %{customdata[0]:.1f} s, face score %{customdata[1]}<extra></extra>",
                marker={
                    "size": 9,
                    "color": t,
                    "colorscale": "Viridis",
                    "showscale": len(frames) > 1,
                    "colorbar": {"title": {"text": "time (s)"}, "thickness": 10, "len": 0.5},
                    "line": {"width": 1, "color": "white"},
                    "symbol": "diamond",
                },
            )
        )
        ok = [(x, y) for x, y in zip(xs, ys, strict=True) if x is not None and y is not None]
        if len(ok) > 1:  # one face is its own mark: no "median of 1 frames"
            mx, my = (float(np.median([v[k] for v in ok])) for k in (0, 1))
            fig.add_trace(
                go.Scatter(
                    x=[mx],
                    y=[my],
                    mode="markers",
                    name=f"this clip (median of {len(ok)} frames)",
                    hovertemplate="this clip: median of its frames<extra></extra>",
                    marker={"size": 22, "color": "black", "symbol": "star", "line": {"width": 2, "color": "white"}},
                )
            )
    else:
        fig.add_annotation(
            text="No face found in this clip, so it is not on the map",
            x=0.5, y=1.02, xref="paper", yref="paper", showarrow=False,
        )  # fmt: skip
    fig.update_xaxes(showticklabels=False, title=None, zeroline=False)
    fig.update_yaxes(showticklabels=False, title=None, zeroline=False, scaleanchor="x", scaleratio=1)
    return _base_layout(fig, title, height=500)


# ---------------------------------------------------------------------------------------------------------------
# Lip-speech alignment
# ---------------------------------------------------------------------------------------------------------------


def _lipvoice_trace(fig: go.Figure, s: SyncResult, dist: list[float | None], shift_s: list[float]) -> None:
    """Lip-from-voice correlation on the mismatch panel, flipped and scaled to the mismatch range so that both
    curves read "lower is a better match"; the hover shows the correlation itself."""
    corr = s.lipvoice_corr_by_offset
    finite = [d for d in dist if d is not None]
    if not corr or not finite or len(corr) != len(s.offsets):
        return
    lo, hi = min(finite), max(finite)
    scaled = [None if v is None else hi - v * (hi - lo) for v in _normalise(corr)]
    fig.add_trace(
        go.Scatter(
            x=shift_s,
            y=scaled,
            customdata=[[int(o), float("nan") if c is None else c] for o, c in zip(s.offsets, corr, strict=True)],
            mode="lines",
            name="mismatch: voice-predicted vs seen mouth",
            showlegend=True,
            line={"color": "#CC79A7", "width": 1.5, "dash": "dash"},
            hovertemplate="shift %{x:.2f} s (%{customdata[0]} frames): voice-predicted vs seen mouth"
            " r = %{customdata[1]:.2f}<extra></extra>",
        ),
        row=3,
        col=1,
    )


def best_shift(s: SyncResult) -> tuple[int, float] | None:
    """(index into ``s.offsets``, mismatch) of the star: the minimum of :func:`offset_fit`'s curve, which is where the
    report's offset comes from. None when no shift is claimed (the cues disagree) or there is no curve."""
    fit = offset_fit(s)
    if fit is None or s.offset_cues_agree is False:
        return None
    ys = [(y, k) for k, y in enumerate(fit[0]) if y is not None]
    if not ys:
        return None
    y, k = min(ys)
    return k, y


def alignment_figure(report: Report) -> go.Figure:
    """Three stacked panels (readable on a phone): alignment confidence over time; lip opening vs loudness; mismatch
    by audio shift in seconds. The best shift is starred at the minimum of the curve it comes from, and only when it
    is claimed (not when the two cues disagree); both time panels span the whole analysed clip, gaps left open."""
    title = "Lip-sync: do lips match speech?"
    s = report.sync
    if s is None or not s.curve_t:
        return empty_figure(no_sync_text(report), title, height=320)

    fps = sync_fps(s)
    fig = make_subplots(
        rows=3,
        cols=1,
        vertical_spacing=0.13,
        subplot_titles=(
            "Confidence over time<br>"
            + (
                "the two cues disagree on the offset"
                if s.offset_cues_agree is False
                else f"best: {offset_sentence(s.offset_frames, s.offset_s)}"
            ),
            "Mouth opening vs loudness (scaled 0–1)",
            "Mismatch by audio shift (lower = better)",
        ),
    )
    conf_t, conf = confidence_curve(s)
    fig.add_trace(
        go.Scatter(
            x=conf_t,
            y=conf,
            mode="lines",
            connectgaps=False,
            name="alignment confidence",
            line={"color": "#0072B2", "width": 2},
            hovertemplate="t = %{x:.1f} s, confidence %{y:.2f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    if s.confidence is not None and math.isfinite(float(s.confidence)):
        fig.add_hline(
            y=max(float(s.confidence), 0.0),
            line={"dash": "dash", "color": "#555", "width": 1},
            annotation_text=f"clip average {max(float(s.confidence), 0.0):.2f}",
            annotation_position="bottom left",
            row=1,
            col=1,
        )
    if s.lip_t and (s.lip_opening or s.loudness_db):
        corr = "" if s.lip_loudness_corr is None else f" (correlation {s.lip_loudness_corr:+.2f})"
        if s.lip_opening:
            fig.add_trace(
                go.Scatter(
                    x=_floats(s.lip_t),
                    y=_normalise(s.lip_opening),
                    mode="lines",
                    connectgaps=False,
                    name=f"mouth opening{corr}",
                    line={"color": "#D55E00", "width": 1.5},
                ),
                row=2,
                col=1,
            )
        if s.loudness_db:
            fig.add_trace(
                go.Scatter(
                    x=_floats(s.lip_t),
                    y=_normalise(s.loudness_db),
                    mode="lines",
                    name="voice loudness",
                    line={"color": "#009E73", "width": 1.5, "dash": "dot"},
                ),
                row=2,
                col=1,
            )
    else:
        fig.add_annotation(text="Mouth not tracked", x=0.5, y=0.5, xref="x2 domain", yref="y2 domain", showarrow=False)
    if s.offsets and s.mean_distance_by_offset:
        dist = _floats(s.mean_distance_by_offset)
        shift_s = [round(int(o) / fps, 3) for o in s.offsets]
        fig.add_trace(
            go.Scatter(
                x=shift_s,
                y=dist,
                customdata=[int(o) for o in s.offsets],
                mode="lines+markers",
                name="mismatch: alignment model",
                showlegend=True,
                line={"color": "#888", "width": 1},
                marker={"size": 3},
                hovertemplate="shift %{x:.2f} s (%{customdata} frames): mismatch %{y:.2f}<extra></extra>",
            ),
            row=3,
            col=1,
        )
        _lipvoice_trace(fig, s, dist, shift_s)
        fit = offset_fit(s)
        if fit is not None and fit[1] != "mismatch: alignment model" and s.offset_cues_agree is not False:
            fig.add_trace(
                go.Scatter(
                    x=shift_s,
                    y=fit[0],
                    mode="lines",
                    name=fit[1],
                    line={"color": "#111", "width": 2.5},
                    hovertemplate="shift %{x:.2f} s: both cues together<extra></extra>",
                ),
                row=3,
                col=1,
            )
        if (star := best_shift(s)) is not None:
            k, y = star
            fig.add_trace(
                go.Scatter(
                    x=[shift_s[k]],
                    y=[y],
                    customdata=[int(s.offsets[k])],
                    mode="markers",
                    name="best shift",
                    showlegend=False,
                    marker={"size": 12, "color": "#D55E00", "symbol": "star"},
                    hovertemplate="best: %{x:.2f} s (%{customdata} frames)<extra></extra>",
                ),
                row=3,
                col=1,
            )
    span = list(analysed_span(report))
    top = max([0.1, *(c for c in conf if c is not None), max(float(s.confidence or 0.0), 0.0)]) * 1.15
    fig.update_xaxes(title_text="time (s)", range=span, row=1, col=1)
    fig.update_yaxes(title_text="confidence (0 = none)", range=[0.0, top], row=1, col=1)
    fig.update_xaxes(title_text="time (s)", range=span, row=2, col=1)
    fig.update_yaxes(title_text="scaled (0–1)", range=[0.0, 1.0], row=2, col=1)
    fig.update_xaxes(title_text="audio shift (s), + = audio later", row=3, col=1)
    fig.update_yaxes(title_text="mismatch", row=3, col=1)
    fig.update_annotations(font={"size": 12})
    fig = _base_layout(fig, title, height=780)
    fig.update_layout(margin={"t": 105}, legend={"y": -0.08})  # room for the two-line first panel title
    return fig


# ---------------------------------------------------------------------------------------------------------------
# Timeline
# ---------------------------------------------------------------------------------------------------------------


def timeline_figure(report: Report) -> go.Figure:
    """Two stacked panels sharing the time axis: the combined score against its verdict lines (top), and the face and
    lip-sync z-scores against 0, typical of real clips (bottom). One scale per panel, so no line crosses a line it is
    not measured against."""
    title = "Timeline: when does it look unusual?"
    pts = report.timeline
    if report.media.kind == "image" or not pts:
        msg = NO_TIMELINE_TEXT if report.media.kind == "image" else NO_TIMELINE_SCORES_TEXT
        return empty_figure(msg, title, height=320)
    t = [float(p.t) for p in pts]
    series = {
        "fused": _floats(p.fused for p in pts),
        "face": _floats(p.face for p in pts),
        "sync": _floats(p.sync for p in pts),
    }
    names = {"fused": "combined score", "face": "face score (z)", "sync": "lip-sync score (z)"}
    has_fused = any(y is not None for y in series["fused"])
    has_z = any(y is not None for k in ("face", "sync") for y in series[k])
    if not has_fused and not has_z:
        return empty_figure(NO_TIMELINE_SCORES_TEXT, title, height=320)
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.14,
        subplot_titles=("Combined score vs the verdict lines", "Face and lip-sync z (0 = like real clips)"),
    )
    for key in ("face", "sync", "fused"):
        ys = series[key]
        if all(y is None for y in ys):
            continue
        is_fused = key == "fused"
        fmt = "%{y:.0%}" if is_fused else "z = %{y:.1f}"
        fig.add_trace(
            go.Scatter(
                x=t,
                y=ys,
                mode="lines+markers",
                name=names[key],
                connectgaps=False,
                line={
                    "color": _SERIES_COLOURS[key],
                    "width": 3 if is_fused else 1.5,
                    "dash": None if is_fused else "dot",
                },
                marker={"size": 7 if is_fused else 5},
                cliponaxis=False,  # a point at 0 s is drawn whole, inside the analysed span's axis
                hovertemplate=f"{names[key]}: {fmt} at %{{x:.0f}} s<extra></extra>",
            ),
            row=1 if is_fused else 2,
            col=1,
        )
    th = report.thresholds or {}
    if has_fused:
        for key, colour in (("uncertain", "#E69F00"), ("fake", "#D55E00")):
            if key in th and 0.0 <= float(th[key]) <= 1.0:
                line = {"dash": "dash", "color": colour, "width": 1.5}
                fig.add_hline(y=float(th[key]), line=line, row=1, col=1)
                # Named in the legend, not written on the plot, where the combined line runs over the label.
                name = f"{LINE_NAMES[key]} from {float(th[key]):.0%}"
                fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=line, name=name), row=1, col=1)
        fig.update_yaxes(range=[0, 1], tickformat=".0%", title_text="score", row=1, col=1)
    else:
        fig.add_annotation(
            text="No combined score per second", x=0.5, y=0.5, xref="x domain", yref="y domain", showarrow=False
        )
        fig.update_yaxes(visible=False, row=1, col=1)
    if has_z:
        zs = [y for k in ("face", "sync") for y in series[k] if y is not None]
        lo, hi = min(0.0, *zs), max(0.0, *zs)  # 0 (typical of real clips) always in view: the scores' reference
        pad = 0.1 * (hi - lo) + 0.25
        fig.add_hline(y=0.0, line={"color": "#555", "width": 1}, row=2, col=1)
        fig.update_yaxes(title_text="z", range=[lo - pad, hi + pad], zeroline=False, row=2, col=1)
    else:
        fig.update_yaxes(visible=False, row=2, col=1)
    fig.update_xaxes(range=list(analysed_span(report)))
    fig.update_xaxes(title_text="time (s)", row=2, col=1)
    fig.update_annotations(font={"size": 12})
    fig = _base_layout(fig, title, height=520)

    fig.update_layout(legend={"y": -0.14})
    return fig
