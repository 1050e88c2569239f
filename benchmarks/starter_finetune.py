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
from fewshot import data_root  # noqa: E402


def start_preprocess(weights):
    """The start weights' preprocessing (the baselines' crop settings)."""
    from napari_iog.models.checkpoint import load_model

    return load_model(weights).preprocess


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
    from harness import (
        baseline_predictors,
        command_line,
        evaluate_all,
        merge_results,
    )
    from training_runs import train_or_load  # benchmarks/ is first on the path

    from napari_iog.data.layouts import load_sstem
    from napari_iog.evaluation.protocol import EvalConfig
    from napari_iog.inference import IOGPredictor
    from napari_iog.training import FinetuneConfig, FinetuneSpec, Planes

    torch.set_num_threads(args.threads)
    root = data_root("sstem-drosophila-vnc")
    if root is None:
        return 2
    ims, labs = load_sstem(root, range(5), kind="synapses")

    counts = {}

    def split(ds, val_fraction, seed):  # a seeded draw of --objects synapses, then the split
        pick = np.random.default_rng(seed).permutation(len(ds))[: args.objects]
        train, val = ds.subset(sorted(pick)).split(val_fraction, seed=seed)
        counts.update(train=len(train), val=len(val))
        print(f"fine-tuning on {len(train)} synapses, validating on {len(val)}", flush=True)
        return train, val

    extra = {} if args.lr is None else {"lr": args.lr}
    cfg = FinetuneConfig(
        epochs=10_000, samples_per_epoch=64, max_minutes=args.minutes, budget_clock="cpu",
        num_threads=args.threads, seed=args.seed, device="cpu", val_fraction=0.25,
        calibrate_threshold=False, **extra,
    )  # fmt: skip
    out = Path(tempfile.mkdtemp()) / "synapses.pt"
    data = Planes(tuple(ims), tuple(labs), {"data": "ssTEM synapses, slices 00-04"})
    t0, c0 = time.perf_counter(), time.process_time()
    _, summary = train_or_load(FinetuneSpec(data, out, cfg, args.weights, split=split),
                               log=lambda m: None)  # fmt: skip
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"{summary.stopped}: {summary.steps_done} steps, {wall:.0f} s wall, {cpu:.0f} s CPU; "
          f"kept {summary.kept}", flush=True)  # fmt: skip
    test_ims, test_labs = load_sstem(root, range(5, 10), kind="synapses")
    preds = {
        "starter": IOGPredictor.from_weights(args.weights, device="cpu"),
        "fine-tuned": IOGPredictor.from_weights(out, device="cpu"),
        **baseline_predictors(start_preprocess(args.weights), ("random walker",)),
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
            "train_objects": counts["train"], "val_objects": counts["val"], "steps": summary.steps_done,
            "wall_s": round(wall), "cpu_s": round(cpu), "threads": args.threads,
            "kept": summary.kept, "test": "ssTEM synapses slices 05-09", "results": rows,
        }  # fmt: skip
        key = f"{args.minutes:g} min, lr {cfg.lr:g}"
        print(f"wrote {merge_results(args.results, ('finetune_synapses', key), entry)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
