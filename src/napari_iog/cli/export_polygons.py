"""``napari-iog export-polygons``: instance label images -> polygons (GeoJSON or GeoPackage) in the
CRS of the GeoTIFF they were made on, one feature per id, with the provenance of each object.

Needs the ``[geo]`` extra. The georeference comes from ``--image``, or from the labels file itself
when it is a georeferenced GeoTIFF (e.g. saved from napari as a georeferenced TIFF). An image
without CRS gives pixel coordinates and a warning. Provenance: ``LABELS.iog.json`` beside each
labels file when present (the annotator's saved records), or ``--provenance``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

from napari_iog.cli import PROG, CLIError

OUT_SUFFIXES = (".geojson", ".gpkg", ".json")
LABEL_SUFFIXES = (".tif", ".tiff", ".npy")


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``export-polygons`` subcommand and set ``args.func``."""
    p = subparsers.add_parser(
        "export-polygons",
        aliases=["export_polygons"],  # the module name, as SUBCOMMANDS lists it
        help="instance labels -> polygons (GeoJSON / GeoPackage) in the image's CRS",
        description="Vectorise instance label images exactly (one (Multi)Polygon per id, holes "
        "kept) in the CRS of the GeoTIFF they belong to; provenance per id as attributes.",
    )
    p.add_argument("labels", nargs="+", metavar="LABELS",
                   help="2D label images (.tif/.tiff/.npy), same grid as --image")  # fmt: skip
    p.add_argument("--image", default=None,
                   help="the GeoTIFF the labels were made on (default: the labels' own "
                   "georeference, when they are a GeoTIFF)")  # fmt: skip
    p.add_argument("-o", "--out", required=True, help="output .geojson or .gpkg")
    p.add_argument("--provenance", default=None, metavar="JSON",
                   help="provenance JSON (default: LABELS.iog.json beside each labels file)")  # fmt: skip
    p.add_argument("--no-provenance", action="store_true", help="write id and pixels only")
    p.set_defaults(func=run)
    return p


def _read_labels(path: Path) -> np.ndarray:
    from napari_iog.data.files import read_array

    if path.suffix.lower() not in LABEL_SUFFIXES:
        raise CLIError(f"{path.name}: labels must be .tif, .tiff or .npy files.")
    if not path.is_file():
        raise CLIError(f"Labels file {str(path)!r} does not exist.")
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError as err:
            raise CLIError(f"{path.name} is not a numeric .npy array ({err}).") from None
    else:
        arr = read_array(path)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    return arr


def _georef(args, first: Path):
    from napari_iog.geo.raster import read_georeference

    if args.image:
        return read_georeference(args.image), args.image
    if first.suffix.lower() in (".tif", ".tiff"):
        ref = read_georeference(first)
        if ref.has_crs:
            return ref, first
    raise CLIError(
        f"{first.name} carries no georeference; give --image, the GeoTIFF the labels were made on."
    )


def run(args: argparse.Namespace) -> int:
    from napari_iog.fileio import sidecar_path
    from napari_iog.geo.attributes import attributes_from_records, records_of_sidecar
    from napari_iog.geo.vector_io import write_features
    from napari_iog.geo.vectorize import Feature, labels_to_features
    from napari_iog.pathguard import check_output, expand_inputs

    paths = [Path(p) for p in args.labels]
    inputs = expand_inputs([*paths, args.image, args.provenance])
    out = check_output(args.out, inputs, suffixes=OUT_SUFFIXES, flag="--out")
    if args.provenance and not Path(args.provenance).is_file():
        raise CLIError(f"--provenance {args.provenance!r} does not exist; give the .iog.json file.")
    ref, ref_source = _georef(args, paths[0])
    features = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for path in paths:
            labels = _read_labels(path)
            records = []
            if not args.no_provenance:
                side = Path(args.provenance) if args.provenance else sidecar_path(path)
                records = records_of_sidecar(side)
            attrs = attributes_from_records(records)
            features += [
                Feature(f.id, f.geometry, {**f.properties, "labels": path.name})
                for f in labels_to_features(labels, ref, attrs)
            ]
        write_features(out, features, ref.crs if ref.has_crs else None, inputs=inputs)
    for message in dict.fromkeys(str(w.message) for w in caught):
        print(f"{PROG}: warning: {message}", file=sys.stderr)
    where = (ref.crs_name or "map coordinates") if ref.has_crs else "pixel coordinates"
    print(f"wrote {len(features)} polygons ({where}, georeference of {Path(ref_source).name}) "
          f"to {out}")  # fmt: skip
    return 0
