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
    "NO_VERDICT_LABELS",
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
    "sigma",
    "tier_class",
    "tier_rates_line",
    "timeline_caption",
    "timeline_summary",
    "verdict_label",
    "verdict_markdown",
    "verdict_words",
]

# The words for each verdict code. The detector cannot prove a file real, so the lowest tier says what was checked
# and found (TrueMedia.org's little / uncertain / substantial evidence), never "real"; the codes stay as they are.
TIER_LABELS = {
    "real": "No signs of manipulation found",
    "uncertain": "Some signs — look closer",
    "fake": "Strong signs of manipulation",
}
# What each verdict says, in one line (the measured shares, when the bundle has them, follow it).
TIER_MEANINGS = {
    "real": "The checks found nothing that sets this file apart from real footage. That is not proof that it is"
    " real: new kinds of fakes may leave no trace these checks see.",
    "uncertain": "Something in this file is unusual for real footage, or a specific problem was found. Read the"
    " reasons, look at the pictures and check the source.",
    "fake": "The checks found what manipulated files show, more strongly than real files usually do. It is still"
    " not proof on its own.",
}
# No verdict at all, by ``Report.no_verdict``: its own heading, grey, no tier colour.
NO_VERDICT_LABELS = {
    "no_face": "No face found — no verdict",
    "faces_too_small": "Faces too small to check — no verdict",
    "nothing_to_score": "Nothing to judge — no verdict",
}
NO_VERDICT_MEANINGS = {
    "no_face": "This model judges a file by the face first; without a face it gives no verdict either way.",
    "faces_too_small": "The faces are too small for the face checks, and without them this model gives no verdict"
    " either way.",
    "nothing_to_score": "None of the checks this model judges by could run on this file, so it gives no verdict"
    " either way.",
}
# Short names of the lines between the tiers, for the gauge and the sentences that place a score.
LINE_NAMES = {"uncertain": "“look closer”", "fake": "“strong signs”"}
# The measured shares beside a verdict (``Report.tier_rates``, from the bundle's calibration), by protocol.
TIER_RATES_WHERE = {"leave-one-family-out": "{n} generator famil{ies} the model never saw"}
TIER_RATES_LINE = (
    "Measured on {where}: this verdict went to {fakes} of {n_fake} fakes and {real} of {n_real} real files."
)
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
SCORE_LINES = "For this kind of file, “look closer” starts at {unc} and “strong signs” at {fake}."
# Which warnings move the lines is ``report.WIDENING``; the panel marks those warnings instead of keeping its own list.
WIDENS_LINES = "moves the lines apart"
SCORE_WIDENED = f" The lines are further apart than usual because of the limits marked “{WIDENS_LINES}” below."
SCORE_MEANING = (
    "The lines are set on real clips and photos held out from fitting. The score ranks evidence; it is not the chance"
    " that this file is fake, and it is not proof."
)
# The score is below the first line but a finding raised the verdict (``scoring.floored``).
FINDING_RAISED = "The score alone is below the “look closer” line; what was found raises the verdict to “look closer”."
_SIGMA_NOTE = re.compile(r" \([+\-−]?\d+(?:\.\d+)?σ\)")
# Where a score sits against a line, by its distance as a share of the distance between the two lines (so 50 % under a
# 59 % line is not "well below" it when the other line is at 98 %): under JUST "just", from WELL on "well".
JUST_SHARE = 0.1
WELL_SHARE = 0.5
DETAILS_PARTS = {"lines": "the lines", "pushes": "what each check pushed", "sigmas": "each check in σ",
                 "missing": "what was not checked"}  # fmt: skip
