"""The words on the page: the verdict panel, frame captions and offsets, from full and partial reports."""

from __future__ import annotations

import json
import re

from vaedetect import explain
from vaedetect.report import WIDENING, Finding, ReportWarning

try:  # pytest puts tests/ on sys.path (no tests/__init__.py)
    from bundle_factory import TIER_RATES
    from fakes import fake_report
except ImportError:  # pragma: no cover
    from tests.bundle_factory import TIER_RATES
    from tests.fakes import fake_report


def test_offset_sentence_follows_syncnet_sign():
    assert explain.offset_sentence(3, 0.12) == "audio lags video by 0.12 s (3 frames)"
    assert explain.offset_sentence(-1, -0.04) == "audio leads video by 0.04 s (1 frame)"
    assert "in step" in explain.offset_sentence(0, 0.0)


def test_verdict_markdown_mentions_tier_probability_reasons_warnings_and_model():
    report = fake_report(has_audio=False)
    md = explain.verdict_markdown(report)
    assert "**Manipulation score 42 %**" in md and "chance of manipulation" not in md
    th = report.thresholds
    assert explain.SCORE_LINES.format(unc=explain.fmt_pct(th["uncertain"]), fake=explain.fmt_pct(th["fake"])) in md
    assert "not the chance that this file is fake" in md
    assert explain.SCORE_WIDENED not in md  # no warning moved the lines
    report.warnings.append(ReportWarning("heavy_compression", "The video is heavily compressed."))
    md = explain.verdict_markdown(report)
    assert explain.SCORE_WIDENED in md
    assert "## Some signs — look closer" in md
    assert "- Some frames reconstruct worse" in md
    assert "⚠ The video is heavily compressed." in md
    assert "Lip-sync: no speech was heard" in md
    assert "fake-test-bundle" in md and "0123456789ab" in md
    assert "Counted in the verdict" not in md  # the builder gives no contributions
    report.contributions = {"face": 0.05, "sync": 0.27, "temporal": -0.001}  # a negligible push is not listed
    assert "Counted in the verdict: Lip-sync (+0.27), Face reconstruction (+0.05);" in explain.verdict_markdown(report)
    report.verdict, report.manipulation_score = "fake", 0.996
    assert "## Strong signs of manipulation" in explain.verdict_markdown(report)
    assert ">99 %" in explain.verdict_markdown(report)
    report.verdict = "real"
    assert "## No signs of manipulation found" in explain.verdict_markdown(report)


def test_no_output_calls_a_file_real():
    """Issue 32: the detector cannot prove a file real; "likely real" is gone as a verdict from every output."""
    from vaedetect import share

    facts = share.FileFacts("clip.mp4", 10, "0" * 64, "2026-12-01T00:00:00+00:00")
    for verdict in ("real", "uncertain", "fake"):
        report = fake_report()
        report.verdict = verdict
        words = [explain.verdict_markdown(report), share.report_html(report, facts), report.to_json()]
        for text in words:
            assert "likely real" not in text.lower() and "likely manipulated" not in text.lower()
        assert json.loads(report.to_json())["verdict_words"]["label"] == explain.TIER_LABELS[verdict]
    assert explain.TIER_LABELS["real"] == "No signs of manipulation found"
    assert not any(re.search(r"\breal\b", label, re.I) for label in explain.TIER_LABELS.values())


def test_each_verdict_is_shown_with_its_measured_shares_and_none_are_invented():
    report = fake_report()
    assert explain.tier_rates_line(report) is None  # no measurements: the line is left out
    assert "Measured on" not in explain.verdict_markdown(report)
    report.tier_rates = TIER_RATES["video"]
    report.verdict = "real"
    line = explain.tier_rates_line(report)
    assert line == (
        "Measured on 9 generator families the model never saw: this verdict went to 45 % of 106 fakes and 80 % of"
        " 286 real files."
    )
    assert (
        line in explain.verdict_markdown(report) and json.loads(report.to_json())["verdict_words"]["measured"] == line
    )
    report.verdict = "uncertain"
    assert "50 % of 106 fakes and 20 % of 286 real files" in explain.tier_rates_line(report)
    report.tier_rates = TIER_RATES["photo"]
    assert explain.tier_rates_line(report).startswith("Measured on 1 generator family the model never saw")


def test_no_face_is_its_own_outcome_grey_with_no_score_and_no_tier_words():
    report = fake_report(faces=False, has_audio=False)
    report.thresholds, report.no_verdict, report.reasons = {}, "no_face", ["No face could be examined."]
    report.tier_rates = TIER_RATES["video"]
    md = explain.verdict_markdown(report)
    assert md.startswith("## No face found — no verdict") and explain.tier_class(report) == "none"
    assert "gauge" not in md and "Some signs" not in md and "Measured on" not in md
    assert json.loads(report.to_json())["verdict_words"]["label"] == "No face found — no verdict"


