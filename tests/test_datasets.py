"""Data layer: file pairs, label conversion, bad input, object datasets, augmentation."""

from __future__ import annotations

import numpy as np
import pytest

from napari_iog.config import PreprocessConfig
from napari_iog.data.augment import AugmentConfig, random_affine
from napari_iog.data.datasets import ObjectDataset, collate, split_stack
from napari_iog.data.files import DataError, as_instances, binarize, load_pairs
from napari_iog.data.layouts import load_sstem
from napari_iog.data.synthetic import blobs
from tests._shared import require_shared

PRE = PreprocessConfig(crop_size=64, relax=8, sigma=6.0, pad_pixel=4)


def _write_pngs(folder, arrays):
    from skimage.io import imsave

    folder.mkdir(parents=True, exist_ok=True)
    for i, a in enumerate(arrays):
        imsave(folder / f"{i:02d}.png", a, check_contrast=False)


# ------------------------------------------------------------------ labels and files
def test_as_instances_modes():
    binary = np.zeros((20, 20), np.uint8)
    binary[2:6, 2:6] = 255
    binary[10:15, 10:15] = 255
    inst = as_instances(binary)
    assert inst.dtype == np.int32 and inst.max() == 2
    ids = np.zeros((20, 20), np.uint16)
    ids[1:4, 1:4] = 7
    assert as_instances(ids).max() == 7  # ids kept as they are
    sem = np.zeros((20, 20), np.uint8)
    sem[0:5, 0:5] = 2
    sem[10:12, 10:12] = 2
    sem[15:18, 15:18] = 5
    assert as_instances(sem, value=2).max() == 2  # components of class 2 only
    assert as_instances(np.array([[0.0, 3.0], [3.0, 0.0]])).max() == 3  # integral floats are fine


def test_bad_labels_are_clear_errors():
    with pytest.raises(DataError, match="integers"):
        as_instances(np.array([[0.0, 0.5], [1.0, 0.0]]))
    with pytest.raises(DataError, match=">= 0"):
        as_instances(np.array([[0, -1], [1, 0]]))
    with pytest.raises(DataError, match="2D"):
        as_instances(np.zeros((2, 3, 4), np.uint8))


def test_binarize_handles_both_mask_conventions():
    assert binarize(np.array([[0, 1]], np.uint8)).tolist() == [[False, True]]
    assert binarize(np.array([[0, 100, 200]], np.uint8)).tolist() == [[False, False, True]]


def test_load_pairs_from_folders_and_bad_folders(tmp_path):
    ims, labs = zip(*[blobs((48, 48), 2, seed=s) for s in range(3)])
    _write_pngs(tmp_path / "img", ims)
    _write_pngs(tmp_path / "lab", [lab.astype(np.uint8) for lab in labs])
    images, labels = load_pairs(tmp_path / "img", tmp_path / "lab", mode="instances")
    assert len(images) == 3 and all(lab.max() == 2 for lab in labels)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="No image files"):
        load_pairs(tmp_path / "empty", tmp_path / "lab")
    with pytest.raises(DataError, match="no pairs"):
        load_pairs([tmp_path / "img" / "00.png"], tmp_path / "lab")
    with pytest.raises(DataError, match="not found"):
        load_pairs(tmp_path / "missing", tmp_path / "lab")


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(DataError, match="same height and width"):
        ObjectDataset([np.zeros((10, 10))], [np.zeros((12, 10), np.int32)])
    with pytest.raises(DataError, match="same Z, H, W"):
        split_stack(np.zeros((3, 10, 10)), np.zeros((2, 10, 10), np.int32))


def test_stack_tif_splits_into_planes(tmp_path):
    import tifffile

    im, lab = blobs((40, 40), 2, seed=1)
    tifffile.imwrite(tmp_path / "im.tif", np.stack([im, im]))
    tifffile.imwrite(tmp_path / "lab.tif", np.stack([lab, lab]).astype(np.uint16))
    images, labels = load_pairs(tmp_path / "im.tif", tmp_path / "lab.tif")
    assert len(images) == 2 and images[0].shape == (40, 40)


