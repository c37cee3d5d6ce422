"""Words drawn from a :class:`~vaedetect.report.Report`: the verdict panel, captions and plain-language offsets.

No Gradio and no plotting here, so the CLI, notebooks and tests can use the same sentences; the pictures live in
:mod:`vaedetect.figures`. Every function accepts a partial report (a photo has no audio, a clip may have no face).
"""

from __future__ import annotations

import re

from vaedetect.audio import ANALYSIS_FPS
from vaedetect.report import Report, SyncResult

__all__ = [
    "ALIGNMENT_CAPTION",
    "EVIDENCE_NAMES",
    "EVIDENCE_SENTENCES",
    "TIER_LABELS",
    "TIMELINE_CAPTION",
    "alignment_caption",
    "alignment_summary",
    "best_frame_index",
    "details_html",
    "frame_alt_texts",
    "frame_caption",
    "gauge_html",
    "map_summary",
    "model_line",
    "no_sync_text",
    "offset_sentence",
    "score_position",
    "timeline_caption",
    "timeline_summary",
    "verdict_markdown",
]

TIER_LABELS = {"real": "Likely real", "uncertain": "Uncertain", "fake": "Likely manipulated"}
EVIDENCE_NAMES = {
    "face": "Face reconstruction",
    "latent": "Face similarity to real faces (latent map)",
    "audio": "Voice reconstruction",
    "sync": "Lip-sync",
    "temporal": "Frame-to-frame consistency",
    "blend": "Blending traces (face-swap seams)",
    "lower_upper_detail": "Lower vs upper face detail",
    "lower_upper_noise": "Lower vs upper face grain",
    "lower_upper_colour": "Lower vs upper face colour",
    "mouth_upper_detail": "Mouth vs eyes detail",
    "face_ring_detail": "Face vs surroundings detail",
    "face_ring_noise": "Face vs surroundings grain",
    "seam": "Edge along the face outline",
    "lower_upper_flicker": "Mouth-area texture over time",
    "face_ring_flicker": "Face texture over time",
    "clip_face": "Face compared with real and generated faces (CLIP)",
    "clip_frame": "Whole picture compared with real and generated pictures (CLIP)",
    "av_fit": "Mouth movements predicted from the speech",
    "av_peak": "Timing of mouth and speech",
    "speaker_change": "Same voice throughout",
}

