"""npe2 sample data: an EM stack and an aerial tile.

The "online" samples fetch public files with pooch (URLs pinned to a commit, sha256-checked,
cached in ``$NAPARI_IOG_CACHE`` or the OS cache). The hashes are those of the copies the team
holds; when offline, or when a download or hash check fails, a notification explains it and the
procedural synthetic sample is returned instead, so a sample always opens. The synthetic samples
are generated (nothing bundled): an EM-like 5x256x256 uint8 stack of cells with dark membranes and
dark "mitochondria" blobs drifting through the slices, and an aerial-like 256x256x3 uint8 tile with
roads, buildings (rectangles), shadows and trees.
"""

from __future__ import annotations

import numpy as np

_SSTEM = (
    "https://raw.githubusercontent.com/unidesigner/groundtruth-drosophila-vnc/"
    "4a5f051466d24d8dc1e855ab55658bb1b1dcd6bf/stack1/raw/{:02d}.tif"
)
_SSTEM_SHA256 = (
    "b76df299a184d9a8616aa7867a1b0f577313e97cc9fef826a0f76f65f9676383",
    "718808c0149d6e24ee7b12085695c1ff8e3afb8e5dd13e18ca291fc9b60fcd09",
    "0e2480e0164bcbc2704d76232919f5fcc0540988c6f91a8a78b8f514718717a4",
    "1d6ca42fad097c8647b5e077ade1e7cb124d09aa11ef51b22c74367a44b04af6",
    "6be1ca5151edf4ffbe79745ce3a1cad784a83fc5843120820ba4133474c41bab",
)
_POTSDAM = (
    "https://raw.githubusercontent.com/isabella232/mmsegmentation/"
    "30a3f94f3e2916e27fa38c67cc3b8c69c1893fe8/tests/data/pseudo_potsdam_dataset/img_dir/"
    "2_10_0_0_512_512.png"
)
_POTSDAM_SHA256 = "e7fe2ff2552324ea31eb620ff9ca0c69c04948381809c3223cb09fe62d0fee93"


def _cache():
    from napari_iog.models.weights import cache_dir

    return cache_dir() / "samples"


def _fetch(url: str, sha256: str, fname: str) -> str:
    import pooch

    return pooch.retrieve(
        url, known_hash=f"sha256:{sha256}", fname=fname, path=_cache(), progressbar=False
    )


def _fallback(what: str, err: Exception, synthetic):
    from napari.utils.notifications import show_warning

    text = str(err).lower()
    why = (
        "the downloaded file did not match its checksum"
        if "hash" in text or "checksum" in text
        else "this computer looks offline"
    )
    show_warning(
        f"Could not download the {what} ({why}), so the synthetic offline sample opened instead: "
        "connect to the internet and open the sample again for real data."
    )
    return synthetic()


def em_stack() -> list[tuple[np.ndarray, dict, str]]:
    """5 sections 1024x1024 of the ssTEM Drosophila VNC stack 1 (Gerhard et al. 2013, CC BY-NC-SA
    3.0, non-commercial) - the EM data the IOG paper uses; synthetic when offline."""
    try:
        import tifffile

        paths = [
            _fetch(_SSTEM.format(i), h, f"sstem_stack1_{i:02d}.tif")
            for i, h in enumerate(_SSTEM_SHA256)
        ]
        data = np.stack([tifffile.imread(p) for p in paths])
    except Exception as err:  # noqa: BLE001 - any failure: offline sample + notification
        return _fallback("ssTEM EM stack", err, synthetic_em_stack)
    meta = {
        "name": "ssTEM stack1 (Gerhard et al. 2013, CC BY-NC-SA 3.0)",
        "scale": (10.0, 1.0, 1.0),
    }
    return [(data, meta, "image")]


def aerial_tile() -> list[tuple[np.ndarray, dict, str]]:
    """A 512x512 RGB crop of ISPRS Potsdam (research use); synthetic when offline."""
    try:
        from skimage.io import imread

        data = imread(_fetch(_POTSDAM, _POTSDAM_SHA256, "potsdam_2_10_0_0_512_512.png"))[..., :3]
    except Exception as err:  # noqa: BLE001
        return _fallback("ISPRS Potsdam aerial tile", err, synthetic_aerial_tile)
    return [(data, {"name": "ISPRS Potsdam tile (research use)", "rgb": True}, "image")]


