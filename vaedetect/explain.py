"""Words drawn from a :class:`~vaedetect.report.Report`: the verdict panel, captions and plain-language offsets.

No Gradio and no plotting here, so the CLI, notebooks and tests can use the same sentences; the pictures live in
:mod:`vaedetect.figures`. Every function accepts a partial report (a photo has no audio, a clip may have no face).
"""

from __future__ import annotations

from vaedetect.report import Report

__all__ = [
    "ALIGNMENT_CAPTION",
    "EVIDENCE_NAMES",
    "EVIDENCE_SENTENCES",
    "TIER_LABELS",
    "TIMELINE_CAPTION",
    "alignment_caption",
    "best_frame_index",
    "frame_caption",
    "offset_sentence",
    "timeline_caption",
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
NO_SCORE = "none of the checks could run on this file, so it stays “uncertain” without a number."

ALIGNMENT_CAPTION = (
    "Top: how sure the lip-sync model is that mouth and voice belong together, over time. Bottom left: mouth opening "
    "and loudness should rise and fall together. Bottom right: how badly mouth and voice fit at each audio shift, by "
    "the lip-sync model (solid) and by the mouth opening predicted from the voice (dashed); the star is where both "
    "together fit best, and real clips fit best near 0."
)
TIMELINE_CAPTION = (
    "One point per second. Black: combined manipulation score (left axis; dashed lines are the verdict lines). "
    "Dotted: face and lip-sync scores (right axis; 0 = typical of real clips)."
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
    "Each dot is a face; one person's faces group together. Blue: real reference faces. Orange/pink: faces we"
    " manipulated on purpose (mostly beside their originals). Diamonds: this clip (colour = time). Diamonds far from"
    " every group are unlike the faces the model learned."
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


def verdict_markdown(report: Report) -> str:
    """The verdict panel: tier, score with the lines it is read against, reasons, limits, missing evidence, model."""
    tier = report.verdict
    label = TIER_LABELS.get(tier, tier)
    lines = [f"## {label}", ""]
    score = f"**Manipulation score: {_fmt_pct(report.manipulation_score)}**"
    th = report.thresholds or {}
    if not th:  # nothing was scored (see scoring.score): a number here would look like a measurement
        score = f"**No manipulation score:** {NO_SCORE}"
    elif "uncertain" in th and "fake" in th:
        score += (
            f"  \n<small>{SCORE_LINES.format(unc=_fmt_pct(th['uncertain']), fake=_fmt_pct(th['fake']))}"
            f"{SCORE_WIDENED if report.lines_widened() else ''} {SCORE_MEANING}</small>"
        )
    lines += [score, ""]
    if report.reasons:
        lines += ["**Why**", *[f"- {r}" for r in report.reasons], ""]
    if pushes := report.pushes():
        parts = ", ".join(f"{EVIDENCE_NAMES.get(k, k)} ({v:+.2f})" for k, v in pushes)
        lines += [f"<small>Counted in the verdict: {parts}; positive pushes towards “manipulated”.</small>", ""]
    if report.warnings:
        widening = report.widening_warnings() if th else []  # no lines, nothing moved
        lines.append("**Limits for this clip**")
        for w in report.warnings:
            lines.append(f"- ⚠ {w.message}" + (f" *({WIDENS_LINES})*" if w in widening else ""))
        lines.append("")
    if report.unavailable:
        lines.append("**Not checked**")
        for key, why in report.unavailable.items():
            lines.append(f"- {EVIDENCE_NAMES.get(key, key)}: {why}")
        lines.append("")
    m = report.media
    if m.kind == "image":
        seen = f"photo, {m.width}×{m.height}"
    else:
        seen = f"analysed {m.analysed_duration_s:.1f} s of {m.duration_s:.1f} s, {m.width}×{m.height}"
        if not m.has_audio:
            seen += ", no sound track"
    rev = f" @ {report.model.revision[:12]}" if report.model.revision else ""
    lines.append(f"<small>Model: {report.model.name}{rev} · {seen}</small>")
    return "\n".join(lines)


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