# What an evidence says when it pushes a verdict towards "manipulated", by the direction the learned fusion found the
# fakes on (+1: a larger value is more like them). Each is compared with real footage of similar quality, because the
# fusion removes what face size, sharpness and compression explain on real files first.
EVIDENCE_SENTENCES = {
    ("face", 1): "The face reconstructs worse than real faces of similar quality.",
    ("face", -1): "The face reconstructs better than real faces of similar quality, as smooth generated faces do.",
    ("latent", 1): "The face lies further from real faces in the model's latent space than real faces of similar"
    " quality.",
    ("latent", -1): "The face sits unusually close to the average real face in the model's latent space, as smooth"
    " generated faces do.",
    ("temporal", 1): "The face changes from frame to frame more than in real footage.",
    ("temporal", -1): "The face changes from frame to frame less than in real footage: unusually steady, as generated"
    " faces are.",
    ("audio", 1): "The voice reconstructs worse than the real speech the model learned.",
    ("audio", -1): "The voice reconstructs better than real speech usually does, as clean synthetic voices do.",
    ("sync", 1): "Mouth movements match the speech less closely than in real footage.",
    ("sync", -1): "Mouth movements match the speech unusually closely, as in lip-sync generators trained for sync.",
    ("lower_upper_detail", 1): "The lower face (mouth, chin) has more fine detail, relative to the upper face, than in"
    " real footage.",
    ("lower_upper_detail", -1): "The lower face (mouth, chin) is smoother than the upper face, more than in real"
    " footage: lip-sync models redraw the lower face at their own resolution.",
    ("lower_upper_noise", 1): "The lower face is grainier than the upper face, more than in real footage.",
    ("lower_upper_noise", -1): "The lower face has less grain than the upper face, more than in real footage, as when"
    " it was redrawn.",
    ("lower_upper_colour", 1): "The lower face's colour differs from the upper face's more than in real footage, as"
    " when a redrawn mouth area is pasted back.",
    ("lower_upper_colour", -1): "The lower and upper face have unusually uniform colour.",
    ("mouth_upper_detail", 1): "The mouth area has more fine detail, relative to the eyes, than in real footage.",
    ("mouth_upper_detail", -1): "The mouth area is softer than the eyes and forehead, more than in real footage.",
    ("face_ring_detail", 1): "The inside of the face is sharper than the hair line and background around it, more"
    " than in real footage.",
    ("face_ring_detail", -1): "The inside of the face is smoother than the hair line and background around it, as when"
    " a face is generated or pasted in.",
    ("face_ring_noise", 1): "The inside of the face is grainier than its surroundings, more than in real footage.",
    ("face_ring_noise", -1): "The inside of the face has less grain than its surroundings, as when a face is generated"
    " or pasted in.",
    ("seam", 1): "There is a stronger edge along the face outline than in real footage, as where a swapped face is"
    " blended in.",
    ("seam", -1): "The face outline is unusually soft against its surroundings.",
    ("lower_upper_flicker", 1): "Fine texture around the mouth changes from frame to frame more, relative to the upper"
    " face, than in real footage.",
    ("lower_upper_flicker", -1): "Fine texture around the mouth changes from frame to frame less, relative to the upper"
    " face, than in real footage.",
    ("face_ring_flicker", 1): "Fine texture inside the face flickers more, relative to its surroundings, than in real"
    " footage.",
    ("face_ring_flicker", -1): "Fine texture inside the face is steadier over time than around it, as in generated"
    " faces.",
    ("clip_face", 1): "The face looks more like the generated and face-swapped faces the model was shown than like"
    " real ones, to an image network trained on hundreds of millions of pictures.",
    ("clip_face", -1): "The face looks more like real faces than the fakes the model was shown, to an image network"
    " trained on hundreds of millions of pictures.",
    ("clip_frame", 1): "The whole picture looks more like the manipulated videos the model was shown than like real"
    " footage, to an image network trained on hundreds of millions of pictures.",
    ("clip_frame", -1): "The whole picture looks more like real footage than the manipulated videos the model was"
    " shown.",
    ("av_fit", 1): "The speech predicts the mouth's movements more closely than in real footage, as when the lips are"
    " generated from the audio.",
    ("av_fit", -1): "The mouth's movements follow the speech less closely than in real footage, as with a dubbed voice"
    " or a face driven by someone else's movements.",
    ("av_peak", 1): "The mouth moves in step with the speech more sharply than in real footage, as when the lips are"
    " generated from the audio.",
    ("av_peak", -1): "The mouth's timing against the speech is less clear than in real footage, as with a dubbed voice"
    " or a face driven by someone else's movements.",
}

# The number is read against lines set on held-out real footage, and those lines differ between a video with sound, a
# silent clip and a photo (each is scored by its own head). Called a "chance", 53 % under a "likely real" verdict read
# as a contradiction; what the number supports is its place relative to the lines.
SCORE_LINES = "For this kind of file, “uncertain” starts at {unc} and “likely manipulated” at {fake}."
# Which warnings move the lines is ``report.WIDENING``; the panel marks those warnings instead of keeping its own list.
WIDENS_LINES = "moves the lines apart"
SCORE_WIDENED = f" The lines are further apart than usual because of the limits marked “{WIDENS_LINES}” below."
SCORE_MEANING = (
    "The lines are set on real clips and photos we held out: about 19 in 20 of them score below “likely"
    " manipulated”. The score ranks evidence; it is not the chance that this file is fake, and it is not proof."
)
_SIGMA_NOTE = re.compile(r" \([+\-−]?\d+(?:\.\d+)?σ\)")
JUST_MARGIN = 0.05  # a score this close to a line is "just" below or above it
DETAILS_SUMMARY = "Details: the lines, what each check pushed, what was not checked"
COUNTED = "Counted in the verdict"
NO_SCORE = "none of the checks could run on this file, so it stays “uncertain” without a number."

ALIGNMENT_CAPTION = (
    "Top: how sure the lip-sync model is that mouth and voice belong together, over time. Middle: mouth opening "
    "and loudness should rise and fall together. Bottom: how badly mouth and voice fit when the audio is shifted by "
    "so many seconds, by the lip-sync model (solid) and by the mouth opening predicted from the voice (dashed); the "
    "star is where both together fit best, and real clips fit best near 0 s."
)
TIMELINE_CAPTION = (
    "One point per second. Top: the combined manipulation score against the verdict lines (dashed). "
    "Bottom: face and lip-sync evidence in standard deviations from real clips (0 = typical, higher = more unusual)."
)
SLIDER_CAPTION = (
    "Drag the handle. Left: the face from your file. Right: the same face redrawn by a model that has only seen real"
    " faces. Real faces are redrawn closely."
)
HEATMAP_CAPTION = (
    "<span class='inferno-bar'></span> Colour = how much worse the redrawing is than for real faces: dark = normal,"
    " bright yellow = far worse (4+ standard deviations). Only the face area the score uses is coloured; the rest is"
    " greyed. Hair edges and glasses can glow on real videos too."
)
MAP_CAPTION = (
    "Each mark is a face; one person's faces group together. Blue dots: real reference faces. Other colours and"
    " shapes: faces we manipulated on purpose, one shape per kind (mostly beside their originals)."
)