COUNTED = "Counted in the verdict"
NO_SCORE = "none of the checks this model judges by could run on this file, so there is no number."
# Sentence pieces :mod:`vaedetect.scoring` builds its reasons from (the words live here, the decisions there).
FOUND = "Found"
WEAK_HEADING = "Too weak to count"
BETWEEN_REASON = "The combined evidence is between what real clips and manipulated clips usually show."
NOTHING_FOUND_REASON = "No check found anything that sets this file apart from real footage of similar quality."
AWAY_SENTENCE = "{name}: less like the fakes the model learned from than the average real file ({z})."
SHIFT_FINDING = (
    "Lip movements and speech are out of step: {shift}, and both lip-sync checks agree. A dubbed or replaced voice"
    " does this; so can an editing or encoding fault, so check the original."
)

ALIGNMENT_CAPTION = (
    "Top: how sure the lip-sync model is that mouth and voice belong together, over time (0 = no surer than for"
    " shifted audio; gaps: no speech with a visible mouth). Middle: mouth opening and loudness should rise and fall"
    " together. Bottom: how badly mouth and voice fit when the audio is shifted by so many seconds, by the lip-sync"
    " model (grey), by the mouth opening predicted from the voice (dashed) and by both together (black); the star"
    " marks the lowest point, where they fit best, and is left out when the two cues disagree. Real clips fit best"
    " near 0 s."
)

TIMELINE_CAPTION = (
    "One point per second. Top: the combined manipulation score against the verdict lines (dashed). "
    "Bottom: face and lip-sync evidence in standard deviations from real clips (0 = typical, higher = more unusual)."
)
SLIDER_CAPTION = (
    "Drag the handle (or focus it and use the arrow keys). Left: the face from your file. Right: the face as a small"
    " model redraws it from what it learned of real faces; it keeps the pose and features but not every colour, so"
    " skin tone and hair can differ even on real faces. The heatmap, not this picture, measures the difference."
)
HEATMAP_CAPTION = (
    "<span class='inferno-bar'></span> Colour = how much worse the redrawing is than for real faces: dark = normal,"
    " bright yellow = far worse (4+ standard deviations). Only the face area the score uses is coloured; the rest is"
    " greyed. Hair edges and glasses can glow on real videos too."
)
EXAMPLES_NOTE = (
    "Each label says what the example really is. The verdict says only what the detector found: it misses some of"
    " the fakes made here, and says so in its words (“no signs found” is not “real”)."
)
MAP_CAPTION = (
    "Each mark is a face; one person's faces group together. Blue dots: real reference faces. Other colours and"
    " shapes: faces we manipulated on purpose, one shape per kind (mostly beside their originals)."
)


def sigma(z: float, signed: bool = True) -> str:
    """A z-score in standard deviations, the one way every output writes it (rounded as the report stores it, so the
    reasons, the details and the JSON agree; never "-0.0")."""
    v = round(round(float(z), 3), 1)
    if v == 0:
        return "0.0σ"
    return f"{v:+.1f}σ" if signed else f"{v:.1f}σ"


def shift_words(offset_frames: int, fps: float) -> str:
    """A clear audio offset in words ("the lips lead the speech by 0.40 s"; SyncNet sign: positive = audio later)."""
    lead = "the lips lead the speech" if offset_frames > 0 else "the speech leads the lips"
    return f"{lead} by {abs(offset_frames) / fps:.2f} s"


def tier_class(report: Report) -> str:
    """The CSS class the panel is coloured by: the verdict code, or "none" (grey) when no verdict was given."""
    return report.verdict if report.judged else "none"


def verdict_label(report: Report) -> str:
    """The verdict's heading, in every output (page, CLI, HTML report, JSON ``verdict_words``)."""
    if not report.judged:
        return NO_VERDICT_LABELS.get(report.no_verdict or "", NO_VERDICT_LABELS["nothing_to_score"])
    return TIER_LABELS[report.verdict]


def verdict_meaning(report: Report) -> str:
    if not report.judged:
        return NO_VERDICT_MEANINGS.get(report.no_verdict or "", NO_VERDICT_MEANINGS["nothing_to_score"])
    return TIER_MEANINGS[report.verdict]


