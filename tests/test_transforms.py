"""Image conversion, resampling, crop geometry and the network input."""

from __future__ import annotations

import numpy as np
import pytest

from napari_iog.config import PreprocessConfig
from napari_iog.inference.image import ImageError, NetworkImage, to_network_rgb
from napari_iog.inference.resample import axis_table, resample
from napari_iog.inference.transforms import CropTransform, make_network_input
from napari_iog.structures import BBox, Click, Prompt, PromptError

PRE64 = PreprocessConfig(crop_size=64, relax=8, sigma=6.0, pad_pixel=4)


def ellipse(shape, box):
    r0, c0, r1, c1 = box
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    a, b = max((r1 - r0) / 2, 0.5), max((c1 - c0) / 2, 0.5)
    return ((rr - (r0 + r1) / 2) / a) ** 2 + ((cc - (c0 + c1) / 2) / b) ** 2 <= 1


# ------------------------------------------------------------------------------- image.py
def test_gray_rgb_rgba_uint8_as_is():
    g = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = to_network_rgb(g)
    assert out.shape == (3, 4, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[..., 1], g)
    rgba = np.dstack([g, g + 1, g + 2, np.full_like(g, 7)])
    np.testing.assert_array_equal(to_network_rgb(rgba), rgba[..., :3].astype(np.float32))
    np.testing.assert_array_equal(to_network_rgb(g[..., None]), out)  # [H, W, 1] is grey
    assert to_network_rgb(g > 5).max() == 255 and set(np.unique(to_network_rgb(g > 5))) == {0, 255}


def test_uint16_float_percentiles_and_limits():
    rng = np.random.default_rng(0)
    img = rng.integers(100, 5000, size=(64, 64)).astype(np.uint16)
    ni = NetworkImage(img)
    lo, hi = np.percentile(img, [0.5, 99.5])
    assert ni.contrast_limits == pytest.approx((lo, hi))
    out = ni.full()
    assert out.min() == 0 and out.max() == 255
    pix = float(img[10, 10])
    assert out[10, 10, 0] == pytest.approx(np.clip((pix - lo) * 255 / (hi - lo), 0, 255), abs=1e-3)
    out = to_network_rgb(img.astype(np.float64) / 5000, contrast_limits=(0, 0.5))
    assert out[img > 2500].min() == 255
    out8 = to_network_rgb(np.full((4, 4), 100, np.uint8), contrast_limits=(50, 150))
    assert np.allclose(out8, 127.5)  # explicit limits honoured for uint8 too
    big_rgb = to_network_rgb(rng.random((20, 30, 5)), rgb=True)  # first 3 channels
    assert big_rgb.shape == (20, 30, 3)


@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.int32])
def test_constant_image_gives_zeros(dtype):
    out = to_network_rgb(np.full((8, 9), 42, dtype=dtype))
    assert np.isfinite(out).all() and not out.any()


@pytest.mark.parametrize(
    "image, kwargs, match",
    [
        (np.zeros(10), {}, "2D image plane"),
        (np.zeros((2, 3, 4, 5)), {}, "2D image plane"),
        (np.zeros((0, 5)), {}, "empty"),
        (np.zeros((5, 0, 3)), {}, "empty"),
        (np.array([[1.0, np.nan], [0, 1]]), {}, "NaN"),
        (np.array([[1.0, np.inf], [0, 1]]), {}, "NaN or inf"),
        (np.zeros((5, 5, 2)), {}, "Pick one channel"),
        (np.zeros((5, 5, 6)), {}, "rgb=True"),
        (np.zeros((5, 5, 3)), {"rgb": False}, "pick one channel"),
        (np.zeros((5, 5)), {"rgb": True}, "rgb=True needs"),
        (np.zeros((5, 5), complex), {}, "real-valued"),
        (np.zeros((5, 5)), {"contrast_limits": (3, 1)}, "lo <= hi"),
        (np.zeros((5, 5)), {"contrast_limits": (0, np.nan)}, "finite"),
        (np.zeros((5, 5)), {"contrast_limits": "abc"}, "two numbers"),
    ],
)
def test_bad_images(image, kwargs, match):
    with pytest.raises(ImageError, match=match):
        to_network_rgb(image, **kwargs)
    assert issubclass(ImageError, ValueError)


