"""Longest GUI event-loop stall while the annotator predicts (napari viewer, headless ok).

A QTimer ticks every 5 ms on the main thread; the longest gap between ticks while a prediction
(full predict, then refinement clicks) runs in the thread worker is the stall the user would feel.
Uses the first ssTEM section from ``../shared/data`` (or a synthetic EM slice when absent) and a
random-init network of the chosen profile (same compute as real weights).

    xvfb-run -a python benchmarks/ui_stall.py --profile iog-resnet101-refine --objects 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _image():
    shared = Path(os.environ.get("NAPARI_IOG_SHARED", REPO / ".." / "shared"))
    tif = shared / "data" / "sstem-drosophila-vnc" / "raw" / "00.tif"
    if tif.is_file():
        import tifffile

        return tifffile.imread(tif), str(tif.relative_to(shared))
    from napari_iog._napari.samples import make_em_stack

    return make_em_stack(1, 512)[0], "synthetic"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="iog-resnet101-refine")
    ap.add_argument("--objects", type=int, default=2)
    ap.add_argument("--clicks", type=int, default=2, help="refinement clicks per object")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "ui_stall.json"))
    args = ap.parse_args(argv)

    import napari  # noqa: TID251 - a GUI benchmark
    import torch
    from qtpy.QtWidgets import QApplication  # noqa: TID251

    from napari_iog._napari.stall import StallMeter
    from napari_iog._napari.widget import AnnotatorWidget
    from napari_iog.inference import IOGPredictor
    from napari_iog.models import build_model, get_profile

    torch.manual_seed(0)
    image, source = _image()
    viewer = napari.Viewer(show=False)
    viewer.add_image(image, name="em")
    w = AnnotatorWidget(viewer, autoload=False)
    viewer.window.add_dock_widget(w)
    w.set_predictor(
        IOGPredictor(build_model(args.profile), get_profile(args.profile)[1], device="cpu")
    )
    ctl, app = w.ctl, QApplication.instance()

    def wait():
        while ctl.busy:
            app.processEvents()
            time.sleep(0.001)

    def click(r, c):
        ctl.points.add(np.array([[r, c]], float))
        app.processEvents()

    rows = []
    h, wd = image.shape[:2]
    for k in range(args.objects):
        r0, c0 = 100 + 150 * k, 120 + 120 * k
        with StallMeter(5) as m:
            t = time.perf_counter()
            click(r0, c0)
            click(r0 + 90, c0 + 110)
            click(r0 + 45, c0 + 55)
            wait()
            rows.append(
                {
                    "step": "predict",
                    "seconds": time.perf_counter() - t,
                    "max_stall_ms": m.max_gap_ms,
                }
            )
        for j in range(args.clicks):
            with StallMeter(5) as m:
                t = time.perf_counter()
                click(r0 + 30 + 10 * j, c0 + 40)
                wait()
                rows.append(
                    {
                        "step": "refine",
                        "seconds": time.perf_counter() - t,
                        "max_stall_ms": m.max_gap_ms,
                    }
                )
        ctl.commit()
    out = {
        "profile": args.profile,
        "image": f"{source} {h}x{wd}",
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "load_average": os.getloadavg(),
        "max_stall_ms": max(r["max_stall_ms"] for r in rows),
        "steps": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
    viewer.close()
    return out


if __name__ == "__main__":
    main()
