"""The words on the page: the verdict panel, frame captions and offsets, from full and partial reports."""

from __future__ import annotations

from vaedetect import explain
from vaedetect.report import WIDENING, ReportWarning

try:  # pytest puts tests/ on sys.path (no tests/__init__.py)
    from fakes import fake_report
except ImportError:  # pragma: no cover
    from tests.fakes import fake_report


def test_offset_sentence_follows_syncnet_sign():
    assert explain.offset_sentence(3, 0.12) == "audio lags video by 0.12 s (3 frames)"
    assert explain.offset_sentence(-1, -0.04) == "audio leads video by 0.04 s (1 frame)"
    assert "in step" in explain.offset_sentence(0, 0.0)


def test_verdict_markdown_mentions_tier_probability_reasons_warnings_and_model():
    report = fake_report(has_audio=False)
    md = explain.verdict_markdown(report)
    assert "Manipulation score: 42 %" in md and "chance of manipulation" not in md
    th = report.thresholds
    assert explain.SCORE_LINES.format(unc=explain._fmt_pct(th["uncertain"]), fake=explain._fmt_pct(th["fake"])) in md
    assert "not the chance that this file is fake" in md
    assert explain.SCORE_WIDENED not in md  # no warning moved the lines
    report.warnings.append(ReportWarning("heavy_compression", "The video is heavily compressed."))
    md = explain.verdict_markdown(report)
    assert explain.SCORE_WIDENED in md
    assert "Uncertain" in md
    assert "- Some frames reconstruct worse" in md
    assert "⚠ The video is heavily compressed." in md
    assert "Lip-sync: no speech was heard" in md
    assert "fake-test-bundle" in md and "0123456789ab" in md
    assert "Counted in the verdict" not in md  # the builder gives no contributions
    report.contributions = {"face": 0.05, "sync": 0.27, "temporal": -0.001}  # a negligible push is not listed
    assert "Counted in the verdict: Lip-sync (+0.27), Face reconstruction (+0.05);" in explain.verdict_markdown(report)
    report.verdict, report.manipulation_score = "fake", 0.996
    assert "Likely manipulated" in explain.verdict_markdown(report) and ">99 %" in explain.verdict_markdown(report)
    report.verdict = "real"
    assert "Likely real" in explain.verdict_markdown(report)


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
