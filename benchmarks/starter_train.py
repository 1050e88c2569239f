"""Train a starter model (``iog-em`` or ``iog-aerial``) from scratch on every training split of
its domain in ``../shared/data`` (class-agnostic: every annotated object is a training object).

    nice python benchmarks/starter_train.py em --minutes 75 --out checkpoints/starter-em.pt
    nice python benchmarks/starter_train.py aerial --minutes 75 --out checkpoints/starter-aerial.pt

Then ``benchmarks/starter_eval.py`` measures it on the test splits and
``benchmarks/starter_pack.py`` writes the float16 copy with its model card into the package.

Training data and shares: ``napari_iog.training.starter_recipe`` (test splits never used; paths
relative to the data root, ``$NAPARI_IOG_SHARED/data``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fewshot import REPO, add_training_args, data_root, training_config  # noqa: E402

from napari_iog.training.starter_recipe import SOURCES, build_datasets  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("domain", choices=sorted(SOURCES))
    add_training_args(ap, minutes=75.0, samples_per_epoch=480)
    args = ap.parse_args(argv)

    import harness as ex
    import torch

    from napari_iog.training import run_finetune
    from napari_iog.training.job import build_start

    torch.set_num_threads(args.threads)
    root = data_root("sstem-drosophila-vnc")
    if root is None:
        return 2
    out = Path(args.out or REPO / "checkpoints" / f"starter-{args.domain}.pt")
    start = build_start(None, args.profile, args.set, args.seed)
    model, pre = start.model, start.preprocess
    print(f"{args.domain}: loading the training sources", flush=True)
    train, val, sources = build_datasets(args.domain, root.parent, pre, args.seed)
    print(f"{len(train)} training entries (objects x repeats), {len(val)} validation objects")
    meta = {
        "starter": f"iog-{args.domain}",
        "domain": args.domain,
        "profile": args.profile,
        "overrides": args.set,
        "sources": sources,
        "command": ex.command_line(__file__, argv),
    }
    cfg = training_config(args).replace(val_max_objects=len(val))
    summary = run_finetune(
        model, pre, train, val, cfg, out=out, meta=meta,
        callback=ex.train_logger(log=lambda m: print(m, flush=True)),
    )  # fmt: skip
    print(f"{summary.stopped}: {summary.steps_done} steps, {summary.epochs_done} epochs in "
          f"{summary.seconds:.0f} s wall / {summary.cpu_seconds:.0f} s CPU; best validation "
          f"score {summary.best_val:.4f} ({summary.kept}) -> {summary.checkpoint}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