def tier_rates_line(report: Report) -> str | None:
    """How often this verdict was given, on families held out, to fakes and to real files: from the bundle's
    measurements (``Report.tier_rates``), never typed. None without them or without a verdict."""
    rates = report.tier_rates
    if not report.judged or not rates or rates.get("how") not in TIER_RATES_WHERE:
        return None
    n = int(rates["n_families"])
    where = TIER_RATES_WHERE[rates["how"]].format(n=n, ies="y" if n == 1 else "ies")
    return TIER_RATES_LINE.format(
        where=where,
        fakes=fmt_pct(rates["fakes"][report.verdict]),
        n_fake=rates["n_fake"],
        real=fmt_pct(rates["real_files"][report.verdict]),
        n_real=rates["n_real"],
    )


def verdict_words(report: Report) -> dict[str, str | None]:
    """The human-readable words of a verdict for the JSON report: heading, what it means, and the measured shares."""
    return {"label": verdict_label(report), "meaning": verdict_meaning(report), "measured": tier_rates_line(report)}


def fmt_pct(p: float) -> str:
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
    """Where the score sits against this file's lines, in words ("just below the “look closer” line (45 %)").

    The same number means different things for a clip with speech, a silent clip and a photo (each has its own
    lines), so the page leads with this sentence and a gauge rather than the bare number. None without lines.
    """
    th = report.thresholds or {}
    if "uncertain" not in th or "fake" not in th:
        return None
    s, unc, fake = float(report.manipulation_score), float(th["uncertain"]), float(th["fake"])
    unc_line = f"the {LINE_NAMES['uncertain']} line ({fmt_pct(unc)})"
    fake_line = f"the {LINE_NAMES['fake']} line ({fmt_pct(fake)})"
    band = max(fake - unc, 1e-6)
    if s < unc:
        return f"{_how_far(unc - s, band)}below {unc_line}"
    if s < fake:
        return f"above {unc_line}, {_how_far(fake - s, band)}below {fake_line}"
    return f"{_how_far(s - fake, band)}above {fake_line}"


