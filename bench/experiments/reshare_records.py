"""One re-shared copy of every labelled file of ``../shared/data``, measured into fusion records (rule 7 of
``bench/results/2026-12-01-rules.md``), in parallel worker processes.

Each file's transform and its parameters are drawn from the file's path (``vaedetect.training.reshare``), among ways
clips travel, with parameters *other than* ``bench/invariance.py``'s fixed ones. A copy carries its original's label,
family, identity and ties (``training.learned.record_of``), so leave-one-family-out and the identity folds hold it out
with its original; ``copy_of`` and ``transform`` say what it is. Nothing is shipped; the copies live in a temporary
folder only while they are measured.

    python bench/experiments/reshare_records.py [--out .cache/records-reshared.jsonl] [--workers 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

_detector = None


def _init() -> None:
    import torch

    import vaedetect

    torch.set_num_threads(1)
    global _detector
    _detector = vaedetect.load_detector()


def measure(job: tuple[dict, str]) -> tuple[dict | None, str | None, float]:
    from vaedetect.training.learned import reshared_record

    row, data_dir = job
    t0 = time.perf_counter()
    try:
        rec = reshared_record(_detector, row, Path(data_dir))
    except Exception as e:  # one odd file must not stop a long run; it is listed at the end
        return None, f"{row['path']}: {type(e).__name__}: {e}", time.perf_counter() - t0
    return rec, None, time.perf_counter() - t0


def main() -> None:
    from vaedetect.training.learned import labelled_rows

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / ".cache" / "records-reshared.jsonl"))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    out = Path(args.out)
    done = {json.loads(line)["copy_of"] for line in out.read_text().splitlines()} if out.exists() else set()
    rows = [r for r in labelled_rows(Path(args.data)) if r["path"] not in done]
    # photos are quick: interleave so a partial run has every kind
    rows.sort(key=lambda r: hashlib.sha1(r["path"].encode()).hexdigest())
    print(f"{len(done)} done, {len(rows)} to measure", flush=True)
    errors, t0 = [], time.time()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as fh, mp.get_context("spawn").Pool(args.workers, initializer=_init) as pool:
        for n, (rec, err, dt) in enumerate(pool.imap_unordered(measure, [(r, args.data) for r in rows]), 1):
            if rec is not None:
                fh.write(json.dumps(rec) + "\n")
                fh.flush()
            else:
                errors.append(err)
            if n % 20 == 0 or err:
                print(f"{n}/{len(rows)} {time.time() - t0:.0f}s {dt:.1f}s {err or ''}", flush=True)
    print(f"done: {len(rows) - len(errors)} measured, {len(errors)} errors, {time.time() - t0:.0f}s")
    for e in errors:
        print("  ", e)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
