"""Evidence: run the bundle's models over a clip's crops and mel, and reduce them to raw per-clip statistics.

Shared by the detector (on user clips) and by training (on held-out real clips and their pseudo-fakes), so the
numbers that calibrate thresholds are computed by exactly the code that scores a user's clip.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from vaedetect import cues
from vaedetect.audio import MEL_PER_VIDEO_FRAME, mel_windows, minus_speech_mean
from vaedetect.fusion import CUE_COMPLEXITY, FACE_COMPLEXITY, bits_per_pixel
from vaedetect.media import ANALYSIS_FPS
from vaedetect.models import ModelBundle
from vaedetect.models.images import crops_to_tensor
from vaedetect.models.sync import distance_matrix
from vaedetect.pseudofakes import face_mask

if TYPE_CHECKING:
    from vaedetect.ingest import Clip

FACE_SAMPLES_PER_S = 2.0
MIN_FACE_SAMPLES = 8
MAX_FACE_SAMPLES = 48
SYNC_STRIDE = 2
MIN_SYNC_WINDOWS = 8
AUDIO_STRIDE = 2
TOP_FRACTION = 0.1  # frame face score: mean of the worst 10% of face pixels (blend seams are local)
BATCH = 64
# Weight of the lip-from-voice curve against the alignment model's when estimating the offset (both z-scored over
# offsets). Chosen on the bundle's identity-held-out validation clips, never on dev (bench/offsets.py): shifted whole
# clips found within one frame 0.66 / 0.91 / 0.91 of the time with the model alone / this weight / lip-from-voice
# alone; 3-second pieces 0.41 / 0.71 / 0.68.
LIPVOICE_WEIGHT = 2.0
CUE_FRAMES = 60  # region cues: the first this many FaceMesh frames from where the analysis starts (about 5 s)
MAP_NEIGHBOURS = 10  # reference faces a clip's face is placed among on the 2-D map


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
            **self._cue_frames(start, stop),
        )

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
    quality: dict[str, float | None] = field(default_factory=dict)  # vaedetect.fusion.QUALITY, see clip_quality


@torch.no_grad()
def run_face_vae(bundle: ModelBundle, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reconstructions (N, P, P, 3) uint8, per-pixel errors (N, P, P), latent means (N, D) at the VAE resolution."""
    px = bundle.config.face_vae.image_px
    recs, errs, mus = [], [], []
    for s in range(0, len(crops), BATCH):
        recon, err, mu = bundle.face_vae.error_map(crops_to_tensor(crops[s : s + BATCH], px))
        recs.append((recon.permute(0, 2, 3, 1).clamp(0, 1) * 255).round().byte().numpy())
        errs.append(err.numpy())
        mus.append(mu.numpy())
    if not recs:
        d = bundle.config.face_vae.latent_dim
        return np.zeros((0, px, px, 3), np.uint8), np.zeros((0, px, px), np.float32), np.zeros((0, d), np.float32)
    return np.concatenate(recs), np.concatenate(errs), np.concatenate(mus)


@torch.no_grad()
def blend_logits(net: torch.nn.Module, crops: np.ndarray, px: int) -> np.ndarray:
    """A blend classifier's logits (N,) for aligned face crops, in batches, resized to its ``px``."""
    out = [net(crops_to_tensor(crops[s : s + BATCH], px)).numpy() for s in range(0, len(crops), BATCH)]
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def run_blend(bundle: ModelBundle, crops: np.ndarray) -> np.ndarray | None:
    """Blend-classifier logits (N,) for aligned face crops; None when the bundle has no blend model."""
    if bundle.blend is None:
        return None
    return blend_logits(bundle.blend, crops, bundle.config.blend.image_px)


@lru_cache(maxsize=8)
def face_region(px: int) -> np.ndarray:
    """The face area (template coordinates) the face score is taken from; the heatmap and the reasons show the same.
    Cached read-only: every sampled frame and every reason asks for it at the same size."""
    region = face_mask(px, None, blur=False) > 0.5
    region.setflags(write=False)
    return region


