"""End-to-end latency of ``IOGPredictor`` on a real ssTEM section (what a user waits for).

``predict`` = crop + guidance + encoder + decoder + paste-back + post-processing for one box;
``refine`` = one correction click on the same object (decoder only, cached encoder features).
Random-init weights of the profiles (speed does not depend on them), or ``--weights`` (the
shipped starters: ``--weights iog-em,iog-aerial``). Prints a markdown table; ``--json PATH``
writes it (never by default).

    python benchmarks/predictor_latency.py [--device cpu] [--repeats 5]
    python benchmarks/predictor_latency.py --weights iog-em,iog-aerial --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
SHARED = Path(os.environ.get("NAPARI_IOG_SHARED", ROOT / ".." / "shared"))
PROFILES = ["iog-resnet101-refine", "iog-resnet50-refine", "iog-resnet18-refine"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", default=None, help="write the table here as JSON")
    p.add_argument("--weights", default=None, help="comma-separated weights names/paths to time")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default torch's)")
    args = p.parse_args(argv)

    import tifffile
    import torch

    from napari_iog.fileio import atomic_write_text
    from napari_iog.inference import IOGPredictor
    from napari_iog.models import build_model, get_profile
    from napari_iog.structures import BBox, Click, Prompt

    image = tifffile.imread(SHARED / "data" / "sstem-drosophila-vnc" / "raw" / "12.tif")
    prompt = Prompt(BBox(500, 180, 560, 262))  # a mitochondrion of section 12
    click = [Click(530, 200, False)]
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    names = args.weights.split(",") if args.weights else PROFILES
    for name in names:
        if args.weights:
            from napari_iog.models.checkpoint import load_model

            loaded = load_model(name)
            model, pre = loaded.model, loaded.preprocess
        else:
            model, pre = build_model(name), get_profile(name)[1]
        for optimize in (False, True):
            pred = IOGPredictor(model, pre, device=args.device, optimize=optimize)
            pred.set_image(image)
            pred.predict(prompt), pred.refine(click)  # warm-up
            first, again = [], []
            for _ in range(args.repeats):
                t = time.perf_counter()
                pred.predict(prompt)
                first.append(time.perf_counter() - t)
                t = time.perf_counter()
                pred.refine(click)
                again.append(time.perf_counter() - t)
            f, r = statistics.median(first), statistics.median(again)
            rows.append({"profile": name, "optimize": optimize, "device": args.device,
                         "predict_s": round(f, 4), "refine_s": round(r, 4), "ratio": round(r / f, 3)})  # fmt: skip
    print("| profile | optimize | predict s | refine s | refine / predict |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['profile']} | {r['optimize']} | {r['predict_s']:.3f} | {r['refine_s']:.3f} | {r['ratio']:.2f} |"
        )
    info = {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "image": "sstem-drosophila-vnc raw/12.tif (1024x1024 uint8)",
            "repeats": args.repeats, "load_avg": os.getloadavg()}  # fmt: skip
    print(f"\n{info}")
    if args.json:
        atomic_write_text(args.json, json.dumps({"info": info, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
