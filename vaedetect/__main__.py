"""Command line: ``python -m vaedetect {inspect,analyze,eval,scan,train,push,pull} ...``.

Thin by design: every command calls the library and formats its result. Unusable input exits with status 2 and one
line on stderr, so scripts can tell "bad file" from "bug". File names (given or found) are printed through
:func:`vaedetect.display.safe_name`: a name cannot drive the terminal, and one that is not UTF-8 still prints.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from vaedetect import settings
from vaedetect.display import safe_name
from vaedetect.errors import BundleError, InputError

EXIT_INPUT = 2


@contextlib.contextmanager
def _native_stderr_quieted() -> Iterator[None]:
    """Drop what native libraries (MediaPipe's TFLite graphs) write straight to file descriptor 2, while Python's own
    stderr (progress bars, our one-line errors, tracebacks) still reaches the terminal.

    MediaPipe prints several C++ warnings per clip that no setting turns off and that mean nothing to a user. Only for
    the command line, which runs one analysis in the main thread: a server must not juggle process-wide descriptors.
    ``VAEDETECT_NATIVE_LOGS=1`` keeps them for debugging.
    """
    try:
        quiet = not settings.native_logs() and sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # a replaced stderr (pytest, IDEs) has no descriptor 2 to redirect
        quiet = False
    if not quiet:
        yield
        return
    sys.stderr.flush()
    terminal = os.dup(2)
    python_stderr = sys.stderr
    sys.stderr = os.fdopen(os.dup(terminal), "w", buffering=1, encoding=python_stderr.encoding, errors="replace")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(terminal, 2)
        sys.stderr.close()
        sys.stderr = python_stderr
        os.close(terminal)
        os.close(devnull)


def _write_json(data: dict, out: str | None) -> None:
    if out:
        Path(out).write_text(json.dumps(data, indent=2, allow_nan=False))


def cmd_inspect(args: argparse.Namespace) -> int:
    from vaedetect.ingest import ingest

    summary = ingest(args.path, progress=not args.quiet).summary()
    _write_json(summary, args.json)
    width = max(len(k) for k in summary)
    for k, v in summary.items():
        print(f"{k:<{width}}  {safe_name(str(v))}")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    import vaedetect
    from vaedetect import explain, share

    det = vaedetect.load_detector(args.checkpoint)
    facts = share.file_facts(args.path) if args.html else None
    report = det.analyze(args.path)
    if args.json:
        Path(args.json).write_text(report.to_json(images=args.images))
    if facts is not None:
        share.write_html(report, facts, args.html)
    print(f"{explain.verdict_label(report)}  {safe_name(args.path)}")
    print(f"  {explain.verdict_meaning(report)}")
    if measured := explain.tier_rates_line(report):
        print(f"  {measured}")
    print(f"  {explain.score_sentence(report)}")
    moved, weak = explain.why_items(report)
    for r in moved:
        print(f"  - {r}")
    if weak:
        print(f"  {explain.WEAK_HEADING}:")
        for r in weak:
            print(f"  ~ {r}")
    for w in report.warnings:
        print(f"  ! {w.message}")
    sigmas = ", ".join(f"{k} {explain.sigma(v)}" for k, v in explain.check_sigmas(report).items())
    print(f"  each check vs real files: {sigmas or 'none'}")

    if pushes := report.pushes():
        print(f"  counted in the verdict (log-odds, + towards fake): {', '.join(f'{k} {v:+.2f}' for k, v in pushes)}")
    print(f"  model: {explain.model_line(report)}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import vaedetect
    from vaedetect.evaluate import SUMMARY_KEYS, evaluate_csv

    det = vaedetect.load_detector(args.checkpoint)
    parallel = args.workers > 1 or args.ray
    res = evaluate_csv(
        args.labels,
        None if parallel else det.analyze,
        root=args.root,
        split=args.split,
        checkpoint=args.checkpoint,
        workers=args.workers,
        ray_address=args.ray,
    )
    res["model"] = {"name": det.bundle_name, "revision": det.bundle_revision}
    _write_json(res, args.out)
    for k in SUMMARY_KEYS[:-1]:  # seconds_per_clip is printed with the errors below
        v = res.get(k)
        print(f"{k:<22} {v:.4f}" if isinstance(v, float) else f"{k:<22} {v}")
        if k == "auc" and res.get("auc_ci95"):
            lo, hi = res["auc_ci95"]
            print(f"  95% interval         {lo:.3f}-{hi:.3f} (bootstrap over {res['auc_ci95_resampled']})")
    for kind, st in res["per_kind"].items():
        print(f"  {kind:<26} n={st['n']:<3} mean={st['mean_score']:.3f} flagged={st['flagged_rate']:.2f}")
    for media, st in res["per_media"].items():
        auc = "n/a" if st["auc"] is None else f"{st['auc']:.3f}"
        print(f"  {media + 's':<26} n={st['n']:<3} auc={auc} (fake {st['n_fake']})")
    for name, st in res["per_evidence"].items():
        auc = "n/a" if st["auc"] is None else f"{st['auc']:.3f}"
        print(f"  evidence {name:<10} n={st['n']:<3} auc={auc}")
    print(f"errors {len(res['errors'])}, {res['seconds_per_clip'] or 0:.2f} s/clip")
    if args.record_in:
        from vaedetect.evaluate import record_in_bundle

        record_in_bundle(args.record_in, res, name=args.record_as or Path(args.labels).stem)
        print(f"recorded in {args.record_in}/calibration.json and its model card")
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    from vaedetect import explain
    from vaedetect.scan import NO_VERDICT, scan

    summary = scan(
        args.source,
        args.out,
        checkpoint=args.checkpoint,
        workers=args.workers,
        ray_address=args.ray,
        follow_links=args.follow_links,
    )
    st = summary.as_dict()
    out = safe_name(args.out)
    print(f"{st['scored_now']} scored, {st['skipped_already_done']} already in {out}, {st['total']} listed")
    words = {**explain.TIER_LABELS, NO_VERDICT: "no verdict"}
    print("verdicts: " + (", ".join(f"{words.get(k, k)} {v}" for k, v in sorted(st["verdicts"].items())) or "none"))
    if st["files_per_minute"]:
        print(f"{st['seconds']:.1f} s, {st['files_per_minute']:.1f} files/min")
    for item in st["slowest"]:
        print(f"  slow  {item['seconds']:7.2f} s  {safe_name(item['file'])}")
    for item in st["errors"]:
        print(f"  error {safe_name(item['file'])}: {safe_name(item['error'])}")
    if links := st["links_skipped"]:
        source = safe_name(args.source)
        print(f"{len(links)} links lead outside {source} and were not followed (--follow-links reads them):")
        for link in links:
            print(f"  link  {safe_name(link)}")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from vaedetect import hub

    def smoke(folder: Path) -> None:
        """The bundle must load and score a clip before it is published."""
        import tempfile

        import numpy as np

        import vaedetect

        det = vaedetect.load_detector(str(folder))
        with tempfile.TemporaryDirectory() as tmp:
            from PIL import Image

            img = Path(tmp) / "blank.png"
            Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(img)
            det.analyze(img)

    sha = hub.push_bundle(args.folder, args.repo_id, private=args.private, validate=smoke)
    print(f"pushed {args.folder} to {args.repo_id}@{sha}")
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from vaedetect import hub

    res = hub.pull_bundle(args.spec, args.out)
    print(f"{res.name}@{res.revision} -> {args.out or res.path}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import logging

    from vaedetect.training.pipeline import train
    from vaedetect.training.recipes import TrainConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    cfg = TrainConfig.from_preset(args.preset)
    keys = ("face_steps", "face_refine_steps", "audio_steps", "sync_steps", "blend_steps", "max_files", "seed", "lr",
            "fusion")  # fmt: skip
    overrides = {k: getattr(args, k) for k in keys}
    cfg = replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    only = tuple(s.strip() for s in args.only.split(",") if s.strip()) if args.only else None
    device = args.device or ("cuda" if _cuda() else "cpu")
    cache = Path(args.cache) if args.cache else None
    bundle = train(
        args.data, args.out, device=device, cfg=cfg, init=args.init, only=only, fresh=args.fresh, cache=cache,
        workers=args.workers,
    )  # fmt: skip
    print(bundle)
    return 0


def cmd_recalibrate(args: argparse.Namespace) -> int:
    import logging

    from vaedetect.training.pipeline import recalibrate

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    print(recalibrate(args.bundle, args.data, args.out, fusion=args.fusion))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "inspect": cmd_inspect,
    "analyze": cmd_analyze,
    "eval": cmd_eval,
    "scan": cmd_scan,
    "push": cmd_push,
    "pull": cmd_pull,
    "train": cmd_train,
    "recalibrate": cmd_recalibrate,
}


def build_parser() -> argparse.ArgumentParser:
    from vaedetect.training import recipe_names

    p = argparse.ArgumentParser(prog="python -m vaedetect", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    sp = sub.add_parser("inspect", help="show what the ingest pipeline sees in a clip or photo")
    sp.add_argument("path")
    sp.add_argument("--json", metavar="OUT", help="also write the facts as JSON")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    sp = sub.add_parser("analyze", help="verdict, reasons and evidence for a clip or photo")
    sp.add_argument("path")
    sp.add_argument("--checkpoint", help="registry name, bundle folder, or org/repo[@revision] (default: bundled)")
    sp.add_argument("--json", metavar="OUT", help="write the full report as JSON")
    sp.add_argument("--images", action="store_true", help="with --json: the pictures inline as base64 PNG")
    sp.add_argument("--html", metavar="OUT", help="write the shareable report: one self-contained HTML file")

    sp = sub.add_parser("eval", help="metrics over a labeled CSV (columns path,label[,kind])")
    sp.add_argument("labels")
    sp.add_argument("--root", help="folder relative paths resolve against (default: the CSV's folder)")
    sp.add_argument("--out", help="write the metrics JSON here")
    sp.add_argument("--checkpoint", help="registry name, bundle folder, or org/repo[@revision] (default: bundled)")
    sp.add_argument("--split", help="only rows whose 'split' column equals this (e.g. dev rows of manifest.csv)")
    sp.add_argument("--record-in", metavar="BUNDLE_DIR", help="store the summary in this bundle folder's model card")
    sp.add_argument("--record-as", help="name of the evaluation in the card (default: the CSV's file name)")
    _add_parallel_options(sp)

    sp = sub.add_parser("scan", help="score every clip and photo under a folder or listed in a CSV (resumable)")
    sp.add_argument("source", help="a folder (searched recursively) or a CSV with a 'path' column")
    sp.add_argument("--out", required=True, help="JSON lines, one per file; files already in it are skipped")
    sp.add_argument("--checkpoint", help="registry name, bundle folder, or org/repo[@revision] (default: bundled)")
    sp.add_argument("--follow-links", action="store_true", help="also read links that lead outside the folder")
    _add_parallel_options(sp)

    sp = sub.add_parser("push", help="validate a bundle (files, loads, runs) and upload it to the Hub")
    sp.add_argument("folder")
    sp.add_argument("repo_id")
    sp.add_argument("--private", action="store_true")

    sp = sub.add_parser("pull", help="download a bundle org/repo[@revision] (safetensors/JSON/npz only)")
    sp.add_argument("spec")
    sp.add_argument("--out", help="copy the bundle files into this folder")

    sp = sub.add_parser("recalibrate", help="keep a bundle's weights, redo its calibration with this code")
    sp.add_argument("bundle", help="bundle folder")
    sp.add_argument("--data", required=True, help="data folder with manifest.csv (its dev split is never used)")
    sp.add_argument("--out", required=True, help="run folder; the bundle is written to OUT/bundle")
    sp.add_argument("--fusion", choices=["poe", "equal"], help="default: the bundle's own")

    sp = sub.add_parser("train", help="train a bundle on real footage only (see vaedetect/training/)")
    sp.add_argument("--data", required=True, help="data folder with manifest.csv (its dev split is never used)")
    sp.add_argument("--out", required=True, help="run folder; the bundle is written to OUT/bundle")
    sp.add_argument("--device", help="cpu, cuda, cuda:N (default: cuda when available)")
    sp.add_argument("--preset", default="default", choices=recipe_names(), help="vaedetect/training/recipes.json")
    sp.add_argument("--face-steps", type=int)
    sp.add_argument("--face-refine-steps", type=int, help="face VAE steps on augmented faces after --face-steps")
    sp.add_argument("--audio-steps", type=int)
    sp.add_argument("--sync-steps", type=int)
    sp.add_argument("--blend-steps", type=int)
    sp.add_argument("--max-files", type=int)
    sp.add_argument("--seed", type=int)
    sp.add_argument(
        "--fusion",
        choices=["poe", "equal"],
        help="how evidence is weighed: poe fits each expert on pseudo-fakes; equal counts every z-score alike",
    )
    sp.add_argument("--lr", type=float, help="peak learning rate (cosine schedule; the face refinement has its own)")
    sp.add_argument(
        "--init", metavar="BUNDLE_DIR", help="continue from this bundle's weights, on the split it recorded"
    )
    sp.add_argument("--only", metavar="STAGES", help="with --init: comma-separated stages to train "
                    "(face_vae, blend, audio_vae, sync); the others keep the bundle's weights. 'evidence' alone: "
                    "the evidence stage only (pretrained heads, fusion, lines) on a copy of --init")  # fmt: skip
    sp.add_argument("--cache", help="where the evidence stage keeps every labelled file's measurements (default: "
                    "OUT/cache/evidence; re-runs resume)")  # fmt: skip
    sp.add_argument("--workers", type=int, default=2, help="processes that measure the labelled files")
    sp.add_argument("--fresh", action="store_true", help="with --only: those stages start from new weights "
                    "(retrain them by this recipe on the bundle's split) instead of continuing")  # fmt: skip
    return p


def _add_parallel_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--workers", type=int, default=1, help="worker processes, each loading the detector once")
    sp.add_argument("--ray", metavar="ADDRESS", help="score on Ray: a cluster address, or 'local' to start one here "
                    "(needs the cluster extra: pip install -r requirements-cluster.txt)")  # fmt: skip


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a character the terminal cannot encode prints as an escape, never a crash
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    args = build_parser().parse_args(argv)
    try:
        with _native_stderr_quieted():
            return COMMANDS[args.command](args)
    except (InputError, BundleError) as err:  # a bad --checkpoint is a user error too: one line, exit 2
        print(f"error: {safe_name(str(err))}", file=sys.stderr)
        return EXIT_INPUT


if __name__ == "__main__":
    sys.exit(main())