def make_em_stack(n: int = 5, size: int = 256, seed: int = 0) -> np.ndarray:
    """EM-like uint8 ``[n, size, size]``: bright cells, dark 2-3 px membranes between them, dark
    round organelles that drift slowly from slice to slice, Gaussian blur and noise."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    n_cells = max(8, size * size // 2500)
    seeds = rng.uniform(0, size, (n_cells, 2))
    drift = rng.normal(0, 1.5, (n_cells, 2))
    blobs = rng.uniform(20, size - 20, (max(4, n_cells // 3), 2))
    radii = rng.uniform(6, 12, len(blobs))
    bdrift = rng.normal(0, 1.0, (len(blobs), 2))
    rr, cc = np.mgrid[:size, :size]
    out = np.empty((n, size, size), np.uint8)
    for z in range(n):
        pts = np.clip(seeds + z * drift, 0, size - 1).astype(int)
        marker = np.zeros((size, size), bool)
        marker[pts[:, 0], pts[:, 1]] = True
        _, (ir, ic) = ndimage.distance_transform_edt(~marker, return_indices=True)
        cell = ir * size + ic
        edge = (np.diff(cell, axis=0, prepend=cell[:1]) != 0) | (
            np.diff(cell, axis=1, prepend=cell[:, :1]) != 0
        )
        edge = ndimage.binary_dilation(edge, iterations=1)
        img = np.full((size, size), 180.0) - 40 * edge
        for (br, bc), r, (dr, dc) in zip(blobs, radii, bdrift):
            d2 = (rr - br - z * dr) ** 2 + (cc - bc - z * dc) ** 2
            img[d2 <= r * r] = 70.0
        img = ndimage.gaussian_filter(img, 1.2) + rng.normal(0, 8, img.shape)
        out[z] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def make_aerial_tile(
    size: int = 256, seed: int = 0, return_boxes: bool = False
) -> np.ndarray | tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Aerial-like RGB uint8 ``[size, size, 3]``: grass, two roads, roofs with shadows, trees.
    With ``return_boxes`` also the roofs as inclusive ``(row0, col0, row1, col1)`` boxes."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    img = np.empty((size, size, 3), np.float32)
    img[:] = (92, 122, 70)
    img += rng.normal(0, 6, img.shape)
    road = size // 2
    img[road - 8 : road + 8, :] = (128, 128, 126)
    img[:, size // 4 - 6 : size // 4 + 6] = (128, 128, 126)
    roofs = ((180, 90, 70), (200, 200, 195), (150, 60, 55), (90, 90, 100))
    boxes = []
    for k in range(8):
        h, w = rng.integers(size // 12, size // 6, 2)
        r = rng.integers(4, size - h - 8)
        c = rng.integers(size // 4 + 12, size - w - 8)
        img[r + 4 : r + h + 4, c + 4 : c + w + 4] *= 0.55  # shadow
        img[r : r + h, c : c + w] = roofs[k % len(roofs)]
        boxes.append((int(r), int(c), int(r + h - 1), int(c + w - 1)))
    rr, cc = np.mgrid[:size, :size]
    for _ in range(10):
        tr, tc, rad = rng.uniform(0, size), rng.uniform(0, size // 4 - 8), rng.uniform(5, 10)
        img[(rr - tr) ** 2 + (cc - tc) ** 2 <= rad * rad] = (40, 85, 40)
    img = ndimage.gaussian_filter(img, (0.8, 0.8, 0))
    img = np.clip(img, 0, 255).astype(np.uint8)
    return (img, boxes) if return_boxes else img


def synthetic_em_stack() -> list[tuple[np.ndarray, dict, str]]:
    """Offline EM sample: :func:`make_em_stack` as napari layer data (uint8 ``[5, 256, 256]``)."""
    return [(make_em_stack(), {"name": "synthetic EM stack", "scale": (4.0, 1.0, 1.0)}, "image")]


def synthetic_aerial_tile() -> list[tuple[np.ndarray, dict, str]]:
    """Offline aerial sample: :func:`make_aerial_tile` as napari layer data (uint8 RGB
    ``[256, 256, 3]``)."""
    return [(make_aerial_tile(), {"name": "synthetic aerial tile", "rgb": True}, "image")]
