"""The README for the people who use the tool (issue 32): short, the two commands, the verdict words the app shows,
and the research log in docs/ instead."""

from __future__ import annotations

import re
from pathlib import Path

from vaedetect import explain

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_is_short_keeps_its_front_matter_and_the_two_commands():
    assert len(README.splitlines()) <= 200
    assert README.startswith("---\ntitle: vaedetect\n") and "\nsdk: gradio\n" in README.split("\n---\n", 1)[0]
    assert "    make demo " in README and "    make test " in README and "## Security" in README


def test_the_readme_names_each_verdict_as_the_app_does_and_never_calls_a_file_likely_real():
    for label in (*explain.TIER_LABELS.values(), explain.NO_VERDICT_LABELS["no_face"]):
        assert f"**{label}**" in README
    assert not re.search(r"likely real|likely manipulated", README, re.I)


def test_the_research_log_lives_in_docs_and_the_readme_points_there():
    for doc in ("docs/evaluation.md", "docs/reference.md", "docs/how-it-works.md", "docs/model-history.md"):
        assert (ROOT / doc).is_file() and f"`{doc}`" in README
    evaluation = (ROOT / "docs" / "evaluation.md").read_text(encoding="utf-8")
    assert "rule 22" in evaluation and "0.715" in evaluation  # the facts moved, not dropped
    assert "rule " not in README.lower()
