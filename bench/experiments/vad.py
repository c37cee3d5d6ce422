"""Speech detection: the energy detector in vaedetect.audio against silero-vad (pinned, weights inside its wheel).

Two tables, both per 25 fps video frame (the unit the pipeline uses):

* shared clips with audio (no speech labels exist): how often the two agree (frame agreement, Cohen's kappa from
  scikit-learn, "has speech" per clip, where speech starts: the leading-silence trim reads that);
* synthetic cases with a known answer: no-speech sounds (tone, beeps, music, noise) where every frame flagged is an
  error, and GRID speech (clean, quiet, whisper-like, under music or noise) padded with 1 s of room noise (-60 dBFS),
  where the truth is the frames both detectors call speech on the clean recording (neither detector is the reference
  alone; frames they disagree on there are left out) plus the padding as no speech.

    nice -n 10 python bench/experiments/vad.py --out bench/results/2026-12-01-vad.json
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from importlib import metadata, resources
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import cohen_kappa_score

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from vaedetect import media
from vaedetect.audio import ANALYSIS_FPS, SAMPLE_RATE_HZ, detect_speech, frame_loudness_db, silero_speech

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SPF = SAMPLE_RATE_HZ // ANALYSIS_FPS


def silero_weights() -> dict[str, str]:
    """Where the model comes from: a file inside the installed wheel, with its hash (nothing is downloaded)."""
    path = resources.files("silero_vad.data").joinpath("silero_vad.jit")
    return {
        "package": f"silero-vad=={metadata.version('silero-vad')}",
        "file": str(path),
        "sha256": hashlib.sha256(Path(str(path)).read_bytes()).hexdigest(),
    }


def energy_frames(wav: np.ndarray, n_frames: int) -> np.ndarray:
    return detect_speech(frame_loudness_db(wav, n_frames))


# -- synthetic sounds ------------------------------------------------------------------------------------------------


def db(x: np.ndarray, level_dbfs: float) -> np.ndarray:
    rms = np.sqrt(np.mean(x**2)) + 1e-12
    return (x * 10 ** (level_dbfs / 20) / rms).astype(np.float32)


def tone(seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    return db(np.sin(2 * np.pi * hz * t), -20)


def beeps(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    return db(np.sin(2 * np.pi * 1000 * t) * ((t % 0.5) < 0.2), -20)


def music(seconds: float, seed: int = 0) -> np.ndarray:
    """Notes of a few harmonics with a plucked envelope, a chord every half second, plus a kick drum."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE_HZ)
    out = np.zeros(n)
    note = int(0.5 * SAMPLE_RATE_HZ)
    t = np.arange(note) / SAMPLE_RATE_HZ
    env = np.exp(-t * 4)
    for start in range(0, n - note, note):
        for semis in rng.choice([0, 3, 4, 7, 10, 12], 3, replace=False):
            f0 = 220 * 2 ** ((semis + rng.integers(-5, 6)) / 12)
            out[start : start + note] += env * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 5))
        out[start : start + 800] += np.sin(2 * np.pi * 60 * t[:800]) * np.exp(-t[:800] * 40) * 3
    return db(out, -20)


def noise(seconds: float, pink: bool, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=int(seconds * SAMPLE_RATE_HZ))
    if pink:
        spec = np.fft.rfft(x)
        spec[1:] /= np.sqrt(np.arange(1, spec.size))
        x = np.fft.irfft(spec, n=x.size)
    return db(x, -30)


def whisper_like(speech: np.ndarray, seed: int = 0) -> np.ndarray:
    """The speech's spectral envelope (smoothed over ~470 Hz, so no pitch harmonics) on noise: voiceless speech."""
    n_fft, hop = 512, 128
    win = np.hanning(n_fft)
    rng = np.random.default_rng(seed)
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(speech, (n_fft, n_fft)), n_fft)[::hop] * win
    mag = np.abs(np.fft.rfft(frames, axis=1))
    kernel = np.ones(15) / 15
    env = np.apply_along_axis(lambda m: np.convolve(m, kernel, mode="same"), 1, mag)
    phase = np.exp(2j * np.pi * rng.random(env.shape))
    y = np.zeros(len(speech) + 3 * n_fft)
    for i, fr in enumerate(np.fft.irfft(env * phase, n=n_fft, axis=1)):
        y[i * hop : i * hop + n_fft] += fr * win
    return db(y[n_fft : n_fft + len(speech)], float(20 * np.log10(np.sqrt(np.mean(speech**2)) + 1e-12)) - 10)


# -- measurement ------------------------------------------------------------------------------------------------------


def n_frames_of(wav: np.ndarray) -> int:
    return len(wav) // SPF


def rates(pred: np.ndarray, truth: np.ndarray) -> dict[str, float | None]:
    speech, quiet = truth, ~truth
    return {
        "false_speech": round(float(pred[quiet].mean()), 3) if quiet.any() else None,
        "missed_speech": round(float((~pred[speech]).mean()), 3) if speech.any() else None,
    }


