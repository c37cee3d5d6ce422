"""Scoring an archive: every clip and photo under a folder (or listed in a CSV), one JSON line per file, resumable.

Three ways to run the same per-file scoring (:func:`score_file`): in this process, in local worker processes that each
load the detector once, or on Ray (an existing cluster by address, or a local instance) with one detector per worker
actor. Scheduling and retries are the executor's or Ray's; this module only lists files, skips finished ones and
writes lines as results arrive, so a killed run loses at most the files in flight.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from vaedetect.errors import InputError
from vaedetect.explain import verdict_words
from vaedetect.media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from vaedetect.models.bundle import file_sha256
from vaedetect.report import Report

SCAN_SUFFIXES = frozenset(IMAGE_EXTENSIONS | VIDEO_EXTENSIONS)
SLOWEST_SHOWN = 5
NO_VERDICT = "none"  # the summary's count of files that got no verdict (no face to examine, ...)


def list_inputs(source: str | Path, *, follow_links: bool = False, skipped: list[Path] | None = None) -> list[Path]:
    """Clips and photos under a folder (recursively, by suffix), or the ``path`` column of a CSV (relative to it).

    A folder scan stays inside the folder: a symbolic link (to a file or a folder) that leads out of it is not
    followed unless ``follow_links``, and is added to ``skipped`` when that list is given, so the caller can say so.
    A folder holding ``passwd.mp4 -> /etc/passwd`` must not make the scan read, hash and record that file. A CSV
    lists its files explicitly and is taken as it is.
    """
    source = Path(source)
    if source.is_dir():
        return _walk(source, follow_links, skipped if skipped is not None else [])
    if source.is_file() and source.suffix.lower() == ".csv":
        with source.open(newline="") as fh:
            reader = csv.DictReader(fh)
            if "path" not in (reader.fieldnames or []):
                raise InputError(f"{source.name} needs a 'path' column.")
            paths = [Path(row["path"]) for row in reader if (row.get("path") or "").strip()]
        return [p if p.is_absolute() else source.parent / p for p in paths]
    raise InputError(f"{source} is neither a folder nor a .csv file listing files.")


def _walk(folder: Path, follow_links: bool, skipped: list[Path]) -> list[Path]:
    inside = folder.resolve()
    found: list[Path] = []
    seen: set[Path] = set()  # real folders already walked: a link loop, or a link to a folder walked anyway
    for top, dirs, files in os.walk(folder, followlinks=follow_links):
        here = Path(top)
        real = here.resolve()
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        for name in dirs:
            link = here / name
            if link.is_symlink() and not follow_links and not link.resolve().is_relative_to(inside):
                skipped.append(link)  # os.walk does not enter it; say so when it leads elsewhere
        for name in sorted(files):
            path = here / name
            if path.suffix.lower() not in SCAN_SUFFIXES:
                continue
            if path.is_symlink() and not follow_links and not path.resolve().is_relative_to(inside):
                skipped.append(path)
            elif path.is_file():
                found.append(path)
    skipped.sort()
    return sorted(found)


def score_file(analyze: Callable[[str], Any], path: str | Path) -> dict[str, Any]:
    """One file's JSON line. A file that cannot be read or analysed becomes an ``error`` line, never an exception.

    The hash is taken after the analysis, so a file that is not there still gets its line (with ``sha256`` null).
    """
    line = _line(str(path))
    t0 = time.perf_counter()
    try:
        report = analyze(path)
    except InputError as err:
        line["error"] = str(err)
    except OSError as err:
        line["error"] = f"cannot read the file: {err.strerror or err}"
    except Exception as err:  # a bug must not stop a long scan; it is recorded, not hidden
        line["error"] = f"{type(err).__name__}: {err}"
    else:
        line.update(
            verdict=report.verdict,
            no_verdict=getattr(report, "no_verdict", None),  # evaluate's stand-ins for a Report carry less
            verdict_words=verdict_words(report) if isinstance(report, Report) else None,  # as in its report
            score=float(report.manipulation_score),
            media=report.media.kind,
            scores={k: _finite_or_none(v) for k, v in report.scores.items()},
            warnings=[w.code for w in report.warnings],
        )
    line["seconds"] = round(time.perf_counter() - t0, 3)
    line["sha256"] = _sha256_or_none(str(path))
    return line


def _line(path: str, error: str | None = None) -> dict[str, Any]:
    return {"file": path, "sha256": None, "verdict": None, "no_verdict": None, "verdict_words": None, "score": None,
            "media": None, "scores": {}, "warnings": [], "error": error, "seconds": None}  # fmt: skip


def _finite_or_none(value: Any) -> float | None:
    """JSON has no NaN: an evidence that could not be measured is null, as in the report's own JSON."""
    return float(value) if value is not None and math.isfinite(value) else None


