"""The speaker-change finding on the lead's training cache: the line from real videos (the rule of
``bench/results/2026-12-06-speaker-change.md``), the real distribution, made voice swaps, a same-person control, the
labelled fakes, and the cost per 10 s of speech on one thread.

Reads ``.cache/evidence/*.npz`` (per labelled file: int16 16 kHz ``audio``, 25 fps ``speech``, ``meta`` with the
manifest row); writes nothing but the JSON.

    python bench/speaker_change.py [--cache .cache/evidence] [--json bench/results/2026-12-06-speaker-change.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaedetect.evidence import speaker  # noqa: E402
from vaedetect.training.speaker import speaker_change_line  # noqa: E402

FPS = 25
SPF = 16_000 // FPS  # samples per frame
PARTNERS = 3  # made swaps per real video
SEED = 0


def load(cache: Path) -> list[dict[str, Any]]:
    """Every cached video with sound: its row, float audio and speech mask."""
    out = []
    for path in sorted(cache.glob("*.npz")):
        with np.load(path, allow_pickle=False) as d:
            meta = json.loads(bytes(d["meta"]))
            if meta["kind"] != "video" or not len(d["audio"]):
                continue
            row = meta["row"]
            out.append(
                {
                    "path": row["path"],
                    "label": row["label"],
                    "family": row["kind"],
                    "identity": row.get("identity") or row["path"],
                    "wav": d["audio"].astype(np.float32) / 32767,
                    "speech": d["speech"].astype(bool),
                }
            )
    return out


def value(wav: np.ndarray, speech: np.ndarray) -> float | None:
    track = speaker.speaker_track(wav, speech, FPS)
    return None if track is None else track.change


def splice(a: dict[str, Any], b: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """A's sound up to the frame with half its speech behind, then B's from its first speech frame, at A's speech
    level; A's length kept (silence where B runs out)."""
    t = len(a["speech"])
    cut = int(np.searchsorted(np.cumsum(a["speech"]), a["speech"].sum() / 2)) + 1
    b0 = int(np.argmax(b["speech"]))
    rest = t - cut
    b_speech = np.zeros(rest, bool)
    seg = b["speech"][b0 : b0 + rest]
    b_speech[: len(seg)] = seg
    b_wav = np.zeros(rest * SPF, np.float32)
    src = b["wav"][b0 * SPF : (b0 + rest) * SPF]
    b_wav[: len(src)] = src
    gain = _speech_rms(a["wav"], a["speech"]) / max(_speech_rms(b["wav"], b["speech"]), 1e-9)
    wav = np.concatenate([a["wav"][: cut * SPF], np.clip(b_wav * gain, -1, 1)])
    return wav, np.concatenate([a["speech"][:cut], b_speech])


def _speech_rms(wav: np.ndarray, speech: np.ndarray) -> float:
    x, _ = speaker.speech_stream(wav, speech, FPS)
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0


def summary(v: list[float]) -> dict[str, Any]:
    a = np.asarray(v)
    if not len(a):
        return {"n": 0}
    q = np.percentile(a, [1, 5, 25, 50, 75, 95])
    return {"n": len(a), "min": float(a.min()), "p1": q[0], "p5": q[1], "p25": q[2], "median": q[3], "p75": q[4],
            "p95": q[5], "max": float(a.max())}  # fmt: skip


def called(v: list[float], line: float) -> dict[str, Any]:
    n = sum(x < line for x in v)
    return {"n": len(v), "called": int(n), "rate": n / len(v) if v else None}