def pixel_zmap(bundle: ModelBundle, err: np.ndarray) -> np.ndarray:
    """Per-pixel z-scores against the error statistics of held-out real faces (detail is not anomaly)."""
    mean, std = bundle.stats.get("pixel_err_mean"), bundle.stats.get("pixel_err_std")
    if mean is None:
        return err
    return (err - mean) / std


def frame_face_scores(zmap: np.ndarray) -> np.ndarray:
    region = face_region(zmap.shape[-1])
    vals = zmap[:, region]
    k = max(1, int(TOP_FRACTION * vals.shape[1]))
    return np.sort(vals, axis=1)[:, -k:].mean(axis=1)


def mahalanobis(bundle: ModelBundle, mu: np.ndarray) -> np.ndarray:
    mean, prec = bundle.stats.get("latent_mean"), bundle.stats.get("latent_precision")
    if mean is None:
        return np.sqrt((mu**2).sum(axis=1))
    d = mu - mean
    return np.sqrt(np.maximum(np.einsum("nd,de,ne->n", d, prec, d), 0.0) / mu.shape[1])


def sample_frames(present: np.ndarray, fps: float) -> np.ndarray:
    """Evenly spaced frame indices with a face, ~2 per second, between 8 and 48 (cost stays flat for long clips)."""
    idx = np.flatnonzero(present)
    if idx.size == 0:
        return idx
    want = int(np.clip(round(len(present) / fps * FACE_SAMPLES_PER_S), MIN_FACE_SAMPLES, MAX_FACE_SAMPLES))
    if idx.size <= want:
        return idx
    return idx[np.round(np.linspace(0, idx.size - 1, want)).astype(int)]


def face_evidence(bundle: ModelBundle, arr: ClipArrays, ev: RawEvidence, *, keep_images: bool = True) -> None:
    sel = sample_frames(arr.present, arr.fps)
    if sel.size == 0:
        return
    # Temporal flicker: the latent step to the next frame, where the next frame has a face too.
    nxt = sel + 1
    has_next = (nxt < arr.n_frames) & arr.present[np.minimum(nxt, arr.n_frames - 1)]
    batch = np.concatenate([arr.face_crops[sel], arr.face_crops[nxt[has_next]]])
    recon, err, mu = run_face_vae(bundle, batch)
    k = sel.size
    zmap = pixel_zmap(bundle, err[:k])
    ev.frame_idx = sel
    ev.frame_scores = frame_face_scores(zmap)
    ev.frame_latent = mahalanobis(bundle, mu[:k])
    ev.latents = mu[:k]
    ev.face = float(np.mean(ev.frame_scores))
    ev.latent = float(np.mean(ev.frame_latent))
    blend = run_blend(bundle, arr.face_crops[sel])
    if blend is not None:
        ev.frame_blend = blend
        ev.blend = float(np.mean(blend))
    if has_next.sum() >= 3:
        step = np.linalg.norm(mu[k:] - mu[:k][has_next], axis=1) / np.sqrt(mu.shape[1])
        ev.temporal = float(np.mean(step))
    if keep_images:
        ev.recon = recon[:k]
        ev.zmap = zmap


def standardize_mel(bundle: ModelBundle, mel: np.ndarray) -> np.ndarray:
    mean, std = bundle.stats.get("mel_mean"), bundle.stats.get("mel_std")
    if mean is None:
        return mel.astype(np.float32)
    return ((mel - mean) / std).astype(np.float32)


def sync_mel(bundle: ModelBundle, mel: np.ndarray, speech: np.ndarray) -> np.ndarray:
    """Mel as the alignment model sees it: standardised, then (if the bundle says so) the clip's mean spectrum over
    its speech removed. Training and inference both call this."""
    out = standardize_mel(bundle, mel)
    if bundle.config.sync.clip_mel_norm:
        out = minus_speech_mean(out, np.repeat(speech, MEL_PER_VIDEO_FRAME)[: len(out)], min_rows=20)
    return out.astype(np.float32)


