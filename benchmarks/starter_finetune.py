"""Few-shot fine-tuning from a starter on a class it was never trained on: ssTEM synapses.

20 synapses of slices 00-04 (seeded draw; 5 of them validate), ``--minutes`` of CPU time on
``--threads`` thread(s), then the starter, the fine-tuned model and the random walker on every
synapse of slices 05-09 (box + inside click = 3 clicks, then corrective clicks).

    nice python benchmarks/starter_finetune.py --minutes 2 --threads 1
    python benchmarks/starter_finetune.py --minutes 2 --results benchmarks/results/starter.json

``--results`` merges the numbers under ``"finetune_synapses"`` (never written by default).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sstem_fewshot import data_root  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="iog-em", help="start weights (default iog-em)")
    ap.add_argument("--minutes", type=float, default=2.0, help="training budget, CPU minutes")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--objects", type=int, default=20, help="training objects (incl. validation)")
    ap.add_argument("--lr", type=float, default=None, help="default: FinetuneConfig's")
    ap.add_argument("--max-clicks", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--results", default=None)
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    from napari_iog.data.datasets import ObjectDataset
    from napari_iog.data.layouts import load_sstem
    from napari_iog.evaluation.experiment import (
        baseline_predictors,
        command_line,
        evaluate_all,
        merge_results,
    )
    from napari_iog.evaluation.protocol import EvalConfig
    from napari_iog.inference import IOGPredictor
    from napari_iog.models.checkpoint import load_model
    from napari_iog.training import FinetuneConfig, run_finetune
    from napari_iog.training.presets import unfitted

    torch.set_num_threads(args.threads)
    root = data_root("sstem-drosophila-vnc")
    if root is None:
        return 2
    start = load_model(args.weights)
    pre = unfitted(start.preprocess)
    ims, labs = load_sstem(root, range(5), kind="synapses")
    ds = ObjectDataset(ims, labs, pre, min_area=50, label_mode="instances")
    pick = np.random.default_rng(args.seed).permutation(len(ds))[: args.objects]
    train, val = ds.subset(sorted(pick)).split(0.25, seed=args.seed)
    print(f"fine-tuning on {len(train)} synapses, validating on {len(val)}", flush=True)
    extra = {} if args.lr is None else {"lr": args.lr}
    cfg = FinetuneConfig(
        epochs=10_000, samples_per_epoch=64, max_minutes=args.minutes, budget_clock="cpu",
        num_threads=args.threads, seed=args.seed, device="cpu", rotate=180.0, vflip=True,
        intensity=0.1, **extra,
    )  # fmt: skip
    out = Path(tempfile.mkdtemp()) / "synapses.pt"
    t0, c0 = time.perf_counter(), time.process_time()
    summary = run_finetune(start.model, pre, train, val, cfg, out=out)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"{summary.stopped}: {summary.steps_done} steps, {wall:.0f} s wall, {cpu:.0f} s CPU; "
          f"kept {summary.kept}", flush=True)  # fmt: skip

    test_ims, test_labs = load_sstem(root, range(5, 10), kind="synapses")
    preds = {
        "starter": IOGPredictor.from_weights(args.weights, device="cpu"),
        "fine-tuned": IOGPredictor.from_weights(out, device="cpu"),
        **baseline_predictors(start.preprocess, ("random walker",)),
    }
    ecfg = EvalConfig(max_clicks=args.max_clicks, min_area=50, stop_iou=0.97)
    rows = {}
    for r in evaluate_all(preds, test_ims, test_labs, ecfg):
        s = r.summary()
        rows[r.name] = {k: round(s[k], 4) if isinstance(s[k], float) else s[k]
                        for k in ("n_objects", "miou_at_3", "miou_after_3_corrections")}  # fmt: skip
    if args.results:
        entry = {
            "command": command_line(__file__, argv),
            "train_objects": len(train), "val_objects": len(val), "steps": summary.steps_done,
            "wall_s": round(wall), "cpu_s": round(cpu), "threads": args.threads,
            "kept": summary.kept, "test": "ssTEM synapses slices 05-09", "results": rows,
        }  # fmt: skip
        key = f"{args.minutes:g} min, lr {cfg.lr:g}"
        print(f"wrote {merge_results(args.results, ('finetune_synapses', key), entry)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
