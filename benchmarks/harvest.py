"""Harvest benchmark: masks per second vs batch size and number of dask workers, peak memory,
and (with trained weights) the quality check on real data.

Data: the ssTEM mitochondria of slices 10-19 (``../shared/data/sstem-drosophila-vnc`` or
``$NAPARI_IOG_SHARED``; 199 objects, 1024 px slices). Their true boxes (tight boxes of the
4-connected components of the masks) are written to a COCO JSON, then harvested with
``napari_iog.harvest.run_harvest`` on a dask ``LocalCluster``. The model is loaded on every
worker before timing (the one-off load is reported apart), so the numbers are steady-state.

    nice python benchmarks/harvest.py                     # CPU sweep, random-init cpu-light net
    python benchmarks/harvest.py --device cuda --batch-sizes 1,8,32 --workers 1
    python benchmarks/harvest.py --weights checkpoints/sstem-mito-r18light.pt --quality

Without ``--weights`` the network is random-init (same architecture and speed, meaningless
masks), so ``--quality`` needs trained weights. Raw numbers are merged into
``benchmarks/results/harvest.json`` under a key per device; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def parse_range(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def write_boxes(root: Path, slices: list[int], path: Path):
    """COCO JSON of the true boxes; returns (path, {ann_id: (slice index, instance id)}, labels)."""
    import numpy as np

    from napari_iog.data.layouts import load_sstem

    _, labels = load_sstem(root, slices)
    images, anns, truth = [], [], {}
    for k, (s, lab) in enumerate(zip(slices, labels)):
        images.append({"id": k + 1, "file_name": f"{s:02d}.tif"})
        for inst in range(1, int(lab.max()) + 1):
            rows, cols = np.nonzero(lab == inst)
            if rows.size == 0:
                continue
            x, y = int(cols.min()), int(rows.min())
            w, h = int(cols.max()) - x + 1, int(rows.max()) - y + 1
            anns.append(
                {"id": len(anns) + 1, "image_id": k + 1, "category_id": 1, "bbox": [x, y, w, h]}
            )
            truth[len(anns)] = (k, inst)
    coco = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": 1, "name": "mitochondrion"}],
    }
    path.write_text(json.dumps(coco))
    return path, truth, labels


def random_checkpoint(profile: str, path: Path) -> Path:
    import torch

    from napari_iog.models import build_model
    from napari_iog.models.checkpoint import save_checkpoint
    from napari_iog.models.registry import resolve_profile

    torch.manual_seed(0)
    mc, pc = resolve_profile(profile)
    return save_checkpoint(path, build_model(mc), pc, {"data": "random init (benchmark)"})


# --- run on the workers (cloudpickle sends __main__ functions by value) -----------------
def _preload(weights, device, threads, weights_id):
    from napari_iog.harvest.predict import cached_predictor, model_loads

    t0 = time.perf_counter()
    cached_predictor(weights, device, True, threads, weights_id)
    return {"loads": model_loads(), "seconds": round(time.perf_counter() - t0, 2)}


def _cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_mb():
    out = {"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    try:
        import torch

        if torch.cuda.is_available():
            out["gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    except ImportError:
        pass
    return out


def quality(out_json: Path, truth: dict, labels: list) -> dict:
    """IoU of each harvested mask with its true instance (a missing mask counts 0)."""
    import numpy as np

    from napari_iog.harvest import rle

    got = {a["id"]: a for a in json.loads(out_json.read_text())["annotations"]}
    ious = []
    for ann_id, (k, inst) in sorted(truth.items()):
        gt = labels[k] == inst
        if ann_id not in got:
            ious.append(0.0)
            continue
        m = rle.decode(got[ann_id]["segmentation"])
        ious.append(float((m & gt).sum() / max((m | gt).sum(), 1)))
    a = np.array(ious)
    return {
        "n": int(a.size),
        "mean_iou": round(float(a.mean()), 4),
        "median_iou": round(float(np.median(a)), 4),
        "iou>=0.85": round(float((a >= 0.85).mean()), 4),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None, help="checkpoint (default: random-init --profile)")
    ap.add_argument("--profile", default="cpu-light", help="architecture for the random-init net")
    ap.add_argument("--slices", default="10-19")
    ap.add_argument("--batch-sizes", default="1,4,8")
    ap.add_argument(
        "--workers",
        default="1,2,1x2",
        help="worker specs: N = N single-threaded workers, NxT = N workers with T torch threads",
    )
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--two-stage", action="store_true")
    ap.add_argument("--quality", action="store_true", help="mean IoU vs the true masks")
    ap.add_argument("--results", default=str(REPO / "benchmarks" / "results" / "harvest.json"))
    ap.add_argument("--label", default=None, help="results key (default: the device kind)")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temp folder (outputs)")
    args = ap.parse_args(argv)

    from distributed import Client, LocalCluster
    from fewshot import shared_dir  # benchmarks/ is first on the path

    from napari_iog.harvest import HarvestConfig, load_boxes, run_harvest
    from napari_iog.harvest.config import weights_identity

    root = shared_dir() / "data" / "sstem-drosophila-vnc"
    if not root.is_dir():
        print(f"{root} is absent: put the shared folder beside the repo or set NAPARI_IOG_SHARED")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="iog-harvest-bench-"))
    slices = parse_range(args.slices)
    boxes, truth, labels = write_boxes(root, slices, tmp / "boxes.json")
    weights = args.weights or str(random_checkpoint(args.profile, tmp / "random.pt"))
    plan = load_boxes(boxes)
    wid = weights_identity(weights)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    specs = [tuple(int(v) for v in (w + "x1").split("x")[:2]) for w in args.workers.split(",")]
    runs, qual = [], None
    print(
        f"{plan.n_boxes} boxes on {len(plan.images)} slices; weights {weights}; tmp {tmp}",
        flush=True,
    )
    for i, (n_workers, threads) in enumerate(specs):
        with (
            LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            load = client.run(_preload, weights, args.device, threads, wid)
            for bs in batch_sizes if i == 0 else batch_sizes[-1:]:
                cfg = HarvestConfig(
                    weights,
                    batch_size=bs,
                    device=args.device,
                    torch_threads=threads,
                    two_stage=args.two_stage,
                )
                out = tmp / f"w{n_workers}x{threads}-b{bs}" / "masks.json"
                la0 = os.getloadavg()[0]
                cpu0 = client.run(_cpu_s)
                t0 = time.perf_counter()
                s = run_harvest(plan, cfg, root / "raw", out, client=client)
                dt = time.perf_counter() - t0
                cpu = sum(v - cpu0[k] for k, v in client.run(_cpu_s).items())
                peaks = client.run(_peak_mb)
                row = {
                    "workers": n_workers,
                    "torch_threads_per_worker": threads,
                    "batch_size": bs,
                    "boxes": s.boxes_done,
                    "seconds": round(dt, 2),
                    "masks_per_s": round(s.boxes_done / dt, 3),
                    "worker_cpu_s": round(cpu, 2),
                    "masks_per_worker_cpu_s": round(s.boxes_done / max(cpu, 1e-9), 3),
                    "model_load_s": max(v["seconds"] for v in load.values()),
                    "peak_rss_mb_per_worker": round(max(v["rss_mb"] for v in peaks.values()), 1),
                    "peak_rss_mb_client": round(_peak_mb()["rss_mb"], 1),
                    "load_avg_1min_before": round(la0, 2),
                    "load_avg_1min_after": round(os.getloadavg()[0], 2),
                    "ok": s.ok,
                }
                if any("gpu_mb" in v for v in peaks.values()):
                    row["peak_gpu_mb"] = round(max(v.get("gpu_mb", 0) for v in peaks.values()), 1)
                runs.append(row)
                print(json.dumps(row), flush=True)
                if args.quality and qual is None:
                    qual = quality(out, truth, labels)
                    print("quality", json.dumps(qual), flush=True)

    if not args.keep_tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    label = args.label or args.device.split(":")[0]
    device_name = platform.processor() or platform.machine()
    if args.device.startswith("cuda"):
        import torch

        device_name = torch.cuda.get_device_name(0)
    entry = {
        "device": args.device,
        "device_name": device_name,
        "cpu_count": os.cpu_count(),
        "weights": "random init " + args.profile if not args.weights else Path(weights).name,
        "two_stage": args.two_stage,
        "data": f"ssTEM mitochondria slices {args.slices}",
        "python": sys.version.split()[0],
        "runs": runs,
    }
    if qual is not None:
        entry["quality"] = qual
    res_path = Path(args.results)
    results = json.loads(res_path.read_text()) if res_path.exists() else {}
    results[label] = entry
    res_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_res = res_path.with_suffix(".json.tmp")
    tmp_res.write_text(json.dumps(results, indent=1) + "\n")
    os.replace(tmp_res, res_path)

    head = "| device | workers x torch threads | batch | masks/s | s | masks/worker-CPU-s | peak RSS/worker MB | load avg |"
    print("\n" + head + "\n" + "|---" * 8 + "|")
    for r in runs:
        print(
            f"| {label} | {r['workers']} x {r['torch_threads_per_worker']} | {r['batch_size']} | "
            f"{r['masks_per_s']} | {r['seconds']} | {r['masks_per_worker_cpu_s']} | "
            f"{r['peak_rss_mb_per_worker']} | {r['load_avg_1min_before']} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