@torch.no_grad()
def audio_evidence(bundle: ModelBundle, arr: ClipArrays, ev: RawEvidence) -> None:
    if arr.mel is None or arr.speech.sum() < MIN_SYNC_WINDOWS:
        return
    centers = np.flatnonzero(arr.speech)[::AUDIO_STRIDE]
    mel = standardize_mel(bundle, arr.mel)
    win = mel_windows(mel, centers, bundle.config.sync.n_frames)
    errs = []
    for s in range(0, len(win), 256):
        e, _ = bundle.audio_vae.error(torch.from_numpy(win[s : s + 256]))
        errs.append(e.numpy())
    err = np.concatenate(errs)
    ev.audio_window_err = err
    ev.audio_centers = centers
    ev.audio = float(np.log(np.mean(err) + 1e-6))


def sync_evidence(bundle: ModelBundle, arr: ClipArrays, ev: RawEvidence) -> None:
    """Distance-vs-offset over speech windows with a tracked mouth; raw evidence is how clearly offset 0 wins."""
    if arr.mel is None or arr.is_image:
        return
    cfg = bundle.config.sync
    half = cfg.n_frames // 2
    valid = arr.speech & arr.present
    centers = np.flatnonzero(valid & face_in_whole_window(arr.present, cfg.n_frames))
    centers = centers[(centers >= half) & (centers < arr.n_frames - half)][::SYNC_STRIDE]
    if centers.size < MIN_SYNC_WINDOWS:
        return
    mel = sync_mel(bundle, arr.mel, arr.speech)

    def windows(idx: np.ndarray) -> np.ndarray:
        return mel_windows(mel, idx, cfg.n_frames)

    dist = distance_matrix(bundle.sync, arr.mouth_crops, windows, centers, cfg.max_offset)
    mean_dist = dist.mean(axis=0)
    offsets = np.arange(-cfg.max_offset, cfg.max_offset + 1)
    zero = cfg.max_offset
    ev.sync_centers = centers
    ev.sync_mean_dist = mean_dist
    # Per-time confidence at offset 0: how far below the window's median distance the in-sync pairing sits.
    ev.sync_curve = np.median(dist, axis=1) - dist[:, zero]
    ev.sync_offset_model = int(offsets[int(np.argmin(mean_dist))])
    ev.sync_offset = ev.sync_offset_model
    lipvoice = bundle.lipvoice
    if lipvoice is not None and arr.lip is not None:
        corr = lipvoice.curve(arr.lip, arr.mel, arr.speech, arr.present, cfg.max_offset)
        ev.lipvoice_corr = corr
        if np.isfinite(corr).sum() > len(corr) // 2:
            ev.lipvoice_offset = int(offsets[int(np.nanargmax(corr))])
            ev.sync_offset = int(offsets[int(np.argmax(fuse_offset_curves(mean_dist, corr)))])
    ev.sync_confidence = float(np.median(mean_dist) - mean_dist.min())
    ev.sync = float(np.median(mean_dist) - mean_dist[zero])


def fuse_offset_curves(mean_dist: np.ndarray, corr: np.ndarray, weight: float = LIPVOICE_WEIGHT) -> np.ndarray:
    """Per-offset agreement: z-scored (negative) model distance plus ``weight`` x z-scored lip-from-voice correlation.

    Offsets the correlation could not be computed at (too few frames overlap) get its worst value.
    """

    def z(x: np.ndarray) -> np.ndarray:
        return (x - np.nanmean(x)) / (np.nanstd(x) + 1e-9)

    zc = z(corr)
    zc = np.where(np.isfinite(zc), zc, np.nanmin(zc))
    return z(-mean_dist) + weight * zc


