"""Figures and report pictures draw from full and partial reports, and stay strict-JSON serialisable."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import pytest

from vaedetect import explain, figures

try:  # pytest puts tests/ on sys.path (no tests/__init__.py)
    from fakes import FakeDetector, fake_report
except ImportError:  # pragma: no cover
    from tests.fakes import FakeDetector, fake_report


def _strict_json(fig: go.Figure) -> dict:
    """What gr.Plot ships to the browser; plain lists only (no base64 typed arrays), no NaN."""
    text = fig.to_json()
    assert '"bdata"' not in text, "numpy arrays leaked into the figure (plotly 7 encodes them as base64)"
    data = json.loads(text)
    json.dumps(data, allow_nan=False)
    return data


def _annotation_texts(fig: go.Figure) -> str:
    return " ".join((a.text or "").replace("<br>", " ") for a in fig.layout.annotations)


@pytest.fixture(scope="module")
def reference() -> dict:
    return FakeDetector().reference_map()


def test_umap_figure_draws_real_faces_over_the_manipulated_groups_and_the_clip_over_all(reference):
    report = fake_report()
    fig = figures.umap_figure(report, reference)
    _strict_json(fig)
    names = [t.name for t in fig.data]
    assert {"self-blend (manipulated reference)", "cross-blend (manipulated reference)"} <= set(names)
    assert names.index("real faces (reference)") > max(i for i, n in enumerate(names) if "manipulated" in n)
    assert names[-2:] == ["this clip's frames", f"this clip (median of {len(report.frames)} frames)"]
    clip, star = fig.data[-2], fig.data[-1]
    assert len(clip.x) == len(report.frames)
    assert list(clip.marker.color) == [f.time_s for f in report.frames]
    assert "face score" in clip.hovertemplate and "t = " in clip.hovertemplate
    assert star.x[0] == np.median([f.map_xy[0] for f in report.frames]) and star.marker.symbol == "star"


def test_umap_reference_groups_have_distinct_colours_and_shapes(reference):
    groups = [t for t in figures.umap_figure(fake_report(), reference).data if "reference" in t.name]
    assert len({t.marker.color for t in groups}) == len(groups)
    fakes = [t for t in groups if "manipulated" in t.name]
    assert len({t.marker.symbol for t in fakes}) == len(fakes)


def test_umap_figure_without_faces_or_reference_explains_itself(reference):
    report = fake_report(faces=False)
    fig = figures.umap_figure(report, None)
    _strict_json(fig)
    assert figures.NO_FACE_MAP_TEXT in _annotation_texts(fig)
    fig = figures.umap_figure(report, reference)  # reference but no clip points: still a map, with a note
    assert not any(t.name.startswith("this clip") for t in fig.data)
    assert "No face found" in _annotation_texts(fig)


def test_umap_subsamples_large_reference():
    big = {"real_xy": np.random.default_rng(0).normal(size=(10_000, 2)), "fake_xy": np.zeros((0, 2)), "fake_kinds": []}
    fig = figures.umap_figure(fake_report(), big)
    assert len(fig.data[0].x) <= 1500


def test_alignment_figure_with_sync():
    report = fake_report()
    fig = figures.alignment_figure(report)
    _strict_json(fig)
    names = [t.name for t in fig.data]
    assert "alignment confidence" in names
    assert any(n.startswith("mouth opening") for n in names) and "voice loudness" in names
    assert "mismatch: alignment model" in names and "best shift" in names
    assert "mismatch: voice-predicted vs seen mouth" in names
    best = next(t for t in fig.data if t.name == "best shift")
    fps = explain.sync_fps(report.sync)
    assert best.x[0] == round(report.sync.offset_frames / fps, 3)  # seconds on the axis, frames in the hover
    assert best.customdata[0] == report.sync.offset_frames
    assert "(s" in fig.layout.xaxis3.title.text
    assert explain.offset_sentence(report.sync.offset_frames, report.sync.offset_s) in _annotation_texts(fig)
    lip = next(t for t in fig.data if t.name == "voice loudness")
    assert min(lip.y) >= 0 and max(lip.y) <= 1  # normalised companion curve


def _trace(fig: go.Figure, name: str):
    return next(t for t in fig.data if t.name == name)


def test_alignment_star_sits_at_the_minimum_of_the_curve_it_is_drawn_on():
    report = fake_report()
    s = report.sync
    fig = figures.alignment_figure(report)
    both = _trace(fig, "mismatch: both cues together")
    star = _trace(fig, "best shift")
    lowest = min((y, x) for x, y in zip(both.x, both.y, strict=True) if y is not None)
    assert (star.y[0], star.x[0]) == lowest
    flipped = _trace(fig, "mismatch: voice-predicted vs seen mouth")
    assert flipped.y[0] is None  # an offset the correlation could not reach is left out, not drawn as 0
    ys = [y for y in flipped.y if y is not None]
    assert min(ys) >= min(s.mean_distance_by_offset) and max(ys) <= max(s.mean_distance_by_offset)


def test_the_star_is_where_the_detector_puts_the_offset():
    """The figure's combination of the two cues is the detector's own, so the star lands on the reported offset."""
    from vaedetect.evidence import fuse_offset_curves

    report = fake_report()
    s = report.sync
    rng = np.random.default_rng(3)
    dist = rng.normal(1.4, 0.02, len(s.offsets))
    corr = rng.normal(0.2, 0.1, len(s.offsets))
    corr[0] = np.nan
    s.mean_distance_by_offset = dist.tolist()
    s.lipvoice_corr_by_offset = [None if np.isnan(c) else float(c) for c in corr]
    s.offset_frames = int(s.offsets[int(np.argmax(fuse_offset_curves(dist, corr)))])
    star = _trace(figures.alignment_figure(report), "best shift")
    assert star.customdata[0] == s.offset_frames


def test_no_star_when_no_shift_is_claimed_and_one_cue_stars_its_own_minimum():
    report = fake_report()
    report.sync.offset_cues_agree = False
    names = [t.name for t in figures.alignment_figure(report).data]
    assert "best shift" not in names and "mismatch: both cues together" not in names
    single = fake_report()
    single.sync.lipvoice_corr_by_offset = []
    fig = figures.alignment_figure(single)
    model, star = _trace(fig, "mismatch: alignment model"), _trace(fig, "best shift")
    assert star.y[0] == min(model.y) and star.x[0] == model.x[model.y.index(min(model.y))]


def test_alignment_confidence_stays_in_its_range_spans_the_clip_and_leaves_gaps_open():
    report = fake_report()
    s = report.sync
    s.curve_t = [0.44, 0.52, 0.6, 0.68, 2.0, 2.08, 2.16]  # no speech from 0.7 s to 2 s; the clip runs to 3 s
    s.curve_confidence = [0.1, -0.15, 0.2, 0.05, 0.1, 0.3, -0.05]
    fig = figures.alignment_figure(report)
    conf = _trace(fig, "alignment confidence")
    assert min(y for y in conf.y if y is not None) >= 0 and fig.layout.yaxis.range[0] == 0
    assert None in conf.y and conf.connectgaps is False  # the silent stretch is a gap, not a straight line
    assert tuple(fig.layout.xaxis.range) == (0.0, 3.0) and tuple(fig.layout.xaxis2.range) == (0.0, 3.0)
    assert tuple(fig.layout.yaxis2.range) == (0.0, 1.0)
    tl = figures.timeline_figure(report)
    assert tuple(tl.layout.xaxis.range) == (0.0, 3.0) and tuple(tl.layout.yaxis.range) == (0, 1)


def test_a_single_face_is_not_called_a_median_of_one_frame():
    names = [t.name for t in figures.umap_figure(fake_report(kind="image"), None).data]
    assert not any("median" in (n or "") for n in names) and "this photo's face" in names


def test_alignment_figure_claims_no_offset_when_the_two_cues_disagree():
    report = fake_report()
    report.sync.offset_cues_agree = False
    texts = _annotation_texts(figures.alignment_figure(report))
    assert "the two cues disagree on the offset" in texts and "best offset" not in texts


def test_alignment_figure_for_a_bundle_without_lip_from_voice_has_no_dashed_curve():
    report = fake_report()
    report.sync.lipvoice_corr_by_offset = []
    names = [t.name for t in figures.alignment_figure(report).data]
    assert "mismatch: voice-predicted vs seen mouth" not in names and "best shift" in names


def test_alignment_figure_without_sync_is_a_sentence_and_has_no_reading_guide():
    silent, voiced = fake_report(), fake_report()
    for r in (silent, voiced):
        r.sync, r.scores["audio"], r.scores["sync"] = None, None, None
    voiced.scores["audio"] = 0.4  # the voice counted: "no speech" would be untrue
    for report, text in (
        (fake_report(has_audio=False), "This clip has no sound track"),
        (silent, "No speech was found"),
        (voiced, "The voice was checked, but lip-sync could not be"),
        (fake_report(kind="image"), "A single photo has no sound"),
    ):
        fig = figures.alignment_figure(report)
        _strict_json(fig)
        assert len(fig.data) == 0
        assert text in _annotation_texts(fig)
        assert explain.alignment_caption(report) == ""
    assert explain.alignment_caption(fake_report()) == explain.ALIGNMENT_CAPTION


def test_timeline_figure_traces_and_thresholds():
    report = fake_report()
    fig = figures.timeline_figure(report)
    _strict_json(fig)
    series = [t for t in fig.data if t.x != (None,)]
    assert [t.name for t in series] == ["face score (z)", "lip-sync score (z)", "combined score"]
    assert [t.yaxis for t in series] == ["y2", "y2", "y"]  # z-scores in the lower panel, the score in the upper
    hlines = {(s.y0, s.yref) for s in fig.layout.shapes}
    th = report.thresholds
    assert {(th["uncertain"], "y"), (th["fake"], "y"), (0.0, "y2")} <= hlines  # each line in its own panel
    top, bottom = fig.layout.yaxis.domain, fig.layout.yaxis2.domain
    assert bottom[1] < top[0]  # stacked, not overlaid
    legend_only = [t.name for t in fig.data if t.x == (None,)]  # the lines are named in the legend, not over the data
    assert [n.split("”")[0] for n in legend_only] == ["“look closer", "“strong signs"]
    assert not fig.layout.annotations or all("manipulated" not in (a.text or "") for a in fig.layout.annotations)
    z = [v for t in series[:2] for v in t.y if v is not None]
    lo, hi = fig.layout.yaxis2.range
    assert lo < min(0, *z) and hi > max(0, *z)  # 0, the real-clip reference, is always on the z axis


def test_timeline_reading_guide_only_where_there_is_a_timeline():
    assert explain.timeline_caption(fake_report()) == explain.TIMELINE_CAPTION
    assert explain.timeline_caption(fake_report(kind="image")) == ""


def test_timeline_figure_silent_clip_and_photo():
    fig = figures.timeline_figure(fake_report(has_audio=False))
    names = [t.name for t in fig.data if t.x != (None,)]
    assert names == ["face score (z)", "combined score"]  # no sync series
    fig = figures.timeline_figure(fake_report(kind="image"))
    assert len(fig.data) == 0 and figures.NO_TIMELINE_TEXT in _annotation_texts(fig)


def test_timeline_without_fused_probability_has_no_thresholds():
    report = fake_report()
    for p in report.timeline:
        p.fused = None
    fig = figures.timeline_figure(report)
    assert all(s.yref == "y2" for s in fig.layout.shapes) and len(fig.data) == 2
    assert "No combined score per second" in _annotation_texts(fig)


def test_figures_tolerate_nan():
    report = fake_report()
    report.sync.curve_confidence[1] = float("nan")
    report.timeline[0].face = float("nan")
    _strict_json(figures.alignment_figure(report))
    _strict_json(figures.timeline_figure(report))


def test_side_by_side_pairs_a_frames_crop_with_its_reconstruction():
    report = fake_report()
    pair = figures.side_by_side(report.frames[0])
    assert pair is not None and pair[0].shape == pair[1].shape and pair[0].dtype == np.uint8
    empty = fake_report(faces=False)
    assert figures.side_by_side(empty.frames[0]) is None and figures.side_by_side(None) is None


def test_heatmap_colours_only_the_scored_face_area_and_greys_the_rest() -> None:
    from vaedetect.evidence import face_region

    crop = np.zeros((64, 64, 3), np.uint8)
    crop[..., 0] = 200  # a red picture: colour outside the face area would survive a plain overlay
    zmap = np.full((32, 32), 4.0, np.float32)  # far worse than real faces everywhere, background included
    region = face_region(32)
    out = figures.heatmap_overlay(crop, zmap, region=region).astype(int)
    plain = figures.heatmap_overlay(crop, zmap).astype(int)
    corner, centre = (1, 1), (34, 32)
    assert not region[0, 0] and region[17, 16]
    assert np.ptp(out[corner]) == 0 and np.ptp(plain[corner]) > 50  # outside: grey, not heat
    assert np.array_equal(out[centre], plain[centre])  # inside: the same heat colour


def test_frame_images_are_display_sized_and_the_heatmap_lies_over_the_shown_crop() -> None:
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)
    recon = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    shown, redrawn, heat = figures.frame_images(crop, recon, np.zeros((32, 32), np.float32))
    assert shown.shape == redrawn.shape == heat.shape == (figures.DISPLAY_PX, figures.DISPLAY_PX, 3)
    assert np.array_equal(heat, figures.heatmap_overlay(shown, np.zeros((32, 32), np.float32)))
