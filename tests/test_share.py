"""The shareable report and the one scale: the gauge and its words, the HTML file, the JSON's picture fields."""

from __future__ import annotations

import base64
import html
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from vaedetect import explain, share
from vaedetect.display import safe_name
from vaedetect.report import Report

try:  # pytest puts tests/ on sys.path (no tests/__init__.py)
    from bundle_factory import TIER_RATES
    from fakes import fake_report
except ImportError:  # pragma: no cover
    from tests.bundle_factory import TIER_RATES
    from tests.fakes import fake_report


@pytest.mark.parametrize(
    ("lines", "score", "words"),
    [
        ((0.35, 0.70), 0.10, "well below the “look closer” line (35 %)"),
        ((0.35, 0.70), 0.33, "just below the “look closer” line (35 %)"),
        ((0.35, 0.70), 0.50, "above the “look closer” line (35 %), well below the “strong signs” line (70 %)"),
        ((0.35, 0.70), 0.60, "above the “look closer” line (35 %), below the “strong signs” line (70 %)"),
        ((0.35, 0.70), 0.69, "above the “look closer” line (35 %), just below the “strong signs” line (70 %)"),
        ((0.35, 0.70), 0.71, "just above the “strong signs” line (70 %)"),
        ((0.35, 0.70), 0.95, "well above the “strong signs” line (70 %)"),
        # Issue 32: with lines 39 points apart, 92 % is not "well below" 98 % and 50 % not "well below" 59 %.
        ((0.589, 0.978), 0.92, "above the “look closer” line (59 %), below the “strong signs” line (98 %)"),
        ((0.589, 0.978), 0.50, "below the “look closer” line (59 %)"),
        ((0.589, 0.978), 0.10, "well below the “look closer” line (59 %)"),
    ],
)
def test_score_position_words_scale_with_the_distance_between_the_lines(lines, score, words):
    report = fake_report()
    report.thresholds = {"uncertain": lines[0], "fake": lines[1]}
    report.manipulation_score = score
    assert explain.score_position(report) == words
    md = explain.verdict_markdown(report)
    assert words in md and 'class="gauge"' in md
    assert f'class="gauge-marker" style="left:{100 * score:.1f}%"' in explain.gauge_html(report)


def test_no_lines_no_gauge_and_no_words():
    report = fake_report()
    report.thresholds = {}
    assert explain.score_position(report) is None and explain.gauge_html(report) == ""
    assert "No manipulation score" in explain.verdict_markdown(report)


def test_the_numbers_behind_the_verdict_are_collapsed_in_details():
    report = fake_report()
    report.contributions = {"sync": 0.27}
    md = explain.verdict_markdown(report)
    details = md[md.index("<details") : md.index("</details>")]
    assert "Lip-sync (+0.27)" in details and explain.SCORE_MEANING in details
    assert "Lip-sync (+0.27)" not in md.replace(details, "")


def test_json_picture_fields_are_inline_pngs_or_absent():
    report = fake_report()
    plain = report.to_dict()
    assert all(k not in f for f in plain["frames"] for k in ("crop_png", "reconstruction_png", "heatmap_png"))
    full = json.loads(report.to_json(images=True))
    uri = full["frames"][0]["heatmap_png"]
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert Report.from_dict(full).verdict == report.verdict  # the filled fields read back


def test_html_report_is_self_contained_and_names_the_file_hash_verdict_and_model(tmp_path):
    clip = tmp_path / "interview clip.mp4"
    clip.write_bytes(b"not really a video, but bytes to hash" * 10)
    facts = share.file_facts(clip)
    report = fake_report()
    page = share.report_html(report, facts)
    assert facts.sha256 in page and "interview clip.mp4" in page and f"{facts.size_bytes:,} bytes" in page
    assert explain.TIER_LABELS[report.verdict] in page and explain.score_position(report) in page
    assert report.model.name in page and facts.analysed_at in page and "How to read this" in page
    assert page.count("data:image/png;base64,") >= 5  # key frame (3 pictures), timeline and lip-sync plots
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched from anywhere
    assert all(alt for alt in re.findall(r'<img [^>]*alt="([^"]*)"', page))
    assert share.report_filename(facts, "html") == "vaedetect-report-interview_clip.html"


def test_html_report_of_a_photo_says_why_plots_are_missing():
    report = fake_report(kind="image")
    page = share.report_html(report, share.FileFacts("face.jpg", 10, "0" * 64, "2026-12-01T00:00:00+00:00"))
    assert "A single photo has no timeline." in page and "A single photo has no sound" in page


def test_reasons_read_in_words_and_their_sigmas_move_to_the_details():
    report = fake_report()
    report.reasons = ["The face reconstructs far worse than the average real face (+2.4σ).", "Lips lag (+0.9σ) here."]
    report.checks = {"face": 2.4}
    md = explain.verdict_markdown(report)
    why, details = md.split("<details", 1)
    assert "- The face reconstructs far worse than the average real face." in why and "σ" not in why
    assert "- Lips lag here." in why
    assert "Face reconstruction +2.4σ" in details