def face_in_whole_window(present: np.ndarray, n: int) -> np.ndarray:
    """Frames whose centred ``n``-frame window has a tracked face on every frame (the alignment model's input).

    False near the ends and everywhere in a clip shorter than one window (a cut-off upload can hold two frames;
    ``np.convolve(..., "same")`` would then return the window's length instead of the clip's)."""
    if len(present) < n:
        return np.zeros(len(present), dtype=bool)
    return np.convolve(present.astype(int), np.ones(n, int), mode="same") == n


def cue_evidence(arr: ClipArrays, ev: RawEvidence) -> None:
    """Region cues over the first :data:`CUE_FRAMES` FaceMesh frames (a photo: its one frame)."""
    if arr.cue_crops is None or arr.cue_landmarks is None or not len(arr.cue_crops):
        return
    ev.cues = cues.clip_cues(arr.cue_crops[:CUE_FRAMES], arr.cue_landmarks[:CUE_FRAMES])


def lip_loudness_corr(lip: np.ndarray, loudness_db: np.ndarray) -> float | None:
    """Pearson correlation of lip opening and loudness over frames with a tracked mouth; None when undefined.

    A transparent companion to the learned alignment model: in real speech the mouth opens as the voice gets louder,
    so this is clearly positive for genuine talking faces.
    """
    if len(lip) < 10:
        return None
    ok = np.isfinite(lip)
    if ok.sum() < 10:
        return None
    # Light smoothing (3 frames): landmark jitter and 40 ms loudness windows are noisier than syllables.
    lip_s = np.convolve(np.where(ok, lip, np.nanmean(lip)), np.ones(3) / 3, mode="same")
    loud = np.convolve(np.maximum(loudness_db, -80.0), np.ones(3) / 3, mode="same")
    a, b = lip_s[ok], loud[ok]
    if a.std() < 1e-6 or b.std() < 1e-6:
        return None
    return float(np.corrcoef(a, b)[0, 1])


@dataclass
class ReferenceMap:
    """The bundle's reference faces (real and pseudo-fake latents with their 2-D map positions) and where a clip's own
    faces land among them. Placement is inverse-distance kNN in latent space: no UMAP transform per request."""

    latents: np.ndarray | None  # (N, D) real then pseudo-fake latents; None when the bundle has none
    xy: np.ndarray | None  # (N, 2) their map positions
    real_xy: np.ndarray  # for drawing the map
    fake_xy: np.ndarray
    fake_kinds: list[str]

    @classmethod
    def from_reference(cls, ref: dict[str, np.ndarray]) -> ReferenceMap:
        lat = [ref.get("real_latents"), ref.get("fake_latents")]
        xy = [ref.get("real_xy"), ref.get("fake_xy")]
        have = [i for i in range(2) if lat[i] is not None and len(lat[i])]
        return cls(
            latents=np.concatenate([lat[i] for i in have]) if have else None,
            xy=np.concatenate([xy[i] for i in have]) if have else None,
            real_xy=np.asarray(ref.get("real_xy", np.zeros((0, 2)))),
            fake_xy=np.asarray(ref.get("fake_xy", np.zeros((0, 2)))),
            fake_kinds=[str(k) for k in ref.get("fake_kinds", [])],
        )

    def place(self, latents: np.ndarray) -> np.ndarray:
        """(N, 2) map positions for (N, D) latents; the origin when the bundle has no reference."""
        if self.latents is None or len(latents) == 0:
            return np.zeros((len(latents), 2), np.float32)
        d = np.linalg.norm(latents[:, None, :] - self.latents[None, :, :], axis=2)
        k = min(MAP_NEIGHBOURS, d.shape[1])
        nn_idx = np.argpartition(d, k - 1, axis=1)[:, :k]
        nd = np.take_along_axis(d, nn_idx, axis=1)
        w = 1.0 / (nd + 1e-6)
        return (self.xy[nn_idx] * w[..., None]).sum(axis=1) / w.sum(axis=1, keepdims=True)

    def for_figure(self) -> dict[str, object]:
        """What ``figures.umap_figure`` draws the reference clusters from."""
        return {"real_xy": self.real_xy, "fake_xy": self.fake_xy, "fake_kinds": list(self.fake_kinds)}


