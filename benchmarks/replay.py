"""Replay with new weights, measured on ssTEM mitochondria (training slices 00-09 only).

1. Annotate ``--objects`` mitochondria of slices 00-09 (seeded draw, >= 50 px) with the random
   walker from their true box + one inside click (the deepest pixel), as a user of the annotator
   without weights would; commit them into a label stack with provenance records.
2. Fine-tune the shipped ``iog-em`` starter on those random-walker annotations through the CLI
   (``napari-iog finetune``, ``--minutes`` CPU minutes, 1 thread, niced).
3. Replay every committed object from its stored prompt (``napari_iog.replay``) with the
   fine-tuned model and with the plain starter; mIoU against the ground truth before and after.

    nice python benchmarks/replay.py --minutes 2
    nice python benchmarks/replay.py --minutes 2 --results benchmarks/results/replay.json

Slices 10-19 (the ssTEM test split) are never read.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_iog.evaluation.metrics import iou

REPO = Path(__file__).resolve().parents[1]
TRAIN_SLICES = range(10)  # 00-09: the training half; 10-19 are test-only


def _root() -> Path | None:
    from fewshot import shared_dir  # benchmarks/ is first on the path

    root = shared_dir() / "data" / "sstem-drosophila-vnc"
    return root if (root / "raw").is_dir() else None


def _draw(labs, n: int, seed: int) -> list[tuple[int, int]]:
    """``n`` (slice, id) pairs of objects >= 50 px, seeded."""
    pool = [
        (z, int(v))
        for z, lab in enumerate(labs)
        for v, a in zip(*np.unique(lab[lab > 0], return_counts=True))
        if a >= 50
    ]
    rng = np.random.default_rng(seed)
    return [pool[i] for i in sorted(rng.choice(len(pool), size=min(n, len(pool)), replace=False))]


def annotate(imgs, labs, picks):
    """Random-walker annotation: a label stack, provenance records and the true masks."""
    from napari_iog.data.prompts import prompt_from_mask
    from napari_iog.inference.classical import RandomWalkerPredictor
    from napari_iog.inference.postprocess import paste_labels

    stack = np.zeros((len(imgs), *imgs[0].shape), dtype=np.uint16)
    rw, records, truth, current = RandomWalkerPredictor(), [], {}, None
    for value, (z, obj) in enumerate(picks, start=1):
        if z != current:
            rw.set_image(imgs[z])
            current = z
        gt = labs[z] == obj
        prompt = prompt_from_mask(gt)  # true box + the deepest inside pixel
        res = rw.predict(prompt)
        edit = paste_labels(stack, res, value, "keep", plane=(z,))
        stack[tuple(edit.index)] = edit.new_values
        records.append({"value": value, "kind": "commit", "slice": [z], "semantic": False,
                        "prompt": prompt.to_dict(), "predictor": rw.name})  # fmt: skip
        truth[value] = (z, gt)
    return stack, records, truth


def miou(stack_or_results, truth) -> float:
    ious = []
    for value, (z, gt) in truth.items():
        if isinstance(stack_or_results, dict):
            res = stack_or_results.get(value)
            pred = np.zeros_like(gt) if res is None else res.full_mask()
        else:
            pred = stack_or_results[z] == value
        ious.append(iou(pred, gt))  # gt: objects of >= 50 px, never empty
    return float(np.mean(ious))


def finetune(imgs, stack, minutes: float, out: Path, work: Path) -> float:
    import tifffile

    img_paths, lab_paths = [], []
    for z in range(len(imgs)):
        if stack[z].any():
            img_paths.append(work / f"img{z:02d}.tif")
            lab_paths.append(work / f"lab{z:02d}.tif")
            tifffile.imwrite(img_paths[-1], imgs[z])
            tifffile.imwrite(lab_paths[-1], stack[z])
    cmd = [sys.executable, "-m", "napari_iog.cli", "finetune", "--images", *map(str, img_paths),
           "--labels", *map(str, lab_paths), "--label-mode", "instances", "--weights", "iog-em",
           "--minutes", str(minutes),
           "--clock", "cpu", "--threads", "1", "--out", str(out), "--no-progress"]  # fmt: skip
    t = time.perf_counter()
    subprocess.run(
        ["nice", "-n", "15", *cmd], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    return time.perf_counter() - t


def replay_all(weights, imgs, stack, records) -> tuple[dict, dict]:
    from napari_iog.inference import IOGPredictor
    from napari_iog.replay import plan_replay, replay

    pred = IOGPredictor.from_weights(str(weights), device="cpu")
    items = plan_replay(stack, records)
    out = {r.item.value: r.result for r in replay(pred, lambda lead: imgs[lead[0]], stack, items)}
    sources = {s: sum(it.source == s for it in items) for s in ("provenance", "mask")}
    return out, sources


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=50)
    ap.add_argument("--minutes", type=float, default=2.0, help="fine-tuning CPU minutes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--results", default=None, help="write the JSON here (never by default)")
    args = ap.parse_args(argv)

    import torch

    from napari_iog.data.layouts import load_sstem

    torch.set_num_threads(1)
    root = _root()
    if root is None:
        print("ssTEM data not found under ../shared/data/sstem-drosophila-vnc: nothing to do.")
        return 2
    imgs, labs = load_sstem(root, TRAIN_SLICES)
    picks = _draw(labs, args.objects, args.seed)
    t0 = time.perf_counter()
    stack, records, truth = annotate(imgs, labs, picks)
    t_rw = time.perf_counter() - t0
    rows = {"random walker (annotation)": miou(stack, truth)}
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "finetuned.pt"
        t_ft = finetune(imgs, stack, args.minutes, ckpt, Path(tmp))
        t0 = time.perf_counter()
        tuned, sources = replay_all(ckpt, imgs, stack, records)
        t_replay = time.perf_counter() - t0
        rows["replay, fine-tuned on the RW objects"] = miou(tuned, truth)
    plain, _ = replay_all("iog-em", imgs, stack, records)
    rows["replay, plain iog-em starter"] = miou(plain, truth)
    print(f"{len(truth)} mitochondria of ssTEM slices 00-09 (seed {args.seed}); prompts: {sources}")
    print(f"{'what':42s} mIoU vs ground truth")
    for k, v in rows.items():
        print(f"{k:42s} {v:.3f}")
    out = {
        "objects": len(truth),
        "slices": "ssTEM 00-09 (training half)",
        "prompt": "true box + 1 inside click (deepest pixel), random walker",
        "finetune": {
            "start": "iog-em",
            "cpu_minutes": args.minutes,
            "threads": 1,
            "wall_s": round(t_ft, 1),
            "via": "napari-iog finetune (CLI)",
        },  # fmt: skip
        "seconds": {"annotate_rw": round(t_rw, 1), "replay_finetuned": round(t_replay, 1)},
        "replay_prompt_sources": sources,
        "miou": {k: round(v, 4) for k, v in rows.items()},
        "command": "python benchmarks/replay.py " + " ".join(argv or sys.argv[1:]),
    }
    if args.results:
        from napari_iog.fileio import atomic_write_text

        atomic_write_text(Path(args.results), json.dumps(out, indent=1))
        print(f"written {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
