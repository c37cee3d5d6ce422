"""Pseudo-fakes made from real data: what the detector calibrates and fuses against, with no real deepfake needed.

- Self-blended faces (SBI, CVPR 2022): a face blended with a colour/geometry-perturbed copy of itself through a soft
  face mask teaches blending boundaries without any generator.
- Cross-identity blends: another person's aligned face blended in with colour transfer (a crude face swap).
- VAE regenerations: the model's own reconstruction of the mouth pasted back (texture of a generator).
- Audio shifts and swaps: speech moved by 0.2-1 s, or taken from another clip.
- Over-smoothed speech: the log-mel spectrogram blurred in time and frequency, the signature vocoders and
  text-to-speech models leave (they regress to the mean and lose fine harmonic and transient detail).

All functions work on aligned face crops (the template in :mod:`vaedetect.faces`), so one face-region mask in
template coordinates fits every crop.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from vaedetect.faces import FACE_TEMPLATE, face_mask, mouth_crop_from_aligned

if TYPE_CHECKING:
    from vaedetect.evidence import ClipArrays
    from vaedetect.models import ModelBundle

FACE_KINDS = ("self-blend", "cross-blend", "vae-regen")
AUDIO_KINDS = ("audio-shift", "audio-swap", "audio-smooth")
KINDS = FACE_KINDS + AUDIO_KINDS


def _color_jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-6, 6)) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.8, 1.25), 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * rng.uniform(0.85, 1.15) + rng.uniform(-12, 12), 0, 255)
    out = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (3, 3), 0)
    elif rng.random() < 0.3:
        blur = cv2.GaussianBlur(out, (0, 0), 1.0)
        out = cv2.addWeighted(out, 1.6, blur, -0.6, 0)
    return out


def _geom_jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    s = img.shape[0]
    scale = rng.uniform(0.95, 1.05)
    m = cv2.getRotationMatrix2D((s / 2, s / 2), rng.uniform(-2, 2), scale)
    m[:, 2] += rng.uniform(-0.025, 0.025, size=2) * s
    return cv2.warpAffine(img, m, (s, s), borderMode=cv2.BORDER_REFLECT)


def blend(target: np.ndarray, source: np.ndarray, mask: np.ndarray, ratio: float = 1.0) -> np.ndarray:
    m = (mask * ratio)[..., None]
    return np.clip(source.astype(np.float32) * m + target.astype(np.float32) * (1 - m), 0, 255).astype(np.uint8)


def self_blend(face: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """SBI: the face blended with a perturbed copy of itself. Returns (image, mask actually used)."""
    source = _geom_jitter(_color_jitter(face, rng), rng)
    mask = face_mask(face.shape[0], rng)
    ratio = float(rng.choice([0.5, 0.75, 1.0, 1.0]))
    return blend(face, source, mask, ratio), mask * ratio


def color_transfer(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Match ``source``'s LAB mean/std to ``target``'s inside the mask (what face-swap pipelines do)."""
    w = mask > 0.5
    if w.sum() < 10:
        return source
    s = cv2.cvtColor(source, cv2.COLOR_RGB2LAB).astype(np.float32)
    t = cv2.cvtColor(target, cv2.COLOR_RGB2LAB).astype(np.float32)
    sm, ss = s[w].mean(0), s[w].std(0) + 1e-3
    tm, ts = t[w].mean(0), t[w].std(0) + 1e-3
    out = (s - sm) / ss * ts + tm
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def cross_blend(target: np.ndarray, source: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Another identity's aligned face blended into ``target`` with colour transfer: a crude face swap."""
    mask = face_mask(target.shape[0], rng)
    src = color_transfer(_geom_jitter(source, rng), target, mask)
    return blend(target, src, mask, 1.0), mask


def mouth_mask(size_px: int) -> np.ndarray:
    t = FACE_TEMPLATE * size_px
    mouth = t[3:5].mean(axis=0)
    width = float(np.linalg.norm(t[4] - t[3]))
    mask = np.zeros((size_px, size_px), dtype=np.float32)
    cv2.ellipse(
        mask,
        (round(mouth[0]), round(mouth[1] + 0.1 * width)),
        (round(0.85 * width), round(0.55 * width)),
        0,
        0,
        360,
        1.0,
        -1,
    )
    k = max(3, (size_px // 16) | 1)
    return cv2.GaussianBlur(mask, (k, k), 0)


def regenerate_mouth(face: np.ndarray, reconstruction: np.ndarray) -> np.ndarray:
    """Paste the VAE's reconstruction of the mouth region back: generator texture where lip-sync fakes edit."""
    if reconstruction.shape != face.shape:
        reconstruction = cv2.resize(reconstruction, face.shape[1::-1], interpolation=cv2.INTER_CUBIC)
    return blend(face, reconstruction, mouth_mask(face.shape[0]), 1.0)


def degrade(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random JPEG re-compression and down/up-scaling, applied to real and fake training faces alike, so the blend
    classifier cannot use image quality as a shortcut and survives the compression of real uploads."""
    out = frame_edge(img, rng) if rng.random() < 0.3 else img
    if rng.random() < 0.3:
        s = out.shape[0]
        small = max(16, int(s * rng.uniform(0.4, 0.8)))
        out = cv2.resize(
            cv2.resize(out, (small, small), interpolation=cv2.INTER_AREA), (s, s), interpolation=cv2.INTER_LINEAR
        )
    if rng.random() < 0.5:
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 96))])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(out)


def degrade_low_quality(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """:func:`degrade`, then the losses of a clip that travelled (down- and re-upscaling to 25-90%, a soft blur, JPEG
    down to quality 30), applied to real and blended faces alike: without it a seam detector learns "sharp and
    clean" as real and fires on soft real faces (rule 16 of ``bench/results/2026-12-01-rules.md``)."""
    out = degrade(img, rng)
    s = out.shape[0]
    if rng.random() < 0.5:
        small = max(16, int(s * rng.uniform(0.25, 0.9)))
        out = cv2.resize(
            cv2.resize(out, (small, small), interpolation=cv2.INTER_AREA), (s, s), interpolation=cv2.INTER_LINEAR
        )
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.3, 1.5)))
    if rng.random() < 0.6:
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 96))])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(out)