def test_a_finding_is_named_first_and_says_it_raised_the_verdict():
    report = fake_report()
    report.thresholds = {"uncertain": 0.59, "fake": 0.98}
    report.manipulation_score = 0.5
    finding = Finding("audio_shift", "Lip movements and speech are out of step: the lips lead the speech by 0.40 s.")
    report.findings = [finding]
    report.reasons = [finding.message, "The inside of the face has less grain than its surroundings. (+1.1σ)"]
    report.weak_traces = ["Mouth movements match the speech less closely than in real footage. (+0.7σ)"]
    md = explain.verdict_markdown(report)
    why = md[md.index("**Why**") :]
    assert why.index("- Found: Lip movements") < why.index("less grain") < why.index(f"**{explain.WEAK_HEADING}**")
    assert why.index(f"**{explain.WEAK_HEADING}**") < why.index("less closely")
    assert explain.FINDING_RAISED in md


def test_sigmas_are_never_minus_zero_and_frames_are_counted_right():
    assert explain.sigma(-0.04) == "0.0σ" and explain.sigma(0.04) == "0.0σ" and explain.sigma(-0.06) == "-0.1σ"
    assert explain.sigma(1.25) == "+1.2σ" or explain.sigma(1.25) == "+1.3σ"
    assert explain.sigma(2.2, signed=False) == "2.2σ"
    report = fake_report()
    report.frames[0].face_score = -0.02
    assert "-0.0" not in explain.frame_caption(report, 0) and "-0.0" not in str(explain.frame_alt_texts(report, 0))
    report.timeline = report.timeline[:1]
    assert explain.timeline_summary(report).startswith("1 second scored;")


def test_a_photo_has_no_frame_time_and_is_not_counted_in_frames():
    photo = fake_report(kind="image")
    caption = explain.frame_caption(photo, 0)
    assert "t = " not in caption and caption.startswith("The photo's face")
    assert all(" s" not in alt.split("face")[1][:6] for _, alt in explain.frame_alt_texts(photo, 0))
    assert "frame" not in explain.map_summary(photo) and "1 of this file" not in explain.map_summary(photo)
    assert "Limits for this photo" in explain.verdict_markdown(photo) or not photo.warnings


def test_details_promise_only_what_they_list_and_show_the_reasons_sigma():
    report = fake_report()
    assert not report.unavailable
    summary = re.search(r"<summary>(.*?)</summary>", explain.details_html(report)).group(1)
    assert "not checked" not in summary
    report.unavailable = {"sync": "no speech"}
    assert "what was not checked" in explain.details_html(report)
    report.checks = {"face": 1.23, "lower_upper_noise": -0.78}
    report.scores["face"] = 0.8  # the raw z differs; the details show the σ the verdict read
    details = explain.details_html(report)
    assert "Face reconstruction +1.2σ" in details and "Lower vs upper face grain -0.8σ" in details
    assert "+0.8σ" not in details


def test_the_redrawn_face_is_described_as_what_it_is():
    assert "redrawn closely" not in explain.SLIDER_CAPTION
    assert "colour" in explain.SLIDER_CAPTION and "heatmap" in explain.SLIDER_CAPTION.lower()


def test_a_partial_face_warning_says_on_the_page_that_it_moved_the_lines_apart():
    """``partial_face`` widens the lines (it is in ``report.WIDENING``); the panel must say so and point at it."""
    report = fake_report()
    message = "A face is visible in only 30% of the analysed frames."
    report.warnings.append(ReportWarning("partial_face", message))
    md = explain.verdict_markdown(report)
    assert explain.SCORE_WIDENED in md
    assert f"- ⚠ {message} *({explain.WIDENS_LINES})*" in md


def test_every_widening_warning_is_marked_and_no_other_is():
    report = fake_report()
    report.warnings = [ReportWarning(code, f"message for {code}") for code in (*sorted(WIDENING), "no_speech")]
    md = explain.verdict_markdown(report)
    for code in WIDENING:
        assert f"message for {code} *({explain.WIDENS_LINES})*" in md
    assert "- ⚠ message for no_speech\n" in md + "\n" and f"no_speech *({explain.WIDENS_LINES})" not in md


def test_the_most_unusual_frame_is_shown_first_and_named_so():
    report = fake_report()
    best = explain.best_frame_index(report)
    assert report.frames[best].face_score == max(f.face_score for f in report.frames)
    assert "most unusual" in explain.frame_caption(report, best)
    empty = fake_report(faces=False)
    assert explain.best_frame_index(empty) is None
    assert "No face" in explain.frame_caption(empty, None)


def test_no_timeline_guide_or_count_for_seconds_that_hold_nothing():
    """A faceless, silent second has no values: no reading guide and no "1 second with evidence" (issue 32)."""
    from vaedetect.report import TimelinePoint

    report = fake_report(faces=False, has_audio=False)
    report.timeline = [TimelinePoint(t=0.0)]
    assert explain.timeline_caption(report) == ""
    assert explain.timeline_summary(report).startswith("No per-second scores")
