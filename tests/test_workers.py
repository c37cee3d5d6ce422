"""How an analysis shares the CPU (vaedetect.workers): tasks side by side give what one after the other gives, errors
reach the caller, a decode running ahead stops when the caller does. No timings here (bench/analyze.py has them)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from pathlib import Path

import numpy as np
import pytest

import vaedetect
from vaedetect import workers
from vaedetect.evidence import compute_evidence
from vaedetect.ingest import ingest


@pytest.fixture
def two_lanes() -> Iterator[None]:
    workers.configure(2)
    yield
    workers.configure()


def test_tasks_side_by_side_return_in_order_and_the_first_error_comes_after_all_ran(two_lanes: None) -> None:
    assert workers.lanes() == 2
    assert workers.run_all([lambda i=i: i * i for i in range(7)]) == [i * i for i in range(7)]
    ran: list[int] = []
    lock = threading.Lock()

    def task(i: int) -> int:
        with lock:
            ran.append(i)
        if i in (2, 4):
            raise ValueError(f"task {i}")
        return i

    with pytest.raises(ValueError, match="task 2"):
        workers.run_all([lambda i=i: task(i) for i in range(6)])
    assert sorted(ran) == list(range(6))


def test_a_decode_ahead_hands_over_every_item_and_its_error_where_it_happened(two_lanes: None) -> None:
    def items() -> Iterator[int]:
        yield from range(5)
        raise OSError("cut off")

    seen = []
    with pytest.raises(OSError, match="cut off"):
        for x in workers.prefetch(items(), depth=2):
            seen.append(x)
    assert seen == list(range(5))


def test_a_caller_that_stops_early_stops_the_decode_and_closes_it(two_lanes: None) -> None:
    closed = threading.Event()
    made = []

    def items() -> Iterator[int]:
        try:
            for i in range(1000):
                made.append(i)
                yield i
        finally:
            closed.set()

    it = workers.prefetch(items(), depth=2)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()  # what a failing face pass does: the generator is closed
    assert closed.wait(5) and len(made) < 20


def test_one_lane_runs_everything_in_the_callers_thread() -> None:
    workers.configure(1)
    try:
        me = threading.get_ident()
        assert workers.run_all([threading.get_ident, threading.get_ident]) == [me, me]

        def where() -> Iterator[int]:
            yield threading.get_ident()

        assert list(workers.prefetch(where())) == [me]
    finally:
        workers.configure()


def test_an_analysis_in_lanes_measures_what_one_lane_measures(tiny_bundle: Path, talking_clip: Path) -> None:
    det = vaedetect.load_detector(str(tiny_bundle), threads=1)
    one = ingest(talking_clip, det.limits, det.face_config, pool=det.faces)
    ev_one = compute_evidence(det.bundle, det._arrays(one)[0])
    workers.configure(2)
    try:
        two = ingest(talking_clip, det.limits, det.face_config, pool=det.faces)
        ev_two = compute_evidence(det.bundle, det._arrays(two)[0])
    finally:
        workers.configure()
    for name in ("face_crops", "mouth_crops", "landmarks", "cue_crops", "cue_idx", "present", "lip_opening"):
        np.testing.assert_array_equal(getattr(one.faces, name), getattr(two.faces, name), err_msg=name)
    np.testing.assert_array_equal(one.mel, two.mel)
    for f in fields(ev_one):
        if f.name != "timings":
            _same(getattr(ev_one, f.name), getattr(ev_two, f.name), f.name)


def _same(a: object, b: object, what: str) -> None:
    """Equal, up to the last digits torch may round differently with more threads per operation (a bigger machine)."""
    if is_dataclass(a):
        for f in fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{what}.{f.name}")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), what
        for k in a:
            _same(a[k], b[k], f"{what}.{k}")
    elif isinstance(a, tuple | list):
        assert isinstance(b, tuple | list) and len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{what}[{i}]")
    elif a is None or isinstance(a, bool | str):
        assert a == b, what
    else:
        np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-5, atol=1e-6, err_msg=what)


def test_clip_images_spread_over_the_lanes_embed_as_one_lane_embeds_them(two_lanes: None) -> None:
    from vaedetect import pretrained

    rng = np.random.default_rng(2)
    images = rng.integers(0, 255, (5, pretrained.CLIP_PX, pretrained.CLIP_PX, 3), dtype=np.uint8)
    spread = pretrained.clip_embed(images)
    workers.configure(1)
    np.testing.assert_array_equal(spread, pretrained.clip_embed(images))


def test_a_container_cpu_quota_caps_the_cores_an_analysis_uses(tmp_path) -> None:
    """A Space or `docker --cpus 2` on a large host: the affinity lists every host core, the quota allows two."""
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("200000 100000\n")
    assert workers._quota_cores(cpu_max) == 2
    cpu_max.write_text("150000 100000\n")
    assert workers._quota_cores(cpu_max) == 2  # one and a half cores' time: two threads can use it
    cpu_max.write_text("max 100000\n")
    assert workers._quota_cores(cpu_max) is None
    assert workers._quota_cores(tmp_path / "absent") is None


def test_a_face_pass_that_fails_stops_the_decode_thread_before_the_error_is_handled(
    two_lanes: None, talking_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the error (and its traceback, which holds the frame iterator) is still alive, no decode thread is."""
    import vaedetect.ingest as ingest_mod

    def failing(frames, config=None):
        next(iter(frames))
        raise RuntimeError("face pass failed")

    monkeypatch.setattr(ingest_mod, "track_faces", failing)
    with pytest.raises(RuntimeError) as caught:
        ingest(talking_clip)
    assert caught.value is not None
    assert not [t for t in threading.enumerate() if t.name == "vaedetect-decode"]
