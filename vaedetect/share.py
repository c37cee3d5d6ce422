"""The shareable report: one self-contained HTML file a journalist can attach to a story file or send to an editor.

Everything is inline (pictures as base64 PNG, CSS in a ``<style>``), so the file opens offline, asks nothing from
any server and prints cleanly to PDF from the browser. Its Content-Security-Policy (:data:`CSP`) allows exactly that
and nothing more: a script added to a downloaded report, or a picture from elsewhere, does not run or load.

Every number comes from the :class:`~vaedetect.report.Report` and every sentence from :mod:`vaedetect.explain`; the
two static plots here are drawn with matplotlib because the interactive plotly figures of :mod:`vaedetect.figures`
need a browser to become pictures.

    facts = share.file_facts("clip.mp4")        # before the file is deleted
    html = share.report_html(report, facts)
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import vaedetect
from vaedetect import explain, figures
from vaedetect.display import safe_name
from vaedetect.models.bundle import file_sha256
from vaedetect.report import Report, png_data_uri

__all__ = ["CSP", "HOW_TO_READ", "FileFacts", "file_facts", "report_filename", "report_html", "write_html"]

HOW_TO_READ = (
    "The manipulation score ranks how much this file's evidence resembles the manipulated files the detector was"
    " fitted on; it is read against two lines set on held-out real footage of the same kind (a video and a photo each"
    " have their own). It is not the chance that the file is fake, and it is not proof: treat “strong signs” or"
    " “some signs” as a reason to check the source, and “no signs of manipulation found” as the absence of the"
    " traces this tool looks for, never as proof that the file is real. The key frame shows the face as found, the"
    " face as a model that learned only real faces redraws it (colours can differ even on real faces), and where the"
    " redrawing is worse than for real faces (bright = far worse). The timeline shows when the clip looks unusual; the"
    " lip-sync plot shows whether mouth and voice fit and at which audio shift they fit best (real clips fit best"
    " near 0 s)."
)
# No script, no fetch, no font or frame from anywhere; pictures only inline; the <style> and the gauge's style="".
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_CSS = """
body { font: 15px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1a1a1a; max-width: 900px;
  margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 1.4rem; margin-bottom: 0.2rem; } h2 { font-size: 1.15rem; margin-top: 1.6rem; }