# ------------------------------------------------------------------ datasets
def test_dataset_counts_small_and_border_objects():
    lab = np.zeros((60, 60), np.int32)
    lab[0:10, 20:30] = 1  # touches the border, 100 px
    lab[30:33, 30:33] = 2  # 9 px: skipped
    lab[40:55, 40:55] = 3
    ds = ObjectDataset(
        [np.zeros((60, 60), np.uint8)], [lab], PRE, min_area=20, label_mode="instances"
    )
    assert len(ds) == 2 and ds.n_skipped_small == 1
    assert [o.touches_border for o in ds.objects] == [True, False]
    assert "1 skipped" in ds.describe()


def test_sample_is_a_valid_network_input_and_target():
    im, lab = blobs((96, 96), 3, seed=2)
    ds = ObjectDataset([im], [lab], PRE, min_area=20)
    s = ds.sample(0)
    assert s.x.shape == (5, 64, 64) and s.x.dtype == np.float32
    assert s.target.shape == (64, 64) and set(np.unique(s.target)) <= {0.0, 1.0}
    assert 0.1 < s.target.mean() < 0.9
    r, c = np.unravel_index(np.argmax(s.x[3]), (64, 64))
    assert s.target[r, c] == 1.0  # the inside click lies on the object
    assert s.x[4][s.target > 0].max() < 200  # outside clicks are off the object
    rng = np.random.default_rng(0)
    a = ds.sample(0, rng, AugmentConfig(), box_jitter=0.1)
    b = ds.sample(0, rng, AugmentConfig(), box_jitter=0.1)
    assert not np.array_equal(a.x, b.x)  # random augmentation
    x, y, maps = collate([a, b])
    assert (
        tuple(x.shape) == (2, 5, 64, 64)
        and tuple(y.shape) == (2, 1, 64, 64)
        and tuple(maps.shape) == (2, 2, 64, 64)
    )


def test_border_object_sample_equals_the_predictor_input_on_the_full_image():
    """Training pads the window of an object cut by the image border with zeros, exactly as the
    predictor pads its crop: without augmentation the two network inputs are identical."""
    from napari_iog.data.prompts import simulate_prompt
    from napari_iog.inference.transforms import make_network_input

    im, lab = blobs((96, 96), 3, seed=2)
    lab = lab.copy()
    lab[:6] = 0
    lab[:14, 30:50] = 9  # an object cut by the top border
    ds = ObjectDataset([im], [lab], PRE, min_area=20)
    i = next(k for k, o in enumerate(ds.objects) if o.label == 9)
    assert ds.objects[i].touches_border
    s = ds.sample(i)
    ref = make_network_input(im, simulate_prompt(lab == 9), PRE)
    np.testing.assert_allclose(s.x, ref.x, atol=1e-4)
    img, mask = ds._window(ds.objects[i], 20)
    assert img.shape[:2] == mask.shape and mask[:20].sum() == 0 and img[:20].max() == 0


def test_split_is_disjoint_and_from_arrays_drops_empty_slices():
    im, lab = blobs((96, 96), 4, seed=3)
    stack_im = np.stack([im, im, im])
    stack_lab = np.stack([lab, np.zeros_like(lab), lab])
    ds = ObjectDataset.from_arrays(stack_im, stack_lab, PRE, min_area=20)
    assert len(ds.labels) == 2 and len(ds) == 8
    tr, va = ds.split(0.25, seed=0)
    assert len(tr) + len(va) == 8 and len(va) == 2
    assert not {(o.plane, o.label) for o in tr.objects} & {(o.plane, o.label) for o in va.objects}
    with pytest.raises(DataError, match="empty"):
        ObjectDataset.from_arrays(im, np.zeros_like(lab))