def _fmt_pct(p: float) -> str:
    pct = 100.0 * float(p)
    if 0 < pct < 1:
        return "<1 %"
    if 99 < pct < 100:
        return ">99 %"
    return f"{pct:.0f} %"


def offset_sentence(offset_frames: int, offset_s: float) -> str:
    """Plain words for the SyncNet convention (positive offset: audio lags video)."""
    n = abs(int(offset_frames))
    frames = f"{n} frame" if n == 1 else f"{n} frames"
    if n == 0:
        return "audio and video are in step (offset 0 frames)"
    verb = "lags" if offset_frames > 0 else "leads"
    return f"audio {verb} video by {abs(float(offset_s)):.2f} s ({frames})"


def score_position(report: Report) -> str | None:
    """Where the score sits against this file's lines, in words ("just below the “uncertain” line (45 %)").

    The same number means different things for a clip with speech, a silent clip and a photo (each has its own
    lines), so the page leads with this sentence and a gauge rather than the bare number. None without lines.
    """
    th = report.thresholds or {}
    if "uncertain" not in th or "fake" not in th:
        return None
    s, unc, fake = float(report.manipulation_score), float(th["uncertain"]), float(th["fake"])
    unc_line = f"the “uncertain” line ({_fmt_pct(unc)})"
    fake_line = f"the “likely manipulated” line ({_fmt_pct(fake)})"
    if s < unc:
        return f"{_how_far(unc - s)} below {unc_line}"
    if s < fake:
        return f"above {unc_line}, {_how_far(fake - s)} below {fake_line}"
    return f"{_how_far(s - fake)} above {fake_line}"


def _how_far(gap: float) -> str:
    return "just" if gap < JUST_MARGIN else "well"


def gauge_html(report: Report) -> str:
    """A bar from 0 to 100 % coloured by this file's zones (real / uncertain / manipulated) with a marker at the score.

    Plain HTML and CSS classes (``.gauge*`` in ``assets/ui/style.css`` and the HTML report); screen readers get the
    sentence in a visually hidden span instead of the picture (the page's sanitiser drops ``aria-label``). Empty
    without lines.
    """
    where = score_position(report)
    if where is None:
        return ""
    th = report.thresholds
    unc, fake = (min(max(float(th[k]), 0.0), 1.0) for k in ("uncertain", "fake"))
    s = min(max(float(report.manipulation_score), 0.0), 1.0)
    label = f"Manipulation score {_fmt_pct(s)}: {where}."
    zones = (("real", 0.0, unc), ("uncertain", unc, fake), ("fake", fake, 1.0))
    bands = "".join(
        f'<span class="gauge-zone gauge-{name}" style="width:{100 * (hi - lo):.1f}%"></span>' for name, lo, hi in zones
    )
    legend = (
        f'<span><i class="gauge-swatch gauge-real"></i>likely real: below {_fmt_pct(unc)}</span>'
        f'<span><i class="gauge-swatch gauge-uncertain"></i>uncertain</span>'
        f'<span><i class="gauge-swatch gauge-fake"></i>likely manipulated: from {_fmt_pct(fake)}</span>'
    )
    return (
        f'<div class="gauge"><span class="sr-only gauge-label">{label}</span>'
        f'<div class="gauge-bar" aria-hidden="true">{bands}'
        f'<span class="gauge-marker" style="left:{100 * s:.1f}%"></span></div>'
        f'<div class="gauge-legend" aria-hidden="true">{legend}</div></div>'
    )


def plain_reason(reason: str) -> str:
    """A reason without its bracketed "(+1.1σ)": the page keeps σ in the details block, the words up front."""
    return _SIGMA_NOTE.sub("", reason)