.verdict { border-left: 10px solid #6b6b6b; padding: 0.6rem 1rem; background: #f6f6f6; }
.verdict.real { border-color: #1a7f44; } .verdict.uncertain { border-color: #a86f00; }
.verdict.fake { border-color: #c0281f; } .verdict.none { border-color: #6b6b6b; }
.measured { font-style: italic; }
.about { border: 1px solid #ccc; padding: 0.4rem 1rem; }
.verdict h2 { margin: 0 0 0.4rem 0; font-size: 1.6rem; }
table.facts { border-collapse: collapse; } table.facts td, table.facts th { text-align: left; padding: 2px 10px 2px 0;
  vertical-align: top; } td.hash { font-family: ui-monospace, Menlo, Consolas, monospace; word-break: break-all; }
.frames { display: flex; gap: 12px; flex-wrap: wrap; } .frames figure { margin: 0; }
.frames img { width: 192px; height: 192px; image-rendering: auto; }
figure.plot img { max-width: 100%; }
figcaption { font-size: 0.9rem; color: #444; }
.howto { border: 1px solid #999; padding: 0.6rem 1rem; background: #fafafa; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0, 0, 0, 0); }
.gauge { margin: 0.4rem 0 0.8rem 0; max-width: 520px; }
.gauge-bar { position: relative; display: flex; height: 14px; border-radius: 3px; overflow: visible; }
.gauge-zone { display: block; height: 100%; }
.gauge-real { background: #9fd5b4; } .gauge-uncertain { background: #f3d48a; } .gauge-fake { background: #f0a39c; }
.gauge-marker { position: absolute; top: -5px; width: 4px; height: 24px; margin-left: -2px; background: #111; }
.gauge-legend { display: flex; flex-wrap: wrap; gap: 0.2rem 1rem; margin-top: 0.4rem; font-size: 0.9rem; }
.gauge-swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.3em; border-radius: 2px; }
details.score-details ul { margin: 0.3rem 0; }
@media print { body { margin: 0; max-width: none; } .verdict, .gauge-zone, .gauge-marker
  { -webkit-print-color-adjust: exact; print-color-adjust: exact; } details.score-details > * { display: block; }
  figure { break-inside: avoid; } }
"""


@dataclass(frozen=True)
class FileFacts:
    """What identifies the analysed file in a report, taken before the upload is deleted."""

    name: str  # as shown (display.safe_name)
    size_bytes: int
    sha256: str
    analysed_at: str  # ISO 8601, UTC


def file_facts(path: str | Path, name: str | None = None) -> FileFacts:
    """Name (the user's, when given, made safe to show), size and SHA-256 of a file, and the time now."""
    path = Path(path)
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    return FileFacts(safe_name(Path(name or path.name).name), path.stat().st_size, file_sha256(path), now)


def report_filename(facts: FileFacts, suffix: str) -> str:
    """``vaedetect-report-<stem>.<suffix>`` with only safe characters in the stem."""
    stem = "".join(c if c.isalnum() or c in "_-" else "_" for c in Path(facts.name).stem)[:60] or "clip"
    return f"vaedetect-report-{stem}.{suffix}"


def write_html(report: Report, facts: FileFacts, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(report_html(report, facts), encoding="utf-8")
    return path


def report_html(report: Report, facts: FileFacts) -> str:
    """The whole report as one HTML document (UTF-8, no external resources)."""
    e = html.escape
    name = e(safe_name(facts.name))
    head, _, rest = explain.score_sentence(report).partition(":")
    score = f"<p><strong>{e(head)}</strong>:{e(rest)}</p>"
    moved, weak = explain.why_items(report)
    reasons = "".join(f"<li>{e(r)}</li>" for r in moved)
    traces = "".join(f"<li>{e(r)}</li>" for r in weak)
    warnings = "".join(f"<li>⚠ {e(w.message)}</li>" for w in report.warnings)
    measured = explain.tier_rates_line(report)
    model = e(explain.model_line(report))
    if report.model.card:  # a Hub bundle's card is online; a local one is summarised below instead of pointed at
        model += f' — <a href="{e(report.model.card)}">model card</a>'
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>vaedetect report: {name}</title><style>{_CSS}</style></head><body>",
        f"<h1>vaedetect report: {name}</h1>",
        f'<section class="verdict {e(explain.tier_class(report))}"><h2>{e(explain.verdict_label(report))}</h2>',
        f"<p>{e(explain.verdict_meaning(report))}</p>",
        f'<p class="measured">{e(measured)}</p>' if measured else "",
        explain.gauge_html(report),
        score,
        f"<h3>Why</h3><ul>{reasons}</ul>" if reasons else "",
        f"<h3>{e(explain.WEAK_HEADING)}</h3><ul>{traces}</ul>" if traces else "",
        f"<h3>{e(explain.limits_heading(report))}</h3><ul>{warnings}</ul>" if warnings else "",
        explain.details_html(report).replace("<details ", "<details open "),
        "</section>",
        '<h2>The file</h2><table class="facts">',
        f"<tr><th>File name</th><td>{name}</td></tr>",
        f"<tr><th>Size</th><td>{facts.size_bytes:,} bytes</td></tr>",
        f'<tr><th>SHA-256</th><td class="hash">{facts.sha256}</td></tr>',
        f"<tr><th>Analysed</th><td>{e(facts.analysed_at)}</td></tr>",
        f"<tr><th>What was analysed</th><td>{e(explain.media_line(report))}</td></tr>",
        f"<tr><th>Tool</th><td>vaedetect {e(vaedetect.__version__)}</td></tr>",
        f"<tr><th>Model</th><td>{model}</td></tr>",
        "</table>",
        _key_frame(report),
        _plot_section("When does the clip look unusual?", timeline_png(report), explain.timeline_summary(report)),
        _plot_section("Do the lips match the speech?", alignment_png(report), explain.alignment_summary(report)),
        f'<h2>How to read this</h2><div class="howto"><p>{e(HOW_TO_READ)}</p></div>',
        _about_model(report),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def _about_model(report: Report) -> str:
    """The model card's summary and this kind of file's measured shares, carried in the file: a reader of a report
    sent by e-mail cannot open a README on the machine that made it."""
    e = html.escape
    parts = ["<h2>About the model</h2>", '<div class="about">']
    if report.model.summary:
        parts.append(f"<p>{e(report.model.summary)}</p>")
    rates = report.tier_rates
    if rates:
        heads = "".join(f"<th>{e(explain.TIER_LABELS[c])}</th>" for c in explain.TIER_LABELS)
        groups = ((f"Real files ({rates['n_real']})", "real_files"), (f"Held-out fakes ({rates['n_fake']})", "fakes"))
        rows = ""
        for name, key in groups:
            cells = "".join(f"<td>{explain.fmt_pct(rates[key][c])}</td>" for c in explain.TIER_LABELS)
            rows += f"<tr><th>{e(name)}</th>{cells}</tr>"
        parts.append(f'<table class="facts"><tr><th></th>{heads}</tr>{rows}</table>')
    if len(parts) == 2:
        parts.append(f"<p>{e(explain.model_line(report))}: no summary was recorded with this report.</p>")
    return "".join(parts) + "</div>"


def _key_frame(report: Report) -> str:
    i = explain.best_frame_index(report)
    if i is None:
        return "<h2>Key frame</h2><p>No face was found in the sampled frames, so there is no face to show.</p>"
    fr = report.frames[i]
    alts = explain.frame_alt_texts(report, i)
    figs = []
    for arr, (title, alt) in zip((fr.crop, fr.reconstruction, fr.heatmap), alts, strict=True):
        if arr is not None:
            figs.append(
                f'<figure><img src="{png_data_uri(arr)}" alt="{html.escape(alt)}">'
                f"<figcaption>{html.escape(title)}</figcaption></figure>"
            )
    caption = html.escape(explain.frame_caption(report, i).replace("**", ""))
    return f'<h2>Key frame</h2><p>{caption}</p><div class="frames">{"".join(figs)}</div>'


def _plot_section(title: str, png: bytes | None, summary: str) -> str:
    e = html.escape
    if png is None:
        return f"<h2>{e(title)}</h2><p>{e(summary)}</p>"
    src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return (
        f'<h2>{e(title)}</h2><figure class="plot"><img src="{src}" alt="{e(summary)}">'
        f"<figcaption>{e(summary)}</figcaption></figure>"
    )


# ---------------------------------------------------------------------------------------------------------------
# Static plots (matplotlib, Agg)
# ---------------------------------------------------------------------------------------------------------------


def _figure(rows: int, height: float):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, height), dpi=96, layout="constrained")
    return fig, fig.subplots(rows, 1, squeeze=False)[:, 0]


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _series(values) -> np.ndarray:
    return np.array([np.nan if v is None or not math.isfinite(float(v)) else float(v) for v in values], dtype=float)


def timeline_png(report: Report) -> bytes | None:
    fig = timeline_plot(report)
    return None if fig is None else _png(fig)


def timeline_plot(report: Report):
    """Two stacked panels over the whole analysed span: the combined score against its lines (0–100 %); the face and
    lip-sync z against 0 (real-like). None for a photo or without per-second scores."""
    pts = report.timeline
    if report.media.kind == "image" or not pts:
        return None
    t = np.array([p.t for p in pts], dtype=float)
    fused = _series(p.fused for p in pts)
    zs = {"face": _series(p.face for p in pts), "lip-sync": _series(p.sync for p in pts)}
    if np.isnan(fused).all() and all(np.isnan(z).all() for z in zs.values()):
        return None
    fig, (top, bottom) = _figure(2, 5.0)
    top.plot(t, fused, "o-", color="black", label="combined score", clip_on=False)
    th = report.thresholds or {}
    lines = (("uncertain", explain.LINE_NAMES["uncertain"], "#a86f00"), ("fake", explain.LINE_NAMES["fake"], "#c0281f"))
    for key, label, colour in lines:
        if key in th:
            top.axhline(float(th[key]), ls="--", color=colour, lw=1, label=f"{label} ({float(th[key]):.0%})")
    top.set_ylim(0, 1)
    top.set_ylabel("manipulation score")
    top.yaxis.set_major_formatter(lambda v, _p: f"{v:.0%}")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    for (name, z), style in zip(zs.items(), ("o:", "s:"), strict=True):
        if not np.isnan(z).all():
            bottom.plot(t, z, style, label=f"{name} z", clip_on=False)
    bottom.axhline(0, color="#555", lw=1)
    bottom.set_ylabel("z vs real clips (0 = typical)")
    bottom.set_xlabel("time (s)")
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    for ax in (top, bottom):
        ax.set_xlim(*figures.analysed_span(report))
    return fig


def alignment_png(report: Report) -> bytes | None:
    fig = alignment_plot(report)
    return None if fig is None else _png(fig)


def alignment_plot(report: Report):
    """Alignment confidence over the whole analysed span (at least 0, gaps left open); mismatch by audio shift with
    the best shift starred at the minimum of the curve it comes from, only when a shift is claimed (as
    :func:`vaedetect.figures.alignment_figure`)."""
    s = report.sync
    if s is None or not s.curve_t:
        return None
    fig, (top, bottom) = _figure(2, 5.0)
    conf_t, conf = figures.confidence_curve(s)
    top.plot(conf_t, _series(conf), color="#0072B2")
    top.set_xlim(*figures.analysed_span(report))
    top.set_ylim(0, max([0.1, *(c for c in conf if c is not None)]) * 1.15)
    top.set_xlabel("time (s)")
    top.set_ylabel("alignment confidence (0 = none)")
    if s.offsets and s.mean_distance_by_offset:
        fps = explain.sync_fps(s)
        shift = np.array(s.offsets, dtype=float) / fps
        dist = _series(s.mean_distance_by_offset)
        bottom.plot(shift, dist, "o-", ms=2, lw=1, color="#888", label="mismatch (alignment model)")
        fit = figures.offset_fit(s)
        if fit is not None and fit[1] != "mismatch: alignment model" and s.offset_cues_agree is not False:
            bottom.plot(shift, _series(fit[0]), "-", lw=2.5, color="#111", label="both cues together")
        if (star := figures.best_shift(s)) is not None:
            k, y = star
            bottom.plot([shift[k]], [y], "*", ms=14, color="#D55E00", label="best shift")
        bottom.axvline(0, color="#999", lw=1)
        bottom.set_xlabel("audio shift (s), + = audio later")
        bottom.set_ylabel("mismatch (lower = better fit)")
        bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    else:
        bottom.set_axis_off()
    return fig
