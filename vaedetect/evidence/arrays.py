"""What every evidence reads (:class:`ClipArrays`) and what they write (:class:`RawEvidence`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from vaedetect.audio import MEL_PER_VIDEO_FRAME, SAMPLE_RATE_HZ
from vaedetect.ingest import Clip
from vaedetect.media import ANALYSIS_FPS


@dataclass
class ClipArrays:
    """The arrays evidence needs; built from an ingested clip or from the training cache."""

    face_crops: np.ndarray  # (T, S, S, 3) uint8
    present: np.ndarray  # (T,) bool
    mouth_crops: np.ndarray  # (T, M, M) uint8
    mel: np.ndarray | None  # (4T, n_mels) log-mel, unstandardised
    speech: np.ndarray  # (T,) bool
    is_image: bool = False
    fps: float = 25.0
    lip: np.ndarray | None = None  # (T,) inner-lip gap / inter-ocular distance; NaN where no face
    cue_idx: np.ndarray | None = None  # frames that have a cue crop (FaceMesh frames), ascending
    cue_crops: np.ndarray | None = None  # (K, C, C, 3) uint8 crops for vaedetect.cues
    cue_landmarks: np.ndarray | None = None  # (K, 468, 2) the landmarks each cue crop was cut with
    landmarks: np.ndarray | None = None  # (T, 468, 2) FaceMesh landmarks; NaN where the mesh did not run
    wav: np.ndarray | None = None  # mono 16 kHz audio from the first frame on
    stills: np.ndarray | None = None  # (S, 224, 224, 3) whole frames as CLIP reads them (the clip's, not cut)

    @property
    def n_frames(self) -> int:
        return int(self.present.shape[0])

    @classmethod
    def from_clip(cls, clip: Clip) -> ClipArrays:
        f = clip.faces
        return cls(
            face_crops=f.face_crops,
            present=f.present,
            mouth_crops=f.mouth_crops,
            mel=clip.mel,
            speech=clip.speech.speech,
            is_image=clip.is_image,
            fps=float(ANALYSIS_FPS),
            lip=f.lip_opening,
            cue_idx=f.cue_idx,
            cue_crops=f.cue_crops,
            cue_landmarks=f.landmarks[f.cue_idx] if len(f.cue_idx) else None,
            landmarks=f.landmarks,
            wav=clip.audio,
            stills=clip.stills,
        )

    def audio_shifted(self, frames: int) -> ClipArrays:
        """The same clip with its sound moved ``frames`` later (earlier if negative), wrapping around; the speech
        mask moves with the sound, the picture (crops, lip opening) stays put."""
        if self.mel is None:
            return self
        mel = np.roll(self.mel, frames * MEL_PER_VIDEO_FRAME, axis=0)
        return replace(self, mel=mel, speech=np.roll(self.speech, frames))

    def frames(self, start: int, stop: int | None = None) -> ClipArrays:
        """Video frames ``start:stop`` of the clip, with the audio cut to match."""
        v = slice(start, stop)
        a = slice(start * MEL_PER_VIDEO_FRAME, None if stop is None else stop * MEL_PER_VIDEO_FRAME)
        return replace(
            self,
            face_crops=self.face_crops[v],
            present=self.present[v],
            mouth_crops=self.mouth_crops[v],
            mel=self.mel[a] if self.mel is not None else None,
            speech=self.speech[v],
            lip=self.lip[v] if self.lip is not None else None,
            landmarks=self.landmarks[v] if self.landmarks is not None else None,
            wav=self.wav[self._samples(start) : None if stop is None else self._samples(stop)]
            if self.wav is not None
            else None,
            **self._cue_frames(start, stop),
        )

    def _samples(self, frame: int) -> int:
        return round(frame * SAMPLE_RATE_HZ / self.fps)

    def _cue_frames(self, start: int, stop: int | None) -> dict[str, np.ndarray | None]:
        if self.cue_idx is None or self.cue_crops is None or self.cue_landmarks is None:
            return {}
        keep = (self.cue_idx >= start) & (self.cue_idx < (stop if stop is not None else self.n_frames))
        return {
            "cue_idx": self.cue_idx[keep] - start,
            "cue_crops": self.cue_crops[keep],
            "cue_landmarks": self.cue_landmarks[keep],
        }


@dataclass
class SpeakerTrack:
    """What the speaker-change finding read (:mod:`vaedetect.evidence.speaker`), for the page to draw: the speech
    windows the voice encoder embedded, how alike they sound, and how alike the voice sounds before and after each
    place the clip could have been cut. Frames count on the grid of the clip the evidence ran on."""

    windows: np.ndarray  # (K, 2) int: first and last frame each window's speech came from
    pairwise: np.ndarray  # (K, K) cosine similarity of the windows' voice embeddings
    split_frames: np.ndarray  # (S,) int: the frame where each candidate cut falls
    split_similarity: np.ndarray  # (S,) cosine between the mean voice before and after that cut

    @property
    def lowest(self) -> int:
        """Index of the cut across which the voice changes most."""
        return int(np.argmin(self.split_similarity))

    @property
    def change(self) -> float:
        """The ``speaker_change`` evidence: how alike the voice sounds across the cut where it changes most."""
        return float(self.split_similarity.min())


@dataclass
class RawEvidence:
    """Per-clip raw statistics (before normalisation against real data), plus what the UI draws.

    Frame indices (``frame_idx``, ``sync_centers``) count on the grid of the clip they came from, so that grid
    (``n_frames`` at ``fps``) travels with them: scoring bins them into seconds.
    """

    n_frames: int = 0
    fps: float = float(ANALYSIS_FPS)
    is_image: bool = False
    face: float | None = None
    latent: float | None = None
    temporal: float | None = None
    audio: float | None = None
    sync: float | None = None
    blend: float | None = None
    frame_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    frame_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    frame_latent: np.ndarray = field(default_factory=lambda: np.zeros(0))
    frame_blend: np.ndarray | None = None
    latents: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    recon: np.ndarray | None = None
    zmap: np.ndarray | None = None
    sync_offset: int | None = None
    sync_confidence: float | None = None
    sync_centers: np.ndarray | None = None
    sync_curve: np.ndarray | None = None
    sync_mean_dist: np.ndarray | None = None
    sync_offset_model: int | None = None  # the alignment model's own arg-min, before lip-from-voice joins in
    lipvoice_corr: np.ndarray | None = None  # lip-from-voice correlation by offset
    lipvoice_offset: int | None = None  # lip-from-voice's own arg-max
    audio_window_err: np.ndarray | None = None
    audio_centers: np.ndarray | None = None
    cues: dict[str, float] = field(default_factory=dict)  # vaedetect.cues.CUES; NaN where not measurable
    values: dict[str, float] = field(default_factory=dict)  # the pretrained evidence (clip_face, av_fit, ...)
    has_audio: bool = False  # the clip has a sound track (whichever evidence reads it)
    offset_frames: int = 0  # where frame 0 of this evidence lies in the file (the skipped leading silence)
    frame_values: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # name -> (frames, values)
    av_curve: np.ndarray | None = None  # speech-to-mouth correlation by audio offset (mesh steps)
    quality: dict[str, float | None] = field(default_factory=dict)  # vaedetect.fusion.QUALITY, see clip_quality
    speaker: SpeakerTrack | None = None  # the speaker-change finding's windows and similarities
    timings: dict[str, float] = field(default_factory=dict)  # seconds each evidence took (they run side by side)