class _Resources(HTMLParser):
    """Everything in a page that a Content-Security-Policy governs: tags, attributes, inline CSS."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.style += data


def test_the_report_carries_a_csp_that_allows_only_what_it_uses():
    """A script added to a downloaded report must not run: the page says so itself, and needs nothing more."""
    report = fake_report()
    page = share.report_html(report, share.FileFacts("clip.mp4", 10, "0" * 64, "2026-12-01T00:00:00+00:00"))
    found = _Resources()
    found.feed(page)
    csp = [v for t, k, v in found.attrs if t == "meta" and k == "content" and "default-src" in v]
    assert csp == ["default-src 'none'; img-src data:; style-src 'unsafe-inline'"]
    assert found.tags[:3] == ["html", "head", "meta"] and found.tags[3] == "meta"  # before anything it governs
    assert not {"script", "link", "iframe", "object", "embed", "base", "form", "frame", "audio", "video"} & set(
        found.tags
    )
    for tag, key, value in found.attrs:
        assert not key.startswith("on"), (tag, key)  # no inline event handlers (script-src 'none')
        if key in ("src", "srcset", "poster", "background", "data"):
            assert value.startswith("data:image/png;base64,"), (tag, key, value[:60])  # img-src data:
        if key == "style":
            assert "url(" not in value and "@import" not in value, value
    assert "url(" not in found.style and "@import" not in found.style and "@font-face" not in found.style


@pytest.mark.parametrize(
    "name",
    [
        "\x1b]0;pwned\x07\x1b[2Jclip.mp4",
        "invoice\u202egnp.mp4",
        "a\x00b.mp4",
        "line\nbreak\u2028.mp4",
        "zero\u200bwidth.mp4",
    ],
)
def test_a_hostile_name_is_shown_escaped_in_the_report_title_and_file_row(tmp_path, name):
    clip = tmp_path / "upload.mp4"
    clip.write_bytes(b"bytes to hash")
    facts = share.file_facts(clip, name=name)
    page = share.report_html(fake_report(), facts)
    bad = {"\x1b", "\x07", "\x00", "\u202e", "\u2028", "\u200b"}
    assert not bad & set(facts.name) and not bad & set(page)
    shown = safe_name(name)
    assert facts.name == shown and shown != name
    assert f"<title>vaedetect report: {html.escape(shown)}</title>" in page
    assert f"<tr><th>File name</th><td>{html.escape(shown)}</td></tr>" in page
    # a report made from facts built elsewhere is escaped all the same
    page = share.report_html(fake_report(), share.FileFacts(name, 1, "0" * 64, "2026-12-01T00:00:00+00:00"))
    assert not bad & set(page)


def test_safe_name_escapes_controls_bidi_and_bytes_and_keeps_ordinary_names():
    assert safe_name("Interview:Smith (final) Café 🎥.mp4") == "Interview:Smith (final) Café 🎥.mp4"
    assert safe_name("\x1b]0;pwned\x07") == "\\x1b]0;pwned\\x07"
    assert safe_name("invoice\u202egnp.mp4") == "invoice\\u202egnp.mp4"
    assert safe_name(b"caf\xe9.mp4") == safe_name(os.fsdecode(b"caf\xe9.mp4")) == "caf\\xe9.mp4"
    assert safe_name(Path("a\tb")) == "a\\x09b"
    assert safe_name("\u0645\u200c\u06cc") == "\u0645\u200c\u06cc"  # a Persian joiner is part of the word
    assert safe_name(safe_name("x\x1by\u202e")) == safe_name("x\x1by\u202e")
    safe_name(os.fsdecode(b"\xff\xfe")).encode("utf-8")  # always encodable


def test_the_html_report_carries_the_model_summary_instead_of_pointing_at_a_file(tmp_path):
    report = fake_report()
    report.model.summary = "A screening aid for journalists. It cannot prove that a file is real or fake."
    report.tier_rates = TIER_RATES["video"]
    page = share.report_html(report, share.FileFacts("clip.mp4", 10, "0" * 64, "2026-12-01T00:00:00+00:00"))
    assert "README.md" not in page and "model folder" not in page
    about = page[page.index("<h2>About the model</h2>") :]
    assert report.model.summary in about and "Held-out fakes (106)" in about and "<td>45 %</td>" in about
    assert explain.tier_rates_line(report) in page


def test_the_html_no_face_report_is_grey_and_says_no_verdict():
    report = fake_report(faces=False, has_audio=False)
    report.thresholds, report.no_verdict = {}, "no_face"
    page = share.report_html(report, share.FileFacts("black.mp4", 10, "0" * 64, "2026-12-01T00:00:00+00:00"))
    assert '<section class="verdict none"><h2>No face found — no verdict</h2>' in page
    assert 'class="gauge-bar"' not in page


def test_the_html_lip_sync_plot_agrees_with_its_caption():
    report = fake_report()
    s = report.sync
    s.curve_t = [0.44, 0.52, 0.6, 2.0, 2.08]
    s.curve_confidence = [0.1, -0.15, 0.2, 0.1, -0.05]
    fig = share.alignment_plot(report)
    top, bottom = fig.axes[:2]
    assert top.get_ylim()[0] == 0 and top.get_xlim() == (0.0, 3.0)
    assert any(np.isnan(line.get_ydata()).any() for line in top.get_lines())  # the silent stretch is a gap
    both = next(line for line in bottom.get_lines() if line.get_label() == "both cues together")
    star = next(line for line in bottom.get_lines() if line.get_label() == "best shift")
    k = int(np.nanargmin(both.get_ydata()))
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (both.get_xdata()[k], both.get_ydata()[k])
    s.offset_cues_agree = False  # no shift claimed: no star
    labels = [line.get_label() for line in share.alignment_plot(report).axes[1].get_lines()]
    assert "best shift" not in labels and "both cues together" not in labels
    timeline = share.timeline_plot(report)
    assert timeline.axes[0].get_ylim() == (0.0, 1.0) and timeline.axes[0].get_xlim() == (0.0, 3.0)
