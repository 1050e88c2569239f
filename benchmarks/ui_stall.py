"""Longest GUI event-loop stall while the annotator works (napari viewer, headless ok).

A QTimer ticks every 5 ms on the main thread; the longest gap between ticks is the stall the user
would feel. Default: prediction (full predict, then refinement clicks) in the thread worker, on
the first ssTEM section from ``../shared/data`` (or a synthetic EM slice when absent) with a
random-init network of the chosen profile (same compute as real weights).

``--large N``: an N x N uint8 image (default 8000) as numpy, dask and multiscale layers, each with
``--objects`` objects (random walker, run in its own process): the preview stall, how long each
commit and each Ctrl+Z block the GUI (the call plus the redraw it triggers), and the process RSS
after every commit (growth per commit; labels start as uint8, so 64 MB at 8000 x 8000).

    xvfb-run -a python benchmarks/ui_stall.py --profile iog-resnet101-refine --objects 2
    xvfb-run -a python benchmarks/ui_stall.py --large 8000 --objects 4 --results PATH
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
    ap.add_argument("--large", type=int, default=0, help="N: the N x N image cases (e.g. 8000)")
    ap.add_argument("--results", default=None, help="write the JSON here (never by default)")
    args = ap.parse_args(argv)
    if args.large:
        return large(args)

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
    _write(args.results, out)
    print(json.dumps(out, indent=1))
    viewer.close()
    return out


def _write(path, out: dict) -> None:
    if path:
        from napari_iog.fileio import atomic_write_text

        atomic_write_text(Path(path), json.dumps(out, indent=1))


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _large_layers(n: int):
    import dask.array as da

    from napari_iog._napari.samples import make_em_stack

    tile = make_em_stack(1, 1000, seed=2)[0]
    img = np.tile(tile, (n // 1000 + 1, n // 1000 + 1))[:n, :n].copy()
    pyramid = [img, img[::4, ::4].copy(), img[::16, ::16].copy()]
    return img, {"numpy": (img, {}), "dask": (da.from_array(img, chunks=1024), {}),
                 "multiscale": (pyramid, {"multiscale": True})}  # fmt: skip


def _watch_gc() -> list:
    """Python's garbage-collector pauses (ms), appended as they happen: a full collection of
    napari's object graph is one of the GUI stalls this benchmark sees."""
    import gc

    pauses, start = [], [0.0]

    def cb(phase, info):
        if phase == "start":
            start[0] = time.perf_counter()
        else:
            pauses.append((time.perf_counter() - start[0]) * 1e3)

    gc.callbacks.append(cb)
    return pauses


def large(args) -> dict:
    import napari  # noqa: TID251 - a GUI benchmark
    from qtpy.QtWidgets import QApplication  # noqa: TID251

    from napari_iog._napari.stall import StallMeter
    from napari_iog._napari.widget import AnnotatorWidget
    from napari_iog.inference.classical import RandomWalkerPredictor
    from napari_iog.structures import BBox, Click, Prompt

    app = QApplication.instance() or QApplication([])
    img, cases = _large_layers(args.large)
    gc_pauses = _watch_gc()
    out = {"image": f"synthetic EM {args.large}x{args.large} uint8", "cases": {}}
    for kind, (data, kw) in cases.items():
        viewer = napari.Viewer(show=True)  # a drawn window: redraws count (Xvfb is fine)
        viewer.add_image(data, name=kind, **kw)
        w = AnnotatorWidget(viewer, autoload=False)
        viewer.window.add_dock_widget(w)
        w.set_predictor(RandomWalkerPredictor(), "random walker")
        ctl, rows, rss = w.ctl, [], [_rss_mb()]

        def settle(t_end=0.3, ctl=ctl):  # let the redraws triggered by a call run, then measure
            t = time.perf_counter()
            while ctl.busy or time.perf_counter() - t < t_end:
                app.processEvents()
                time.sleep(0.002)

        settle(1.0)
        for k in range(args.objects):
            r, c = 1000 + 1500 * k, 1200 + 1400 * k
            prompt = Prompt(BBox(r, c, r + 300, c + 260), Click(r + 150, c + 130, True))
            ctl.leading = ()
            ctl._point_session()
            n_gc = len(gc_pauses)
            with StallMeter(5) as m:
                ctl.runner.request(prompt, ctl._token)
                settle()
            gc_ms = max(gc_pauses[n_gc:], default=0.0)
            with StallMeter(5) as mc:
                t = time.perf_counter()
                value = ctl.commit()
                commit_s = time.perf_counter() - t
                settle()
            rss.append(_rss_mb())
            rows.append({"object": k, "value": value, "preview_max_stall_ms": m.max_gap_ms,
                         "preview_max_gc_pause_ms": gc_ms,
                         "commit_call_ms": commit_s * 1e3, "commit_max_stall_ms": mc.max_gap_ms,
                         "rss_mb": rss[-1]})  # fmt: skip
        labels = ctl.target_labels(create=False)
        for row in reversed(rows):
            with StallMeter(5) as mu:
                t = time.perf_counter()
                labels.undo()
                row["undo_call_ms"] = (time.perf_counter() - t) * 1e3
                settle()
            row["undo_max_stall_ms"] = mu.max_gap_ms
        undone = not np.asarray(labels.data).any()
        growth = np.diff(rss[1:]) if len(rss) > 2 else np.array([np.nan])
        out["cases"][kind] = {
            "objects": rows,
            "labels_dtype": str(labels.data.dtype),
            "all_undone_to_zero": bool(undone),
            "rss_first_commit_mb": rss[1] - rss[0],
            "rss_per_later_commit_mb": float(np.mean(growth)),
            "max_commit_stall_ms": max(r["commit_max_stall_ms"] for r in rows),
            "max_undo_stall_ms": max(r["undo_max_stall_ms"] for r in rows),
            "max_preview_stall_ms": max(r["preview_max_stall_ms"] for r in rows),
        }
        print(f"{kind:10s} commit <= {out['cases'][kind]['max_commit_stall_ms']:.0f} ms, undo <= "
              f"{out['cases'][kind]['max_undo_stall_ms']:.0f} ms, preview <= "
              f"{out['cases'][kind]['max_preview_stall_ms']:.0f} ms, RSS first commit "
              f"+{rss[1] - rss[0]:.0f} MB, later +{float(np.mean(growth)):.1f} MB/commit")  # fmt: skip
        w.replay.discard()
        viewer.close()
    out.update(load_average=os.getloadavg(), cpu_count=os.cpu_count(), machine=platform.platform())
    out["command"] = "xvfb-run -a python benchmarks/ui_stall.py --large " + str(args.large)
    _write(args.results, out)
    return out


if __name__ == "__main__":
    main()