# ---------------------------------------------------------------------------- resample.py
@pytest.mark.parametrize("kind, mode", [("linear", "bilinear"), ("cubic", "bicubic")])
@pytest.mark.parametrize("src, dst", [((37, 50), (64, 64)), ((200, 90), (64, 48))])
def test_resample_matches_torch(kind, mode, src, dst):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(1).random((*src, 3)).astype(np.float32)
    out = resample(a, axis_table(src[0], dst[0], kind), axis_table(src[1], dst[1], kind))
    ref = torch.nn.functional.interpolate(
        torch.from_numpy(a).permute(2, 0, 1)[None], size=dst, mode=mode, align_corners=False
    )[0].permute(1, 2, 0)
    np.testing.assert_allclose(out, ref.numpy(), atol=1e-4)
    with pytest.raises(ValueError):
        axis_table(5, 5, "nearest")


# -------------------------------------------------------------------------- CropTransform
def test_points_round_trip_and_pixel_centres():
    t = CropTransform.from_box(BBox(10, 20, 49, 99), (120, 130), relax=8, crop_size=64)
    assert (t.row0, t.col0, t.row1, t.col1) == (2, 12, 57, 107)
    pts = np.array([[2.0, 12.0], [30.5, 40.25], [57, 107]])
    np.testing.assert_allclose(t.crop_to_image(t.image_to_crop(pts)), pts, atol=1e-9)
    # the crop-box edges map to the crop edges
    edges = t.image_to_crop([[t.row0 - 0.5, t.col0 - 0.5], [t.row1 + 0.5, t.col1 + 0.5]])
    np.testing.assert_allclose(edges, [[-0.5, -0.5], [63.5, 63.5]])
    assert t.contains(2, 12) and t.contains(57.4, 107.4) and not t.contains(58, 50)


def test_crop_of_a_ramp_samples_mapped_points():
    h, w = 90, 70
    rr, cc = np.mgrid[:h, :w]
    ramp = (rr * 1.5 + cc * 2.0).astype(np.float32)
    t = CropTransform.from_box(BBox(20, 10, 60, 50), (h, w), relax=5, crop_size=32)
    crop = t.crop_mask(ramp)
    pts = np.stack(np.mgrid[2:30, 2:30], -1).reshape(-1, 2)
    img_pts = t.crop_to_image(pts)
    expected = img_pts[:, 0] * 1.5 + img_pts[:, 1] * 2.0
    np.testing.assert_allclose(crop[pts[:, 0], pts[:, 1]], expected, atol=1e-3)


def test_crop_zero_pads_outside_the_image():
    torch = pytest.importorskip("torch")
    img = np.random.default_rng(2).integers(1, 255, (50, 60, 3)).astype(np.uint8)
    t = CropTransform.from_box(BBox(0, 45, 20, 59), (50, 60), relax=10, crop_size=64)
    crop = t.crop_image(img)
    assert crop.shape == (64, 64, 3) and crop.dtype == np.float32
    padded = np.zeros((t.height, t.width, 3), np.float32)
    padded[10:, : 60 - t.col0] = img[: t.row1 + 1, t.col0 :]
    ref = torch.nn.functional.interpolate(
        torch.from_numpy(padded).permute(2, 0, 1)[None], size=(64, 64), mode="bilinear"
    )[0].permute(1, 2, 0)
    np.testing.assert_allclose(crop, ref.numpy(), atol=1e-3)
    assert not crop[:5].any() and not crop[:, -5:].any()  # top and right are padding


@pytest.mark.parametrize(
    "box",
    [
        (50, 60, 120, 200),  # wide
        (5, 100, 195, 110),  # tall and thin
        (90, 140, 97, 150),  # tiny -> upsampled
        (0, 0, 40, 30),  # top-left corner
        (150, 250, 199, 299),  # bottom-right corner
        (0, 0, 199, 299),  # the whole image
    ],
)
def test_mask_round_trip(box):
    shape = (200, 300)
    m = ellipse(shape, box)
    t = CropTransform.from_box(BBox(*box), shape, relax=8, crop_size=64)
    prob, (r, c) = t.paste(t.crop_mask(m))
    assert prob.dtype == np.float32 and 0 <= prob.min() and prob.max() <= 1
    r0, c0, r1, c1 = t.window()
    assert (r, c) == (r0, c0) and prob.shape == (r1 - r0 + 1, c1 - c0 + 1)
    back = np.zeros(shape, bool)
    back[r : r + prob.shape[0], c : c + prob.shape[1]] = prob >= 0.5
    assert (back & m).sum() / (back | m).sum() > 0.98