def details_html(report: Report) -> str:
    """The numbers behind the verdict for readers who want them: the lines, what each evidence pushed, what was not
    checked. Collapsed on the page so the verdict reads first."""
    th = report.thresholds or {}
    items = []
    if "uncertain" in th and "fake" in th:
        widened = SCORE_WIDENED if report.lines_widened() else ""
        items.append(SCORE_LINES.format(unc=_fmt_pct(th["uncertain"]), fake=_fmt_pct(th["fake"])) + widened)
        items.append(SCORE_MEANING)
    if pushes := report.pushes():
        parts = ", ".join(f"{EVIDENCE_NAMES.get(k, k)} ({v:+.2f})" for k, v in pushes)
        items.append(f"{COUNTED}: {parts}; positive pushes towards “manipulated”.")
    if zs := [(k, v) for k, v in report.scores.items() if v is not None]:
        parts = ", ".join(f"{EVIDENCE_NAMES.get(k, k)} {v:+.1f}σ" for k, v in zs)
        items.append(f"Each check in standard deviations (σ) from real files (0 = typical): {parts}.")
    if report.unavailable:
        missing = "; ".join(f"{EVIDENCE_NAMES.get(k, k)}: {why}" for k, why in report.unavailable.items())
        items.append(f"Not checked: {missing}")
    if not items:
        return ""
    body = "".join(f"<li>{_escape(i)}</li>" for i in items)
    return f'<details class="score-details"><summary>{DETAILS_SUMMARY}</summary><ul>{body}</ul></details>'


def model_line(report: Report) -> str:
    """Which model made the verdict: name, revision (or the calibration's fingerprint) and where its card is."""
    m = report.model
    ident = f" @ {m.revision[:12]}" if m.revision else (f" (calibration {m.fingerprint})" if m.fingerprint else "")
    return f"{m.name}{ident}"


def media_line(report: Report) -> str:
    m = report.media
    if m.kind == "image":
        return f"photo, {m.width}×{m.height}"
    seen = f"analysed {m.analysed_duration_s:.1f} s of {m.duration_s:.1f} s, {m.width}×{m.height}"
    return seen if m.has_audio else seen + ", no sound track"


def verdict_markdown(report: Report, card_link: str | None = None) -> str:
    """The verdict panel: tier, gauge and where the score sits, reasons, limits, then the numbers (collapsed).

    ``card_link`` is where the page shows the model card (an anchor or URL); the report's own card URL otherwise.
    """
    tier = report.verdict
    label = TIER_LABELS.get(tier, tier)
    lines = [f"## {label}", ""]
    th = report.thresholds or {}
    if not th:  # nothing was scored (see scoring.score): a number here would look like a measurement
        lines += [f"**No manipulation score:** {NO_SCORE}", ""]
    else:
        score = f"**Manipulation score: {_fmt_pct(report.manipulation_score)}**"
        if where := score_position(report):
            lines += [gauge_html(report), "", f"{score}: {where}."]
        else:
            lines.append(score)
        lines.append("")
    if report.reasons:
        lines += ["**Why**", *[f"- {plain_reason(r)}" for r in report.reasons], ""]
    if report.warnings:
        widening = report.widening_warnings() if th else []  # no lines, nothing moved
        lines.append("**Limits for this clip**")
        for w in report.warnings:
            lines.append(f"- ⚠ {w.message}" + (f" *({WIDENS_LINES})*" if w in widening else ""))
        lines.append("")
    if details := details_html(report):
        lines += [details, ""]
    link = card_link or report.model.card
    model = f"[{_escape(model_line(report))}]({link})" if link else _escape(model_line(report))
    lines.append(f"Model: {model} · {media_line(report)}")
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def best_frame_index(report: Report) -> int | None:
    """The frame to show first: the most anomalous face (highest score), else the first frame with images."""
    candidates = [i for i, f in enumerate(report.frames) if f.crop is not None]
    if not candidates:
        return None
    scored = [i for i in candidates if report.frames[i].face_score is not None]
    if scored:
        return max(scored, key=lambda i: float(report.frames[i].face_score))  # type: ignore[arg-type]
    return candidates[0]


def frame_caption(report: Report, index: int | None) -> str:
    """One line naming the frame on screen, so the slider position has a meaning."""
    if index is None or not (0 <= index < len(report.frames)):
        return "No face was found in the sampled frames, so there is nothing to compare."
    f = report.frames[index]
    text = f"Frame at **t = {f.time_s:.1f} s**"
    if f.face_score is not None:
        text += f", face score z = {f.face_score:.1f}"
    if index == best_frame_index(report) and len(report.frames) > 1:
        text += " (the most unusual of the sampled frames)"
    return text


def timeline_caption(report: Report) -> str:
    """How to read the timeline; nothing for a photo or a clip without per-second scores (the panel says why)."""
    return TIMELINE_CAPTION if report.media.kind != "image" and report.timeline else ""