def code_lengths(crops: np.ndarray, vae_px: int) -> dict[str, float | None]:
    """How hard the face is to compress at the two scales pixel evidence reads it (:func:`vaedetect.cues.code_length`):
    the face VAE's input size, and the cue crops' own size (rule 22 corrects each evidence for its own)."""
    return {FACE_COMPLEXITY: cues.code_length(crops, vae_px), CUE_COMPLEXITY: cues.code_length(crops)}


def clip_quality(clip: Clip, arr: ClipArrays, vae_px: int | None) -> dict[str, float | None]:
    """What re-sharing changes (:data:`vaedetect.fusion.QUALITY`): median face size, the cue crops' sharpness, and
    bits per pixel; and, given the face VAE's input size ``vae_px``, the face's code length at the scales evidence
    reads it (:func:`code_lengths`). The learned fusion removes from each evidence what these predict on real files."""
    info, size = clip.info, clip.faces.face_size_px
    crops = arr.cue_crops[:CUE_FRAMES] if arr.cue_crops is not None else np.zeros((0,))
    return {
        "face_px": float(np.nanmedian(size)) if np.isfinite(size).any() else None,
        "sharpness": cues.face_sharpness(crops),
        "bits_per_pixel": bits_per_pixel(
            info.kind, info.size_bytes, info.width, info.height, info.video_bitrate_kbps, info.source_fps
        ),
        **(code_lengths(crops, vae_px) if vae_px is not None else {}),
    }


# Frames of a video that a fit also reads as photos: photos people send are often frames of videos, small, soft and
# re-compressed, and the photo head's lines must hold for them (bench/results/2026-12-01-rules.md, rules 8 and 9).
FRAMES_AS_PHOTOS = 3


def frames_as_photos(
    crops: np.ndarray,
    crop_landmarks: np.ndarray,
    crop_frames: np.ndarray,
    face_px: np.ndarray,
    sampled: np.ndarray,
    face_z: np.ndarray,
    latent_z: np.ndarray | None,
    bits_per_pixel: float | None,
    vae_px: int,
) -> list[dict[str, Any]]:
    """Up to :data:`FRAMES_AS_PHOTOS` evenly spread frames of a video as the photo head reads a photo: one cue crop's
    frame cues, the face (and latent) z-score of the nearest frame the VAE sampled, that frame's face size and the
    crop's sharpness. ``crop_frames`` and ``sampled`` number frames alike; ``face_px`` is indexed by them."""
    if not len(crops) or not len(sampled):
        return []
    out = []
    for j in np.unique(np.round(np.linspace(0, len(crops) - 1, FRAMES_AS_PHOTOS)).astype(int)):
        k = int(np.argmin(np.abs(sampled - crop_frames[j])))
        values: dict[str, float] = {**cues.frame_cues(crops[j], crop_landmarks[j]), "face": float(face_z[k])}
        if latent_z is not None:
            values["latent"] = float(latent_z[k])
        quality = {
            "face_px": float(face_px[crop_frames[j]]),
            "sharpness": cues.face_sharpness(crops[j : j + 1]),
            "bits_per_pixel": bits_per_pixel,
            **code_lengths(crops[j : j + 1], vae_px),
        }
        out.append({"values": {k: v for k, v in values.items() if np.isfinite(v)}, "quality": quality})
    return out


def compute_evidence(bundle: ModelBundle, arr: ClipArrays, *, keep_images: bool = True) -> RawEvidence:
    ev = RawEvidence(n_frames=arr.n_frames, fps=arr.fps, is_image=arr.is_image)
    face_evidence(bundle, arr, ev, keep_images=keep_images)
    cue_evidence(arr, ev)
    if not arr.is_image:
        audio_evidence(bundle, arr, ev)
        sync_evidence(bundle, arr, ev)
    return ev