def shared_clips(limit: int) -> list[Path]:
    rows = list(csv.DictReader((DATA / "manifest.csv").open()))
    with_audio = [DATA / r["path"] for r in rows if r["has_audio"] == "1" and r["path"].endswith(".mp4")]
    step = max(1, len(with_audio) // limit)
    return with_audio[::step][:limit]


def grid_clips(limit: int) -> list[Path]:
    rows = list(csv.DictReader((DATA / "manifest.csv").open()))
    return [DATA / r["path"] for r in rows if r["source_repo"] == "rizkiarm+LipNet" and r["has_audio"] == "1"][:limit]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=60, help="shared clips with audio, evenly subsampled")
    ap.add_argument("--grid", type=int, default=6, help="GRID speech recordings for the synthetic speech cases")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(1)
    detectors = {"energy": energy_frames, "silero": silero_speech}
    seconds = {k: 0.0 for k in detectors}
    audio_s = {k: 0.0 for k in detectors}

    def run(name: str, wav: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        out = detectors[name](wav, n_frames_of(wav))
        seconds[name] += time.perf_counter() - t0
        audio_s[name] += len(wav) / SAMPLE_RATE_HZ
        return out

    # 1. agreement on shared clips
    per_clip, a_all, b_all, starts = [], [], [], []
    for path in shared_clips(args.clips):
        wav = media.load_audio(path)
        if wav is None or n_frames_of(wav) < 5:
            continue
        a, b = run("energy", wav), run("silero", wav)
        a_all.append(a)
        b_all.append(b)
        per_clip.append((bool(a.any()), bool(b.any())))
        if a.any() and b.any():
            starts.append(abs(int(np.flatnonzero(a)[0]) - int(np.flatnonzero(b)[0])))
    a_cat, b_cat = np.concatenate(a_all), np.concatenate(b_all)
    agreement = {
        "clips": len(per_clip),
        "frames": int(a_cat.size),
        "frame_agreement": round(float((a_cat == b_cat).mean()), 3),
        "cohen_kappa": round(float(cohen_kappa_score(a_cat, b_cat)), 3),
        "speech_fraction": {"energy": round(float(a_cat.mean()), 3), "silero": round(float(b_cat.mean()), 3)},
        "energy_speech_silero_not": round(float((a_cat & ~b_cat).mean()), 3),
        "silero_speech_energy_not": round(float((b_cat & ~a_cat).mean()), 3),
        "clips_with_speech": {"energy": sum(a for a, _ in per_clip), "silero": sum(b for _, b in per_clip)},
        "speech_start_abs_diff_frames": {
            "median": float(np.median(starts)) if starts else None,
            "p90": float(np.percentile(starts, 90)) if starts else None,
            "over_5_frames": int(sum(d > 5 for d in starts)),
            "n": len(starts),
        },
    }

    # 2. synthetic cases with a known answer
    cases: dict[str, dict[str, list[np.ndarray]]] = {}

    def add(case: str, wav: np.ndarray, truth: np.ndarray) -> None:
        c = cases.setdefault(case, {"truth": [], "energy": [], "silero": []})
        c["truth"].append(truth)
        for name in detectors:
            c[name].append(run(name, wav))

    for seed in range(3):
        for case, wav in {
            "tone 440 Hz": tone(3.0, 440 * (1 + seed / 4)),
            "beeps 1 kHz": beeps(3.0),
            "music (synthetic chords + kick)": music(3.0, seed),
            "white noise": noise(3.0, pink=False, seed=seed),
            "pink noise": noise(3.0, pink=True, seed=seed),
        }.items():
            add(case, wav, np.zeros(n_frames_of(wav), dtype=bool))
    pad = noise(1.0, pink=False, seed=99) * 10 ** (-30 / 20)  # a quiet room (-60 dBFS), not digital silence
    for i, path in enumerate(grid_clips(args.grid)):
        speech = media.load_audio(path)
        speech = db(speech, -20)
        n = n_frames_of(speech)
        both = energy_frames(speech, n) & silero_speech(speech, n)
        variants = {
            "speech, clean": speech,
            "speech, quiet (-45 dBFS)": db(speech, -45),
            "speech, whisper-like": whisper_like(speech, seed=i),
            "speech over music (music -6 dB)": speech + db(music(len(speech) / SAMPLE_RATE_HZ, i), -26),
            "speech in white noise (SNR 5 dB)": speech + db(noise(len(speech) / SAMPLE_RATE_HZ, False, i), -25),
        }
        for case, wav in variants.items():
            full = np.concatenate([pad, wav.astype(np.float32), pad])
            truth = np.zeros(n_frames_of(full), dtype=bool)
            truth[ANALYSIS_FPS : ANALYSIS_FPS + n] = both
            keep = np.ones_like(truth)
            # Frames of the recording that the two detectors disagree on when clean have no known answer: left out.
            keep[ANALYSIS_FPS : ANALYSIS_FPS + n] = both | ~(energy_frames(speech, n) | silero_speech(speech, n))
            c = cases.setdefault(case, {"truth": [], "energy": [], "silero": []})
            c["truth"].append(truth[keep])
            for name in detectors:
                c[name].append(run(name, full)[keep])
    table = {}
    for case, c in cases.items():
        truth = np.concatenate(c["truth"])
        table[case] = {
            "n_frames": int(truth.size),
            **{name: rates(np.concatenate(c[name]), truth) for name in detectors},
        }

    result = {
        "what": "energy speech detector (vaedetect.audio.detect_speech) vs silero-vad, per 25 fps frame",
        "command": "nice -n 10 python bench/experiments/vad.py " + " ".join(sys.argv[1:]),
        "silero_weights": silero_weights(),
        "subsample": f"{agreement['clips']} shared clips with audio, every k-th of manifest.csv's .mp4 rows with audio "
        f"(--clips {args.clips}); synthetic speech from {args.grid} GRID recordings",
        "agreement_on_shared_clips": agreement,
        "synthetic_known_answer": table,
        "seconds_per_audio_second": {k: round(v / max(audio_s[k], 1e-9), 5) for k, v in seconds.items()},
        "note_on_seconds": "every detector call above, one thread, on a 2-core machine shared with other jobs",
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