def timing() -> dict[str, float]:
    """Seconds for one clip of 10 s of speech (warm, median of 5; the first call's load reported apart)."""
    rng = np.random.default_rng(1)
    t = np.arange(10 * 16_000) / 16_000
    wav = (0.1 * np.sin(2 * np.pi * 150 * t) * (1 + 0.5 * rng.standard_normal(len(t)))).astype(np.float32)
    speech = np.ones(10 * FPS, bool)
    t0 = time.perf_counter()
    speaker.speaker_track(wav, speech, FPS)
    first = time.perf_counter() - t0
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        speaker.speaker_track(wav, speech, FPS)
        runs.append(time.perf_counter() - t0)
    return {"first_call_s": first, "per_10s_clip_s": float(np.median(runs)), "threads": torch.get_num_threads()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path, default=ROOT / ".cache" / "evidence")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "2026-12-06-speaker-change.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cost = timing()
    clips = load(args.cache)
    for c in clips:
        c["value"] = value(c["wav"], c["speech"])
    real = [c for c in clips if c["label"] == "real" and c["value"] is not None]
    records = [{"label": 0, "values": {speaker.NAME: c["value"]}} for c in real]
    block = speaker_change_line(records)
    line = block["line"]
    print(f"line {line:.4f} from {block['n_real']} real videos", flush=True)

    rng = np.random.default_rng(SEED)
    swaps, same = [], []
    for a in real:
        others = [b for b in real if b["identity"] != a["identity"]]
        for j in rng.choice(len(others), size=min(PARTNERS, len(others)), replace=False):
            b = others[j]
            v = value(*splice(a, b))
            swaps.append({"a": a["path"], "b": b["path"], "value": v})
        for b in real:
            if b["identity"] == a["identity"] and b["path"] != a["path"]:
                same.append({"a": a["path"], "b": b["path"], "value": value(*splice(a, b))})
    fakes = [c for c in clips if c["label"] == "fake" and c["value"] is not None]
    per_family: dict[str, list[float]] = {}
    for c in fakes:
        per_family.setdefault(c["family"], []).append(c["value"])
    lowest_real = sorted(real, key=lambda c: c["value"])[:5]
    by_speech = {}
    for lo, hi in ((3.2, 5.0), (5.0, 8.0), (8.0, float("inf"))):
        v = [c["value"] for c in real if lo <= c["speech"].sum() / FPS < hi]
        by_speech[f"{lo:g}-{hi:g} s"] = summary(v)
    out = {
        "rule": "line = lowest real speaker_change - 0.03 (bench/results/2026-12-06-speaker-change.md)",
        "calibration_block": block,
        "cache_files": len(list(args.cache.glob("*.npz"))),
        "videos_with_sound": {k: sum(c["label"] == k for c in clips) for k in ("real", "fake")},
        "real": summary([c["value"] for c in real]),
        "real_by_speech_s": by_speech,
        "real_lowest": [{"path": c["path"], "family": c["family"], "value": c["value"]} for c in lowest_real],
        "made_swaps": {
            **called([s["value"] for s in swaps if s["value"] is not None], line),
            "without_value": sum(s["value"] is None for s in swaps),
            "distribution": summary([s["value"] for s in swaps if s["value"] is not None]),
        },
        "same_identity_splices": {
            **called([s["value"] for s in same if s["value"] is not None], line),
            "distribution": summary([s["value"] for s in same if s["value"] is not None]),
            "pairs": same,
        },
        "fakes": {
            **called([c["value"] for c in fakes], line),
            "distribution": summary([c["value"] for c in fakes]),
            "per_family": {f: {**called(v, line), "min": min(v)} for f, v in sorted(per_family.items())},
            "called_paths": [c["path"] for c in fakes if c["value"] < line],
        },
        "cost": cost,
        "swaps": swaps,
    }  # fmt: skip
    args.json.write_text(json.dumps(out, indent=1, default=float) + "\n")
    shown = {k: out[k] for k in ("calibration_block", "real", "real_lowest", "made_swaps", "fakes", "cost")}
    shown["same_identity_splices"] = {k: v for k, v in out["same_identity_splices"].items() if k != "pairs"}
    print(json.dumps(shown, indent=1, default=float))


if __name__ == "__main__":
    main()