def alignment_caption(report: Report) -> str:
    """How to read the lip-sync figure; nothing when there is no figure to read (the empty panel says why)."""
    return ALIGNMENT_CAPTION if report.sync is not None and report.sync.curve_t else ""


def sync_fps(s: SyncResult) -> float:
    """Video frames per second of a sync result's shifts (its offset in frames and in seconds; 25 when it is 0)."""
    if s.offset_frames and s.offset_s:
        return abs(s.offset_frames / s.offset_s)
    return float(ANALYSIS_FPS)


def voice_checked(report: Report) -> bool:
    """Whether any voice evidence (voice reconstruction or lip-sync) counted, so "no speech" would be untrue."""
    return any(report.scores.get(k) is not None for k in ("audio", "sync"))


def no_sync_text(report: Report) -> str:
    """Why there is no lip-sync figure, true for the case shown."""
    if report.media.kind == "image":
        return "A single photo has no sound, so lip-sync cannot be checked."
    if not report.media.has_audio:
        return "This clip has no sound track, so lip-sync cannot be checked."
    why = report.unavailable.get("sync")
    if voice_checked(report):
        return "The voice was checked, but lip-sync could not be: " + (why or "the mouth was not tracked long enough.")
    return "No speech was found in this clip, so lip-sync cannot be checked." + (f" ({why})" if why else "")


def frame_alt_texts(report: Report, index: int | None) -> tuple[tuple[str, str], ...]:
    """(title, alt text) for the crop, its reconstruction and the heatmap of one frame: what each shows and the key
    number, so a screen-reader user gets the evidence a sighted user reads off the picture."""
    if index is None or not (0 <= index < len(report.frames)):
        return ()
    f = report.frames[index]
    z = f"; its face score is z = {f.face_score:.1f} (0 is typical of real faces)" if f.face_score is not None else ""
    at = f"at {f.time_s:.1f} s"
    return (
        ("Face as found", f"The face from the file {at}{z}."),
        ("Redrawn by the model", f"The same face {at} as redrawn by a model trained on real faces only."),
        (
            "Where the redrawing differs",
            f"Heatmap over the face {at}: bright yellow where the redrawing is far worse than for real faces,"
            f" dark where it is normal{z}.",
        ),
    )


def timeline_summary(report: Report) -> str:
    """One or two sentences a screen reader (or a printed report) can use instead of the timeline plot."""
    pts = report.timeline
    if report.media.kind == "image":
        return "A single photo has no timeline."
    if not pts:
        return "No per-second scores for this clip (it is too short or no second had enough evidence)."
    fused = [(p.t, p.fused) for p in pts if p.fused is not None]
    if not fused:
        return f"{len(pts)} seconds with face or lip-sync evidence but no combined score."
    t_max, s_max = max(fused, key=lambda ts: ts[1])
    text = f"{len(fused)} seconds scored; the highest combined score is {_fmt_pct(s_max)} at {t_max:.0f} s"
    fake = (report.thresholds or {}).get("fake")
    if fake is not None:
        above = sum(1 for _, s in fused if s >= fake)
        text += f"; {above} of {len(fused)} seconds reach the “likely manipulated” line ({_fmt_pct(fake)})"
    return text + "."


def alignment_summary(report: Report) -> str:
    """The lip-sync figure in words: best shift (seconds and frames), agreement of the cues, clip confidence."""
    s = report.sync
    if s is None or not s.curve_t:
        return no_sync_text(report)
    if s.offset_cues_agree is False:
        text = "The two lip-sync cues disagree on where mouth and voice fit best, so no shift is claimed"
    else:
        text = f"Mouth and voice fit best with {offset_sentence(s.offset_frames, s.offset_s)}"
    text += f"; average alignment confidence {float(s.confidence):.2f} (0–1)"
    if s.lip_loudness_corr is not None:
        text += f"; mouth opening and loudness correlate at {s.lip_loudness_corr:+.2f}"
    return text + ". Real clips fit best near 0 s."


def map_summary(report: Report) -> str:
    """The face map in words, for screen readers and for a map whose dots pile up."""
    on_map = [f for f in report.frames if f.map_xy is not None]
    if not on_map:
        return "No face was analysed, so this file is not on the face map."
    n = len(on_map)
    frames = "frame is" if n == 1 else "frames are"
    return (
        f"{n} of this file's {frames} on the map as small diamonds (colour = time); the black star is their median."
        " Far from every group means unlike the faces the model learned."
    )
