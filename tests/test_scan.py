"""Scanning an archive: one line per file, bad files as error lines, resuming, and the same numbers from worker
processes and from a local Ray instance as from this process."""

from __future__ import annotations

import json
from pathlib import Path

import faces_factory as ff
import numpy as np
import pytest
from conftest import write_talking_clip
from PIL import Image
from socket_guard import guard_sockets

from vaedetect import explain
from vaedetect import scan as scan_mod
from vaedetect.__main__ import main
from vaedetect.errors import InputError
from vaedetect.evaluate import evaluate_csv


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two talking clips and a photo in nested folders, a truncated clip, and a text file the scan must not list."""
    root = tmp_path_factory.mktemp("archive")
    (root / "a" / "b").mkdir(parents=True)
    write_talking_clip(root / "a" / "clip0.mp4", seconds=1.5, seed=0)
    write_talking_clip(root / "a" / "b" / "clip1.mp4", seconds=1.5, seed=1, audio_shift_frames=6)
    Image.fromarray(ff.astronaut_face()).save(root / "face.png")
    good = (root / "a" / "clip0.mp4").read_bytes()
    (root / "broken.mp4").write_bytes(good[: len(good) // 3])
    (root / "notes.txt").write_text("not media")
    return root


@pytest.fixture(scope="module")
def reference(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The single-process scan every other path is compared with."""
    out = tmp_path_factory.mktemp("ref") / "ref.jsonl"
    scan_mod.scan(archive, out, progress=False)
    return {line["file"]: line for line in map(json.loads, out.read_text().splitlines())}


def _same_results(lines: dict[str, dict], reference: dict[str, dict]) -> None:
    assert set(lines) == set(reference)
    for f, ref in reference.items():
        got = lines[f]
        assert (got["sha256"], got["verdict"], got["error"], got["warnings"]) == (
            ref["sha256"], ref["verdict"], ref["error"], ref["warnings"]
        )  # fmt: skip
        if ref["score"] is not None:
            assert got["score"] == pytest.approx(ref["score"], abs=1e-5)


def test_scan_lists_clips_and_photos_recursively_and_a_csv_relative_to_itself(archive: Path, tmp_path: Path) -> None:
    found = [p.relative_to(archive).as_posix() for p in scan_mod.list_inputs(archive)]
    assert found == ["a/b/clip1.mp4", "a/clip0.mp4", "broken.mp4", "face.png"]  # notes.txt is not media
    listing = tmp_path / "list.csv"
    listing.write_text(f"path\n{archive / 'face.png'}\nrel.mp4\n")
    assert scan_mod.list_inputs(listing) == [archive / "face.png", tmp_path / "rel.mp4"]


def test_every_file_gets_a_line_and_a_bad_file_is_an_error_line_not_a_crash(reference: dict[str, dict]) -> None:
    assert len(reference) == 4
    broken = next(line for f, line in reference.items() if f.endswith("broken.mp4"))
    assert broken["error"] and broken["verdict"] is None and len(broken["sha256"]) == 64
    good = [line for f, line in reference.items() if not f.endswith("broken.mp4")]
    assert all(line["error"] is None and line["verdict"] in ("real", "uncertain", "fake") for line in good)
    assert {line["media"] for line in good} == {"video", "image"}
    assert all(0.0 <= line["score"] <= 1.0 and line["seconds"] > 0 for line in good)


def test_a_scan_line_words_its_verdict_as_the_files_json_report_does(reference: dict[str, dict]) -> None:
    """One key, one shape for tools that read both: ``verdict_words`` is the report's {label, meaning, measured}."""
    for f, line in reference.items():
        if line["error"]:
            assert line["verdict_words"] is None
            continue
        words = line["verdict_words"]
        assert set(words) == {"label", "meaning", "measured"}
        labels = {explain.TIER_LABELS[line["verdict"]], *explain.NO_VERDICT_LABELS.values()}
        assert words["label"] in labels and words["meaning"], f


