"""Audio: log-mel features aligned to video frames, speech activity, leading-silence trim, loudness envelope.

At 16 kHz with a 10 ms hop there are exactly 4 mel frames per video frame at 25 fps (SyncNet's convention), so a
window of 5 video frames (0.2 s) pairs with 20 mel frames and no resampling of either stream is needed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from vaedetect import settings

SAMPLE_RATE_HZ = 16_000
# The analysis frame rate: media resamples every video to it, and the mel hop is chosen so that whole mel frames pair
# with each video frame. Defined here, with the hop it must divide, and nowhere else.
ANALYSIS_FPS = 25
HOP_LENGTH = 160  # 10 ms
WIN_LENGTH = 400  # 25 ms
N_FFT = 512
N_MELS = 80
MEL_FMIN_HZ = 55.0
MEL_FMAX_HZ = 7_600.0
MEL_PER_VIDEO_FRAME = SAMPLE_RATE_HZ // HOP_LENGTH // ANALYSIS_FPS  # 4
LOG_FLOOR = 1e-5


def _hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)


@lru_cache(maxsize=4)
def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, sr: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Triangular filters on the HTK mel scale, (n_mels, n_fft // 2 + 1), area-normalised (Slaney).

    The same matrix as ``librosa.filters.mel(htk=True, norm="slaney")`` (bench/results/2026-12-01-hand-rolled.md);
    kept here rather than adding librosa and its dependencies for these lines.
    """
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    mel_pts = np.linspace(_hz_to_mel(MEL_FMIN_HZ), _hz_to_mel(MEL_FMAX_HZ), n_mels + 2)
    hz = _mel_to_hz(mel_pts)
    fb = np.zeros((n_mels, freqs.size), dtype=np.float32)
    for i in range(n_mels):
        lo, c, hi = hz[i], hz[i + 1], hz[i + 2]
        up = (freqs - lo) / max(c - lo, 1e-9)
        down = (hi - freqs) / max(hi - c, 1e-9)
        fb[i] = np.maximum(0.0, np.minimum(up, down)) * (2.0 / (hi - lo))
    return fb


def _frames(x: np.ndarray, n_frames: int) -> np.ndarray:
    """Centred analysis frames of WIN_LENGTH samples every HOP_LENGTH, zero-padded at the edges."""
    pad = N_FFT // 2
    xp = np.pad(x.astype(np.float32), (pad, pad + N_FFT))
    idx = np.arange(N_FFT)[None, :] + HOP_LENGTH * np.arange(n_frames)[:, None]
    return xp[idx]


def log_mel(audio: np.ndarray, n_video_frames: int | None = None) -> np.ndarray:
    """Log-mel spectrogram (n_mel_frames, N_MELS), float32; mel frame ``4k`` is centred on video frame ``k``.

    With ``n_video_frames`` the output has exactly ``4 * n_video_frames`` frames (padding with silence), so video and
    audio indices line up even when the audio track is slightly shorter or longer than the picture.
    """
    n = n_video_frames * MEL_PER_VIDEO_FRAME if n_video_frames is not None else int(np.ceil(len(audio) / HOP_LENGTH))
    if n <= 0:
        return np.zeros((0, N_MELS), dtype=np.float32)
    window = np.zeros(N_FFT, dtype=np.float32)
    off = (N_FFT - WIN_LENGTH) // 2
    window[off : off + WIN_LENGTH] = np.hanning(WIN_LENGTH + 2)[1:-1]
    spec = np.abs(np.fft.rfft(_frames(audio, n) * window, axis=1)) ** 2
    mel = spec.astype(np.float32) @ mel_filterbank().T
    return np.log(mel + LOG_FLOOR).astype(np.float32)


def minus_speech_mean(x: np.ndarray, speech_rows: np.ndarray, min_rows: int) -> np.ndarray:
    """Rows of a spectrogram minus their mean over the speech rows (all rows when fewer than ``min_rows`` are speech):
    the microphone's and room's colouring removed, the speech's own variation kept."""
    ref = x[speech_rows] if speech_rows.sum() >= min_rows else x
    return x - ref.mean(axis=0, keepdims=True)


def mel_windows(mel: np.ndarray, centers: np.ndarray, n_video_frames: int = 5) -> np.ndarray:
    """Mel windows of ``n_video_frames`` video frames centred on each video frame index, (N, 4 * n, N_MELS).

    Indices may fall outside the clip (shifted-audio negatives, clip edges): those rows repeat the quietest value of
    each mel band, i.e. silence, so every window is a valid input.
    """
    centers = np.asarray(centers, dtype=np.int64)
    half = n_video_frames // 2
    width = n_video_frames * MEL_PER_VIDEO_FRAME
    if centers.size == 0:
        return np.zeros((0, width, mel.shape[1]), np.float32)
    starts = (centers - half) * MEL_PER_VIDEO_FRAME
    before = int(max(0, -starts.min()))
    after = int(max(0, starts.max() + width - len(mel)))
    floor = mel.min(axis=0, keepdims=True) if len(mel) else np.full((1, mel.shape[1]), np.log(LOG_FLOOR))
    padded = np.concatenate([np.repeat(floor, before, 0), mel, np.repeat(floor, after, 0)]).astype(np.float32)
    idx = (starts + before)[:, None] + np.arange(width)[None, :]
    return padded[idx]


@dataclass(frozen=True)
class SpeechConfig:
    min_level_dbfs: float = -50.0  # quieter than this is never speech
    above_floor_db: float = 12.0  # speech stands this far above the clip's noise floor
    below_peak_db: float = 40.0  # ...and within this of its loud parts
    hangover_s: float = 0.2  # bridge short pauses between words
    min_speech_s: float = 0.1  # drop clicks