def finished(out: str | Path) -> set[tuple[str, str | None]]:
    """(file, sha256) of the lines already written; a line cut short by a killed run is ignored (rescored)."""
    out = Path(out)
    done: set[tuple[str, str | None]] = set()
    if not out.is_file():
        return done
    for text in out.read_text(encoding="utf-8").splitlines():
        try:
            line = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(line, dict) and "file" in line:
            done.add((line["file"], line.get("sha256")))
    return done


# -- executors: each yields JSON lines in the order they finish ------------------------------------------------------

_WORKER_DETECTOR: Any = None


def _init_worker(checkpoint: str | None, threads: int) -> None:
    global _WORKER_DETECTOR
    import vaedetect

    _WORKER_DETECTOR = vaedetect.load_detector(checkpoint, threads=threads)


def _score_in_worker(path: str) -> dict[str, Any]:
    return score_file(_WORKER_DETECTOR.analyze, path)


def _threads_per_worker(workers: int) -> int:
    """Split the cores between workers so N workers do not each start a full-size torch thread pool."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def score_local(paths: list[str], checkpoint: str | None = None, workers: int = 1) -> Iterator[dict[str, Any]]:
    """In this process (``workers=1``) or in worker processes that each load the detector once."""
    if workers <= 1:
        import vaedetect

        det = vaedetect.load_detector(checkpoint)
        for p in paths:
            yield score_file(det.analyze, p)
        return
    # spawn, not fork: torch's and MediaPipe's threads do not survive a fork of a process that already started them.
    ctx = get_context("spawn")
    init = (checkpoint, _threads_per_worker(workers))
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=init) as pool:
        futures = {pool.submit(_score_in_worker, p): p for p in paths}
        for fut in as_completed(futures):
            try:
                yield fut.result()
            except Exception as err:  # the worker itself died (out of memory, a crash in native code)
                yield _line(futures[fut], f"worker failed: {type(err).__name__}: {err}")


def score_ray(
    paths: list[str], checkpoint: str | None = None, address: str | None = None, workers: int | None = None
) -> Iterator[dict[str, Any]]:
    """On Ray: one detector per worker actor, results streamed back as they finish.

    ``address`` joins an existing cluster ("auto", "ray://host:10001", "host:6379"); ``"local"`` (or None) starts a
    local instance with ``workers`` CPUs. Ray restarts a dead actor and retries its task once.
    """
    import ray
    from ray.util import ActorPool

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report leaves the machine
    started_here = not ray.is_initialized()
    if started_here:
        local = address in (None, "", "local")
        # A local instance's workers import vaedetect from where this process did (it may run from a checkout); on a
        # cluster the package must be installed on every node.
        here = str(Path(__file__).resolve().parents[1])
        env = {"PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
        ray.init(
            address=None if local else address,
            num_cpus=workers if local else None,
            runtime_env={"env_vars": env} if local else None,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    try:
        n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor = ray.remote(num_cpus=1, max_restarts=1, max_task_retries=1)(_RayScorer)
        pool = ActorPool([actor.remote(checkpoint) for _ in range(n)])
        yield from pool.map_unordered(lambda a, p: a.score.remote(p), paths)
    finally:
        if started_here:
            ray.shutdown()


class _RayScorer:
    """A Ray actor: the detector is loaded once when the actor starts, then scores one file per call."""

    def __init__(self, checkpoint: str | None) -> None:
        _init_worker(checkpoint, threads=1)

    def score(self, path: str) -> dict[str, Any]:
        return _score_in_worker(path)


def score_paths(
    paths: Iterable[str], checkpoint: str | None = None, workers: int = 1, ray_address: str | None = None
) -> Iterator[dict[str, Any]]:
    """Dispatch to the local or the Ray executor (``ray_address`` set, "local" for a local instance)."""
    paths = [str(p) for p in paths]
    if not paths:
        return iter(())
    if ray_address:
        return score_ray(paths, checkpoint, ray_address, workers if workers > 1 else None)
    return score_local(paths, checkpoint, workers)


# -- the scan command's run -------------------------------------------------------------------------------------------


@dataclass
class ScanSummary:
    total: int = 0
    skipped: int = 0
    links_skipped: list[str] = field(default_factory=list)  # links out of the folder, not followed
    scored: int = 0
    verdicts: Counter = field(default_factory=Counter)
    errors: list[dict[str, str]] = field(default_factory=list)
    slowest: list[tuple[float, str]] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, line: dict[str, Any]) -> None:
        self.scored += 1
        if line.get("error"):
            self.errors.append({"file": line["file"], "error": line["error"]})
            self.verdicts["error"] += 1
        else:
            self.verdicts[NO_VERDICT if line.get("no_verdict") else line["verdict"]] += 1

        self.slowest = sorted([*self.slowest, (line.get("seconds") or 0.0, line["file"])], reverse=True)[:SLOWEST_SHOWN]

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "skipped_already_done": self.skipped,
            "links_skipped": self.links_skipped,
            "scored_now": self.scored,
            "verdicts": dict(self.verdicts),
            "errors": self.errors,
            "slowest": [{"file": f, "seconds": s} for s, f in self.slowest],
            "seconds": round(self.seconds, 2),
            "files_per_minute": round(60 * self.scored / self.seconds, 2) if self.seconds > 0 else None,
        }


def scan(
    source: str | Path,
    out: str | Path,
    *,
    checkpoint: str | None = None,
    workers: int = 1,
    ray_address: str | None = None,
    progress: bool = True,
    follow_links: bool = False,
) -> ScanSummary:
    """Score every file of ``source`` not yet in ``out`` (same path and sha256), appending one line per file; a folder
    scan leaves out links that lead outside it unless ``follow_links`` (see :func:`list_inputs`)."""
    from tqdm.auto import tqdm

    links: list[Path] = []
    paths = [str(p) for p in list_inputs(source, follow_links=follow_links, skipped=links)]
    _drop_partial_last_line(Path(out))
    done = finished(out)
    done_files = {f for f, _ in done}
    # A listed file whose path is done is skipped only if its content did not change; hashing every file up front would
    # read the whole archive twice, so the hash is checked only for files already in the output.
    todo = [p for p in paths if p not in done_files or (p, _sha256_or_none(p)) not in done]
    summary = ScanSummary(total=len(paths), skipped=len(paths) - len(todo), links_skipped=[str(p) for p in links])
    t0 = time.perf_counter()
    with Path(out).open("a", encoding="utf-8") as fh, tqdm(total=len(todo), desc="scan", disable=not progress) as bar:
        for line in score_paths(todo, checkpoint, workers, ray_address):
            fh.write(json.dumps(line, allow_nan=False) + "\n")
            fh.flush()
            summary.add(line)
            bar.update()
    summary.seconds = time.perf_counter() - t0
    return summary


def _drop_partial_last_line(out: Path) -> None:
    """A run killed mid-write leaves a line without its newline; cut it so the next line does not continue it."""
    if not out.is_file() or out.stat().st_size == 0:
        return
    data = out.read_bytes()
    if not data.endswith(b"\n"):
        with out.open("r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)


def _sha256_or_none(path: str) -> str | None:
    try:
        return file_sha256(path)
    except OSError:
        return None
