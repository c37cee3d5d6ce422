"""Rule 11 of ``bench/results/2026-12-01-rules.md``: how often do both offset cues agree on a clear audio shift, on
real speech clips and on the same clips with their audio delayed by 0.4 s?

Picks the first ``--n`` real speech clips of ``../shared/data`` (split ``train``, with audio) by path hash, measures
each (``Detector.measure``) as it is and with the audio delayed (ffmpeg ``-itsoffset``, video stream copied), and
counts where the rule would fire: offsets agree (``scoring.offset_cues_agree``) and the fused offset is at least
``OFFSET_FLOOR_FRAMES`` from zero. Copies live in a temporary folder.

    python bench/experiments/offset_rule.py [--n 40] [--json bench/results/2026-12-01-offset-rule.json]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import vaedetect  # noqa: E402
from vaedetect.ingest import ingest  # noqa: E402
from vaedetect.scoring import offset_cues_agree  # noqa: E402

DELAY_S = 0.4
OFFSET_FLOOR_FRAMES = 4  # rule 11's floor (0.16 s); measured, not shipped


def delayed(src: Path, dst: Path) -> None:
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), "-itsoffset", str(DELAY_S),
           "-i", str(src), "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-shortest",
           str(dst)]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=300, capture_output=True)


def measure(det, path: Path) -> dict:
    clip = ingest(path, det.limits, det.face_config)
    _, _, raw = det.measure(clip, keep_images=False)
    agree = offset_cues_agree(raw)
    fires = bool(agree) and raw.sync_offset is not None and abs(raw.sync_offset) >= OFFSET_FLOOR_FRAMES
    return {"model": raw.sync_offset_model, "lipvoice": raw.lipvoice_offset, "fused": raw.sync_offset,
            "agree": agree, "fires": fires}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--json")
    args = ap.parse_args()
    data = Path(args.data)
    with open(data / "manifest.csv") as fh:
        rows = [
            r for r in csv.DictReader(fh) if r["split"] == "train" and r["label"] == "real" and r["has_audio"] == "1"
        ]
    rows = sorted(rows, key=lambda r: hashlib.sha1(r["path"].encode()).hexdigest())[: args.n]
    det = vaedetect.load_detector()
    out, t0 = [], time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for i, r in enumerate(rows, 1):
            src = data / r["path"]
            dst = Path(tmp) / "delayed.mp4"
            try:
                delayed(src, dst)
                out.append({"path": r["path"], "real": measure(det, src), "delayed": measure(det, dst)})
            except (vaedetect.InputError, subprocess.SubprocessError) as e:
                out.append({"path": r["path"], "error": str(e)})
            print(f"{i}/{len(rows)} {time.time() - t0:.0f}s {r['path']} {out[-1]}", flush=True)
    ok = [e for e in out if "error" not in e]
    table = {
        "n": len(ok),
        "delay_s": DELAY_S,
        "offset_floor_frames": OFFSET_FLOOR_FRAMES,
        "fires_on_real": sum(e["real"]["fires"] for e in ok),
        "fires_on_delayed": sum(e["delayed"]["fires"] for e in ok),
        "agree_on_real": sum(bool(e["real"]["agree"]) for e in ok),
        "agree_on_delayed": sum(bool(e["delayed"]["agree"]) for e in ok),
    }
    print(json.dumps(table, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps({"table": table, "files": out}, indent=1))


if __name__ == "__main__":
    main()