def _how_far(gap: float, band: float) -> str:
    """ "just ", "" or "well ": the gap as a share of the distance between the two lines, so the words scale with it."""
    share = gap / band
    return "just " if share < JUST_SHARE else "well " if share >= WELL_SHARE else ""


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
    label = f"Manipulation score {fmt_pct(s)}: {where}."
    zones = (("real", 0.0, unc), ("uncertain", unc, fake), ("fake", fake, 1.0))
    bands = "".join(
        f'<span class="gauge-zone gauge-{name}" style="width:{100 * (hi - lo):.1f}%"></span>' for name, lo, hi in zones
    )
    legend = (
        f'<span><i class="gauge-swatch gauge-real"></i>no signs found: below {fmt_pct(unc)}</span>'
        f'<span><i class="gauge-swatch gauge-uncertain"></i>look closer</span>'
        f'<span><i class="gauge-swatch gauge-fake"></i>strong signs: from {fmt_pct(fake)}</span>'
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


def check_sigmas(report: Report) -> dict[str, float]:
    """Each check's σ as the verdict read it (``Report.checks``; ``scores`` for reports written before schema 6)."""
    return report.checks or {k: v for k, v in report.scores.items() if v is not None}


def details_html(report: Report) -> str:
    """The numbers behind the verdict for readers who want them: the lines, what each evidence pushed, each check's
    σ (the same σ the reasons quote), what was not checked. The summary names only the parts that are there.
    Collapsed on the page so the verdict reads first."""
    th = report.thresholds or {}
    items, parts = [], []
    if "uncertain" in th and "fake" in th:
        widened = SCORE_WIDENED if report.lines_widened() else ""
        items.append(SCORE_LINES.format(unc=fmt_pct(th["uncertain"]), fake=fmt_pct(th["fake"])) + widened)
        items.append(SCORE_MEANING)
        parts.append(DETAILS_PARTS["lines"])
    if pushes := report.pushes():
        listed = ", ".join(f"{EVIDENCE_NAMES.get(k, k)} ({v:+.2f})" for k, v in pushes)
        items.append(f"{COUNTED}: {listed}; positive pushes towards “manipulated”.")
        parts.append(DETAILS_PARTS["pushes"])
    if zs := check_sigmas(report):
        listed = ", ".join(f"{EVIDENCE_NAMES.get(k, k)} {sigma(v)}" for k, v in zs.items())
        items.append(f"Each check in standard deviations (σ) from real files (0 = typical): {listed}.")
        parts.append(DETAILS_PARTS["sigmas"])
    if report.unavailable:
        missing = "; ".join(f"{EVIDENCE_NAMES.get(k, k)}: {why}" for k, why in report.unavailable.items())
        items.append(f"Not checked: {missing}")
        parts.append(DETAILS_PARTS["missing"])
    if not items:
        return ""
    body = "".join(f"<li>{_escape(i)}</li>" for i in items)
    listed_parts = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
    return f'<details class="score-details"><summary>Details: {listed_parts}</summary><ul>{body}</ul></details>'


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


def why_items(report: Report) -> tuple[list[str], list[str]]:
    """(what moved the verdict, traces too weak to count) in words without σ, findings first and marked as found;
    reasons that repeat the limits listed below are left to them."""
    found = {f.message for f in report.findings}
    moved = [f"{FOUND}: {plain_reason(r)}" if r in found else plain_reason(r) for r in report.reasons]
    return moved, [plain_reason(r) for r in report.weak_traces]


def score_sentence(report: Report) -> str:
    """ "Manipulation score 50 %: below the “look closer” line (59 %)." with the note when a finding raised the
    verdict above where the score alone sits; the no-score sentence without lines."""
    if not report.thresholds:
        return f"No manipulation score: {NO_SCORE}"
    text = f"Manipulation score {fmt_pct(report.manipulation_score)}"
    if where := score_position(report):
        text += f": {where}"
    text += "."
    if report.findings and report.manipulation_score < float(report.thresholds.get("uncertain", 0.0)):
        text += " " + FINDING_RAISED
    return text


def verdict_markdown(report: Report, card_link: str | None = None) -> str:
    """The verdict panel: heading and what it means (with the measured shares), findings, gauge and where the score
    sits, what moved the verdict, traces too weak to count, limits, then the numbers (collapsed).

    ``card_link`` is where the page shows the model card (an anchor or URL); the report's own card URL otherwise.
    """
    lines = [f"## {verdict_label(report)}", "", verdict_meaning(report)]
    if measured := tier_rates_line(report):
        lines += ["", f"*{measured}*"]
    lines.append("")
    if report.judged and score_position(report):
        lines += [gauge_html(report), ""]
    lines += [_bold_lead(score_sentence(report)), ""]
    moved, weak = why_items(report)
    if moved:
        lines += ["**Why**", *[f"- {r}" for r in moved], ""]
    if weak:
        lines += [f"**{WEAK_HEADING}**", *[f"- {r}" for r in weak], ""]
    th = report.thresholds or {}
    if report.warnings:
        widening = report.widening_warnings() if th else []  # no lines, nothing moved
        lines.append(f"**{limits_heading(report)}**")
        for w in report.warnings:
            lines.append(f"- ⚠ {w.message}" + (f" *({WIDENS_LINES})*" if w in widening else ""))
        lines.append("")
    if details := details_html(report):
        lines += [details, ""]
    link = card_link or report.model.card
    model = f"[{_escape(model_line(report))}]({link})" if link else _escape(model_line(report))
    lines.append(f"Model: {model} · {media_line(report)}")
    return "\n".join(lines)


def limits_heading(report: Report) -> str:
    return "Limits for this photo" if report.media.kind == "image" else "Limits for this clip"


def _bold_lead(sentence: str) -> str:
    """The sentence with its lead ("Manipulation score 50 %") in bold: the part a reader scans for."""
    head, sep, rest = sentence.partition(":")
    return f"**{head}**{sep}{rest}" if sep else sentence


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
    text = "The photo's face" if report.media.kind == "image" else f"Frame at **t = {f.time_s:.1f} s**"
    if f.face_score is not None:
        text += f", face score {sigma(f.face_score)}"
    if index == best_frame_index(report) and len(report.frames) > 1:
        text += " (the most unusual of the sampled frames)"
    return text


def has_timeline(report: Report) -> bool:
    """Whether a clip has anything per second to plot (a score or a face or lip-sync value in some second)."""
    return report.media.kind != "image" and any(
        v is not None for p in report.timeline for v in (p.fused, p.face, p.sync)
    )


def timeline_caption(report: Report) -> str:
    """How to read the timeline; nothing for a photo or a clip without per-second scores (the panel says why)."""
    return TIMELINE_CAPTION if has_timeline(report) else ""


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
    z = f"; its face score is {sigma(f.face_score)} (0 is typical of real faces)" if f.face_score is not None else ""
    at = "in the photo" if report.media.kind == "image" else f"at {f.time_s:.1f} s"
    return (
        ("Face as found", f"The face from the file {at}{z}."),
        (
            "Redrawn by the model",
            f"The same face {at} as a model trained on real faces only redraws it; colours can differ even on real"
            " faces.",
        ),
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
    if not has_timeline(report):
        return "No per-second scores for this clip (it is too short or no second had enough evidence)."
    fused = [(p.t, p.fused) for p in pts if p.fused is not None]
    if not fused:
        with_evidence = sum(1 for p in pts if p.face is not None or p.sync is not None)
        return f"{_count(with_evidence, 'second')} with face or lip-sync evidence but no combined score."

    t_max, s_max = max(fused, key=lambda ts: ts[1])
    text = f"{_count(len(fused), 'second')} scored; the highest combined score is {fmt_pct(s_max)} at {t_max:.0f} s"
    fake = (report.thresholds or {}).get("fake")
    if fake is not None:
        above = sum(1 for _, s in fused if s >= fake)
        text += f"; {above} of {len(fused)} reach the {LINE_NAMES['fake']} line ({fmt_pct(fake)})"
    return text + "."


def _count(n: int, noun: str) -> str:
    """ "1 frame", "2 frames": singular and plural right."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def alignment_summary(report: Report) -> str:
    """The lip-sync figure in words: best shift (seconds and frames), agreement of the cues, clip confidence."""
    s = report.sync
    if s is None or not s.curve_t:
        return no_sync_text(report)
    if s.offset_cues_agree is False:
        text = "The two lip-sync cues disagree on where mouth and voice fit best, so no shift is claimed"
    else:
        text = f"Mouth and voice fit best with {offset_sentence(s.offset_frames, s.offset_s)}"
    text += f"; average alignment confidence {max(float(s.confidence), 0.0):.2f} (0 = no better than other shifts)"
    if s.lip_loudness_corr is not None:
        text += f"; mouth opening and loudness correlate at {s.lip_loudness_corr:+.2f}"
    return text + ". Real clips fit best near 0 s."


def map_summary(report: Report) -> str:
    """The face map in words, for screen readers and for a map whose dots pile up."""
    on_map = [f for f in report.frames if f.map_xy is not None]
    if not on_map:
        return "No face was analysed, so this file is not on the face map."
    n = len(on_map)
    far = " Far from every group means unlike the faces the model learned."
    if report.media.kind == "image":
        return "The photo's face is on the map as a small diamond." + far
    if n == 1:
        return "One frame of this file is on the map as a small diamond." + far
    diamonds = f"{n} of this file's frames are on the map as small diamonds (colour = time)"
    return f"{diamonds}; the black star is their median.{far}"
