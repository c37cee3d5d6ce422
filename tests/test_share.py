"""The shareable report and the one scale: the gauge and its words, the HTML file, the JSON's picture fields."""

from __future__ import annotations

import base64
import html
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from vaedetect import explain, share
from vaedetect.display import safe_name
from vaedetect.report import Report

try:  # pytest puts tests/ on sys.path (no tests/__init__.py)
    from fakes import fake_report
except ImportError:  # pragma: no cover
    from tests.fakes import fake_report


@pytest.mark.parametrize(
    ("score", "words"),
    [
        (0.10, "well below the “uncertain” line (35 %)"),
        (0.33, "just below the “uncertain” line (35 %)"),
        (0.50, "above the “uncertain” line (35 %), well below the “likely manipulated” line (70 %)"),
        (0.69, "above the “uncertain” line (35 %), just below the “likely manipulated” line (70 %)"),
        (0.71, "just above the “likely manipulated” line (70 %)"),
        (0.95, "well above the “likely manipulated” line (70 %)"),
    ],
)
def test_score_position_says_which_line_the_score_is_near(score, words):
    report = fake_report()
    report.thresholds = {"uncertain": 0.35, "fake": 0.70}
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
    report.scores["face"] = 2.4
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
