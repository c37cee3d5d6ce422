"""Speaker change (``speaker_change``): whether the voice in one part of a clip's speech sounds like a different person
from the voice in the rest, read by a pretrained speaker encoder (GE2E, :mod:`vaedetect.models.speaker`).

Why: a replaced or spliced voice is a manipulation a viewer can check once told where it is, and a speaker encoder
trained to tell thousands of voices apart measures it without learning anything from this project's fakes. It is a
*finding*, not a fused evidence: it names what changed and when, against a line set on real clips only
(:func:`vaedetect.training.speaker.speaker_change_line`); it never enters the learned fusion.

How: the clip's speech (the frames the speech mask marks, joined up, as resemblyzer trims silences) is read in
:data:`WINDOWS` partial utterances of 1.6 s spread evenly over it and embedded in one batch. For every cut between
windows with at least :data:`MIN_SIDE` windows on each side, the cosine between the mean voice before and after the cut
is taken; the statistic is the lowest one (low: the voice changes). Short speech gives nothing: two sides of
overlapping windows over a second or two of speech would compare a voice with itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from vaedetect import pretrained
from vaedetect.evidence.arrays import ClipArrays, RawEvidence, SpeakerTrack
from vaedetect.models import ModelBundle
from vaedetect.models import speaker as spk

NAME = "speaker_change"
WINDOWS = 8  # partial utterances per clip, embedded in one batch (10 s of speech read with little overlap)
MIN_SIDE = 2  # windows each side of a cut, so neither side's voice rests on one window
MIN_SPEECH_S = 3.2  # two whole windows of speech: below that, the two sides of any cut mostly share their audio


def speech_stream(wav: np.ndarray, speech: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """The samples of the frames ``speech`` marks, in order, joined up; and for each sample the frame it came from."""
    n = len(wav)
    frame = np.minimum((np.arange(n) * (fps / spk.SAMPLE_RATE_HZ)).astype(np.int64), max(len(speech) - 1, 0))
    keep = np.flatnonzero(np.asarray(speech, bool)[frame]) if len(speech) else np.zeros(0, np.int64)
    return np.asarray(wav, np.float32)[keep], frame[keep]


def speaker_track(wav: np.ndarray | None, speech: np.ndarray, fps: float) -> SpeakerTrack | None:
    """The voice embeddings of the clip's speech windows and how alike the voice is across each cut; None when the
    clip has less than :data:`MIN_SPEECH_S` of speech. ``wav``: mono float at 16 kHz from the clip's first frame."""
    if wav is None or not len(wav):
        return None
    audio, frame_of = speech_stream(wav, speech, fps)
    if len(audio) < MIN_SPEECH_S * spk.SAMPLE_RATE_HZ:
        return None
    # Level set over the speech the encoder reads (resemblyzer sets it over the whole file): a skipped leading
    # silence or a quiet intro then changes nothing, so the training cache and the detector give the same value.
    mel = spk.mel_power(spk.normalize_volume(audio))
    starts = np.round(np.linspace(0, len(mel) - spk.PARTIAL_FRAMES, WINDOWS)).astype(int)
    emb = pretrained.speaker_encoder().embed(np.stack([mel[s : s + spk.PARTIAL_FRAMES] for s in starts]))

    def frame_at(mel_frame: float) -> int:
        return int(frame_of[min(round(mel_frame * spk.HOP), len(frame_of) - 1)])

    cuts = np.arange(MIN_SIDE, WINDOWS - MIN_SIDE + 1)
    sims = np.array([_cosine(emb[:k].mean(axis=0), emb[k:].mean(axis=0)) for k in cuts], np.float32)
    return SpeakerTrack(
        windows=np.array([[frame_at(s), frame_at(s + spk.PARTIAL_FRAMES - 1)] for s in starts], int),
        pairwise=(emb @ emb.T).astype(np.float32),
        split_frames=np.array([frame_at((starts[k - 1] + starts[k]) / 2 + spk.PARTIAL_FRAMES / 2) for k in cuts]),
        split_similarity=sims,
    )


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12))


def compute(bundle: ModelBundle, arr: ClipArrays, ev: RawEvidence, *, keep_images: bool = True) -> None:
    if arr.is_image:
        return
    track = speaker_track(arr.wav, arr.speech, arr.fps)
    if track is None:
        return
    ev.values[NAME] = track.change
    ev.speaker = track


# -- the finding -------------------------------------------------------------------------------------------------------
def line_of(calibration: Mapping[str, Any]) -> tuple[float, int] | None:
    """The speaker-change line a bundle carries (``calibration["findings"]["speaker_change"]``) and how many real clips
    set it; None for a bundle without one (then nothing is claimed)."""
    block = (calibration.get("findings") or {}).get(NAME)
    return None if not block else (float(block["line"]), int(block["n_real"]))


def finding(raw: RawEvidence, calibration: Mapping[str, Any]) -> str | None:
    """The sentence the verdict can name when the voice changes more than in any real clip the bundle's line was set
    on, else None (also for a bundle without a line)."""
    value, track, line = raw.values.get(NAME), raw.speaker, line_of(calibration)
    if value is None or track is None or line is None or value >= line[0]:
        return None
    t = (int(track.split_frames[track.lowest]) + raw.offset_frames) / raw.fps
    return (
        f"The voice seems to change around {int(t // 60)}:{int(t % 60):02d}: the speech after that point sounds like"
        f" a different person from the speech before it (voice similarity {value:.2f}; all {line[1]} real clips the"
        f" line was set on stay above {line[0]:.2f}). A replaced or spliced voice does this; so can a second person"
        " speaking, or two recordings of one person joined together."
    )