def test_paste_huge_image_only_allocates_the_window():
    t = CropTransform.from_box(BBox(19_990, 5, 19_999, 30), (20_000, 20_000), 30, 64)
    prob, origin = t.paste(np.ones((64, 64), np.float32))
    assert origin == (19_960, 0) and prob.shape == (40, 61)
    with pytest.raises(ValueError, match="64, 64"):
        t.paste(np.ones((32, 32)))
    small = CropTransform.from_box(BBox(2, 2, 9, 9), (12, 12), 2, 32)
    with pytest.raises(ValueError, match="2D"):
        small.crop_mask(np.zeros((12, 12, 3)))
    with pytest.raises(ValueError, match="differs"):
        small.crop_mask(np.zeros((12, 13)))
    with pytest.raises(ValueError, match="differs"):
        small.crop_image(np.zeros((13, 12), np.uint8))


# ------------------------------------------------------------------------ network input
def test_make_network_input_layout():
    img = np.random.default_rng(3).integers(0, 255, (100, 120, 3)).astype(np.uint8)
    p = Prompt(BBox(20, 30, 59, 89), Click(40, 50))
    ni = make_network_input(img, p, PRE64)
    assert ni.x.shape == (5, 64, 64) and ni.x.dtype == np.float32
    assert ni.click_maps.shape == (2, 64, 64) and ni.click_maps.dtype == np.float32
    np.testing.assert_array_equal(ni.click_maps, ni.x[3:5])  # no correction clicks yet
    ir, ic = ni.transform.image_to_crop([40, 50])[0]
    assert ni.inside == pytest.approx((ir, ic))
    peak = np.unravel_index(np.argmax(ni.x[3]), (64, 64))
    assert abs(peak[0] - ir) <= 0.5 and abs(peak[1] - ic) <= 0.5
    # outside Gaussians sit pad_pixel outside the box corners (in crop pixels)
    (br0, bc0), (br1, bc1) = ni.transform.image_to_crop([[20, 30], [59, 89]])
    peak = np.unravel_index(np.argmax(ni.x[4, :32, :32]), (32, 32))
    assert abs(peak[0] - (br0 - 4)) <= 0.5 and abs(peak[1] - (bc0 - 4)) <= 0.5
    assert ni.x[4, round(br1 + 4), round(bc1 + 4)] > 250
    # default inside point = the box centre
    ni0 = make_network_input(img, Prompt(p.box), PRE64)
    centre = ni0.transform.image_to_crop([p.box.center])[0]
    assert ni0.inside == pytest.approx(tuple(centre))
    # clicks land in click_maps only; merged() moves them into the guidance channels
    nic = make_network_input(img, p.with_clicks([Click(25, 80, False)]), PRE64)
    np.testing.assert_array_equal(nic.x, ni.x)
    assert (nic.click_maps[1] > ni.x[4] + 50).any()
    np.testing.assert_array_equal(nic.merged()[3:5], nic.click_maps)


def test_make_network_input_accepts_prepared_image_and_grey_uint16():
    img = np.random.default_rng(4).integers(0, 4000, (60, 70)).astype(np.uint16)
    ni = make_network_input(NetworkImage(img), Prompt(BBox(5, 5, 50, 60)), PRE64)
    assert ni.x[:3].max() <= 255 and ni.x[:3].min() >= 0
    np.testing.assert_array_equal(ni.x[0], ni.x[1])


@pytest.mark.parametrize(
    "prompt, match",
    [
        (Prompt(BBox(10, 10, 5, 20)), "inverted"),
        (Prompt(BBox(10, 10, 10, 20)), "at least"),  # 1 px tall
        (Prompt(BBox(200, 200, 220, 230)), "outside"),
        (Prompt(BBox(-30, -30, -5, -5)), "outside"),
        (Prompt(BBox(10, 10, 40, 40), Click(50, 20)), "inside click"),
        (Prompt(BBox(10, 10, 40, 40), Click(np.nan, 20)), "finite"),
        (Prompt(BBox(10, 10, 40, 40), clicks=(Click(90, 90, False),)), "outside the current"),
        ((10, 10, 40, 40), "Prompt"),
    ],
)
def test_make_network_input_bad_prompts(prompt, match):
    img = np.zeros((100, 100), np.uint8)
    with pytest.raises(PromptError, match=match):
        make_network_input(img, prompt, PRE64)
