"""The GE2E speaker encoder (Resemblyzer's voice encoder) rebuilt in torch, and the input it was trained on.

Why rebuilt rather than imported: the carrier package ``resemblyzer`` imports librosa and webrtcvad, which this
project does not install; the network is three LSTM layers and a linear layer, and its input a 40-band mel *power*
spectrogram (librosa's defaults), so both fit in a few lines here. The weights come from the pinned, hash-checked file
(:func:`vaedetect.pretrained.speaker_encoder`). An embedding must be computed from exactly the input the network was
trained on, so the filterbank and STFT below follow librosa's ``melspectrogram`` step by step.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import torch
from torch import nn

from vaedetect.audio import SAMPLE_RATE_HZ  # GE2E was trained at 16 kHz, the rate every clip's speech is decoded at

N_FFT = 400  # 25 ms window (librosa's win_length defaults to n_fft)
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # mel frames one embedding reads: a 1.6 s "partial utterance"
HIDDEN = 256
EMBED_DIM = 256
LAYERS = 3
TARGET_DBFS = -30.0  # resemblyzer raises quieter audio to this level (never lowers louder audio)
_INT16_MAX = 2**15 - 1

# Slaney's mel scale (librosa's htk=False): linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3  # Hz per mel in the linear part
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP  # 15
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """Slaney mel of frequencies ``f`` (Hz)."""
    f = np.asarray(f, dtype=np.float64)
    lin = f / _F_SP
    log = _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(f >= _MIN_LOG_HZ, log, lin)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    """Frequencies (Hz) of Slaney mels ``m`` (the inverse of :func:`hz_to_mel`)."""
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), _F_SP * m)


@cache
def mel_filterbank(
    sr: int = SAMPLE_RATE_HZ, n_fft: int = N_FFT, n_mels: int = N_MELS, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters equally spaced on Slaney's mel scale, each scaled to unit area
    over frequency (``norm="slaney"``: 2 / bandwidth in Hz): ``librosa.filters.mel``'s defaults."""
    fmax = sr / 2 if fmax is None else fmax
    fft_hz = np.fft.rfftfreq(n_fft, d=1.0 / sr)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rise = (fft_hz[None] - lo) / (mid - lo)
    fall = (hi - fft_hz[None]) / (hi - mid)
    weights = np.maximum(0.0, np.minimum(rise, fall)) * (2.0 / (hi - lo))
    return weights.astype(np.float32)


@cache
def _hann() -> np.ndarray:
    """The periodic Hann window (``scipy.signal.get_window("hann", N_FFT)``, what librosa's STFT uses)."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)


def power_spectrogram(wav: np.ndarray) -> np.ndarray:
    """(1 + len // HOP, N_FFT // 2 + 1) |STFT|² of 16 kHz ``wav``, frames centred on every HOP-th sample (the signal
    zero-padded by N_FFT // 2 at both ends: librosa's ``center=True`` with its current ``pad_mode="constant"``)."""
    x = np.pad(np.asarray(wav, dtype=np.float32), N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP]
    return (np.abs(np.fft.rfft(frames * _hann(), axis=1)) ** 2).astype(np.float32)


def mel_power(wav: np.ndarray) -> np.ndarray:
    """(frames, 40) mel power spectrogram (not log) of 16 kHz ``wav``: the encoder's input."""
    return power_spectrogram(wav) @ mel_filterbank().T


def normalize_volume(wav: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """``wav`` raised to ``target_dbfs`` RMS when quieter, unchanged when louder (resemblyzer's increase-only
    normalisation: the encoder's input is not log-scaled, so its level matters)."""
    rms = float(np.sqrt(np.mean((np.asarray(wav, np.float64) * _INT16_MAX) ** 2))) if len(wav) else 0.0
    if rms <= 0.0:
        return np.asarray(wav, np.float32)
    change_db = target_dbfs - 20 * np.log10(rms / _INT16_MAX)
    return np.asarray(wav, np.float32) * np.float32(10 ** (change_db / 20)) if change_db > 0 else wav


class SpeakerEncoder(nn.Module):
    """GE2E (Wan et al., 2018) as trained in Real-Time-Voice-Cloning: LSTM(40 → 256, 3 layers) whose last hidden
    state goes through Linear(256 → 256) and ReLU, L2-normalised: one 256-d voice embedding per partial utterance."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(N_MELS, HIDDEN, LAYERS, batch_first=True)
        self.linear = nn.Linear(HIDDEN, EMBED_DIM)
        self.relu = nn.ReLU()

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SpeakerEncoder:
        """The encoder with the weights of a checkpoint's ``model_state`` (its ``lstm.*`` and ``linear.*`` tensors;
        the GE2E loss's own ``similarity_*`` scalars are for training only)."""
        enc = cls()
        enc.load_state_dict({k: v for k, v in state.items() if k.startswith(("lstm.", "linear."))}, strict=True)
        return enc.eval()

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        e = self.relu(self.linear(hidden[-1]))
        return e / torch.clamp(torch.linalg.vector_norm(e, dim=1, keepdim=True), min=1e-12)

    def embed(self, mels: np.ndarray) -> np.ndarray:
        """(N, 256) unit embeddings of (N, frames, 40) mel power windows, in one batch."""
        if not len(mels):
            return np.zeros((0, EMBED_DIM), np.float32)
        with torch.inference_mode():
            return self(torch.from_numpy(np.ascontiguousarray(mels, dtype=np.float32))).numpy()
