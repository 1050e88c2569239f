"""Georeferenced round trip on the SpaceNet tile: commit the 43 buildings with IOG, export them as
GeoJSON in the image CRS, and check the export against the committed masks and the source
footprints; then check that footprints reprojected to EPSG:4326 and back harvest the same masks.

Data: ``../shared/data/aerial-spacenet`` (or ``$NAPARI_IOG_SHARED``): ``image.tif`` (900 x 900
uint16, EPSG:32616, 0.5 m), ``instances.tif`` (ids 1..43) and ``buildings.geojson`` (43 polygons).

1. Commit: one IOG prediction per true box (the tight box of each id of ``instances.tif``) with
   the shipped ``iog-aerial`` starter (``IOGPredictor.from_weights``), composited like the
   annotator's commit (``inference.postprocess.paste_labels``, mode ``keep``, ids in order).
2. Export: ``geo.vectorize.labels_to_features`` -> ``geo.vector_io.write_features`` (.geojson).
3. Check: read the GeoJSON back, rasterise it on the image grid (pixel-centre rule): IoU with
   every committed mask, max / mean vertex error (px) against the mask outlines; mean IoU of the
   committed objects with ``buildings.geojson`` rasterised on the same grid (placement + model).
4. Reprojection: ``buildings.geojson`` -> EPSG:4326 (pyproj) -> harvest plan on the image
   (``harvest.load_boxes``) vs the plan from the original file: pixel boxes, then the harvested
   masks (``run_harvest``, inline) compared.

    nice -n 15 env OMP_NUM_THREADS=1 python benchmarks/geo_spacenet.py
    python benchmarks/geo_spacenet.py --results benchmarks/results/geo_spacenet.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_iog.evaluation.metrics import iou

REPO = Path(__file__).resolve().parents[1]


def commit_all(image, instances, weights: str, device: str):
    """Committed labels (int32 ``[H, W]``), provenance records and seconds per object."""
    from napari_iog.inference import IOGPredictor
    from napari_iog.inference.postprocess import paste_labels
    from napari_iog.structures import BBox, Prompt

    pred = IOGPredictor.from_weights(weights, device=device)
    pred.set_image(image)
    labels = np.zeros(instances.shape, np.int32)
    records, t0 = [], time.perf_counter()
    for i in range(1, int(instances.max()) + 1):
        prompt = Prompt(BBox.from_mask(instances == i))
        paste_labels(labels, pred.predict(prompt), i, "keep").apply(labels)
        records.append({"value": i, "kind": "commit", "prompt": prompt.to_dict(),
                        "predictor": weights, "mode": "keep"})  # fmt: skip
    return labels, records, (time.perf_counter() - t0) / max(1, len(records))


def export_check(labels, records, ref, out: Path) -> dict:
    from napari_iog.geo.attributes import attributes_from_records
    from napari_iog.geo.check import vertex_errors
    from napari_iog.geo.vector_io import read_vector, write_features
    from napari_iog.geo.vectorize import features_to_labels, labels_to_features

    t0 = time.perf_counter()
    feats = labels_to_features(labels, ref, attributes_from_records(records))
    write_features(out, feats, ref.crs)
    seconds = time.perf_counter() - t0
    got = read_vector(out)
    ids = np.asarray(got.fields["id"])
    back = features_to_labels(got.geometries, ids, ref)
    ious = [iou(back == i, labels == i) for i in ids]
    errs = np.concatenate([vertex_errors(g, labels == i, ref) for g, i in zip(got.geometries, ids)])
    return {
        "objects_exported": int(len(ids)),
        "objects_committed": int(len(np.unique(labels[labels > 0]))),
        "reraster_identical": bool(np.array_equal(back, labels)),
        "reraster_iou_min": round(min(ious), 6),
        "vertex_error_max_px": round(float(errs.max()), 6),
        "vertex_error_mean_px": round(float(errs.mean()), 6),
        "n_vertices": int(errs.size),
        "export_seconds": round(seconds, 3),
        "crs_written": got.crs is not None and ref.crs_object().equals(got.crs),
    }


def footprint_check(labels, instances, footprints: Path, ref) -> dict:
    from napari_iog.geo.vector_io import read_vector
    from napari_iog.geo.vectorize import features_to_labels

    src = read_vector(footprints)
    truth = features_to_labels(src.geometries, range(1, len(src.geometries) + 1), ref)
    n = len(src.geometries)
    return {
        "miou_vs_footprints": round(float(np.mean([iou(labels == i, truth == i) for i in range(1, n + 1)])), 4),
        "miou_instances_vs_footprints": round(float(np.mean([iou(instances == i, truth == i) for i in range(1, n + 1)])), 4),
    }  # fmt: skip


def to_wgs84(src: Path, dst: Path) -> Path:
    import pyogrio.raw
    import pyproj
    import shapely

    meta, _, wkb, _ = pyogrio.raw.read(src)
    t = pyproj.Transformer.from_crs(meta["crs"], "EPSG:4326", always_xy=True)
    geoms = shapely.transform(shapely.from_wkb(wkb), lambda xy: np.column_stack(t.transform(*xy.T)))
    pyogrio.raw.write(dst, shapely.to_wkb(geoms), [np.arange(1, len(geoms) + 1)], ["n"],
                      geometry_type="Polygon", crs="EPSG:4326")  # fmt: skip
    return dst


def harvest_check(footprints: Path, image: Path, weights: str, device: str, tmp: Path) -> dict:
    from napari_iog.harvest import INLINE, HarvestConfig, load_boxes, run_harvest

    config = HarvestConfig(weights, device=device, torch_threads=1)
    wgs = to_wgs84(footprints, tmp / "buildings_4326.geojson")
    plans = {
        name: load_boxes(path, image=image) for name, path in (("utm", footprints), ("wgs84", wgs))
    }
    boxes = {k: [r.box for r in p.images[0].boxes] for k, p in plans.items()}
    masks, seconds = {}, {}
    for name, plan in plans.items():
        t0 = time.perf_counter()
        summary = run_harvest(plan, config, image.parent, tmp / f"{name}.json", scheduler=INLINE)
        seconds[name] = round(time.perf_counter() - t0, 2)
        anns = json.loads((tmp / f"{name}.json").read_text())["annotations"]
        masks[name] = {a["id"]: a["segmentation"] for a in anns}
        skipped = summary.boxes_skipped
    same = sum(masks["utm"].get(k) == v for k, v in masks["wgs84"].items())
    return {
        "boxes": len(boxes["utm"]),
        "boxes_identical": sum(a == b for a, b in zip(boxes["utm"], boxes["wgs84"])),
        "masks_harvested": len(masks["utm"]),
        "masks_identical": int(same),
        "boxes_skipped": int(skipped),
        "harvest_seconds": seconds,
    }  # fmt: skip


def main(argv=None) -> int:
    import tifffile
    import torch

    from napari_iog.fileio import atomic_write_text
    from napari_iog.geo.raster import read_raster

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default="iog-aerial")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--results", default=None, help="write the results JSON here")
    args = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from fewshot import shared_dir  # benchmarks/ is first on the path

    d = shared_dir() / "data" / "aerial-spacenet"
    if not d.is_dir():
        print(f"{d} is absent: put the shared folder beside the repo or set NAPARI_IOG_SHARED")
        return 2
    image, ref = read_raster(d / "image.tif")
    instances = tifffile.imread(d / "instances.tif").astype(np.int32)
    labels, records, per_obj = commit_all(image, instances, args.weights, args.device)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        exp = export_check(labels, records, ref, tmp / "buildings_iog.geojson")
        foot = footprint_check(labels, instances, d / "buildings.geojson", ref)
        miou_inst = float(np.mean([iou(labels == i, instances == i) for i in range(1, 44)]))
        harv = harvest_check(
            d / "buildings.geojson", d / "image.tif", args.weights, args.device, tmp
        )
    res = {
        "data": "aerial-spacenet (900x900, EPSG:32616, 43 buildings)", "weights": args.weights,
        "device": args.device, "torch_threads": torch.get_num_threads(),
        "commit_seconds_per_object": round(per_obj, 4), **exp, **foot,
        "miou_vs_instances": round(miou_inst, 4), "reprojection_4326": harv,
        "platform": platform.platform(),
        "command": "python " + " ".join(shlex.quote(a) for a in ["benchmarks/geo_spacenet.py", *(sys.argv[1:] if argv is None else argv)]),
    }  # fmt: skip
    rows = [
        ("objects committed / exported", f"{exp['objects_committed']} / {exp['objects_exported']}"),
        ("re-rasterised == committed labels", str(exp["reraster_identical"])),
        ("min IoU re-rasterised vs committed", f"{exp['reraster_iou_min']:.4f}"),
        ("vertex error max / mean (px)", f"{exp['vertex_error_max_px']:.2g} / {exp['vertex_error_mean_px']:.2g}"),
        ("GeoJSON in the image CRS (EPSG:32616)", str(exp["crs_written"])),
        ("mIoU committed vs buildings.geojson", f"{foot['miou_vs_footprints']:.4f}"),
        ("mIoU instances.tif vs buildings.geojson", f"{foot['miou_instances_vs_footprints']:.4f}"),
        ("mIoU committed vs instances.tif", f"{miou_inst:.4f}"),
        ("4326 round trip: identical pixel boxes", f"{harv['boxes_identical']} / {harv['boxes']}"),
        ("4326 round trip: identical harvested masks", f"{harv['masks_identical']} / {harv['masks_harvested']}"),
        ("commit s/object, export s", f"{per_obj:.3f}, {exp['export_seconds']:.3f}"),
    ]  # fmt: skip
    print("| check | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    if args.results:
        atomic_write_text(args.results, json.dumps(res, indent=2) + "\n")
        print(f"results: {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