def test_random_affine_keeps_shapes_and_object_size():
    im, lab = blobs((80, 80), 1, seed=4)
    mask = (lab == 1).astype(np.uint8)
    rng = np.random.default_rng(1)
    for _ in range(5):
        img_a, m_a = random_affine(im, mask, rng, AugmentConfig())
        assert img_a.shape == im.shape and m_a.shape == mask.shape and m_a.dtype == mask.dtype
        ratio = m_a.sum() / mask.sum()
        assert 0.75**2 * 0.85 <= ratio <= 1.25**2 * 1.15
    same_img, same_m = random_affine(im, mask, rng, AugmentConfig.off())
    assert np.array_equal(same_m, mask) and np.allclose(same_img, im)
    flip_only = AugmentConfig(flip=True, scale=(1.0, 1.0), rotate=0.0)
    outs = {
        random_affine(im, mask, np.random.default_rng(k), flip_only)[1].tobytes() for k in range(8)
    }
    assert mask[:, ::-1].tobytes() in outs and mask.tobytes() in outs
    vflip_only = AugmentConfig(flip=False, vflip=True, scale=(1.0, 1.0), rotate=0.0)
    outs = {
        random_affine(im, mask, np.random.default_rng(k), vflip_only)[1].tobytes() for k in range(8)
    }
    assert outs == {mask.tobytes(), mask[::-1].tobytes()}
    jitter = AugmentConfig(flip=False, scale=(1.0, 1.0), rotate=0.0, intensity=0.2)
    img_j, m_j = random_affine(im, mask, np.random.default_rng(3), jitter)
    assert np.array_equal(m_j, mask) and not np.allclose(img_j, im)  # image only
    gain = np.polyfit(im.astype(np.float64).ravel(), img_j.ravel(), 1)[0]
    assert 0.8 <= gain <= 1.2  # contrast moved within +-intensity


def test_elastic_deformation_moves_pixels_by_the_asked_amount():
    im, lab = blobs((96, 96), 1, seed=5)
    mask = (lab == 1).astype(np.uint8)
    rigid = AugmentConfig(scale=(0.9, 1.1), rotate=30.0)
    a_img, a_m = random_affine(im, mask, np.random.default_rng(7), rigid)
    # a vanishing field: the same transform as the affine path (same random draws first)
    tiny = AugmentConfig(scale=(0.9, 1.1), rotate=30.0, elastic=1e-6)
    t_img, t_m = random_affine(im, mask, np.random.default_rng(7), tiny)
    assert np.array_equal(t_m, a_m) and np.allclose(t_img, a_img, atol=1e-3)
    # a real field on a ramp image: the displacement shows up with the asked RMS
    ramp = np.tile(np.arange(96, dtype=np.float32), (96, 1))  # value = column
    only = AugmentConfig(flip=False, scale=(1.0, 1.0), rotate=0.0, elastic=3.0)
    warped, m_e = random_affine(ramp, mask, np.random.default_rng(8), only)
    shift = (warped - ramp)[10:-10, 10:-10]  # col displacement away from the reflected border
    assert 1.5 <= float(np.sqrt((shift**2).mean())) <= 4.5
    assert m_e.dtype == mask.dtype and set(np.unique(m_e)) <= {0, 1}
    assert 0.8 <= m_e.sum() / mask.sum() <= 1.2 and not np.array_equal(m_e, mask)
    with pytest.raises(ValueError, match="elastic"):
        AugmentConfig(elastic=-1.0)


@pytest.mark.realdata
def test_sstem_slices_give_the_documented_instance_counts():
    root = require_shared("data", "sstem-drosophila-vnc")
    ims, labs = load_sstem(root, [0, 4])
    assert ims[0].shape == (1024, 1024) and [int(lab.max()) for lab in labs] == [26, 15]
    ds = ObjectDataset(ims, labs, PreprocessConfig(crop_size=64, relax=8), min_area=50)
    assert len(ds) + ds.n_skipped_small == 41
    s = ds.sample(0, np.random.default_rng(0), AugmentConfig(), 0.05)
    assert s.target.sum() > 100


@pytest.mark.realdata
def test_isbi2012_slices_give_the_documented_instance_counts():
    from napari_iog.data.layouts import load_isbi2012

    root = require_shared("data", "isbi2012")
    ims, labs = load_isbi2012(root, [0, 29])
    assert ims[0].shape == (512, 512) and ims[0].dtype == np.uint8
    # SOURCE.md: 4-connected components of the cell interiors, 136 and 117 in these slices
    assert [int(lab.max()) for lab in labs] == [136, 117]
    ds = ObjectDataset(ims, labs, PreprocessConfig(crop_size=64, relax=8), min_area=50)
    assert len(ds) == 125 + 107 and ds.n_skipped_small == 136 + 117 - len(ds)
