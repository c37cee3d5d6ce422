"""Every labelled file of a data folder measured once, and the records the heads are fitted and judged on.

Measuring (:func:`measure_file`) runs the detector's own ingest and evidence path and keeps, per file, one ``.npz``
in a cache folder: the detector's record (the seeds' evidence, region cues, quality, frames read as photos), the CLIP
embeddings of a few aligned faces and whole frames, the FaceMesh landmarks where the mesh ran, the face and speech
masks, and the 16 kHz audio. Loading (:func:`load_records`) turns the cache into records for
:mod:`vaedetect.training.stacking`, with the speech-to-mouth evidence of every file measured by a head fitted on the
real clips of *other* people (:mod:`vaedetect.training.speech_mouth`). ``train`` and ``bench/generalisation.py``
both read it, so the benchmark judges exactly what ships.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
import os
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from vaedetect import pretrained
from vaedetect.audio import ANALYSIS_FPS
from vaedetect.evidence import speaker
from vaedetect.evidence.clip_probe import face_inputs, mean_embedding
from vaedetect.faces import N_LANDMARKS
from vaedetect.models import speech_mouth as sm
from vaedetect.training import speech_mouth
from vaedetect.training.learned import labelled_rows, record_of, tied_families
from vaedetect.training.reshare import SUFFIX
from vaedetect.training.speaker import cached_speaker_change
from vaedetect.training.stacking import PROBED

log = logging.getLogger("vaedetect.train")
# How the cache's CLIP embeddings were made, stamped into every entry: 2 = one image per run (pretrained.clip_embed).
# An entry with another stamp (or none: batches of eight, before 2026-12-06) must be embedded again before it is read.
CLIP_EMBEDDING = 2

_detector: Any = None


def key_of(rel: str) -> str:
    return hashlib.sha1(rel.encode()).hexdigest()[:16]


def measure_file(detector: Any, row: dict[str, str], data_dir: Path, out: Path, *, reshared: bool = False) -> None:
    """Ingest one labelled file with ``detector`` and write its cache entry to ``out`` (an ``.npz``). With
    ``reshared``, measure instead one re-shared copy of it (:mod:`vaedetect.training.reshare`), made in a temporary
    folder: the copy's lines must hold as the original's do."""
    import tempfile

    from vaedetect.ingest import ingest
    from vaedetect.media import IMAGE_EXTENSIONS
    from vaedetect.training.reshare import reshared_copy

    src = data_dir / row["path"]
    with tempfile.TemporaryDirectory(prefix="vaedetect-reshare-") as tmp:
        how = None
        if reshared:
            src, how = reshared_copy(src, row["path"], Path(tmp), photo=src.suffix.lower() in IMAGE_EXTENSIONS)
        clip = ingest(src, detector.limits, detector.face_config, pool=detector.faces)
    arr, skip = detector._arrays(clip)
    record = detector.record_clip(clip)
    faces, frames = face_inputs(arr)
    f = clip.faces
    mesh = np.flatnonzero(np.isfinite(f.landmarks[:, 0, 0]))
    meta = {
        "row": row,
        "kind": clip.info.kind,
        "width": clip.info.width,
        "height": clip.info.height,
        "duration_s": clip.info.duration_s,
        "has_audio": clip.info.has_audio,
        "has_speech": bool(clip.speech.has_speech),
        "max_faces": int(f.max_faces),
        "coverage": float(f.coverage),
        "skip": int(skip),
        "face_frames": (frames + skip).tolist(),
        "record": record,
        "reshared": how,
        "clip_embedding": CLIP_EMBEDDING,
    }
    wav = clip.audio if clip.audio is not None else np.zeros(0, np.float32)
    np.savez_compressed(
        out,
        meta=np.frombuffer(json.dumps(meta, default=float).encode(), dtype=np.uint8),
        face_clip=pretrained.clip_embed(faces),
        frame_clip=pretrained.clip_embed(clip.stills),
        faces=faces,
        stills=clip.stills,
        mesh_idx=mesh,
        landmarks=f.landmarks[mesh].astype(np.float16),
        present=f.present,
        face_size_px=f.face_size_px,
        lip=f.lip_opening,
        speech=clip.speech.speech,
        audio=(np.clip(wav, -1, 1) * 32767).astype(np.int16),
    )


def _init(bundle: str | None) -> None:

    from vaedetect.detector import load_detector

    global _detector
    _detector = load_detector(bundle, threads=1)  # one core per worker process


def _measure(job: tuple[dict[str, str], str, str, bool]) -> tuple[str, str | None, float]:
    row, data_dir, out_dir, reshared = job
    out = Path(out_dir) / f"{key_of(row['path'] + (SUFFIX if reshared else ''))}.npz"
    if out.exists():
        return row["path"], None, 0.0
    t0 = time.perf_counter()
    try:
        measure_file(_detector, row, Path(data_dir), out, reshared=reshared)
        return row["path"], None, time.perf_counter() - t0
    except Exception as e:  # record and go on: one odd file must not stop a long run
        return row["path"], f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}", time.perf_counter() - t0


def measure_all(
    data_dir: Path, cache: Path, *, bundle: str | None = None, workers: int = 2, reshared: bool = False
) -> dict[str, str]:
    """Measure every labelled file not yet in ``cache`` with the bundle ``bundle`` (default: the bundled one), in
    ``workers`` processes; re-runs resume. With ``reshared``, also one re-shared copy of every *real* file (they set
    lines, they train nothing). Returns {path: error} for the files that could not be measured."""
    cache.mkdir(parents=True, exist_ok=True)
    rows = labelled_rows(data_dir)
    jobs = [(r, str(data_dir), str(cache), False) for r in rows]
    jobs += [(r, str(data_dir), str(cache), True) for r in rows if reshared and r["label"] == "real"]
    errors: dict[str, str] = {}
    t0 = time.time()
    with mp.get_context("spawn").Pool(workers, initializer=_init, initargs=(bundle,)) as pool:
        for n, (rel, err, dt) in enumerate(pool.imap_unordered(_measure, jobs), 1):
            if err:
                errors[rel] = err
                log.warning("could not measure %s: %s", rel, err.splitlines()[0])
            if n % 50 == 0:
                log.info("measured %d/%d files in %.0f s (last %.1f s)", n, len(jobs), time.time() - t0, dt)
    (cache / "errors.json").write_text(json.dumps(errors, indent=1))
    return errors


def _reembed(path: str) -> str | None:
    """Embed one cache entry's stored CLIP inputs again with today's :func:`pretrained.clip_embed`, in place."""
    try:
        with np.load(path, allow_pickle=False) as d:
            arrays = {k: d[k] for k in d.files}
        arrays["face_clip"] = pretrained.clip_embed(arrays["faces"])
        arrays["frame_clip"] = pretrained.clip_embed(arrays["stills"])
        meta = json.loads(bytes(arrays["meta"])) | {"clip_embedding": CLIP_EMBEDDING}
        arrays["meta"] = np.frombuffer(json.dumps(meta, default=float).encode(), dtype=np.uint8)
        tmp = Path(path).with_name(Path(path).name + ".part")  # not *.npz: a run killed here leaves no extra entry
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, path)
        return None
    except Exception as e:  # record and go on, as measure_all does
        return f"{path}: {type(e).__name__}: {e}"


def reembed_all(cache: Path, *, workers: int = 2) -> list[str]:
    """Re-embed every cached file's faces and stills (the cache keeps them as CLIP reads them), so a change to how
    CLIP embeds needs no new decode of the data. Returns the errors."""
    paths = sorted(str(p) for p in cache.glob("*.npz"))
    errors = []
    t0 = time.time()
    with mp.get_context("spawn").Pool(workers) as pool:
        for n, err in enumerate(pool.imap_unordered(_reembed, paths, chunksize=8), 1):
            if err:
                errors.append(err)
                log.warning("could not re-embed %s", err)
            if n % 200 == 0:
                log.info("re-embedded %d/%d files in %.0f s", n, len(paths), time.time() - t0)
    return errors


class StaleCache(ValueError):
    """A cache entry made by code that no longer computes the same thing (see :data:`CLIP_EMBEDDING`)."""


# -- records ----------------------------------------------------------------------------------------------------------
def _unit(v: np.ndarray) -> list[float]:
    return mean_embedding(v).tolist()


def record_from_cache(d: Any, key: str) -> dict[str, Any]:
    """One cache entry as a record: the detector's record with the file's label, family and person, and the CLIP
    embeddings of the file (the mean over its faces, over its frames) and of each of its frames read as photos."""
    meta = json.loads(bytes(d["meta"]))
    if meta.get("clip_embedding") != CLIP_EMBEDDING:
        raise StaleCache(
            f"cache entry {key} holds CLIP embeddings made another way than today's; embed the cache again:"
            " python bench/cache.py --reembed [--out CACHE]"
        )
    row = meta["row"]
    rec = record_of(row, meta["record"])
    rec.update(tied=list(tied_families(row)), kind_group=row["group"], key=key, kind=meta["kind"])
    if meta.get("reshared"):
        rec.update(path=row["path"] + SUFFIX, copy_of=row["path"], transform=meta["reshared"])
    # What a bundle's own heads measured is refitted here (probes, speech-to-mouth); the speaker change is remeasured.
    for name in (*PROBED, "av_fit", "av_peak", speaker.NAME):
        rec["values"].pop(name, None)
    if rec["kind"] == "video" and len(d["audio"]):
        change = cached_speaker_change(d)
        if change is not None:
            rec["values"][speaker.NAME] = change
    faces, stills = d["face_clip"], d["frame_clip"]
    rec["embeddings"] = {n: _unit(e) for n, e in (("clip_face", faces), ("clip_frame", stills)) if len(e)}
    frames = rec.get("frames", [])
    last = max(len(frames) - 1, 1)
    for j, f in enumerate(frames):  # the frames read as photos are spread like the faces and stills: take the nearest
        f["embeddings"] = {}
        if len(faces):
            f["embeddings"]["clip_face"] = faces[round(j * (len(faces) - 1) / last)].tolist()
        if len(stills):
            f["embeddings"]["clip_frame"] = stills[round(j * (len(stills) - 1) / last)].tolist()
    return rec


def mouth_clip(d: Any, rec: dict[str, Any], memo: Path) -> speech_mouth.MouthClip | None:
    """A cached video's speech-to-mouth inputs (speech embeddings memoised in ``memo``); None without audio."""
    if rec["kind"] != "video" or not len(d["audio"]):
        return None
    present = d["present"]
    landmarks = np.full((len(present), N_LANDMARKS, 2), np.nan, np.float32)
    landmarks[d["mesh_idx"]] = d["landmarks"].astype(np.float32)
    grid, shape, use = sm.grid_inputs(landmarks, present, d["speech"], sm.LANDMARK_STEP)
    memo.mkdir(exist_ok=True)
    path = memo / f"{rec['key']}.npy"
    if path.exists():
        speech = np.load(path, allow_pickle=False)
    else:
        speech = pretrained.speech_embeddings(d["audio"].astype(np.float32) / 32767, grid / ANALYSIS_FPS)
        np.save(path, speech)
    # A re-shared copy is scored, never fitted on.
    return speech_mouth.MouthClip(speech, shape, use, rec["group"], rec["label"], trains=not rec.get("copy_of"))


def load_records(cache: Path) -> tuple[list[dict[str, Any]], list[speech_mouth.MouthClip], dict[str, Any]]:
    """Every cached file as a record, with ``av_fit``/``av_peak`` cross-fitted by identity fold; also the mouth inputs
    of the real clips (to fit the head that ships) and the head's size with its real-only selection table."""
    records, mouths = [], []
    for path in sorted(cache.glob("*.npz")):
        with np.load(path, allow_pickle=False) as d:
            rec = record_from_cache(d, path.stem)
            mouths.append(mouth_clip(d, rec, cache / "speech"))
        records.append(rec)
    have = [i for i, m in enumerate(mouths) if m is not None]
    clips = [mouths[i] for i in have]
    k, ridge, table = speech_mouth.choose_size(clips)
    for i, v in zip(have, speech_mouth.cross_fitted(clips, k, ridge), strict=True):
        records[i]["values"].update({name: x for name, x in v.items() if x is not None})
    size = {"components": k, "ridge": ridge, "held_out_real_correlation": table}
    return records, clips, size
