"""Readers for the research datasets' folder layouts (``../shared/data``, never shipped), for the
benchmarks, the starter-model recipe and the tests. Every reader returns lists of planes: images
``[H, W]`` or ``[H, W, 3]`` and int instance-id planes ``[H, W]`` (0 = background).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .files import as_instances, instances_from_binary, load_pairs, read_array

SPACENET_SPLIT_COL = 450  # SpaceNet tile: train on cols < 450, test on the rest
SSTEM_CODES = {"neurons": (255,), "neurons+glia": (255, 159)}  # labels/labelsNNNNNNNN.png


def load_sstem(
    root: str | Path, slices: Iterable[int], kind: str = "mitochondria"
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """ssTEM Drosophila VNC (``raw/NN.tif`` + ``<kind>/NN.png``); instances = 4-connected components."""
    root = Path(root)
    imgs, labs = [], []
    for s in slices:
        imgs.append(read_array(root / "raw" / f"{int(s):02d}.tif"))
        labs.append(instances_from_binary(read_array(root / kind / f"{int(s):02d}.png")))
    return imgs, labs


def load_spacenet(root: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """SpaceNet sample tile: ``image.tif`` (uint16 [H, W]) and ``instances.tif`` (ids 1..N)."""
    root = Path(root)
    return read_array(root / "image.tif"), as_instances(
        read_array(root / "instances.tif"), "instances"
    )


def load_isprs(root: str | Path, name: str, value: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """ISPRS crop ``<name>_image.png`` (RGB) and the components of class ``value`` (2 = building)."""
    root = Path(root)
    img = read_array(root / f"{name}_image.png")[..., :3]
    lab = read_array(root / f"{name}_labels.png")
    return img, as_instances(lab, "classes", value=value)


def load_isbi2012(
    root: str | Path, slices: Iterable[int]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """ISBI 2012 training stack (``image/N.png`` uint8 [512, 512], ``label/N.png`` 255 = cell
    interior, 0 = membrane); instances = 4-connected components of the interiors."""
    root = Path(root)
    imgs = [read_array(root / "image" / f"{int(s)}.png") for s in slices]
    labs = [instances_from_binary(read_array(root / "label" / f"{int(s)}.png")) for s in slices]
    return imgs, labs


def sstem_structures(
    root: str | Path, slices: Iterable[int], kind: str = "neurons"
) -> list[np.ndarray]:
    """Instance planes of other ssTEM structures: 4-connected components of
    ``labels/labelsNNNNNNNN.png`` whose code is in ``SSTEM_CODES[kind]`` (255 neuron profiles,
    159 glia)."""
    out = []
    for s in slices:
        codes = read_array(Path(root) / "labels" / f"labels{int(s):08d}.png")
        out.append(instances_from_binary(np.isin(codes, SSTEM_CODES[kind])))
    return out


def spacenet_halves(
    root: str | Path, split_col: int = SPACENET_SPLIT_COL
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(left image, left labels), (right image, right labels)`` of the SpaceNet tile; buildings
    crossing ``split_col`` are dropped (0) from both halves."""
    from scipy import ndimage

    im, lab = load_spacenet(root)
    lab = lab.copy()
    for k, sl in enumerate(ndimage.find_objects(lab), start=1):
        if sl is not None and sl[1].start < split_col <= sl[1].stop - 1:
            lab[lab == k] = 0
    return (im[:, :split_col], lab[:, :split_col]), (im[:, split_col:], lab[:, split_col:])


def load_lucchi(root: str | Path) -> tuple[list, list]:
    """EPFL/Lucchi FIB-SEM sections (``train/images/*.tif`` + ``train/instances/*.tif``)."""
    root = Path(root) / "train"
    return load_pairs(root / "images", root / "instances", mode="instances")


def load_aerial_fair(
    root: str | Path, areas: Iterable[int]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """aerial-fair ``area<N>/images/*.png`` (RGB) + ``area<N>/instances/*.tif`` for ``areas``."""
    ims, labs = [], []
    for area in areas:
        folder = Path(root) / f"area{int(area)}"
        i, lab = load_pairs(folder / "images", folder / "instances", mode="instances")
        ims += [im[..., :3] for im in i]
        labs += lab
    return ims, labs
