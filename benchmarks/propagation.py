"""Does slice propagation stop where the object ends? Measured on ssTEM mitochondria chains.

A chain links an object of slice z to the object of slice z±1 that covers >= 50 % of the smaller
of the two (the best one); chains of >= 3 slices are kept. From every such object of the start
slice (its ground-truth mask, as a committed object), the annotator's propagation runs both ways
with the default ``PropagationConfig``. Reported per predictor:

- ``miou_on_chain``: mean IoU over every (object, slice) where the chain exists within reach
  (a slice the propagation did not reach counts as 0);
- ``false_px_share``: share of all propagated pixels that lie on slices where the chain does not
  exist (the object has ended: every such pixel is wrong).

    python benchmarks/propagation.py --start 10                    # test objects (slice 10)
    python benchmarks/propagation.py --start 5 --features f.csv    # train slices: tune the rule
    python benchmarks/propagation.py --start 10 --results benchmarks/results/propagation.json

``--features`` writes one row per propagated slice (IoU with the previous slice, confidence,
area ratio, intensity shift, whether the chain exists there) to study stopping rules on the
training slices. Data: ``../shared/data/sstem-drosophila-vnc``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sstem_fewshot import data_root, slice_range  # noqa: E402


def chains(labs: list[np.ndarray], start: int, min_area: int = 50, min_len: int = 3) -> list:
    """``[{z: bool mask}, ...]`` for the objects of plane ``start`` whose chain spans
    >= ``min_len`` planes (``labs``: instance planes, indexed like the stack)."""
    out = []
    for k in range(1, int(labs[start].max()) + 1):
        m = labs[start] == k
        if m.sum() < min_area:
            continue
        chain = {start: m}
        for step in (1, -1):
            prev, z = m, start + step
            while 0 <= z < len(labs):
                ids, counts = np.unique(labs[z][prev], return_counts=True)
                best, cover = None, 0.0
                for i, n in zip(ids, counts):
                    if i == 0:
                        continue
                    cand = labs[z] == i
                    c = n / min(prev.sum(), cand.sum())
                    if c > cover:
                        best, cover = cand, c
                if best is None or cover < 0.5:
                    break
                chain[z] = prev = best
                z += step
        if len(chain) >= min_len:
            out.append(chain)
    return out


def run(predictor, ims, chain_list, start, cfg, features=None, name="") -> dict:
    """Propagate every chain's start mask; returns the summary (see module doc)."""
    from napari_iog.propagation import mask_result_from_full, propagate

    ious, false_px, all_px, stops = [], 0, 0, []
    for j, chain in enumerate(chain_list):
        start_res = mask_result_from_full(chain[start])
        got = {}
        for st in propagate(predictor, lambda i: ims[i], len(ims), start, start_res, cfg,
                           contrast=features is not None):  # fmt: skip
            if st.accepted:
                got[st.index] = st.result
            else:
                stops.append({"object": j, "slice": st.index, "reason": st.reason})
            if features is not None and st.result is not None:
                features.append({"predictor": name, "object": j, "slice": st.index,
                                 "chain_exists": st.index in chain, "accepted": st.accepted,
                                 **st.stats})  # fmt: skip
        for z, res in got.items():
            pred = res.full_mask()
            all_px += int(pred.sum())
            if z not in chain:
                false_px += int(pred.sum())
        for z, gt in chain.items():
            if z == start:
                continue
            pred = got[z].full_mask() if z in got else np.zeros_like(gt)
            ious.append(float((pred & gt).sum() / max((pred | gt).sum(), 1)))
    return {
        "n_objects": len(chain_list),
        "n_chain_slices": len(ious),
        "miou_on_chain": round(float(np.mean(ious)), 4) if ious else None,
        "false_px_share": round(false_px / max(all_px, 1), 4),
        "propagated_px": all_px,
        "stop_reasons": _count(s["reason"].split(" ")[0] for s in stops),
    }


def _count(items) -> dict:
    out: dict = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="iog-em")
    ap.add_argument("--start", type=int, default=10, help="start slice (10 = test objects)")
    ap.add_argument("--slices", default="0-19", help="the stack the chains may span")
    ap.add_argument("--predictors", default="iog,random walker")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--features", default=None, help="CSV of per-slice stopping features")
    ap.add_argument("--results", default=None, help="merge the summary into this JSON")
    args = ap.parse_args(argv)

    import torch
    from harness import command_line, merge_results

    from napari_iog.data.layouts import load_sstem
    from napari_iog.inference import IOGPredictor, RandomWalkerPredictor
    from napari_iog.propagation import PropagationConfig

    torch.set_num_threads(args.threads)
    root = data_root("sstem-drosophila-vnc")
    if root is None:
        return 2
    zs = slice_range(args.slices)
    ims, labs = load_sstem(root, zs)
    start = zs.index(args.start)
    chain_list = chains(labs, start)
    cfg = PropagationConfig()
    print(f"{len(chain_list)} chains of >= 3 slices from slice {args.start}; {cfg}")
    features: list | None = [] if args.features else None
    summary = {}
    for name in [n.strip() for n in args.predictors.split(",") if n.strip()]:
        pred = (IOGPredictor.from_weights(args.weights, device="cpu") if name == "iog"
                else RandomWalkerPredictor())  # fmt: skip
        t0 = time.perf_counter()
        s = run(pred, ims, chain_list, start, cfg, features, name)
        s["seconds"] = round(time.perf_counter() - t0, 1)
        summary[name] = s
        print(f"{name}: {s}")
    if features:
        with open(args.features, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(features[0]))
            w.writeheader()
            w.writerows(features)
    if args.results:
        entry = {"command": command_line(__file__, argv), "config": asdict(cfg),
                 "weights": args.weights, "slices": args.slices, **summary}  # fmt: skip
        print(f"wrote {merge_results(args.results, (f'start {args.start}',), entry)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