@dataclass
class AudioAnalysis:
    """Per video frame (25 fps): loudness in dBFS and a speech flag, plus the leading-silence trim point."""

    loudness_db: np.ndarray
    speech: np.ndarray
    speech_fraction: float
    speech_start_frame: int | None

    @property
    def has_speech(self) -> bool:
        return self.speech_start_frame is not None


def frame_loudness_db(audio: np.ndarray, n_video_frames: int) -> np.ndarray:
    """RMS level in dBFS over 40 ms centred on each video frame."""
    spf = SAMPLE_RATE_HZ // ANALYSIS_FPS
    need = n_video_frames * spf + spf
    padded = np.pad(audio.astype(np.float32), (spf // 2, max(0, need - len(audio) - spf // 2)))[:need]
    idx = np.arange(spf)[None, :] + spf * np.arange(n_video_frames)[:, None]
    rms = np.sqrt(np.mean(padded[idx] ** 2, axis=1) + 1e-12)
    return (20.0 * np.log10(rms + 1e-9)).astype(np.float32)


def _run_lengths(mask: np.ndarray) -> list[tuple[int, int, bool]]:
    runs, start = [], 0
    for i in range(1, len(mask) + 1):
        if i == len(mask) or mask[i] != mask[start]:
            runs.append((start, i, bool(mask[start])))
            start = i
    return runs


def detect_speech(loudness_db: np.ndarray, config: SpeechConfig | None = None) -> np.ndarray:
    """Energy-based speech activity per video frame.

    An adaptive threshold (above the noise floor, near the peaks, above an absolute minimum) with hangover. It cannot
    tell speech from music; it exists to find *where sound is*, which is what the alignment model and the
    leading-silence trim need.
    """
    cfg = config or SpeechConfig()
    n = len(loudness_db)
    if n == 0:
        return np.zeros(0, dtype=bool)
    floor = float(np.percentile(loudness_db, 10))
    peak = float(np.percentile(loudness_db, 98))
    thr = max(cfg.min_level_dbfs, floor + cfg.above_floor_db, peak - cfg.below_peak_db)
    mask = loudness_db > thr
    hang = round(cfg.hangover_s * ANALYSIS_FPS)
    min_len = max(1, round(cfg.min_speech_s * ANALYSIS_FPS))
    for s, e, v in _run_lengths(mask):
        if not v and e - s <= hang and s > 0 and e < n:
            mask[s:e] = True
    for s, e, v in _run_lengths(mask):
        if v and e - s < min_len:
            mask[s:e] = False
    return mask


@lru_cache(maxsize=1)
def _silero() -> tuple[object, object, threading.Lock]:
    """silero-vad's TorchScript model from inside its pinned wheel (nothing is downloaded), loaded once per process.

    The model keeps state between chunks, so concurrent analyses (the app's threads) take turns through the lock.
    """
    from silero_vad import get_speech_timestamps, load_silero_vad

    return load_silero_vad(), get_speech_timestamps, threading.Lock()


def silero_speech(audio: np.ndarray, n_video_frames: int) -> np.ndarray:
    """Speech per video frame from silero-vad: the frame's centre sample lies inside a detected speech segment.

    A neural detector trained on speech, so tones, beeps and music are not speech and quiet speech is
    (bench/results/*-vad.json).
    """
    import torch

    model, timestamps, lock = _silero()
    with lock, torch.inference_mode():
        segments = timestamps(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)), model,
                              sampling_rate=SAMPLE_RATE_HZ)  # fmt: skip
    centres = np.arange(n_video_frames) * (SAMPLE_RATE_HZ // ANALYSIS_FPS)
    mask = np.zeros(n_video_frames, dtype=bool)
    for seg in segments:
        mask |= (centres >= seg["start"]) & (centres < seg["end"])
    return mask


# Which detector marks speech: "energy" (loudness, above) or "silero" (neural); VAEDETECT_VAD overrides the default.
SPEECH_DETECTORS = ("energy", "silero")
DEFAULT_SPEECH_DETECTOR = "energy"


def speech_detector() -> str:
    name = settings.vad(DEFAULT_SPEECH_DETECTOR)
    if name not in SPEECH_DETECTORS:
        raise ValueError(f"{settings.VAD} must be one of {', '.join(SPEECH_DETECTORS)}, not {name!r}")
    return name


def analyze_audio(audio: np.ndarray | None, n_video_frames: int, config: SpeechConfig | None = None) -> AudioAnalysis:
    if audio is None or n_video_frames == 0 or len(audio) == 0:
        return AudioAnalysis(
            loudness_db=np.full(n_video_frames, -120.0, np.float32),
            speech=np.zeros(n_video_frames, dtype=bool),
            speech_fraction=0.0,
            speech_start_frame=None,
        )
    loud = frame_loudness_db(audio, n_video_frames)
    use_silero = speech_detector() == "silero"
    speech = silero_speech(audio, n_video_frames) if use_silero else detect_speech(loud, config)
    idx = np.flatnonzero(speech)
    return AudioAnalysis(
        loudness_db=loud,
        speech=speech,
        speech_fraction=float(speech.mean()),
        speech_start_frame=int(idx[0]) if idx.size else None,
    )


def leading_silence_frames(analysis: AudioAnalysis, margin_s: float = 0.1) -> int:
    """Video frames to skip before speech starts (a shortcut several benchmarks' fakes offer; we never learn it)."""
    if analysis.speech_start_frame is None:
        return 0
    return max(0, analysis.speech_start_frame - round(margin_s * ANALYSIS_FPS))


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