def frame_edge(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An aligned crop as if the face had been tightly cropped in the source: outside a random inner rectangle the
    pixels are the mirror image the aligner pads with (``BORDER_REFLECT``). Photos that are just a face (dataset
    crops, avatars) look like this; applied to real and fake training faces alike, the mirror seam is not a cue."""
    s = img.shape[0]
    x0, y0 = (int(rng.uniform(0, 0.18) * s) for _ in range(2))
    x1, y1 = (s - int(rng.uniform(0, 0.18) * s) for _ in range(2))
    if x1 - x0 < s // 2 or y1 - y0 < s // 2:
        return img
    inner = img[y0:y1, x0:x1]
    return cv2.copyMakeBorder(inner, y0, s - y1, x0, s - x1, cv2.BORDER_REFLECT)


def shift_audio(audio: np.ndarray, shift_s: float, sample_rate: int) -> np.ndarray:
    """Audio delayed (positive) or advanced (negative) by exactly ``round(shift_s * sample_rate)`` samples.

    Length is kept; the gap is silence. A delay makes the audio lag the lips, as in a badly dubbed or spliced clip.
    """
    n = round(shift_s * sample_rate)
    out = np.zeros_like(audio)
    if n >= 0:
        out[n:] = audio[: len(audio) - n] if n < len(audio) else out[n:]
    else:
        out[: len(audio) + n] = audio[-n:]
    return out


def swap_audio(audio: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Another clip's audio (waveform, or mel/speech frames along axis 0), tiled or cut to this clip's length: a voice
    that belongs to different lips."""
    if len(other) == 0:
        return np.zeros_like(audio)
    reps = int(np.ceil(len(audio) / len(other)))
    return np.tile(other, (reps,) + (1,) * (other.ndim - 1))[: len(audio)].astype(audio.dtype)


def smooth_mel(mel: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Log-mel (T, n_mels) blurred over 30-90 ms and 1-3 mel bands: synthetic speech's lost detail, same energy."""
    t = int(rng.integers(1, 5)) * 2 + 1  # 3..9 mel frames of 10 ms
    f = int(rng.integers(1, 3)) * 2 + 1  # 3..5 bands
    sigma_t, sigma_f = t / 3.0, f / 4.0
    out = cv2.GaussianBlur(
        mel.astype(np.float32), (f, t), sigmaX=sigma_f, sigmaY=sigma_t, borderType=cv2.BORDER_REFLECT
    )
    return out.astype(mel.dtype)


def _random_pose(w: int, h: int, rng: np.random.Generator, max_scale: float, strength: float = 1.0) -> np.ndarray:
    """A small random shift (up to 3 px), rotation (up to 6 degrees) and scale change, as a 2x3 affine matrix."""
    return cv2.getRotationMatrix2D(
        (w / 2 + rng.uniform(-3, 3) * strength, h / 2 + rng.uniform(-3, 3) * strength),
        rng.uniform(-6, 6) * strength,
        1.0 + rng.uniform(-max_scale, max_scale) * strength,
    )


def augment_face(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Training augmentation for the face VAE: a real aligned face as another photo of the same person might show it
    (a small change of pose, exposure, white balance and saturation, and half the time the JPEG / low-resolution loss
    of uploads), so the VAE learns faces rather than its training identities' exact looks."""
    s = img.shape[0]
    m = _random_pose(s, s, rng, max_scale=0.06)
    out = cv2.warpAffine(img, m, (s, s), borderMode=cv2.BORDER_REFLECT).astype(np.float32)
    gray = out.mean(axis=2, keepdims=True)
    out = (gray + (out - gray) * rng.uniform(0.7, 1.3)) * rng.uniform(0.75, 1.25) + rng.uniform(-20, 20)
    out = np.clip(out * rng.uniform(0.9, 1.1, size=(1, 1, 3)), 0, 255).astype(np.uint8)
    return degrade(out, rng) if rng.random() < 0.5 else out


def jitter_window(mouths: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Training augmentation for the alignment model: one random shift/scale/rotation and contrast change applied to
    every frame of a mouth window (T, H, W) uint8 -> float32 in [0, 1]. The same for all frames, so the motion
    between frames (the signal) is kept while the speaker's exact crop and lighting (what overfits) vary."""
    _, h, w = mouths.shape
    out = mouths.astype(np.float32) / 255.0
    if strength <= 0:
        return out
    m = _random_pose(w, h, rng, max_scale=0.08, strength=strength)
    gain, bias = rng.uniform(0.7, 1.3), rng.uniform(-0.1, 0.1)
    noise = rng.normal(0, 0.02 * strength, size=(1, h, w)).astype(np.float32)
    out = np.stack([cv2.warpAffine(f, m, (w, h), borderMode=cv2.BORDER_REFLECT) for f in out])
    return np.clip(out * gain + bias + noise, 0.0, 1.0).astype(np.float32)


def make_pseudofake(
    kind: str, seg: ClipArrays, donor: ClipArrays, bundle: ModelBundle, rng: np.random.Generator
) -> ClipArrays | None:
    """Apply one pseudo-fake kind to a real segment (the same perturbation on every frame, like a real forgery).

    ``donor`` is another real clip (the identity of a cross-blend, the voice of an audio swap); ``bundle``'s face VAE
    makes the regenerated mouths. None when the segment cannot carry this kind (no audio, no donor face).
    """
    if kind in AUDIO_KINDS:
        if seg.mel is None or seg.is_image:
            return None
        if kind == "audio-smooth":
            return replace(seg, mel=smooth_mel(seg.mel, rng))
        if kind == "audio-shift":
            return seg.audio_shifted(int(rng.choice([-1, 1]) * rng.integers(5, 26)))  # 0.2-1.0 s at 25 fps
        if donor.mel is None:
            return None
        return replace(seg, mel=swap_audio(seg.mel, donor.mel), speech=swap_audio(seg.speech, donor.speech))
    faces = seg.face_crops.copy()
    mouths = seg.mouth_crops.copy()
    seed = int(rng.integers(2**31))
    donor_idx = np.flatnonzero(donor.present)
    if kind == "cross-blend" and donor_idx.size == 0:
        return None
    if kind == "vae-regen":
        from vaedetect.evidence import run_face_vae  # evidence draws its face region with this module's mask

        recon, _, _ = run_face_vae(bundle, faces[np.flatnonzero(seg.present)])
    for j, i in enumerate(np.flatnonzero(seg.present)):
        frame_rng = np.random.default_rng(seed)  # same perturbation for every frame of the segment
        if kind == "self-blend":
            faces[i], _ = self_blend(faces[i], frame_rng)
        elif kind == "cross-blend":
            faces[i], _ = cross_blend(faces[i], donor.face_crops[donor_idx[j % donor_idx.size]], frame_rng)
        elif kind == "vae-regen":
            faces[i] = regenerate_mouth(faces[i], recon[j])
        else:
            raise ValueError(kind)
        mouths[i] = mouth_crop_from_aligned(faces[i], mouths.shape[1])
    return replace(seg, face_crops=faces, mouth_crops=mouths)