def test_a_killed_scan_resumes_without_rescoring_finished_files(
    archive: Path, reference: dict[str, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a kill leaves: two whole lines and one cut off mid-write.
    lines = list(reference.values())
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps(lines[0]) + "\n" + json.dumps(lines[1]) + "\n" + json.dumps(lines[2])[:40])
    asked: list[str] = []
    real_score_paths = scan_mod.score_paths

    def spy(paths, *args, **kwargs):
        asked.extend(paths)
        return real_score_paths(paths, *args, **kwargs)

    monkeypatch.setattr(scan_mod, "score_paths", spy)
    summary = scan_mod.scan(archive, out, progress=False)
    assert sorted(asked) == sorted([lines[2]["file"], lines[3]["file"]])
    assert (summary.skipped, summary.scored, summary.total) == (2, 2, 4)
    assert len(scan_mod.finished(out)) == 4
    asked.clear()
    assert scan_mod.scan(archive, out, progress=False).scored == 0 and asked == []


def test_a_file_whose_content_changed_is_scored_again(reference: dict[str, dict], tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    Image.fromarray(ff.astronaut_face()).save(folder / "face.png")
    out = tmp_path / "out.jsonl"
    assert scan_mod.scan(folder, out, progress=False).scored == 1
    Image.fromarray(np.ascontiguousarray(ff.astronaut_face()[:, ::-1])).save(folder / "face.png")
    assert scan_mod.scan(folder, out, progress=False).scored == 1
    assert len({json.loads(t)["sha256"] for t in out.read_text().splitlines()}) == 2


def test_worker_processes_give_the_single_process_results(
    archive: Path, reference: dict[str, dict], tmp_path: Path
) -> None:
    out = tmp_path / "w2.jsonl"
    summary = scan_mod.scan(archive, out, workers=2, progress=False)
    assert summary.scored == 4 and summary.verdicts["error"] == 1
    _same_results({line["file"]: line for line in map(json.loads, out.read_text().splitlines())}, reference)


def test_scan_command_prints_a_summary_with_verdict_counts_slowest_files_and_errors(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli.jsonl"
    assert main(["scan", str(archive), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "4 scored, 0 already in" in text and "error 1" in text and "broken.mp4" in text and "slow" in text
    verdicts = next(line for line in text.splitlines() if line.startswith("verdicts: "))
    items = verdicts.removeprefix("verdicts: ").split(", ")
    assert not any(i.split()[0] in ("real", "uncertain", "fake") for i in items)  # the words, not the codes
    assert main(["scan", str(archive), "--out", str(out)]) == 0
    assert "0 scored, 4 already in" in capsys.readouterr().out


# -- Ray: one local instance with 2 CPUs for the module ---------------------------------------------------------------


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="the cluster extra (requirements-cluster.txt) is not installed")
    import os

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(Path(scan_mod.__file__).resolve().parents[1])}})  # fmt: skip
    yield ray
    ray.shutdown()


def test_a_local_ray_instance_gives_the_single_process_results_and_eval_numbers(
    local_ray, archive: Path, reference: dict[str, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = guard_sockets(monkeypatch, refuse=True)
    out = tmp_path / "ray.jsonl"
    summary = scan_mod.scan(archive, out, ray_address="local", workers=2, progress=False)
    assert summary.scored == 4 and summary.verdicts["error"] == 1
    _same_results({line["file"]: line for line in map(json.loads, out.read_text().splitlines())}, reference)
    # eval over Ray: the same metrics as scoring the rows one after another here.
    labels = tmp_path / "labels.csv"
    rows = [("a/clip0.mp4", "real"), ("a/b/clip1.mp4", "fake"), ("face.png", "real"), ("broken.mp4", "fake")]
    labels.write_text("path,label\n" + "".join(f"{archive / p},{label}\n" for p, label in rows))
    import vaedetect

    here = evaluate_csv(labels, vaedetect.load_detector().analyze, progress=False)
    on_ray = evaluate_csv(labels, ray_address="local", workers=2, progress=False)
    for key in ("n", "n_scored", "auc", "ap", "eer", "accuracy_at_threshold"):
        assert on_ray[key] == pytest.approx(here[key]), key
    assert len(on_ray["errors"]) == len(here["errors"]) == 1
    assert attempts == []


def _no_detector(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Score every listed file as unreadable, without loading a detector; returns the paths it was asked."""
    asked: list[str] = []

    def refuse(path):
        raise InputError("This file is not a clip vaedetect can read.")

    def score_paths(paths, *args, **kwargs):
        asked.extend(paths)
        return (scan_mod.score_file(refuse, p) for p in paths)

    monkeypatch.setattr(scan_mod, "score_paths", score_paths)
    return asked


def test_a_folder_scan_stays_inside_its_folder_unless_told_to_follow_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 34: ``passwd.mp4 -> /etc/passwd`` was read and its SHA-256 written to the results."""
    folder, elsewhere = tmp_path / "archive", tmp_path / "elsewhere"
    (folder / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    (folder / "a.png").write_bytes(b"a photo")
    (elsewhere / "private.mp4").write_bytes(b"someone else's clip")
    (folder / "passwd.mp4").symlink_to("/etc/passwd")
    (folder / "clip.mp4").symlink_to(elsewhere / "private.mp4")
    (folder / "sub" / "same.png").symlink_to(folder / "a.png")  # a link that stays inside: followed
    (folder / "other").symlink_to(elsewhere, target_is_directory=True)
    (folder / "sub" / "loop").symlink_to(folder, target_is_directory=True)

    skipped: list[Path] = []
    found = scan_mod.list_inputs(folder, skipped=skipped)
    assert [p.relative_to(folder).as_posix() for p in found] == ["a.png", "sub/same.png"]
    assert [p.relative_to(folder).as_posix() for p in skipped] == ["clip.mp4", "other", "passwd.mp4"]
    followed = {p.relative_to(folder).as_posix() for p in scan_mod.list_inputs(folder, follow_links=True)}
    assert {"a.png", "sub/same.png", "clip.mp4", "passwd.mp4", "other/private.mp4"} <= followed  # and no endless loop

    asked = _no_detector(monkeypatch)
    out = tmp_path / "out.jsonl"
    assert main(["scan", str(folder), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "3 links lead outside" in text and "passwd.mp4" in text and "--follow-links" in text
    assert sorted(Path(p).name for p in asked) == ["a.png", "same.png"]
    assert "passwd" not in out.read_text()
    asked.clear()
    assert main(["scan", str(folder), "--out", str(tmp_path / "all.jsonl"), "--follow-links"]) == 0
    assert {"passwd.mp4", "private.mp4"} <= {Path(p).name for p in asked}


def test_scan_prints_hostile_and_undecodable_names_escaped_and_never_crashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 34: a name could rewrite the user's terminal, and one with non-UTF-8 bytes crashed the summary."""
    import io
    import os
    import sys

    folder = tmp_path / "archive"
    folder.mkdir()
    hostile = "\x1b]0;pwned\x07\x1b[2Jclip.mp4"
    (folder / hostile).write_bytes(b"not a clip")
    try:
        (folder / os.fsdecode(b"caf\xe9.mp4")).write_bytes(b"not a clip either")
    except OSError:  # pragma: no cover - a file system that only takes UTF-8 names
        pytest.skip("this file system refuses names that are not UTF-8")
    _no_detector(monkeypatch)
    terminal = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # strict, as a UTF-8 terminal's stdout
    monkeypatch.setattr(sys, "stdout", terminal)
    code = main(["scan", str(folder), "--out", str(tmp_path / "out.jsonl")])
    terminal.flush()
    printed = terminal.buffer.getvalue()
    assert code == 0
    assert b"\x1b" not in printed and b"\x07" not in printed
    assert b"\\x1b]0;pwned\\x07\\x1b[2Jclip.mp4" in printed and b"caf\\xe9.mp4" in printed
    lines = [json.loads(t) for t in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert {os.path.basename(line["file"]) for line in lines} == {hostile, os.fsdecode(b"caf\xe9.mp4")}
